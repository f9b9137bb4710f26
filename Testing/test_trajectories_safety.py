"""Safety of the trajectory engine: a path called feasible never comes closer to a hard structure than
its margin minus the tolerance (distance = to the nearest mask voxel centre, hitit.trajectories.distance).

Ground truth here is computed independently: exact point-to-segment distances from every mask voxel
centre (no distance map, no sampling), and on the real cases a dense 0.1 mm sampling of each path.
"""

from dataclasses import replace

import numpy as np
import pytest

from hitit.anatomy.catalogue import rules_for_target
from hitit.geometry import Grid
from hitit.trajectories import TrajectoryConfig, check_path, plan_target, prepare
from hitit.trajectories.sampling import trace_paths


def _segment_distance(centres, a, b):
    """Exact distance from segment a-b to the nearest of ``centres`` (mm), written independently of the engine."""
    ab = b - a
    t = np.clip(((centres - a) @ ab) / (ab @ ab), 0.0, 1.0)
    return float(np.sqrt(((centres - (a + t[:, None] * ab)) ** 2).sum(axis=1)).min())


def _rotation(deg):
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]]) @ np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


@pytest.mark.parametrize("spacing, angle", [((1.0, 1.0, 1.0), 0.0), ((0.8, 0.8, 1.5), 20.0)])
def test_sphere_obstacle_never_unsafe_called_safe(spacing, angle):
    size = tuple(int(round(90 / s)) for s in spacing)
    direction = _rotation(angle)
    origin = -direction @ ((np.asarray(size) - 1) * np.asarray(spacing) / 2)
    grid = Grid(size, spacing, origin, direction.ravel())
    kji = np.stack(np.meshgrid(*[np.arange(n) for n in grid.shape], indexing="ij"), axis=-1)
    lps = grid.index_to_lps(kji[..., ::-1].reshape(-1, 3).astype(float)).reshape(*grid.shape, 3)
    centre, radius = np.array([0.0, 0.0, 0.0]), 9.0
    mask = np.linalg.norm(lps - centre, axis=-1) <= radius
    config = TrajectoryConfig()
    scene = prepare((grid, {"aorta": mask}), rules_for_target(["aorta"]), config, centre)
    need = 5.0 + config.needle_radius_mm  # vessel margin + needle radius
    tol = scene.tolerance_mm
    assert tol <= 0.5 * min(spacing)
    rng = np.random.default_rng(1)
    # paths passing the sphere at a chosen analytic distance close to the margin, in random directions
    n = 1500
    u = rng.normal(size=(n, 3))
    u /= np.linalg.norm(u, axis=1)[:, None]
    side = np.cross(u, rng.normal(size=(n, 3)))
    side /= np.linalg.norm(side, axis=1)[:, None]
    gap = radius + need + rng.uniform(-2.5, 2.5, n)
    mid = centre + side * gap[:, None]
    entries, targets = mid - 35 * u, mid + rng.uniform(-10, 35, n)[:, None] * u
    centres = lps[mask]
    truth = np.array([_segment_distance(centres, e, t) for e, t in zip(entries, targets)]) - need
    called = np.zeros(n, dtype=bool)
    for i in range(n):  # one target per call, as the planner does
        called[i] = trace_paths(scene, entries[i : i + 1], targets[i]).feasible[0]
    unsafe = called & (truth < -tol - 1e-6)
    assert not unsafe.any(), f"{unsafe.sum()} unsafe paths called safe (worst {truth[unsafe].min():.3f} mm)"
    safe = truth >= 0
    false_unsafe = (~called & safe).sum() / max(safe.sum(), 1)
    print(
        f"spacing {spacing}: false-unsafe rate {false_unsafe:.4f} over {safe.sum()} safe paths; "
        f"refused safe paths lie within {truth[~called & safe].max(initial=0):.3f} mm of the margin"
    )
    assert false_unsafe < 0.05
    # the exact single-path check agrees with the truth everywhere outside the tolerance band
    sampled = rng.choice(n, 150, replace=False)
    assert (truth[sampled] < -tol - 1e-6).sum() > 20 and (truth[sampled] >= 1e-6).sum() > 20  # both verdicts checked
    for i in sampled:
        feasible = not check_path(scene, entries[i], targets[i]).blocking
        if truth[i] < -tol - 1e-6:
            assert not feasible
        if truth[i] >= 1e-6:
            assert feasible


