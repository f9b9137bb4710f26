"""RECIST 1.1, iRECIST and itRECIST assessed apart: one criterion that cannot be assessed never blocks
the others; ``--strict`` refuses the whole study; ``--warn-baseline`` assesses everything with warnings.
"""

from __future__ import annotations

import csv
import io
import json

import pytest

from hitit.cli.main import main
from hitit.errors import InputError
from hitit.response import evaluate_study, study_from_dict
from hitit.response.evaluate import NOT_ASSESSABLE
from hitit.response.outputs import response_csv, response_html
from test_response_outputs import STUDY


def _plain_recist_study() -> dict:
    """The shared example study without any injected lesion: a plain RECIST 1.1 follow-up."""
    data = json.loads(json.dumps(STUDY))
    for lesion in data["lesions"]:
        lesion.pop("injected_from", None)
    return data


def _six_targets_study() -> dict:
    """Six targets in six organs, three injected at baseline: fine for itRECIST, too many for RECIST 1.1."""
    organs = ["liver", "lung", "adrenal", "spleen", "kidney", "skin"]
    return {
        "timepoints": [{"id": "BL", "date": "2026-01-05"}, {"id": "W8", "date": "2026-03-02"}],
        "lesions": [
            {
                "id": f"L{n + 1}",
                "organ": organ,
                "role": "target",
                "injected_from": "BL" if n < 3 else None,
                "measurements": {"BL": 20.0, "W8": 10.0},
            }
            for n, organ in enumerate(organs)
        ],
    }


def test_no_injected_target_leaves_recist_and_irecist_assessed(tmp_path):
    response = evaluate_study(study_from_dict(_plain_recist_study()))
    assert response.assessed("RECIST1.1") and response.assessed("iRECIST") and not response.assessed("itRECIST")
    [problem] = response.not_assessable["itRECIST"]
    assert problem.rule == "itRECIST: 1-5 T-I target lesions at baseline" and problem.lesions == ()
    document = response.to_dict()
    assert document["assessment"]["itRECIST"]["assessed"] is False
    assert document["assessment"]["itRECIST"]["not_assessable"][0]["rule"] == problem.rule
    w8 = document["timepoints"][1]["criteria"]
    # the same values as with an injected lesion: RECIST 1.1 does not look at injections (57 -> 33 mm)
    assert (w8["RECIST1.1"]["overall"], w8["RECIST1.1"]["sum_mm"]) == ("PR", 33.0) and w8["iRECIST"]["overall"] == "iPR"
    assert w8["itRECIST"] == {
        "overall": NOT_ASSESSABLE,
        "injected": NOT_ASSESSABLE,
        "non_injected": NOT_ASSESSABLE,
        "reason": response.reason("itRECIST"),
    }
    assert "0 T-I target lesions at BL" in w8["itRECIST"]["reason"]
    assert document["best_overall_response"]["itRECIST"]["injected"]["unconfirmed"] == NOT_ASSESSABLE
    assert document["best_overall_response"]["RECIST1.1"]["unconfirmed"] == "PR"
    assert document["warnings"] == []
    rows = list(csv.DictReader(io.StringIO(response_csv(response))))
    itrecist_rows = [r for r in rows if r["criterion"] == "itRECIST"]
    assert len(itrecist_rows) == 3 * 3 and all(
        r["overall"] == NOT_ASSESSABLE and "T-I" in r["note"] for r in itrecist_rows
    )
    assert all(r["note"] == "" for r in rows if r["criterion"] != "itRECIST")
    html = response_html(response)
    assert "Criteria not assessable" in html and "itRECIST: 1-5 T-I target lesions at baseline" in html


def test_a_broken_recist_rule_blocks_recist_and_irecist_only(tmp_path):
    response = evaluate_study(study_from_dict(_six_targets_study()))
    assert set(response.not_assessable) == {"RECIST1.1", "iRECIST"}
    [problem] = response.not_assessable["RECIST1.1"]
    assert problem.rule == "RECIST 1.1: at most 5 target lesions" and problem.lesions == ("L6",)
    itrecist = response.to_dict()["timepoints"][1]["criteria"]["itRECIST"]
    # 120 -> 60 mm overall, 60 -> 30 mm in each group: -50 % everywhere
    assert (itrecist["overall"], itrecist["injected"], itrecist["non_injected"]) == ("iPR", "iPR", "iPR")
    assert itrecist["sum_mm"] == 60.0 and itrecist["injected_sum_mm"] == 30.0
    # --warn-baseline: assessed with the broken rule as a warning
    warned = evaluate_study(study_from_dict(_six_targets_study()), warn_baseline=True)
    assert not warned.not_assessable and any("at most 5" in w for w in warned.warnings)
    assert warned.to_dict()["timepoints"][1]["criteria"]["RECIST1.1"]["overall"] == "PR"
    with pytest.raises(InputError, match=r"RECIST 1.1 baseline: lesion L6: 6 target lesions"):
        evaluate_study(study_from_dict(_six_targets_study()), strict=True)


def test_cli_reports_a_criterion_not_assessable_and_exits_0(tmp_path, capsys):
    study = tmp_path / "study.json"
    study.write_text(json.dumps(_plain_recist_study()))
    assert main(["response", str(study), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "itRECIST: not assessable (itRECIST: 1-5 T-I target lesions at baseline: 0 T-I target lesions at BL" in out
    assert "W8 2026-03-02: RECIST1.1 PR (sum -42.1 % from baseline), iRECIST iPR, itRECIST not assessable" in out
    written = json.loads((tmp_path / "out" / "response.json").read_text())
    assert written["assessment"]["RECIST1.1"]["assessed"] and not written["assessment"]["itRECIST"]["assessed"]
    assert "Criteria not assessable" in (tmp_path / "out" / "response.html").read_text()
    # --strict: the whole study is refused, one line, exit 2, nothing written
    assert main(["response", str(study), "--out", str(tmp_path / "strict"), "--strict"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "itRECIST baseline: 0 T-I target lesions" in err
    assert not (tmp_path / "strict").exists()
    # --warn-baseline: itRECIST assessed, with the warning printed
    assert main(["response", str(study), "--out", str(tmp_path / "warned"), "--warn-baseline"]) == 0
    assert "warning: itRECIST baseline: 0 T-I target lesions" in capsys.readouterr().out
    # the two flags contradict each other
    with pytest.raises(SystemExit):
        main(["response", str(study), "--out", str(tmp_path / "x"), "--strict", "--warn-baseline"])
