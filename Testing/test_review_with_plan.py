"""Reviewing a plan written by ``hitit plan``: the actual needle is judged with the plan's own rules."""

import json

import numpy as np
import pytest

from hitit.io.markups import Markup
from hitit.phantom import make_teaching_case
from hitit.plan import PlanConfig, plan_case
from hitit.plan.plan_file import plan_from_dict
from hitit.review.visit import NEEDLE_MATCH_DISTANCE_MM, assign_lines, review_visit


@pytest.fixture(scope="module")
def planned():
    teaching = make_teaching_case(spacing_mm=(2.0, 2.0, 3.0))
    plan = plan_case(teaching.case, PlanConfig(protocol="pv10"))
    # through JSON, as the review reads plan.json
    return teaching, plan_from_dict(json.loads(json.dumps(plan.to_dict(), default=float))), plan


def test_needle_on_the_planned_path_keeps_the_plans_margins(planned):
    teaching, plan_dict, plan = planned
    best = plan.lesion("L1").target.trajectories[0]
    line = Markup("line", "L1", [best.entry_lps, best.target_lps])
    review = review_visit(
        plan_dict, teaching.case.ct, {**teaching.case.structures, **teaching.case.lesions}, needle_markup=line
    )
    (needle,) = [n for n in review.needles if n.lesion_id == "L1"]
    assert needle.margins["kept"] and "planner's exact clearance check" in needle.margins["method"]
    assert needle.deviation.tip_to_target_mm == pytest.approx(0.0, abs=1e-6)
    # the review reports the same clearances the planner computed for that path
    for name, row in needle.margins["structures"].items():
        assert row["actual_mm"] == pytest.approx(best.clearance_by_structure_mm[name], abs=0.01)


def test_a_needle_on_any_proposed_path_keeps_the_plans_margins(planned):
    """Not only the best: every path the plan proposes, reviewed as the needle placed, keeps every margin."""
    teaching, plan_dict, plan = planned
    masks = {**teaching.case.structures, **teaching.case.lesions}
    reviewed = 0
    for lesion in plan.lesions:
        assert lesion.target.trajectories, lesion.lesion_id
        for t in lesion.target.trajectories:
            line = Markup("line", lesion.lesion_id, [t.entry_lps, t.target_lps])
            review = review_visit(plan_dict, teaching.case.ct, masks, needle_markup=line)
            (needle,) = [n for n in review.needles if n.lesion_id == lesion.lesion_id]
            assert needle.margins["kept"], (lesion.lesion_id, t.rank, needle.margins.get("blocking"))
            assert needle.margins["structures"] and all(row["kept"] for row in needle.margins["structures"].values())
            for name, row in needle.margins["structures"].items():  # the clearances the planner computed for it
                assert row["actual_mm"] == pytest.approx(t.clearance_by_structure_mm[name], abs=0.01), (t.rank, name)
            reviewed += 1
    assert reviewed == sum(len(lesion.target.trajectories) for lesion in plan.lesions) >= len(plan.lesions)


def test_needle_through_a_vessel_breaks_the_margins(planned):
    teaching, plan_dict, plan = planned
    target = np.asarray(plan.lesion("L2").target.target_lps)
    # a needle from straight behind L2 through the inferior vena cava (1 mm from L2)
    ivc = teaching.case.structures["inferior_vena_cava"]
    k, j, i = np.nonzero(ivc)
    ivc_centre = teaching.case.grid.index_to_lps(np.column_stack([i, j, k])).mean(axis=0)
    direction = (target - ivc_centre) / np.linalg.norm(target - ivc_centre)
    hub = target - direction * 120.0
    review = review_visit(
        plan_dict,
        teaching.case.ct,
        {**teaching.case.structures, **teaching.case.lesions},
        needle_markup=Markup("line", "L2", [hub, target]),
    )
    (needle,) = [n for n in review.needles if n.lesion_id == "L2"]
    assert not needle.margins["kept"] and "inferior_vena_cava" in needle.margins["blocking"]


def test_unnamed_lines_go_only_to_the_lesion_whose_planned_path_they_end_near():
    """Analytic: planned paths along x at y = 0, 40, 80 mm;
    each unnamed line is judged by its tip's distance to a path.
    """
    planned = {f"L{n}": (np.array([-100.0, 40.0 * n, 0.0]), np.array([0.0, 40.0 * n, 0.0])) for n in range(3)}
    near_l0 = np.array([[-90.0, 5.0, 0.0], [2.0, 10.0, 0.0]])  # tip 10 mm off L0's path
    near_l2 = np.array([[-100.0, 80.0, 0.0], [-30.0, 80.0 + NEEDLE_MATCH_DISTANCE_MM + 1, 0.0]])  # 16 mm off L2's path
    named = np.array([[-100.0, 200.0, 0.0], [0.0, 200.0, 0.0]])  # far from L1's path, but named after it
    assigned = assign_lines([(None, near_l0), ("Line", near_l2), ("L1", named)], planned)
    assert set(assigned) == {"L0", "L1"}
    assert assigned["L0"][0] is near_l0 and assigned["L1"][0] is named
    # one line serves one lesion: the nearer path wins
    both = np.array([[-100.0, 15.0, 0.0], [0.0, 15.0, 0.0]])  # 15 mm from L0, 25 mm from L1
    assert set(assign_lines([(None, both)], planned)) == {"L0"}
