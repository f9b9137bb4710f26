"""Automatic needle detection and plan comparison on synthetic needles of known pose in the teaching case."""

from __future__ import annotations

import numpy as np
import pytest

from hitit.case import Volume
from hitit.geometry import Grid

#: True CT number of steel at ~70 keV (mu_steel / mu_water ~ 17): far above the stored range.
STEEL_HU = 16000.0
#: Upper end of the 12-bit stored CT range: scanners clip metal there.
CT_MAX_HU = 3071.0
#: Outer radius (mm) of a 19 G needle (~1 mm OD, ISO 9626 gauge table), rounded up.
NEEDLE_RADIUS_MM = 0.6


def insert_needle(ct: Volume, hub_lps, tip_lps, radius_mm: float = NEEDLE_RADIUS_MM, supersample: int = 5) -> Volume:
    """A copy of ``ct`` with a flat-ended steel cylinder from hub to tip (LPS mm), partial-volume sampled.

    Each voxel near the needle is split into ``supersample``^3 sub-voxels; the needle fraction mixes
    the tissue HU with ``STEEL_HU`` and the result is clipped at ``CT_MAX_HU``, as a scanner stores it.
    """
    grid = ct.grid
    hub, tip = np.asarray(hub_lps, float), np.asarray(tip_lps, float)
    axis = tip - hub
    length = np.linalg.norm(axis)
    axis /= length
    reach = radius_mm + 0.5 * np.linalg.norm(grid.spacing_mm)
    corners = grid.lps_to_index(np.vstack([hub, tip]))
    pad = np.ceil(reach / np.asarray(grid.spacing_mm)) + 1
    lo = np.maximum(np.floor(corners.min(0) - pad), 0).astype(int)
    hi = np.minimum(np.ceil(corners.max(0) + pad), np.asarray(grid.size) - 1).astype(int)
    ii, jj, kk = np.meshgrid(*(np.arange(lo[a], hi[a] + 1) for a in range(3)), indexing="ij")
    ijk = np.column_stack([ii.ravel(), jj.ravel(), kk.ravel()])
    rel = grid.index_to_lps(ijk) - hub
    t = rel @ axis
    near = (np.linalg.norm(rel - np.outer(t, axis), axis=1) <= reach) & (t >= -reach) & (t <= length + reach)
    ijk = ijk[near]
    offsets = (np.arange(supersample) + 0.5) / supersample - 0.5
    sub = np.stack(np.meshgrid(offsets, offsets, offsets, indexing="ij"), -1).reshape(-1, 3)
    rel = grid.index_to_lps(ijk[:, None, :] + sub[None, :, :]) - hub
    t = rel @ axis
    radial = np.linalg.norm(rel - t[..., None] * axis, axis=-1)
    fraction = np.mean((radial <= radius_mm) & (t >= 0) & (t <= length), axis=1)
    array = ct.array.astype(np.float32)
    tissue = array[ijk[:, 2], ijk[:, 1], ijk[:, 0]]
    array[ijk[:, 2], ijk[:, 1], ijk[:, 0]] = np.minimum(tissue * (1 - fraction) + STEEL_HU * fraction, CT_MAX_HU)
    return Volume(grid, np.rint(array).astype(np.int16))


from hitit.errors import InputError  # noqa: E402
from hitit.io.markups import Markup, read_markups, write_markups  # noqa: E402
from hitit.phantom import make_teaching_case  # noqa: E402
from hitit.plan.config import PlanConfig  # noqa: E402
from hitit.review.needle import actual_path_margins, compare_with_plan, detect_needle, needle_from_line  # noqa: E402
from hitit.trajectories.check import check_path  # noqa: E402
from hitit.trajectories.config import TrajectoryConfig  # noqa: E402
from hitit.trajectories.distance import prepare  # noqa: E402

#: Extra needle length outside the skin (mm): the hub end sits in air above the patient.
OUTSIDE_MM = 15.0


def _unit(v) -> np.ndarray:
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


def _tilted(direction, tilt_deg: float, towards) -> np.ndarray:
    """``direction`` turned by ``tilt_deg`` towards the vector ``towards`` (both LPS)."""
    d = _unit(direction)
    perp = _unit(np.asarray(towards, float) - (np.asarray(towards, float) @ d) * d)
    a = np.radians(tilt_deg)
    return np.cos(a) * d + np.sin(a) * perp


@pytest.fixture(scope="module")
def teaching():
    return make_teaching_case(spacing_mm=(1.0, 1.0, 2.0), seed=1)