def _dense_min_slack(grid, masks, rules, radius, entry, target):
    """Smallest (distance - margin - radius) over hard structures, from 0.1 mm samples of the path
    against every mask voxel centre in a box around it.
    """
    entry, target = np.asarray(entry, float), np.asarray(target, float)
    pts = entry + np.linspace(0, 1, int(np.linalg.norm(target - entry) / 0.1) + 2)[:, None] * (target - entry)
    worst = np.inf
    for name, rule in rules.items():
        if rule.kind != "hard" or name not in masks:
            continue
        reach = rule.margin_mm + radius + 2.0
        box = np.concatenate(
            [grid.lps_to_index(pts + d) for d in np.array(np.meshgrid(*[[-reach, reach]] * 3)).T.reshape(-1, 3)]
        )
        lo = np.clip(np.floor(box.min(axis=0)).astype(int), 0, grid.size)
        hi = np.clip(np.ceil(box.max(axis=0)).astype(int) + 1, 0, grid.size)
        sub = masks[name][lo[2] : hi[2], lo[1] : hi[1], lo[0] : hi[0]]
        if not sub.any():
            continue
        centres = grid.index_to_lps((np.argwhere(sub)[:, ::-1] + lo).astype(float))
        for chunk in np.array_split(pts, max(1, len(pts) // 200)):
            d = np.sqrt(((chunk[:, None, :] - centres[None, :, :]) ** 2).sum(-1)).min()
            worst = min(worst, d - rule.margin_mm - radius)
    return worst


def test_teaching_case_every_proposed_path_is_safe():
    from hitit.anatomy.body import skin_surface
    from hitit.phantom import make_teaching_case

    tc = make_teaching_case()
    case = tc.case
    skin = skin_surface(case.ct, body=tc.body)
    config = replace(TrajectoryConfig(), max_axial_angle_deg=10.0)
    checked = 0
    for lid, truth in tc.truth.items():
        organ = truth.organ if truth.organ in case.structures else None
        rules = rules_for_target(list(case.structures), organ)
        scene = prepare(case, rules, config, truth.centre_lps)
        plan = plan_target(scene, truth.centre_lps, skin, lid, case.lesions[lid])
        assert plan.status == "ok", plan.message
        for t in plan.trajectories:
            slack = _dense_min_slack(
                case.grid, case.structures, rules, config.needle_radius_mm, t.entry_lps, t.target_lps
            )
            assert slack >= -scene.tolerance_mm, (lid, t.entry_lps, slack)
            checked += 1
    assert checked >= 8


@pytest.mark.slow
def test_totalsegmentator_liver_target_paths_are_safe(ts_dir):
    from hitit.anatomy.body import skin_surface
    from hitit.io.segmentations import read_structures
    from hitit.io.volumes import read_volume
    from hitit.trajectories.distance import distance_map_mm

    ct = read_volume(ts_dir / "example_ct.nii.gz")
    masks = {
        n: m for n, m in read_structures(ts_dir / "example_seg_fast_force_split.nii.gz", ct.grid).items() if m.any()
    }
    assert "liver" in masks
    inside = -distance_map_mm(~masks["liver"], ct.grid)  # deepest liver voxel: farthest from non-liver
    kji = np.unravel_index(np.argmin(inside), inside.shape)
    target = ct.grid.index_to_lps(np.array(kji[::-1], float))
    config = replace(TrajectoryConfig(), max_axial_angle_deg=30.0)
    rules = rules_for_target(list(masks), "liver")
    scene = prepare((ct.grid, masks), rules, config, target)
    plan = plan_target(scene, target, skin_surface(ct), "liver-target")
    paths = plan.trajectories or plan.least_bad
    assert paths
    # the deepest liver point of this real case is reachable: the planner proposes top_k paths, each checked here
    assert plan.status == "ok" and len(plan.trajectories) == config.top_k, plan.message
    for t in plan.trajectories:
        slack = _dense_min_slack(ct.grid, masks, rules, config.needle_radius_mm, t.entry_lps, t.target_lps)
        assert slack >= -scene.tolerance_mm
    print(plan.status, plan.message)


def _scene_many_structures(spacing, angle):
    """A rotated anisotropic grid with hard structures of both margin groups (5 mm and 2 mm) around a free target."""
    size = tuple(int(round(96 / s)) for s in spacing)
    direction = _rotation(angle)
    origin = -direction @ ((np.asarray(size) - 1) * np.asarray(spacing) / 2)
    grid = Grid(size, spacing, origin, direction.ravel())
    kji = np.stack(np.meshgrid(*[np.arange(n) for n in grid.shape], indexing="ij"), axis=-1)
    lps = grid.index_to_lps(kji[..., ::-1].reshape(-1, 3).astype(float)).reshape(*grid.shape, 3)
    x, y, z = lps[..., 0], lps[..., 1], lps[..., 2]
    masks = {
        "aorta": (x - 14) ** 2 + (y - 6) ** 2 <= 7**2,  # a tube along z, vessel 5 mm
        "colon": ((y + 20) ** 2 + (z - 10) ** 2 <= 5**2) & (np.abs(x) < 30),  # hollow organ 5 mm
        "vertebrae_L1": np.linalg.norm(lps - [-12.0, 18.0, -8.0], axis=-1) <= 8,  # bone 2 mm
        "kidney_left": ((x + 22) / 6) ** 2 + ((y + 2) / 9) ** 2 + ((z - 16) / 7) ** 2 <= 1,  # solid organ 2 mm
        "rib_left_9": (np.abs(np.hypot(x, y) - 40) <= 2) & (np.abs(z + 20) <= 3),  # thin bone near the "skin"
    }
    return grid, lps, masks


@pytest.mark.parametrize(
    "knobs",
    [
        {},
        {"TAIL_PATHS": 0, "MAX_STEPS": 3, "MAX_ROUNDS": 3, "WINDOW_MM": 2.0},
        {"TAIL_PATHS": 10**9},
        {"MIN_STEP_MM": 4.0, "TIGHT_MM": 0.25},
    ],
)
def test_map_of_many_entries_never_unsafe_and_group_clearances(knobs, monkeypatch):
    """One target, 1200 entries in one call (sphere tracing, probes, windows, interval search all used), two margin
    groups, rotated anisotropic grid: no unsafe path called safe; the per-group clearances are sound estimates.
    """
    from hitit.trajectories import sampling

    for name, value in knobs.items():
        monkeypatch.setattr(sampling, name, value)
    spacing = (0.8, 0.8, 1.5)
    grid, lps, masks = _scene_many_structures(spacing, 20.0)
    rules = rules_for_target(list(masks))
    config = TrajectoryConfig()
    target = np.array([0.5, -4.0, 2.0])
    scene = prepare((grid, masks), rules, config, target)
    tol, radius = scene.tolerance_mm, config.needle_radius_mm
    rng = np.random.default_rng(7)
    u = rng.normal(size=(1200, 3))
    u /= np.linalg.norm(u, axis=1)[:, None]
    entries = target + u * rng.uniform(25, 44, 1200)[:, None]
    clear = trace_paths(scene, entries, target)
    truth = {}
    for name, mask in masks.items():
        centres = lps[mask]
        truth[name] = (
            np.array([_segment_distance(centres, e, target) for e in entries]) - rules[name].margin_mm - radius
        )
    worst = np.min(np.stack(list(truth.values())), axis=0)
    unsafe = clear.feasible & (worst < -tol - 1e-6)
    assert not unsafe.any(), f"{unsafe.sum()} unsafe paths called safe (worst {worst[unsafe].min():.3f} mm)"
    safe = worst >= 0
    false_unsafe = (~clear.feasible & safe).sum() / max(safe.sum(), 1)
    print(
        f"knobs {knobs}: {clear.feasible.sum()} feasible, false-unsafe rate {false_unsafe:.4f} over {safe.sum()} safe "
        f"paths, {clear.evaluated_points} look-ups"
    )
    assert safe.sum() > 200 and (~safe).sum() > 200  # both verdicts well represented
    assert false_unsafe < 0.05
    # per-group margin slacks: min_margin_slack_mm is their minimum; each is a sound estimate of the exact group
    # clearance
    assert clear.group_margin_slack_mm.shape == (len(scene.groups), len(entries))
    assert np.array_equal(clear.min_margin_slack_mm, clear.group_margin_slack_mm.min(axis=0))
    half_diagonal = 0.5 * float(np.linalg.norm(spacing))
    cap = config.margin_slack_cap_mm
    for g, group in enumerate(scene.groups):
        exact = np.min([truth[n] for n in group.names], axis=0)
        est = clear.group_margin_slack_mm[g]
        ok = clear.feasible & (exact < cap - 5)
        # never above the exact value by more than the sampling allows, never below by more than 2 voxel offsets
        assert np.all(est[ok] >= exact[ok] - 2 * half_diagonal - 1e-3), group.names
        assert np.all(est[ok] <= exact[ok] + 0.3 * (exact[ok] + group.margin_mm + radius) + half_diagonal), group.names


@pytest.mark.parametrize("knobs", [{}, {"TAIL_PATHS": 0, "MAX_STEPS": 4, "MAX_ROUNDS": 2}])
def test_paths_grazing_small_obstacles_at_the_tolerance(knobs, monkeypatch):
    """3000 paths to one target whose exact clearance lies within 0.3 mm of -tolerance, past small obstacles (short
    violating stretches, the hardest case for sampling): every path called feasible truly clears margin - tolerance.
    """
    from hitit.trajectories import sampling

    for name, value in knobs.items():
        monkeypatch.setattr(sampling, name, value)
    spacing = (0.9, 0.8, 1.3)
    size = tuple(int(round(70 / s)) for s in spacing)
    direction = _rotation(-35.0)
    origin = -direction @ ((np.asarray(size) - 1) * np.asarray(spacing) / 2)
    grid = Grid(size, spacing, origin, direction.ravel())
    kji = np.stack(np.meshgrid(*[np.arange(n) for n in grid.shape], indexing="ij"), axis=-1)
    lps = grid.index_to_lps(kji[..., ::-1].reshape(-1, 3).astype(float)).reshape(*grid.shape, 3)
    centre = np.array([0.3, -0.2, 0.4])
    masks = {"aorta": np.linalg.norm(lps - centre, axis=-1) <= 1.6}  # a few voxels: a small vessel, 5 mm margin
    rules = rules_for_target(list(masks))
    config = TrajectoryConfig()
    target = centre + np.array([14.0, -9.0, 6.0])
    scene = prepare((grid, masks), rules, config, target)
    tol, need = scene.tolerance_mm, 5.0 + config.needle_radius_mm
    centres = lps[masks["aorta"]]
    rng = np.random.default_rng(11)
    axis = (centre - target) / np.linalg.norm(centre - target)
    entries, truth = [], []
    while len(entries) < 3000:
        side = np.cross(axis, rng.normal(size=3))
        side /= np.linalg.norm(side)
        gap = need - tol + rng.uniform(-0.3, 0.3) + 1.0  # about the distance to the voxel centres we aim at
        # the path from the target passes the obstacle centre at distance ``gap``, then goes on 12-20 mm beyond it
        reach = np.linalg.norm(centre - target)
        u = axis * np.sqrt(max(reach**2 - gap**2, 0.0)) / reach + side * gap / reach
        u /= np.linalg.norm(u)
        entry = target + u * (reach + rng.uniform(12.0, 20.0))
        slack = _segment_distance(centres, entry, target) - need
        if abs(slack + tol) <= 0.3:
            entries.append(entry)
            truth.append(slack)
    entries, truth = np.array(entries), np.array(truth)
    clear = trace_paths(scene, entries, target)
    unsafe = clear.feasible & (truth < -tol - 1e-6)
    assert not unsafe.any(), (
        f"{unsafe.sum()} unsafe paths called safe (worst {truth[unsafe].min() + tol:.4f} mm beyond)"
    )
    assert (truth < -tol).sum() > 500 and (truth > -tol + 0.2).sum() > 200
    clearly_safe = truth >= -tol + 0.5 * config.fine_step_mm + 0.05
    refused = (~clear.feasible & clearly_safe).sum() / max(clearly_safe.sum(), 1)
    near = truth >= -tol + 0.05
    refused_near = (~clear.feasible & near).sum() / max(near.sum(), 1)
    print(
        f"knobs {knobs}: refused {refused:.3f} of the paths clearing the tolerance by >= fine/2 + 0.05 mm, "
        f"{refused_near:.3f} of those clearing it by >= 0.05 mm"
    )
    assert refused < 0.05
