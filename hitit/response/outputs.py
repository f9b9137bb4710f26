"""Write a study's response: response.json, response.csv, the plots and an HTML page."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from hitit.io.atomic import write_text_atomic
from hitit.io.outdir import write_output_set
from hitit.report.html import HtmlReport
from hitit.response.evaluate import (
    CRITERIA,
    IRECIST_NAME,
    ITRECIST_NAME,
    NOT_ASSESSABLE,
    RECIST_NAME,
    RULES_NOTE,
    StudyResponse,
)
from hitit.response.itrecist import STREAMS
from hitit.response.plots import figure_bytes, spider_figure, waterfall_figure, write_plots
from hitit.response.recist import DEFAULT_CONFIG, ResponseConfig

CSV_COLUMNS = (
    "timepoint_id",
    "date",
    "criterion",
    "stream",
    "overall",
    "target",
    "non_target",
    "new_lesions",
    "sum_mm",
    "change_from_baseline_pct",
    "change_from_nadir_pct",
    "change_from_nadir_mm",
    "note",
)


def csv_rows(response: StudyResponse) -> list[dict]:
    """One row per time point x criterion (and per itRECIST stream: overall, injected, non_injected)."""
    rows = []
    for index, timepoint in enumerate(response.study.timepoints):
        common = {"timepoint_id": timepoint.id, "date": timepoint.date.isoformat()}
        for criterion in CRITERIA:
            result = response.result(criterion)
            streams = STREAMS if criterion == ITRECIST_NAME else ("all",)
            for stream in streams:
                if result is None:
                    fields = {"overall": NOT_ASSESSABLE, "note": response.reason(criterion)}
                elif criterion == ITRECIST_NAME:
                    fields = _csv_fields(result.timepoints[index].streams[stream])
                else:
                    fields = _csv_fields(result.timepoints[index])
                rows.append({**common, "criterion": criterion, "stream": stream, **fields})
    return rows


def _csv_fields(row) -> dict:
    return {name: getattr(row, name) for name in CSV_COLUMNS[4:] if name != "note"}


def response_csv(response: StudyResponse) -> str:
    """The response.csv text (empty cells for unknown values, numbers with 0.1 precision kept as computed)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, restval="", lineterminator="\n")
    writer.writeheader()
    for row in csv_rows(response):
        writer.writerow({key: "" if value is None else value for key, value in row.items()})
    return buffer.getvalue()


def response_html(response: StudyResponse, config: ResponseConfig = DEFAULT_CONFIG) -> str:
    """A self-contained HTML page: best responses, the time-point table, lesion categories and both plots."""
    study = response.study
    report = HtmlReport(title=f"Tumour response - {study.patient or 'study'}")
    for warning in response.warnings:
        report.paragraph(f"Warning: {warning}", "warn")
    if response.not_assessable:
        report.heading("Criteria not assessable")
        report.paragraph(
            "The baseline of this study breaks these rules, so the criterion gives no response; "
            "the other criteria are reported as usual.",
            "warn",
        )
        report.table(
            [
                {
                    "criterion": name,
                    "rule": problem.rule,
                    "lesions": ", ".join(problem.lesions) or "-",
                    "detail": problem.message,
                }
                for name, problems in response.not_assessable.items()
                for problem in problems
            ],
            ["criterion", "rule", "lesions", "detail"],
        )
    report.heading("Best overall response")
    best = response.to_dict()["best_overall_response"]
    rows = [{"criterion": RECIST_NAME, **best[RECIST_NAME]}, {"criterion": IRECIST_NAME, **best[IRECIST_NAME]}]
    rows += [{"criterion": f"{ITRECIST_NAME} {name}", **value} for name, value in best[ITRECIST_NAME].items()]
    report.table(rows, ["criterion", "unconfirmed", "confirmed"])
    report.heading("Time points")
    report.table(csv_rows(response), list(CSV_COLUMNS))
    report.heading("Lesion categories (itRECIST)")
    report.table([{"timepoint_id": row.timepoint_id, **row.lesion_categories} for row in response.itrecist.timepoints])
    report.heading("Plots")
    report.image(
        figure_bytes(waterfall_figure(response.itrecist, config=config), "png"),
        "Waterfall: best change of the target sum per lesion group",
    )
    report.image(
        figure_bytes(spider_figure(study, response.itrecist, config=config), "png"),
        "Spider: change from baseline over time",
    )
    report.paragraph(RULES_NOTE, "note")
    return report.render()


def write_outputs(
    response: StudyResponse, out_dir: str | Path, config: ResponseConfig = DEFAULT_CONFIG
) -> dict[str, Path]:
    """Write response.json, response.csv, response.html and the plots into ``out_dir`` as one output set
    (a previous response there is replaced as a whole, the user's files are never touched); return the paths.
    """

    def write(staging: Path) -> dict[str, Path]:
        paths = {
            "json": write_text_atomic(staging / "response.json", json.dumps(response.to_dict(), indent=2) + "\n"),
            "csv": write_text_atomic(staging / "response.csv", response_csv(response)),
        }
        paths.update(write_plots(response.study, response.itrecist, staging, config))
        paths["html"] = write_text_atomic(staging / "response.html", response_html(response, config))
        return paths

    return write_output_set(out_dir, "response", write)