def _pose(teaching, lesion_id: str, tilt_deg: float, towards, tip_offset=(0.0, 0.0, 0.0)):
    """Planned entry/target of the lesion's safe example path and an actual needle (hub, tip) tilted from it."""
    path = teaching.truth[lesion_id].example_paths[0]
    entry, target = np.asarray(path.entry_lps), np.asarray(path.target_lps)
    direction = _tilted(target - entry, tilt_deg, towards)
    tip = target + np.asarray(tip_offset)
    hub = tip - direction * (np.linalg.norm(target - entry) + OUTSIDE_MM)
    return entry, target, hub, tip, direction


@pytest.mark.parametrize(
    "lesion_id, tilt_deg, towards, offset",
    [
        ("L1", 0.0, (0, 0, 1), (0.0, 0.0, 0.0)),
        ("L1", 20.0, (0, 0, 1), (1.3, -0.7, 0.4)),  # double oblique: tilted cranially
        ("L2", 12.0, (1, 0, 0), (-0.4, 1.1, -0.9)),
        ("L3", 30.0, (0, 0, -1), (0.6, 0.2, 1.7)),  # steep cranio-caudal angle through 2 mm slices
        ("L4", 35.0, (1, 0, 0.3), (0.0, -0.5, 0.8)),  # short subcutaneous path
    ],
)
def test_detected_tip_within_one_voxel_and_angle_within_one_degree(teaching, lesion_id, tilt_deg, towards, offset):
    ct = teaching.case.ct
    entry, target, hub, tip, direction = _pose(teaching, lesion_id, tilt_deg, towards, offset)
    needle = detect_needle(insert_needle(ct, hub, tip), target)
    tip_error = np.linalg.norm(needle.tip_lps - tip)
    angle_error = np.degrees(np.arccos(np.clip(needle.axis @ direction, -1, 1)))
    assert tip_error <= ct.grid.min_spacing_mm, f"tip error {tip_error:.2f} mm"
    assert angle_error < 1.0, f"angle error {angle_error:.2f} deg"
    assert needle.source == "detected" and needle.rms_radius_mm < 1.5
    # the comparison reproduces the known deviation
    deviation = compare_with_plan(needle, entry, target)
    assert deviation.angle_deg == pytest.approx(tilt_deg, abs=1.0)
    assert deviation.tip_to_target_mm == pytest.approx(np.linalg.norm(offset), abs=ct.grid.min_spacing_mm)


def test_tip_found_without_a_target_from_the_air_around_the_hub(teaching):
    entry, target, hub, tip, _ = _pose(teaching, "L1", 10.0, (0, 0, 1))
    needle = detect_needle(insert_needle(teaching.case.ct, hub, tip))
    assert np.linalg.norm(needle.tip_lps - tip) <= 1.0


def test_bone_and_empty_ct_are_not_needles(teaching):
    ct = teaching.case.ct
    bright_bone = ct.array.copy()
    for name in ("vertebrae_L1", "rib_right_11"):
        bright_bone[teaching.case.structures[name]] = 2500  # bone denser than the metal threshold: rejected by shape
    with pytest.raises(InputError, match="No needle found"):
        detect_needle(Volume(ct.grid, bright_bone))


def test_two_needles_each_lesion_gets_its_own(teaching):
    ct = teaching.case.ct
    _, t1, hub1, tip1, _ = _pose(teaching, "L1", 5.0, (0, 0, 1))
    _, t4, hub4, tip4, _ = _pose(teaching, "L4", 8.0, (1, 0, 0.5))
    both = insert_needle(insert_needle(ct, hub1, tip1), hub4, tip4)
    assert np.linalg.norm(detect_needle(both, t1).tip_lps - tip1) <= 1.0
    assert np.linalg.norm(detect_needle(both, t4).tip_lps - tip4) <= 1.0


def test_reviewer_line_markup_path(teaching, tmp_path):
    entry, target, hub, tip, direction = _pose(teaching, "L2", 8.0, (0, 0, 1), (0.0, 2.0, 0.0))
    path = write_markups(tmp_path / "needle.mrk.json", [Markup("line", "L2", np.vstack([tip, hub]))], frame="RAS")
    markup = read_markups(path)[0]
    needle = needle_from_line(markup.points_lps, target)  # points given tip first: the tip is the end nearer the target
    assert needle.source == "markup"
    np.testing.assert_allclose(needle.tip_lps, tip, atol=1e-6)
    deviation = compare_with_plan(needle, entry, target)
    assert deviation.angle_deg == pytest.approx(8.0, abs=1e-6)
    assert deviation.tip_to_target_mm == pytest.approx(2.0, abs=1e-6)


