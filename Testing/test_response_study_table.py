"""hitit_slicer.study_table (pure, no Slicer) with real data: study table <-> study dict, line names and
lengths, response tables and plot series, checked against the core response engine.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt

import numpy as np
import pytest

from hitit.geometry import lps_to_ras, ras_to_lps
from hitit.response import evaluate_study, study_from_dict
from hitit.response.plots import spider_data, waterfall_data

from hitit_slicer import study_table as conversions  # no Slicer needed: the study table is plain data

from test_response_study import EXAMPLE  # noqa: E402  (the response issue's study example)


def deeplesion_studies(data_dir):
    """One study per DeepLesion patient: chained RECIST long diameters, 8-week spaced time points, first lesion
    injected.
    """
    with open(data_dir / "deeplesion-longitudinal" / "lesion_pairs_recist_vs_mask.csv", newline="") as handle:
        pairs = list(csv.DictReader(handle))
    by_earlier = {p["earlier_key"]: p for p in pairs}
    later = {p["later_key"] for p in pairs}
    patients: dict[str, dict] = {}
    for start in (k for k in by_earlier if k not in later):
        values, key = {}, start
        while key in by_earlier:
            pair = by_earlier[key]
            values[int(pair["earlier_key"].split("_")[1])] = float(pair["recist_long_mm_earlier"])
            values[int(pair["later_key"].split("_")[1])] = float(pair["recist_long_mm_later"])
            key = pair["later_key"]
        patients.setdefault(start.split("_")[0], {})[start] = values
    studies = []
    for patient, lesions in sorted(patients.items()):
        indices = sorted({i for values in lesions.values() for i in values})
        timepoints = [
            {"id": f"S{i:02d}", "date": (dt.date(2020, 1, 6) + dt.timedelta(weeks=8 * n)).isoformat()}
            for n, i in enumerate(indices)
        ]
        studies.append(
            {
                "patient": patient,
                "timepoints": timepoints,
                "new_lesions": [],
                "lesions": [
                    {
                        "id": key,
                        "organ": f"site {n}",
                        "nodal": False,
                        "role": "target",
                        "injected_from": timepoints[0]["id"] if n == 0 else None,
                        "measurements": {f"S{i:02d}": v for i, v in sorted(values.items())},
                    }
                    for n, (key, values) in enumerate(sorted(lesions.items()))
                ],
            }
        )
    return studies


def round_trip(study):
    columns, rows = conversions.studyRowsFromDict(study)
    return conversions.studyDictFromRows(columns, rows, patient=study.get("patient", ""))


# --------------------------------------------------------------------- study table
def test_example_rows_round_trip_to_the_same_study():
    columns, rows = conversions.studyRowsFromDict(EXAMPLE)
    assert columns == list(conversions.STUDY_COLUMNS)
    assert len(rows) == 3 * 2 + 1  # baseline lesions at both time points, X1 from W8 on
    back = conversions.studyDictFromRows(columns, rows, patient=EXAMPLE["patient"])
    assert back == study_from_dict(EXAMPLE).to_dict()
    assert study_from_dict(back) == study_from_dict(EXAMPLE)


def test_example_rows_give_the_same_response_as_the_core():
    original = evaluate_study(study_from_dict(EXAMPLE), warn_baseline=True).to_dict()
    rebuilt = evaluate_study(study_from_dict(round_trip(EXAMPLE)), warn_baseline=True).to_dict()
    assert rebuilt == original
    assert conversions.responseCategory(rebuilt, "RECIST1.1", "W8", "target") == "PR"
    assert conversions.responseCategory(rebuilt, "itRECIST", "W8", "injected") == "iPR"


def test_deeplesion_rows_give_the_same_response_as_the_core(data_dir):
    studies = deeplesion_studies(data_dir)
    assert len(studies) >= 2
    for study in studies:
        rebuilt = round_trip(study)
        assert study_from_dict(rebuilt) == study_from_dict(study)
        original = evaluate_study(study_from_dict(study), warn_baseline=True)
        again = evaluate_study(study_from_dict(rebuilt), warn_baseline=True)
        assert again.to_dict() == original.to_dict()
        tables = conversions.responseTables(again.to_dict())
        columns, rows = tables["RECIST1.1"]
        assert len(rows) == len(study["timepoints"])
        change = columns.index("Change from baseline (%)")
        for row, timepoint in zip(rows[1:], original.recist.timepoints[1:]):
            expected = timepoint.change_from_baseline_pct
            assert row[change] == ("" if expected is None else f"{expected:.1f}")


def test_deeplesion_values_survive_the_table_cells_exactly(data_dir):
    for study in deeplesion_studies(data_dir):
        rebuilt = round_trip(study)
        for before, after in zip(study["lesions"], rebuilt["lesions"]):
            assert after["measurements"] == before["measurements"]


def test_bad_cells_name_the_lesion_time_point_and_column():
    columns, rows = conversions.studyRowsFromDict(EXAMPLE)
    value = columns.index("Diameter (mm)")
    bad = copy.deepcopy(rows)
    bad[1][value] = "28 mm"
    with pytest.raises(ValueError, match=r"lesion L1, time point W8, column Diameter \(mm\): '28 mm'"):
        conversions.studyDictFromRows(columns, bad)
    bad = copy.deepcopy(rows)
    bad[1][columns.index("Organ")] = "lung"
    with pytest.raises(ValueError, match=r"lesion L1, time point W8: organ is 'lung' here but 'liver'"):
        conversions.studyDictFromRows(columns, bad)
    bad = copy.deepcopy(rows)
    bad[0][columns.index("Nodal")] = "maybe"
    with pytest.raises(ValueError, match=r"lesion L1, time point BL, column Nodal"):
        conversions.studyDictFromRows(columns, bad)
    with pytest.raises(ValueError, match=r"unknown time point 'W8'"):
        conversions.studyDictFromRows(columns, rows, timepoints=[{"id": "BL", "date": "2026-01-05"}])


def test_lesion_editing_keeps_measurements_and_time_points_sync():
    timepoints = [{"id": "BL", "date": "2026-01-05"}, {"id": "W8", "date": "2026-03-02"}]
    columns, rows = list(conversions.STUDY_COLUMNS), []
    rows = conversions.upsertLesion(
        columns, rows, {"id": "L1", "role": "target", "organ": "liver", "injected_from": "BL"}, timepoints
    )
    rows = conversions.upsertLesion(columns, rows, {"id": "L2", "role": "target", "organ": "lung"}, timepoints)
    rows = conversions.applyMeasurements(
        columns, rows, {("L1", "BL"): 40.0, ("L1", "W8"): 26.0, ("L2", "BL"): 20.0, ("L2", "W8"): 13.0}
    )
    rows = conversions.upsertLesion(
        columns, rows, {"id": "L1", "role": "target", "organ": "liver segment 7", "injected_from": "BL"}, timepoints
    )
    study = conversions.studyDictFromRows(columns, rows, timepoints)
    assert study["lesions"][0]["organ"] == "liver segment 7"
    assert study["lesions"][0]["measurements"] == {"BL": 40.0, "W8": 26.0}
    response = evaluate_study(study_from_dict(study)).to_dict()
    assert conversions.responseCategory(response, "RECIST1.1", "W8") == "PR"  # (39 - 60) / 60 = -35 %
    more = timepoints + [{"id": "W16", "date": "2026-04-27"}]
    synced = conversions.syncTimepoints(columns, rows, more)
    assert len(synced) == 6
    assert conversions.studyDictFromRows(columns, synced, more)["lesions"][1]["measurements"] == {
        "BL": 20.0,
        "W8": 13.0,
    }
    with pytest.raises(ValueError, match=r"L3@W8: no study row for lesion 'L3'"):
        conversions.applyMeasurements(columns, rows, {("L3", "W8"): 10.0})
    new = conversions.upsertLesion(
        columns, rows, {"id": "X1", "organ": "lung", "appears_at": "W8", "measurable": True}, timepoints
    )
    assert conversions.studyDictFromRows(columns, new, timepoints)["new_lesions"] == [
        {"id": "X1", "timepoint": "W8", "organ": "lung", "nodal": False, "measurable": True}
    ]
    assert conversions.removeLesion(columns, new, "X1") == rows


def test_csv_round_trip():
    columns, rows = conversions.studyRowsFromDict(EXAMPLE)
    assert conversions.studyRowsFromCsvText(conversions.studyCsvText(columns, rows)) == (columns, rows)


# --------------------------------------------------------------------- time points from volumes
def test_time_points_from_volume_dates():
    assert conversions.isoDateFromDicom("20260105") == "2026-01-05"
    assert conversions.isoDateFromDicom("20261305") is None and conversions.isoDateFromDicom("") is None
    assert conversions.dateFromText("CT 2026-03-02 venous") == "2026-03-02"
    assert conversions.dateFromText("3: CT_20260105") == "2026-01-05"
    assert conversions.dateFromText("CT abdomen") is None
    timepoints = conversions.timepointsFromVolumeDates(
        [
            {"name": "FU", "date": "2026-03-02"},
            {"name": "BL CT", "date": "2026-01-05"},
            {"name": "FU arterial", "date": "2026-03-02"},
        ]
    )
    assert [(t["id"], t["date"], t["volume"]) for t in timepoints] == [
        ("BL", "2026-01-05", "BL CT"),
        ("W8", "2026-03-02", "FU"),
    ]
    assert conversions.timepointIdsFromDates(["2026-01-05", "2026-03-02", "2026-03-04"]) == ["BL", "W8", "W8-2"]
    with pytest.raises(ValueError, match="no date for volume.*CT abdomen"):
        conversions.timepointsFromVolumeDates([{"name": "CT abdomen", "date": None}])


# --------------------------------------------------------------------- line markups
def test_line_names():
    assert conversions.lineNodeName("L1", "W8") == "L1@W8"
    assert conversions.parseLineNodeName("L1@W8") == ("L1", "W8")
    assert conversions.parseLineNodeName(" N1 @ BL ") == ("N1", "BL")
    for name, message in (
        ("L1", "has no '@'"),
        ("L1@W8@2", "has 2 '@'"),
        ("@W8", "lesion id is empty"),
        ("L1@", "time point id is empty"),
        ("", "has no '@'"),
    ):
        with pytest.raises(ValueError, match=message):
            conversions.parseLineNodeName(name)
    with pytest.raises(ValueError, match="contain no '@'"):
        conversions.lineNodeName("L@1", "W8")


def test_line_length_is_the_same_in_ras_and_lps():
    rng = np.random.default_rng(7)
    for _ in range(20):
        points_lps = rng.uniform(-200, 200, size=(2, 3))
        points_ras = lps_to_ras(points_lps)
        np.testing.assert_allclose(ras_to_lps(points_ras), points_lps)
        assert conversions.lineLengthMm(points_ras) == pytest.approx(conversions.lineLengthMm(points_lps), abs=1e-9)
        assert conversions.lineLengthMm(points_lps) == pytest.approx(
            float(np.linalg.norm(points_lps[1] - points_lps[0]))
        )
    assert conversions.lineLengthMm([[0, 0, 0], [3, 4, 12]]) == pytest.approx(13.0)
    with pytest.raises(ValueError, match="exactly 2 control points"):
        conversions.lineLengthMm([[0, 0, 0]])
    with pytest.raises(ValueError, match="undefined"):
        conversions.lineLengthMm([[0, 0, 0], [np.nan, 0, 0]])


# --------------------------------------------------------------------- response tables and plots
def test_response_tables_and_plot_series_of_the_example():
    response = evaluate_study(study_from_dict(EXAMPLE), warn_baseline=True)
    document = response.to_dict()
    tables = conversions.responseTables(document)
    assert set(tables) == {"RECIST1.1", "iRECIST", "itRECIST"}
    for criterion, (columns, rows) in tables.items():
        assert [row[0] for row in rows] == ["BL", "W8"], criterion
        assert rows[1][columns.index("Overall")] == document["timepoints"][1]["criteria"][criterion]["overall"]
    columns, rows = tables["itRECIST"]
    assert rows[1][columns.index("Injected")] == "iPR" and rows[1][columns.index("Injected change (%)")] == "-30.0"
    assert "L1: T-I" in rows[1][columns.index("Lesion categories")]
    summary = conversions.responseSummary(document)
    assert "RECIST1.1: PD" in summary and "itRECIST injected: iPR" in summary

    waterfall = conversions.waterfallSeries(waterfall_data(response.itrecist))
    assert [s["stream"] for s in waterfall] == ["overall", "injected", "non_injected"]
    assert waterfall[1]["y"] == [pytest.approx(-30.0)]
    assert len({tuple(s["x"]) for s in waterfall}) == 3  # bars side by side, not stacked
    spider = conversions.spiderSeries(
        spider_data(response.study, response.itrecist), conversions.injectedLesionIds(EXAMPLE)
    )
    lesions = {s["lesion"]: s for s in spider if s["lesion"]}
    assert set(lesions) == {"L1", "N1"}
    assert lesions["L1"]["stream"] == "injected" and lesions["N1"]["stream"] == "non_injected"
    assert lesions["L1"]["x"] == [0.0, 8.0] and lesions["L1"]["y"] == [pytest.approx(0.0), pytest.approx(-30.0)]
    assert len(spider) == 3 + 2


def test_review_rows():
    review = {
        "frame": "LPS",
        "needles": [
            {
                "lesion_id": "L1",
                "needle": {"source": "markup", "tip_lps": [1.0, 2.0, 3.0], "hub_lps": [11.0, 2.0, 3.0]},
                "deviation": {
                    "tip_to_target_mm": 0.71,
                    "angle_deg": 6.02,
                    "depth_error_mm": 0.1,
                    "lateral_at_target_depth_mm": 0.7,
                    "tip_lateral_mm": 0.7,
                },
                "margins": {"kept": True},
            }
        ],
        "needle_notes": {"L1": "reviewer line markup", "L4": "no needle within 15 mm of the planned target"},
    }
    columns, rows = conversions.reviewTableRows(review)
    assert rows[0][columns.index("Angle (deg)")] == "6.02" and rows[0][columns.index("Margins kept")] == "yes"
    assert rows[1][0] == "L4" and "no needle" in rows[1][-1]
