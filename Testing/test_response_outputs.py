"""Outputs (response.json, response.csv, plots, HTML, CLI) and property tests of the engines."""

import argparse
import csv
import datetime as dt
import io
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitit.cli import response_cmd
from hitit.errors import InputError
from hitit.response import evaluate_study, study_from_dict, write_outputs
from hitit.response.plots import waterfall_data

STUDY = {
    "patient": "P-001",
    "timepoints": [
        {"id": "BL", "date": "2026-01-05"},
        {"id": "W8", "date": "2026-03-02"},
        {"id": "W16", "date": "2026-04-27"},
    ],
    "lesions": [
        {
            "id": "L1",
            "organ": "liver",
            "role": "target",
            "injected_from": "BL",
            "measurements": {"BL": 40.0, "W8": 28.0, "W16": 20.0},
        },
        {
            "id": "N1",
            "organ": "lymph node",
            "nodal": True,
            "role": "target",
            "measurements": {"BL": 17.0, "W8": "too-small", "W16": 12.0},
        },
        {
            "id": "P1",
            "organ": "peritoneum",
            "role": "non-target",
            "status": {"BL": "present", "W8": "present", "W16": "present"},
        },
    ],
    "new_lesions": [
        {"id": "X1", "timepoint": "W16", "organ": "lung", "measurable": True, "measurements": {"W16": 12.0}}
    ],
}


@pytest.fixture
def response():
    return evaluate_study(study_from_dict(STUDY))


def test_response_json_has_the_documented_fields(response, tmp_path):
    paths = write_outputs(response, tmp_path)
    document = json.loads(paths["json"].read_text(encoding="utf-8"))
    w8 = document["timepoints"][1]
    assert w8["id"] == "W8" and w8["date"] == "2026-03-02"
    recist = w8["criteria"]["RECIST1.1"]
    for key in (
        "target",
        "non_target",
        "new_lesions",
        "overall",
        "sum_mm",
        "change_from_baseline_pct",
        "change_from_nadir_pct",
    ):
        assert key in recist
    # 57 -> 33 mm: -42.1 %, PR; P1 present -> overall PR
    assert (recist["target"], recist["non_target"], recist["new_lesions"], recist["overall"]) == (
        "PR",
        "non-CR/non-PD",
        False,
        "PR",
    )
    assert recist["sum_mm"] == 33.0 and recist["change_from_baseline_pct"] == pytest.approx(-24 / 57 * 100)
    assert w8["criteria"]["iRECIST"]["overall"] == "iPR"
    itrecist = w8["criteria"]["itRECIST"]
    assert (itrecist["overall"], itrecist["injected"], itrecist["non_injected"]) == ("iPR", "iPR", "iPR")
    assert itrecist["injected_sum_mm"] == 28.0 and itrecist["non_injected_sum_mm"] == 5.0
    w16 = document["timepoints"][2]["criteria"]
    assert w16["RECIST1.1"]["overall"] == "PD" and w16["iRECIST"]["overall"] == "iUPD"
    assert w16["itRECIST"]["injected"] == "iPR" and w16["itRECIST"]["non_injected"] == "iUPD"
    best = document["best_overall_response"]
    assert best["RECIST1.1"] == {"unconfirmed": "PR", "confirmed": "SD", "confirmation_min_days": 28}
    assert set(best["itRECIST"]) == {"overall", "injected", "non_injected"}


def test_csv_has_a_row_per_time_point_and_criterion(response, tmp_path):
    paths = write_outputs(response, tmp_path)
    rows = list(csv.DictReader(io.StringIO(paths["csv"].read_text(encoding="utf-8"))))
    assert len(rows) == 3 * 5  # RECIST1.1, iRECIST, itRECIST x (overall, injected, non_injected)
    w8 = {(r["criterion"], r["stream"]): r for r in rows if r["timepoint_id"] == "W8"}
    assert w8[("RECIST1.1", "all")]["overall"] == "PR"
    assert float(w8[("itRECIST", "injected")]["change_from_baseline_pct"]) == pytest.approx(-30.0)


