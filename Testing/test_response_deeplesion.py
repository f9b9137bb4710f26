"""Real DeepLesion baseline/follow-up diameters (NIH radiologists' RECIST marks) through the engine.

Each chain of lesion pairs (the later study of one pair is the earlier study of the next) is one
target lesion; the lesions of one patient form one study, its time points being the DeepLesion
study indices. Dates are not in the data: the time points are set 8 weeks apart. The percent
changes are recomputed here with plain arithmetic from the CSV and compared with the engine's.
"""

import csv
import json
import datetime as dt

import pytest

from hitit.cli.main import main
from hitit.response import evaluate_study, study_from_dict, write_outputs

CSV_NAME = "deeplesion-longitudinal/lesion_pairs_recist_vs_mask.csv"


def read_pairs(data_dir):
    with open(data_dir / CSV_NAME, newline="") as handle:
        return list(csv.DictReader(handle))


def study_index(key):
    """'000612_02_01_395' -> 2 (patient_study_series_slice)."""
    return int(key.split("_")[1])


def chains(pairs):
    """Lesion chains: {first key: {study index: long diameter mm}} joined where a later key starts another pair."""
    by_earlier = {p["earlier_key"]: p for p in pairs}
    later_keys = {p["later_key"] for p in pairs}
    result = {}
    for start in (k for k in by_earlier if k not in later_keys):
        values, key = {}, start
        while key in by_earlier:
            pair = by_earlier[key]
            values[study_index(pair["earlier_key"])] = float(pair["recist_long_mm_earlier"])
            values[study_index(pair["later_key"])] = float(pair["recist_long_mm_later"])
            key = pair["later_key"]
        result[start] = values
    return result


def studies(pairs):
    """One study document per patient; returns {patient: (document, {lesion id: {study index: mm}})}."""
    by_patient = {}
    for start, values in chains(pairs).items():
        by_patient.setdefault(start.split("_")[0], {})[start] = values
    out = {}
    for patient, lesions in by_patient.items():
        indices = sorted({i for values in lesions.values() for i in values})
        timepoints = [
            {"id": f"S{i:02d}", "date": (dt.date(2020, 1, 6) + dt.timedelta(weeks=8 * n)).isoformat()}
            for n, i in enumerate(indices)
        ]
        document = {
            "patient": patient,
            "timepoints": timepoints,
            "lesions": [
                # Organ is not in the CSV: one organ per lesion keeps the per-organ rule out of the way.
                {
                    "id": key,
                    "organ": f"site {n}",
                    "role": "target",
                    "injected_from": f"S{indices[0]:02d}" if n == 0 else None,
                    "measurements": {f"S{i:02d}": v for i, v in values.items()},
                }
                for n, (key, values) in enumerate(sorted(lesions.items()))
            ],
        }
        out[patient] = (document, lesions)
    return out


def test_chains_cover_every_pair(data_dir):
    pairs = read_pairs(data_dir)
    assert len(pairs) == 10
    counts = sorted(len(values) for values in chains(pairs).values())
    assert counts == [2, 2, 2, 2, 2, 2, 3, 3]  # two lesions followed over three studies


def test_deeplesion_studies_run_and_percent_changes_match_plain_arithmetic(data_dir, tmp_path):
    for patient, (document, lesions) in studies(read_pairs(data_dir)).items():
        # Some lesions are < 10 mm (not measurable) and not every study has an injected/non-injected
        # split: the engines run with baseline warnings.
        response = evaluate_study(study_from_dict(document), warn_baseline=True)
        write_outputs(response, tmp_path / patient)
        ids = [t["id"] for t in document["timepoints"]]
        sums = [sum(values[int(i[1:])] for values in lesions.values()) for i in ids]
        for n, row in enumerate(response.recist.timepoints):
            expected_baseline = (sums[n] - sums[0]) / sums[0] * 100
            expected_nadir = (sums[n] - min(sums[:n] or sums[:1])) / min(sums[:n] or sums[:1]) * 100
            assert row.sum_mm == pytest.approx(sums[n]), patient
            assert row.change_from_baseline_pct == pytest.approx(expected_baseline), patient
            assert row.change_from_nadir_pct == pytest.approx(expected_nadir), patient
            assert response.itrecist.timepoints[n].change_from_baseline_pct == pytest.approx(expected_baseline)


