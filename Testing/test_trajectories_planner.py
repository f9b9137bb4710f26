"""Planner behaviour on small analytic scenes: top-k, angles, needle length, gauge, no safe path,
lung, liver capsule.
"""

from dataclasses import replace

import numpy as np

from hitit.anatomy.catalogue import rules_for_target
from hitit.geometry import Grid
from hitit.trajectories import PathReason, TrajectoryConfig, check_path, plan_target, prepare
from hitit.trajectories.bench import _skin
from hitit.trajectories.metrics import axial_angle_deg, skin_angle_deg

GRID = Grid((100, 80, 60), (2.0, 2.0, 2.0), (-99.0, -79.0, -59.0), np.eye(3).ravel())
KJI = np.stack(np.meshgrid(*[np.arange(n) for n in GRID.shape], indexing="ij"), axis=-1)
LPS = GRID.index_to_lps(KJI[..., ::-1].reshape(-1, 3).astype(float)).reshape(*GRID.shape, 3)
OPEN = replace(TrajectoryConfig(), max_axial_angle_deg=90.0, max_skin_angle_deg=90.0)


def _ball(c, r):
    return np.linalg.norm(LPS - np.asarray(c, float), axis=-1) <= r


def _plan(masks, target, config=OPEN, organ=None, lesion=None):
    rules = rules_for_target(list(masks), organ)
    scene = prepare((GRID, masks), rules, config, target)
    return scene, plan_target(scene, target, _skin(2.0), "T", lesion)


def test_top_k_distinct_and_separated_and_safe():
    scene, plan = _plan({"aorta": _ball((30, 0, 0), 8)}, np.zeros(3))
    assert plan.status == "ok" and len(plan.trajectories) == OPEN.top_k
    entries = np.array([t.entry_lps for t in plan.trajectories])
    for i in range(len(entries)):
        for j in range(i):
            assert np.linalg.norm(entries[i] - entries[j]) >= OPEN.min_entry_separation_mm
    assert all(t.feasible and t.min_clearance_mm >= 5 - scene.tolerance_mm for t in plan.trajectories)
    assert [t.score for t in plan.trajectories] == sorted([t.score for t in plan.trajectories], reverse=True)
    poly = plan.accessibility_polydata()
    assert poly.GetPointData().GetArray("feasible").GetNumberOfTuples() == len(plan.arrays["score"])


def test_angles():
    target = np.zeros(3)
    assert np.isclose(axial_angle_deg(np.array([[100.0, 0, 0]]), target)[0], 0)
    assert np.isclose(axial_angle_deg(np.array([[100.0, 0, 100.0]]), target)[0], 45)
    assert np.isclose(skin_angle_deg(np.array([[100.0, 0, 0]]), target, np.array([[1.0, 0, 0]]))[0], 0)
    assert np.isclose(skin_angle_deg(np.array([[100.0, 0, 0]]), target, np.array([[0.0, 1.0, 0]]))[0], 90)
    scene, plan = _plan({"aorta": _ball((30, 0, 0), 8)}, np.zeros(3), replace(OPEN, max_axial_angle_deg=0.0))
    assert all(t.axial_angle_deg <= 3.0 + 1e-9 for t in plan.trajectories)


def test_needle_length_limit():
    scene, plan = _plan({"aorta": _ball((30, 0, 0), 8)}, np.zeros(3), replace(OPEN, needle_length_mm=110.0))
    too_long = plan.arrays["length_mm"] > 110.0
    assert too_long.any() and not plan.arrays["feasible"][too_long].any()
    assert (plan.arrays["reason"][too_long] == PathReason.BEYOND_NEEDLE).all()


def test_gauge_radius_adds_to_margin():
    masks = {"aorta": _ball((0, 0, 0), 6)}
    entry, target = np.array([-60.0, -10.55, 0.0]), np.array([60.0, -10.55, 0.0])
    thin = prepare((GRID, masks), rules_for_target(["aorta"]), replace(OPEN, gauge=25, tolerance_mm=0.0), target)
    thick = prepare((GRID, masks), rules_for_target(["aorta"]), replace(OPEN, gauge=14, tolerance_mm=0.0), target)
    centres = LPS[masks["aorta"]]
    d = np.sqrt((centres[:, 1] + 10.55) ** 2 + centres[:, 2] ** 2).min()  # exact line distance (the line spans x)
    assert d - 5.0 - 0.2575 > 0 > d - 5.0 - 0.737  # 25 G and 14 G outer radii
    assert not check_path(thin, entry, target).blocking
    assert check_path(thick, entry, target).blocking == ["aorta"]


def test_no_safe_path_names_blockers_and_offers_least_bad():
    shell = _ball((0, 0, 0), 16) & ~_ball((0, 0, 0), 12)
    scene, plan = _plan({"inferior_vena_cava": shell}, np.zeros(3))
    assert plan.status == "no_safe_path" and not plan.trajectories
    assert "inferior_vena_cava" in plan.blocking_structures and "inferior_vena_cava" in plan.message
    assert plan.least_bad and all(not t.feasible and t.violations for t in plan.least_bad)
    assert plan.to_dict()["least_bad"][0]["blocking"] == ["inferior_vena_cava"]


