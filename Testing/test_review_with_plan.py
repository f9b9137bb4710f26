"""Reviewing a plan written by ``hitit plan``: the actual needle is judged with the plan's own rules."""

import json

import numpy as np
import pytest

from hitit.io.markups import Markup
from hitit.phantom import make_teaching_case
from hitit.plan import PlanConfig, plan_case
from hitit.review.visit import review_visit


@pytest.fixture(scope="module")
def planned():
    teaching = make_teaching_case(spacing_mm=(2.0, 2.0, 3.0))
    plan = plan_case(teaching.case, PlanConfig(protocol="pv10"))
    # through JSON, as the review reads plan.json
    return teaching, json.loads(json.dumps(plan.to_dict(), default=float)), plan


def test_needle_on_the_planned_path_keeps_the_plans_margins(planned):
    teaching, plan_dict, plan = planned
    best = plan.lesion("L1").target.trajectories[0]
    line = Markup("line", "L1", [best.entry, best.target])
    review = review_visit(plan_dict, teaching.case.ct, {**teaching.case.structures, **teaching.case.lesions},
                         needle_markup=line)
    (needle,) = [n for n in review.needles if n.lesion_id == "L1"]
    assert needle.margins["kept"] and "planner's exact clearance check" in needle.margins["method"]
    assert needle.deviation.tip_to_target_mm == pytest.approx(0.0, abs=1e-6)
    # the review reports the same clearances the planner computed for that path
    for name, row in needle.margins["structures"].items():
        assert row["actual_mm"] == pytest.approx(best.clearance_by_structure_mm[name], abs=0.01)


def test_needle_through_a_vessel_breaks_the_margins(planned):
    teaching, plan_dict, plan = planned
    target = np.asarray(plan.lesion("L2").target.target_lps)
    # a needle from straight behind L2 through the inferior vena cava (1 mm from L2)
    ivc = teaching.case.structures["inferior_vena_cava"]
    k, j, i = np.nonzero(ivc)
    ivc_centre = teaching.case.grid.index_to_lps(np.column_stack([i, j, k])).mean(axis=0)
    direction = (target - ivc_centre) / np.linalg.norm(target - ivc_centre)
    hub = target - direction * 120.0
    review = review_visit(plan_dict, teaching.case.ct, {**teaching.case.structures, **teaching.case.lesions},
                         needle_markup=Markup("line", "L2", [hub, target]))
    (needle,) = [n for n in review.needles if n.lesion_id == "L2"]
    assert not needle.margins["kept"] and "inferior_vena_cava" in needle.margins["blocking"]
