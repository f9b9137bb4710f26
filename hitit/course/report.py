"""The course report: one page per lesion (every injection, planned vs delivered, needle accuracy, its diameter
over time with the injection visits marked), the patient's itRECIST streams, each visit's checklist and what
is due next. ``course_report.json`` holds every figure the pages show (mm, mL, deg).
"""

from __future__ import annotations

import json
from pathlib import Path

from hitit.course.checklist import checklist_document, items_for
from hitit.course.record import Course, CourseLesion
from hitit.course.response import course_study
from hitit.course.schedule import course_status
from hitit.io.atomic import write_text_atomic
from hitit.io.outdir import write_output_set
from hitit.report.canvas import new_figure
from hitit.report.figures import figure_png
from hitit.report.html import HtmlReport
from hitit.response import evaluate_study
from hitit.response.evaluate import ITRECIST_NAME, StudyResponse
from hitit.response.study import measurement_mm

#: Kind of output set a course report folder is (its marker names it).
COURSE_REPORT_KIND = "course-report"
INJECTION_COLUMNS = [
    "visit",
    "date",
    "category",
    "planned_ml",
    "delivered_ml",
    "technical_success",
    "tip_to_target_mm",
    "angle_deg",
    "injectate_ml",
    "leaked_ml",
    "samples",
]


def injection_rows(course: Course, lesion: CourseLesion) -> list[dict]:
    """One row per visit that planned or gave the lesion anything (mL, mm, deg)."""
    rows = []
    for visit in course.visits:
        record = visit.lesion(lesion.id)
        if record is None:
            continue
        rows.append(
            {
                "visit": visit.number,
                "date": visit.date.isoformat(),
                "category": lesion.category_at_visit(visit.number),
                "planned_ml": record.get("planned_volume_ml"),
                "delivered_ml": record.get("delivered_ml"),
                "technical_success": record.get("technical_success"),
                "tip_to_target_mm": record.get("tip_to_target_mm"),
                "angle_deg": record.get("angle_deg"),
                "injectate_ml": record.get("injectate_ml"),
                "leaked_ml": record.get("leaked_ml"),
                "samples": ", ".join(s["id"] for s in record.get("samples", [])) or None,
            }
        )
    return rows


def diameter_rows(course: Course, lesion: CourseLesion) -> list[dict]:
    """The lesion's RECIST diameter (mm) at every time point that measured it."""
    return [
        {
            "timepoint": t.id,
            "date": t.date.isoformat(),
            "diameter_mm": measurement_mm(t.measurements[lesion.id]["diameter_mm"]),
            "volume_ml": t.measurements[lesion.id].get("volume_ml"),
        }
        for t in course.imaging
        if lesion.id in t.measurements
    ]


def stream_rows(response: StudyResponse) -> list[dict]:
    """The itRECIST categories per follow-up time point: the overall, injected and non-injected categories."""
    result = response.result(ITRECIST_NAME)
    if result is None:
        return []
    return [
        {
            "timepoint": tp.id,
            "date": tp.date.isoformat(),
            "overall": row.overall,
            "injected": row.injected,
            "non_injected": row.non_injected,
        }
        for tp, row in zip(response.study.timepoints[1:], result.timepoints[1:])
    ]


def course_figures(course: Course) -> dict:
    """Every figure the report shows, JSON-ready: per lesion its injections and diameters, the itRECIST streams,
    each visit's checklist, and the status.
    """
    response = evaluate_study(course_study(course), warn_baseline=True)
    return {
        "patient": course.patient,
        "protocol": course.protocol,
        "lesions": [
            {
                "id": lesion.id,
                "organ": lesion.organ,
                "category_history": lesion.category_history,
                "injections": injection_rows(course, lesion),
                "diameters": diameter_rows(course, lesion),
            }
            for lesion in course.lesions
        ],
        "itrecist": stream_rows(response),
        "response_warnings": list(response.warnings),
        "checklists": [
            {
                "visit": v.number,
                "items": [
                    {
                        "id": item.id,
                        "phase": item.phase,
                        "text": item.text,
                        "ticked": bool(v.checklist.get(item.id)),
                        "evidence": item.evidence,
                    }
                    for item in items_for(v.agent, v.number)
                ],
            }
            for v in course.visits
        ],
        "status": course_status(course).to_dict(),
    }


