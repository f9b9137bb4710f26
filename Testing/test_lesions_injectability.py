"""Injectability rules on measured synthetic lesions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from hitit.geometry import Grid
from hitit.dosing.protocols import load_protocol
from hitit.lesions.contrast import Contrast
from hitit.lesions.injectability import LESION_RULE_KINDS, InjectabilityConfig, assess_injectability
from hitit.lesions.measure import measure_lesion
from hitit.lesions.segment import lesion_from_diameters

GRID = Grid((100, 100, 50), (1.0, 1.0, 2.0), (0.0, 0.0, 0.0), tuple(np.eye(3).ravel()))
KK, JJ, II = np.indices(GRID.shape)  # voxel indices along k, j, i (I alone reads as 1)
PROTOCOLS = Path(__file__).resolve().parents[1] / "hitit" / "dosing" / "protocols"
BODY = (II >= 5) & (II < 95) & (JJ >= 5) & (JJ < 95)


def measured(diameter, hu_inside=40.0, structures=None, centre=(50.0, 50.0, 50.0)):
    lesion = lesion_from_diameters(GRID, centre, (diameter,) * 3, lesion_id="X")
    hu = np.where(lesion.mask, hu_inside, 60.0)
    return measure_lesion(lesion, GRID, hu, BODY, structures or {}, contrast=Contrast(True, "synthetic enhanced CT"))


def codes(verdict):
    return {r.code for r in verdict.reasons}


def test_clean_lesion_is_yes_with_info_reasons():
    v = assess_injectability(measured(20), trajectory_feasible=True)
    assert v.verdict == "yes" and codes(v) == set()
    v = assess_injectability(measured(20))
    assert v.verdict == "yes" and codes(v) == {"TRAJECTORY_NOT_CHECKED"}


def test_small_necrotic_deep_and_no_trajectory_are_no():
    assert "TOO_SMALL" in codes(assess_injectability(measured(6)))
    v = assess_injectability(measured(20, hu_inside=5.0))
    assert v.verdict == "no" and "MOSTLY_NECROTIC" in codes(v)
    v = assess_injectability(measured(20), InjectabilityConfig(needle_reserve_mm=20), needle_length_mm=50)
    assert v.verdict == "no" and "TOO_DEEP" in codes(v)  # 35 mm deep > 30 mm usable
    assert assess_injectability(measured(20), trajectory_feasible=False).verdict == "no"
    v = assess_injectability(measured(20), InjectabilityConfig(), needle_length_mm=150)
    assert v.verdict == "yes"


def test_abutting_vessel_and_bowel_is_caution():
    aorta = (II >= 63) & (II < 70)  # 3 mm centre distance from the lesion's edge voxel at x = 60
    colon = JJ < 30
    v = assess_injectability(measured(20, structures={"aorta": aorta, "colon": colon}), trajectory_feasible=True)
    assert v.verdict == "caution" and codes(v) == {"ABUTS_VESSEL"}
    assert all(r.source for r in v.reasons)


def test_tvec_liver_is_no_and_before_baseline_is_caution():
    liver = (II >= 20) & (II < 80)
    m = measured(20, structures={"liver": liver})
    assert m.organ == "liver"
    v = assess_injectability(m, protocol=load_protocol("tvec"), trajectory_feasible=True)
    assert v.verdict == "no" and "TVEC_LIVER" in codes(v)
    assert assess_injectability(m, protocol=load_protocol("pv10"), trajectory_feasible=True).verdict == "yes"
    v = assess_injectability(m, trajectory_feasible=True, injected_before_baseline=True)
    assert v.verdict == "caution"
    assert v.max_depth_mm == 130.0 and "max_depth_mm" in v.rules.to_dict()["sources"]  # 150 mm needle - 20 mm reserve
    assert "rules" not in v.to_dict()  # the plan stores the rules once, not per lesion


def test_agent_rule_travels_with_the_protocol_file(tmp_path):
    """A copied and renamed T-VEC protocol keeps its liver refusal; its severity is the file's to set."""
    liver = (II >= 20) & (II < 80)
    m = measured(20, structures={"liver": liver})
    document = json.loads((PROTOCOLS / "tvec.json").read_text(encoding="utf-8"))
    document["name"] = "my-oncolytic-virus"
    copy = tmp_path / "copy.json"
    copy.write_text(json.dumps(document), encoding="utf-8")
    v = assess_injectability(m, protocol=load_protocol(copy), trajectory_feasible=True)
    assert v.verdict == "no" and "TVEC_LIVER" in codes(v)
    assert all(r.source for r in v.reasons if r.code == "TVEC_LIVER")
    document["lesion_rules"][0]["severity"] = "caution"
    copy.write_text(json.dumps(document), encoding="utf-8")
    assert assess_injectability(m, protocol=load_protocol(copy), trajectory_feasible=True).verdict == "caution"
    outside = measured(20)  # no liver: the rule does not apply
    assert assess_injectability(outside, protocol=load_protocol(copy), trajectory_feasible=True).verdict == "yes"


def test_every_declared_lesion_rule_kind_has_an_interpreter():
    schema = json.loads((PROTOCOLS.parent / "protocol.schema.json").read_text(encoding="utf-8"))
    kinds = schema["properties"]["lesion_rules"]["items"]["properties"]["kind"]["enum"]
    assert sorted(kinds) == sorted(LESION_RULE_KINDS)