def test_deviation_definitions_on_exact_geometry():
    entry, target = np.array([0.0, -100.0, 0.0]), np.array([0.0, 0.0, 0.0])
    # needle parallel to the plan, shifted 3 mm to the left and 4 mm too deep
    shifted = needle_from_line([[3.0, -90.0, 0.0], [3.0, 4.0, 0.0]])
    d = compare_with_plan(shifted, entry, target)
    assert d.angle_deg == pytest.approx(0.0, abs=1e-6)
    assert d.depth_error_mm == pytest.approx(4.0)
    assert d.lateral_at_target_depth_mm == pytest.approx(3.0) and d.tip_lateral_mm == pytest.approx(3.0)
    assert d.tip_to_target_mm == pytest.approx(5.0)
    # needle through the entry, 10 deg off, stopping 20 mm short: the extended line passes tan(10 deg) * 100 mm aside
    angle = np.radians(10.0)
    tip = entry + 80.0 * np.array([np.sin(angle), np.cos(angle), 0.0])
    d = compare_with_plan(needle_from_line([entry, tip]), entry, target)
    assert d.angle_deg == pytest.approx(10.0)
    assert d.lateral_at_target_depth_mm == pytest.approx(100.0 * np.tan(angle))
    assert d.depth_error_mm == pytest.approx(80.0 * np.cos(angle) - 100.0)


def _inside_somewhere(grid, mask, start, end) -> bool:
    """True when a point of the segment start-end (sampled every 0.1 mm) lies in a voxel of ``mask``."""
    start, end = np.asarray(start, float), np.asarray(end, float)
    points = start + np.linspace(0, 1, int(np.linalg.norm(end - start) / 0.1) + 2)[:, None] * (end - start)
    ijk = np.rint(grid.lps_to_index(points)).astype(int)
    return bool(mask[ijk[:, 2], ijk[:, 1], ijk[:, 0]].any())


def test_margins_of_the_actual_path(teaching):
    case = teaching.case
    rules = PlanConfig().catalogue().rules_for_target(list(case.structures), "liver")
    target = np.asarray(teaching.truth["L1"].centre_lps)
    gallbladder = np.argwhere(case.structures["gallbladder"])[:, ::-1].mean(axis=0)
    entry = target + 2.0 * (case.grid.index_to_lps(gallbladder) - target)  # a path straight through the gallbladder
    assert _inside_somewhere(case.grid, case.structures["gallbladder"], entry, target)
    margins = actual_path_margins(case.grid, case.structures, entry, target, rules, TrajectoryConfig())
    assert not margins["kept"] and not margins["structures"]["gallbladder"]["kept"]
    assert "liver" not in margins["structures"]  # the host organ holding the tip is not a margin structure
    safe = teaching.truth["L1"].example_paths[0]
    margins = actual_path_margins(
        case.grid, case.structures, safe.entry_lps, safe.target_lps, rules, TrajectoryConfig()
    )
    assert margins["kept"]


def test_clearance_to_a_ball_is_exact_to_half_a_voxel():
    """The review judges margins with the planner's exact check: its clearance to a ball is the analytic one."""
    from hitit.anatomy.catalogue import StructureRule

    grid = Grid((80, 80, 40), (1.0, 1.0, 2.0), (-40.0, -40.0, -40.0), np.eye(3).ravel())
    ijk = np.stack(np.meshgrid(np.arange(80), np.arange(80), np.arange(40), indexing="ij"), -1)
    points = grid.index_to_lps(ijk).transpose(2, 1, 0, 3)
    ball = np.linalg.norm(points - [10.0, 0.0, 0.0], axis=-1) <= 6.0
    planning = TrajectoryConfig()
    rules = {"ball": StructureRule("ball", "vessel", "hard", 0.0, "test")}
    scene = prepare((grid, {"ball": ball}), rules, planning, np.array([-5.0, 30.0, 0.0]))
    clearance = check_path(scene, [-5.0, -30.0, 0.0], [-5.0, 30.0, 0.0]).clearance_by_structure_mm["ball"]
    assert clearance + planning.needle_radius_mm == pytest.approx(15.0 - 6.0, abs=0.75)