def _diameter_png(course: Course, lesion: CourseLesion) -> bytes:
    """Diameter over time (days from baseline), injection visits as vertical lines."""
    rows = diameter_rows(course, lesion)
    fig, ax = new_figure(figsize=(5.5, 2.6), dpi=100)
    start = course.baseline.date
    days = [(course.imaging[[t.id for t in course.imaging].index(r["timepoint"])].date - start).days for r in rows]
    ax.plot(days, [r["diameter_mm"] for r in rows], "o-", color="tab:blue")
    for row in injection_rows(course, lesion):
        if (row["delivered_ml"] if row["delivered_ml"] is not None else row["planned_ml"] or 0) > 0:
            ax.axvline((course.visit(row["visit"]).date - start).days, color="tab:orange", linestyle="--", linewidth=1)
    ax.set_xlabel("days from baseline (dashed: injection visits)")
    ax.set_ylabel("diameter (mm)")
    ax.set_ylim(bottom=0)
    ax.set_title(f"{lesion.id} ({lesion.organ})", fontsize=9)
    return figure_png(fig)


def _injections_png(lesion: CourseLesion, rows: list[dict]) -> bytes:
    """Planned vs delivered volume (mL) per visit, the needle tip error (mm) written over each visit."""
    fig, ax = new_figure(figsize=(5.5, 2.6), dpi=100)
    visits = [row["visit"] for row in rows]
    planned = [row["planned_ml"] or 0.0 for row in rows]
    delivered = [row["delivered_ml"] or 0.0 for row in rows]
    ax.bar([v - 0.2 for v in visits], planned, width=0.4, color="tab:gray", label="planned")
    ax.bar([v + 0.2 for v in visits], delivered, width=0.4, color="tab:orange", label="delivered")
    for visit, height, row in zip(visits, map(max, planned, delivered), rows):
        if row["tip_to_target_mm"] is not None:
            ax.annotate(f"tip {row['tip_to_target_mm']:.1f} mm", (visit, height), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(visits)
    ax.set_xlabel("visit")
    ax.set_ylabel("volume (mL)")
    ax.set_ylim(0, max(planned + delivered + [0.1]) * 1.3)
    ax.legend(fontsize=7, loc="upper right")
    ax.set_title(f"{lesion.id}: planned vs delivered", fontsize=9)
    return figure_png(fig)


def _write(course: Course, out: Path) -> dict[str, Path]:
    figures = course_figures(course)
    paths = {"json": write_text_atomic(out / "course_report.json", json.dumps(figures, indent=1))}
    report = HtmlReport(f"Treatment course of {course.patient} ({course.protocol})")
    report.heading("itRECIST streams")
    report.table(figures["itrecist"])
    for warning in figures["response_warnings"]:
        report.paragraph(f"warning: {warning}", "note")
    for lesion, data in zip(course.lesions, figures["lesions"]):
        history = ", ".join(
            f"{e['category']} from {'baseline' if e['from_visit'] is None else 'visit ' + str(e['from_visit'])}"
            for e in lesion.category_history
        )
        with report.section(f"lesion-{lesion.id}", f"Lesion {lesion.id} ({lesion.organ}): {history}"):
            report.table(data["injections"], INJECTION_COLUMNS)
            if any(row["planned_ml"] or row["delivered_ml"] for row in data["injections"]):
                report.image(
                    _injections_png(lesion, data["injections"]), f"{lesion.id}: planned vs delivered volume", "half"
                )
            report.image(_diameter_png(course, lesion), f"{lesion.id}: diameter over time", "half")
            report.table(data["diameters"])
    with report.section("checklists", "Per-visit workflow checklist"):
        report.paragraph(checklist_document()["source"], "note")
        for checklist in figures["checklists"]:
            report.heading(f"Visit {checklist['visit']}", 3)
            report.table(
                [
                    {
                        "phase": i["phase"],
                        "item": i["text"],
                        "done": "yes" if i["ticked"] else "OPEN",
                        "evidence": i["evidence"],
                    }
                    for i in checklist["items"]
                ]
            )
    status = figures["status"]
    report.heading("Due next")
    report.paragraph(
        f"Visit {status['next_visit']} {status['next_visit_date'] or '(no date)'}: {status['date_rule']}. "
        f"Next imaging {status['next_imaging_date']}."
    )
    report.table(
        status["allocation"]["lesions"],
        ["priority_rank", "lesion_id", "new", "longest_diameter_mm", "injectate_ml", "reason"],
    )
    paths["html"] = report.write(out / "course_report.html")
    return paths


def write_course_report(course: Course, out_dir: str | Path) -> dict[str, Path]:
    """Write ``course_report.html`` and ``course_report.json`` into ``out_dir`` as one output set."""
    return write_output_set(out_dir, COURSE_REPORT_KIND, lambda staging: _write(course, staging))