def test_plots_and_html_are_written(response, tmp_path):
    paths = write_outputs(response, tmp_path)
    for name in ("waterfall", "spider"):
        assert paths[f"{name}_png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert b"<svg" in paths[f"{name}_svg"].read_bytes()[:1000]
    html = paths["html"].read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 2
    assert "RECIST1.1" in html and "non_injected" in html and "T-NI" in html


def test_waterfall_is_the_best_change_per_group(response):
    best = waterfall_data(response.itrecist)
    # all: 57 -> 33 (W8) -> 32 (W16); injected: 40 -> 20; non-injected: 17 -> 5 -> 12
    assert best["overall"] == pytest.approx((32 - 57) / 57 * 100)
    assert best["injected"] == pytest.approx(-50.0)
    assert best["non_injected"] == pytest.approx((5 - 17) / 17 * 100)


def run_cli(argv):
    parser = argparse.ArgumentParser()
    response_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_writes_outputs_and_prints_a_summary(tmp_path, capsys):
    study_path = tmp_path / "study.json"
    study_path.write_text(json.dumps(STUDY))
    assert run_cli(["response", str(study_path), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "W8 2026-03-02: RECIST1.1 PR" in out and "best overall response" in out
    assert (tmp_path / "out" / "response.html").exists()


def test_cli_refuses_a_baseline_no_criterion_can_assess_unless_warned(tmp_path, capsys):
    data = json.loads(json.dumps(STUDY))
    data["lesions"][1]["measurements"]["BL"] = 12.0  # node SA < 15 mm: not measurable, for all three criteria
    study_path = tmp_path / "study.json"
    study_path.write_text(json.dumps(data))
    with pytest.raises(
        InputError, match=r"no criterion can be assessed: .*lesion N1 at BL: node short axis 12 mm < 15 mm"
    ):
        run_cli(["response", str(study_path), "--out", str(tmp_path / "out")])
    with pytest.raises(InputError, match=r"^RECIST 1.1 baseline: lesion N1 at BL: node short axis 12 mm < 15 mm"):
        run_cli(["response", str(study_path), "--out", str(tmp_path / "out"), "--strict"])
    assert not (tmp_path / "out").exists()
    assert run_cli(["response", str(study_path), "--out", str(tmp_path / "out"), "--warn-baseline"]) == 0
    assert "warning: RECIST 1.1 baseline: lesion N1" in capsys.readouterr().out
    assert json.loads((tmp_path / "out" / "response.json").read_text(encoding="utf-8"))["warnings"]


# --- property tests -------------------------------------------------------------------------------

ORGANS = ["liver", "lung", "adrenal", "spleen", "kidney"]
diameters = st.floats(min_value=10.0, max_value=120.0, allow_nan=False).map(lambda v: round(v, 1))
follow_up = st.one_of(
    diameters,
    st.sampled_from(["too-small", "absent"]),
    st.none(),
    st.floats(min_value=0.0, max_value=150.0).map(lambda v: round(v, 1)),
)
statuses = st.sampled_from(["present", "absent", "unequivocal-progression", "increased", None])


@st.composite
def studies(draw, numeric_only=False):
    count = draw(st.integers(2, 4))
    timepoints = [
        {"id": f"T{i}", "date": (dt.date(2026, 1, 5) + dt.timedelta(days=42 * i)).isoformat()}
        for i in range(draw(st.integers(2, 5)))
    ]
    values = diameters if numeric_only else follow_up
    lesions = []
    for index in range(count):
        series = [draw(diameters)] + [draw(values) for _ in timepoints[1:]]
        injected = "T0" if index == 0 else draw(st.sampled_from([None, None] + [t["id"] for t in timepoints]))
        lesions.append(
            {
                "id": f"L{index}",
                "organ": ORGANS[index],
                "role": "target",
                "injected_from": injected,
                "measurements": {t["id"]: v for t, v in zip(timepoints, series) if v is not None},
            }
        )
    if not numeric_only:
        lesions.append(
            {
                "id": "P0",
                "organ": "bone",
                "role": "non-target",
                "status": {t["id"]: s for t in timepoints if (s := draw(statuses)) is not None},
            }
        )
    new = (
        []
        if numeric_only
        else [
            {"id": "X0", "timepoint": t["id"], "organ": "lung", "measurable": False}
            for t in timepoints[1:2]
            if draw(st.booleans())
        ]
    )
    return {"timepoints": timepoints, "lesions": lesions, "new_lesions": new}


def categories(document):
    return [
        {
            name: {k: v for k, v in c.items() if k in ("target", "non_target", "overall", "injected", "non_injected")}
            for name, c in t["criteria"].items()
        }
        for t in document["timepoints"]
    ]


def percentages(document):
    out = []
    for t in document["timepoints"]:
        for name, criterion in t["criteria"].items():
            out += [(name, k, v) for k, v in criterion.items() if k.endswith("_pct")]
            for stream, row in criterion.get("streams", {}).items():
                out += [(name, stream, k, v) for k, v in row.items() if k.endswith("_pct")]
    return out


@settings(max_examples=60, deadline=None)
@given(studies(), st.randoms(use_true_random=False))
def test_categories_do_not_depend_on_lesion_order(data, random):
    shuffled = json.loads(json.dumps(data))
    random.shuffle(shuffled["lesions"])
    first = evaluate_study(study_from_dict(data), warn_baseline=True).to_dict()
    second = evaluate_study(study_from_dict(shuffled), warn_baseline=True).to_dict()
    assert categories(first) == categories(second)
    assert first["best_overall_response"] == second["best_overall_response"]


@settings(max_examples=60, deadline=None)
@given(studies(numeric_only=True), st.floats(min_value=0.25, max_value=4.0))
def test_scaling_every_diameter_changes_no_percentage(data, factor):
    # Only the percentages are scale invariant: the 5 mm PD threshold and the 10/15 mm measurability
    # limits are absolute, so categories may legitimately change.
    scaled = json.loads(json.dumps(data))
    for lesion in scaled["lesions"]:
        lesion["measurements"] = {k: v * factor for k, v in lesion["measurements"].items()}
    first = percentages(evaluate_study(study_from_dict(data), warn_baseline=True).to_dict())
    second = percentages(evaluate_study(study_from_dict(scaled), warn_baseline=True).to_dict())
    assert [p[:-1] for p in first] == [p[:-1] for p in second]
    for a, b in zip(first, second):
        assert (a[-1] is None) == (b[-1] is None)
        if a[-1] is not None:
            assert math.isclose(a[-1], b[-1], rel_tol=1e-9, abs_tol=1e-9)