def test_single_pairs_match_the_csv_percent_change(data_dir):
    """The CSV's own recist_long_change_pct (rounded to 0.1) is a second, independent computation."""
    pairs = read_pairs(data_dir)
    compared = 0
    for _patient, (document, lesions) in studies(pairs).items():
        if len(lesions) != 1:
            continue
        response = evaluate_study(study_from_dict(document), warn_baseline=True)
        ids = [t["id"] for t in document["timepoints"]]
        for pair in pairs:
            if pair["earlier_key"] in lesions and study_index(pair["earlier_key"]) == int(ids[0][1:]):
                later = ids.index(f"S{study_index(pair['later_key']):02d}")
                engine = response.recist.timepoints[later].change_from_baseline_pct
                assert round(engine, 1) == pytest.approx(float(pair["recist_long_change_pct"]), abs=0.051), pair[
                    "earlier_key"
                ]
                compared += 1
    assert compared == 6


def test_deeplesion_categories_by_hand(data_dir):
    documents = studies(read_pairs(data_dir))
    # 000328: 21.5 -> 12.5 mm, -41.9 %: PR
    assert (
        evaluate_study(study_from_dict(documents["000328"][0]), warn_baseline=True).recist.timepoints[1].target == "PR"
    )
    # 000760: 17.9 -> 23.8 mm, +33.0 % and +5.9 mm: PD
    assert (
        evaluate_study(study_from_dict(documents["000760"][0]), warn_baseline=True).recist.timepoints[1].target == "PD"
    )
    # 000612: 11.9 -> 12.3 -> 14.6 mm: +22.7 % from the nadir 11.9 but only +2.7 mm: SD
    rows = evaluate_study(study_from_dict(documents["000612"][0]), warn_baseline=True).recist.timepoints
    assert [r.target for r in rows[1:]] == ["SD", "SD"]
    assert rows[2].nadir_sum_mm == 11.9 and rows[2].change_from_nadir_pct == pytest.approx((14.6 - 11.9) / 11.9 * 100)


def expected_recist_target(sums, n, lesion_values):
    """RECIST 1.1 target category from plain sums (every lesion non-nodal): CR, PD, PR or SD."""
    total, baseline, nadir = sums[n], sums[0], min(sums[:n])
    if all(values == 0 for values in lesion_values):
        return "CR"
    if total - nadir >= 5.0 and total - nadir >= 0.2 * nadir:
        return "PD"
    if baseline - total >= 0.3 * baseline:
        return "PR"
    return "SD"


def test_every_deeplesion_pair_through_the_command_line(data_dir, tmp_path, capsys):
    """Each patient as a plain RECIST 1.1 follow-up (no injected lesion), as a radiologist would send it.

    Without flags RECIST 1.1 and iRECIST are assessed when every target is measurable and itRECIST is
    not assessable (no injected target); with a target under 10 mm nothing can be assessed (exit 2,
    nothing written) unless --warn-baseline, and then RECIST 1.1 follows the sums computed here.
    """
    checked = {"assessed": 0, "refused": 0}
    for patient, (document, lesions) in studies(read_pairs(data_dir)).items():
        for lesion in document["lesions"]:
            lesion["injected_from"] = None
        path = tmp_path / f"{patient}.json"
        path.write_text(json.dumps(document))
        ids = [t["id"] for t in document["timepoints"]]
        indices = [int(i[1:]) for i in ids]
        sums = [sum(values[i] for values in lesions.values()) for i in indices]
        measurable = all(values[indices[0]] >= 10.0 for values in lesions.values())
        out = tmp_path / patient
        code = main(["response", str(path), "--out", str(out)])
        printed = capsys.readouterr()
        if measurable:
            assert code == 0, printed.err
            written = json.loads((out / "response.json").read_text())
            assert written["assessment"]["RECIST1.1"]["assessed"] and written["assessment"]["iRECIST"]["assessed"]
            [problem] = written["assessment"]["itRECIST"]["not_assessable"]
            assert problem["rule"].startswith("itRECIST: 1-5 T-I")
            assert "itRECIST: not assessable" in printed.out
            checked["assessed"] += 1
        else:
            assert code == 2 and "no criterion can be assessed" in printed.err and not out.exists()
            small = [key for key, values in lesions.items() if values[indices[0]] < 10.0]
            assert f"lesion {small[0]}" in printed.err
            checked["refused"] += 1
            assert main(["response", str(path), "--out", str(out), "--warn-baseline"]) == 0
            written = json.loads((out / "response.json").read_text())
            assert all(value["assessed"] for value in written["assessment"].values())
        for n in range(1, len(ids)):
            recist = written["timepoints"][n]["criteria"]["RECIST1.1"]
            expected = expected_recist_target(sums, n, [values[indices[n]] for values in lesions.values()])
            assert recist["sum_mm"] == pytest.approx(sums[n]), patient
            assert (recist["target"], recist["overall"]) == (expected, expected), (patient, ids[n], sums)
    # both branches are exercised by the real data
    assert checked["assessed"] >= 3 and checked["refused"] >= 1, checked