def test_lung_pleural_crossings_and_fissure():
    upper = (np.abs(LPS[..., 0] - 40) <= 15) & (LPS[..., 2] > 0) & (np.abs(LPS[..., 1]) < 40)
    lower = (np.abs(LPS[..., 0] - 40) <= 15) & (LPS[..., 2] < 0) & (np.abs(LPS[..., 1]) < 40)
    masks = {"lung_upper_lobe_left": upper, "lung_lower_lobe_left": lower}
    scene = prepare((GRID, masks), rules_for_target(list(masks)), OPEN, np.zeros(3))
    straight = check_path(scene, np.array([90.0, 0, 10.0]), np.array([0.0, 0, 10.0]))
    assert straight.pleural_punctures == 1 and straight.fissure_crossings == 0 and 25 < straight.aerated_lung_mm < 35
    oblique = check_path(scene, np.array([90.0, 0, 30.0]), np.array([0.0, 0, -30.0]))
    assert oblique.fissure_crossings == 1 and oblique.pleural_punctures == 1
    assert "punctures the pleura" in " ".join(straight.violations)  # the target lies outside the lung
    assert oblique.score < straight.score


def test_liver_capsule_minimum_path():
    liver = _ball((0, 0, 0), 30)
    lesion = _ball((0, -22, 0), 6)
    masks = {"liver": liver}
    target = np.array([0.0, -22.0, 0.0])
    scene = prepare((GRID, masks), rules_for_target(["liver"], "liver"), OPEN, target)
    anterior = check_path(scene, np.array([0.0, -79.0, 0.0]), target, lesion_mask=lesion)
    through = check_path(scene, np.array([0.0, 79.0, 0.0]), target, lesion_mask=lesion)
    assert anterior.host_organ == "liver" and anterior.organ_path_mm < 10 and not anterior.feasible
    assert through.organ_path_mm >= 10 and through.feasible


def test_map_has_margin_slack_per_margin_group():
    masks = {
        "aorta": _ball((30, 0, 0), 8),
        "vertebrae_L1": _ball((-30, 10, 0), 8),
        "kidney_left": _ball((0, 35, 10), 9),
    }
    scene, plan = _plan(masks, np.zeros(3))
    names = list(plan.margin_slack_groups)
    assert names == ["margin_slack_vessel_mm", "margin_slack_bone+solid_organ_mm"] or set(names) == {
        "margin_slack_vessel_mm",
        "margin_slack_bone+solid_organ_mm",
    }
    assert plan.margin_slack_groups["margin_slack_vessel_mm"]["structures"] == ["aorta"]
    stacked = np.stack([plan.arrays[n] for n in names])
    assert np.array_equal(
        plan.arrays["margin_slack_mm"], stacked.min(axis=0)
    )  # margin_slack_mm is the per-group minimum
    evaluated = ~np.isin(
        plan.arrays["reason"], (PathReason.NOT_CANDIDATE, PathReason.BEYOND_NEEDLE)
    )  # entries within reach are evaluated
    assert np.all(np.isfinite(stacked[:, evaluated])) and np.all(stacked[:, ~evaluated] == -np.inf)
    # a feasible entry keeps every group's margin (minus the tolerance); its group clearances are sampled lower
    # bounds, below the true value by at most twice the voxel half-diagonal
    ok = plan.arrays["feasible"]
    half_diagonal = 0.5 * np.linalg.norm(GRID.spacing_mm)
    assert np.all(stacked[:, ok] >= -scene.tolerance_mm - 2 * half_diagonal - 1e-3)
    poly = plan.accessibility_polydata()
    for n in names:
        assert poly.GetPointData().GetArray(n).GetNumberOfTuples() == len(plan.arrays["score"])
    assert plan.to_dict()["margin_slack_groups"]["margin_slack_bone+solid_organ_mm"]["margin_mm"] == 2.0


def test_map_and_exact_check_refuse_for_the_same_rule():
    """Every entry the map refuses for length, an angle, the organ path or the lung is refused by the exact check for
    that rule too (both apply the one rule of hitit.trajectories.feasibility); feasible entries pass it.
    """
    liver = _ball((0, 0, 0), 30)
    lesion = _ball((0, -22, 0), 6)
    lung = (np.abs(LPS[..., 0] - 60) <= 12) & (np.abs(LPS[..., 1]) < 40) & (np.abs(LPS[..., 2]) < 30)
    masks = {"liver": liver, "lung_upper_lobe_right": lung}
    target = np.array([0.0, -22.0, 0.0])
    config = replace(OPEN, max_axial_angle_deg=30.0, max_skin_angle_deg=30.0)
    scene = prepare((GRID, masks), rules_for_target(list(masks), "liver"), config, target)
    skin = _skin(2.0)
    plan = plan_target(scene, target, skin, "T", lesion)
    reason = plan.arrays["reason"]
    words = {
        PathReason.BEYOND_NEEDLE: "usable needle length",
        PathReason.AXIAL_ANGLE: "axial plane",
        PathReason.SKIN_ANGLE: "skin normal",
        PathReason.ORGAN_PATH: "of normal liver",
        PathReason.LUNG_OUTSIDE_LUNG: "punctures the pleura",
    }
    rng = np.random.default_rng(1)
    for rule, word in words.items():
        entries = np.flatnonzero(reason == rule)
        assert len(entries) > 0, f"the scene refuses no entry for {rule.name}"
        for i in rng.choice(entries, size=min(5, len(entries)), replace=False):
            check = check_path(scene, skin.points_lps[i], target, skin.normals_lps[i], lesion)
            assert not check.feasible and any(word in v for v in check.violations), (rule.name, check.violations)
    for i in rng.choice(np.flatnonzero(reason == PathReason.FEASIBLE), size=5, replace=False):
        assert check_path(scene, skin.points_lps[i], target, skin.normals_lps[i], lesion).feasible
    assert sum(plan.counts[r.description] for r in PathReason) == plan.counts["total"] == len(reason)
