"""The procedure card against values computed independently from the entry and target points, on an
oblique and a flipped CT grid (the card must not depend on how the scanner's voxel axes lie).
"""

import math

import numpy as np
import pytest
import SimpleITK as sitk

from hitit.anatomy.body import skin_surface
from hitit.case import Volume
from hitit.geometry import Grid, lps_to_ras
from hitit.plan.procedure import Landmarks, procedure_card

SPACING_MM = (2.0, 2.0, 2.5)
#: Analytic anatomy (LPS mm): an elliptic body cylinder, a vertebra cylinder off the body's centre
#: (so the two midlines differ), a spherical lesion.
BODY_CENTRE, BODY_RADII = (7.0, 5.0), (120.0, 95.0)
VERTEBRA_CENTRE, VERTEBRA_RADIUS, VERTEBRA_Z = (-3.0, 65.0), 15.0, (-20.0, 20.0)
LESION_CENTRE, LESION_RADIUS = np.array([40.0, -20.0, 5.0]), 12.0


def _rotation(axis, degrees):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    a = math.radians(degrees)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(a) * k + (1 - math.cos(a)) * k @ k


GRIDS = {
    "oblique": _rotation((1.0, 2.0, 0.5), 17.0),
    "flipped": np.diag([-1.0, 1.0, -1.0]),
}


def _case(direction):
    """Body, vertebra and lesion masks voxelised on a grid with ``direction`` covering the anatomy."""
    half = np.array([150.0, 130.0, 60.0])
    size = np.ceil(2 * half / SPACING_MM).astype(int) + 1
    origin = -direction @ (np.asarray(SPACING_MM) * (size - 1) / 2)
    grid = Grid(tuple(size), SPACING_MM, tuple(origin), tuple(direction.ravel()))
    k, j, i = np.indices(grid.shape)
    lps = grid.index_to_lps(np.stack([i, j, k], axis=-1).reshape(-1, 3).astype(float)).reshape(*grid.shape, 3)
    x, y, z = lps[..., 0], lps[..., 1], lps[..., 2]
    body = ((x - BODY_CENTRE[0]) / BODY_RADII[0]) ** 2 + ((y - BODY_CENTRE[1]) / BODY_RADII[1]) ** 2 <= 1.0
    body &= np.abs(z) <= 55.0
    vertebra = (x - VERTEBRA_CENTRE[0]) ** 2 + (y - VERTEBRA_CENTRE[1]) ** 2 <= VERTEBRA_RADIUS**2
    vertebra &= (z >= VERTEBRA_Z[0]) & (z <= VERTEBRA_Z[1])
    lesion = np.linalg.norm(lps - LESION_CENTRE, axis=-1) <= LESION_RADIUS
    return grid, body, vertebra, lesion


def _on_skin(theta_deg, z):
    t = math.radians(theta_deg)
    return np.array([BODY_CENTRE[0] + BODY_RADII[0] * math.cos(t), BODY_CENTRE[1] + BODY_RADII[1] * math.sin(t), z])


@pytest.fixture(scope="module", params=sorted(GRIDS))
def scene(request):
    grid, body, vertebra, lesion = _case(GRIDS[request.param])
    skin = skin_surface(Volume(grid, np.where(body, 40.0, -1000.0)), spacing_mm=2.0, body=body)
    landmarks = Landmarks.from_case({"vertebrae_L1": vertebra, "liver": body}, grid, skin.points_lps, 2.0)
    return grid, lesion, landmarks


def _expected_angles(entry, target):
    """Independent formulation: RAS components and inverse cosines."""
    d = lps_to_ras(target) - lps_to_ras(entry)
    towards_left, towards_back, towards_head = -d[0], -d[1], d[2]
    in_plane = math.degrees(math.acos(abs(towards_back) / math.hypot(towards_left, towards_back)))
    return math.copysign(in_plane, towards_left), math.degrees(math.asin(towards_head / np.linalg.norm(d)))


def _expected_slice(grid, point):
    image = sitk.Image([int(s) for s in grid.size], sitk.sitkUInt8)
    image.SetSpacing(grid.spacing_mm)
    image.SetOrigin(grid.origin_lps)
    image.SetDirection(grid.direction)
    return int(round(image.TransformPhysicalPointToContinuousIndex(tuple(float(v) for v in point))[2]))


def test_anterior_entry_supine(scene):
    grid, lesion, landmarks = scene
    entry, target = _on_skin(-60.0, 12.0), LESION_CENTRE
    paths = [
        {
            "tilt_deg": 0.0,
            "deposits": [{"needle_depth_mm": 80.0, "volume_ml": 0.5}, {"needle_depth_mm": 88.5, "volume_ml": 0.5}],
        },
        {"tilt_deg": 9.0, "deposits": [{"needle_depth_mm": 84.0, "volume_ml": 0.25}]},
    ]
    trajectory = {
        "entry_lps": entry.tolist(),
        "target_lps": target.tolist(),
        "clearance_by_structure_mm": {"aorta": 6.2, "colon": 14.0, "rib_left_10": 9.99, "far": None},
    }
    card = procedure_card(trajectory, paths, grid, lesion, landmarks, 150.0, 18)

    angle, tilt = _expected_angles(entry, target)
    assert card.angle_from_vertical_deg == pytest.approx(angle, abs=1e-6) and angle < -20  # towards the patient's right
    assert card.angle_towards == "patient right"
    assert card.craniocaudal_angle_deg == pytest.approx(tilt, abs=1e-6) and card.craniocaudal_towards == "feet"
    assert card.table_position_mm == pytest.approx(lps_to_ras(entry)[2])
    assert card.slice_index == _expected_slice(grid, entry)
    assert card.target_slice_index == _expected_slice(grid, target)
    assert card.entry_side == "anterior" and card.patient_position == "supine"
    # midline: the vertebra segmented at this level (x = -3), not the body's centre (x = 7)
    assert card.midline_reference == "spinous process of vertebrae_L1"
    assert (
        card.midline_offset_mm == pytest.approx(entry[0] - VERTEBRA_CENTRE[0], abs=1.5) and card.midline_side == "left"
    )
    # supine: the table top is the body's posterior surface
    assert card.height_above_table_mm == pytest.approx(BODY_CENTRE[1] + BODY_RADII[1] - entry[1], abs=2.0)
    depth = float(np.linalg.norm(target - entry))
    assert card.depth_to_target_mm == pytest.approx(depth)
    half_voxel = 0.5 * float(np.linalg.norm(SPACING_MM))
    assert card.depth_to_lesion_edge_mm == pytest.approx(depth - LESION_RADIUS, abs=half_voxel)
    assert card.depth_mark_mm == 88.5 and card.needle_outside_skin_mm == pytest.approx(150.0 - 88.5)
    assert card.needle_gauge == 18 and card.needle_outer_diameter_mm == pytest.approx(1.27)
    assert [d["needle_depth_mm"] for d in card.deposits] == [88.5, 80.0, 84.0]  # deepest first on each path
    assert card.total_injectate_ml == pytest.approx(1.25)
    assert [s["name"] for s in card.nearby_structures] == ["aorta", "rib_left_10"]
    record = card.to_dict()
    for key in (
        "table_position_mm",
        "slice_index",
        "angle_from_vertical_deg",
        "craniocaudal_angle_deg",
        "midline_offset_mm",
        "height_above_table_mm",
        "depth_to_target_mm",
        "depth_to_lesion_edge_mm",
        "depth_mark_mm",
        "needle_length_mm",
        "total_injectate_ml",
    ):
        assert record[key] is not None


def test_posterior_entry_prone_and_body_midline(scene):
    grid, lesion, landmarks = scene
    # above the vertebra's top: no vertebra at this level, so the midline is the body's
    entry = _on_skin(100.0, 32.0)
    target = LESION_CENTRE
    card = procedure_card(
        {"entry_lps": entry.tolist(), "target_lps": target.tolist()}, [], grid, lesion, landmarks, 200.0, 17
    )
    angle, tilt = _expected_angles(entry, target)
    assert card.angle_from_vertical_deg == pytest.approx(angle, abs=1e-6) and card.angle_towards == "patient left"
    assert card.craniocaudal_angle_deg == pytest.approx(tilt, abs=1e-6)
    assert card.entry_side == "posterior" and card.patient_position == "prone"
    assert card.midline_reference == "middle of the body outline"
    assert card.midline_offset_mm == pytest.approx(entry[0] - BODY_CENTRE[0], abs=1.5) and card.midline_side == "right"
    # prone: the patient lies on the anterior surface
    assert card.height_above_table_mm == pytest.approx(entry[1] - (BODY_CENTRE[1] - BODY_RADII[1]), abs=2.0)
    assert card.slice_index == _expected_slice(grid, entry)
    # nothing injected: the depth mark is the target, the injectate zero
    assert card.depth_mark_mm == pytest.approx(card.depth_to_target_mm) and card.total_injectate_ml == 0.0
    assert card.deposits == [] and card.nearby_structures == []


def test_lateral_entry_words():
    from hitit.plan.procedure import entry_side, needle_angles_deg

    target = np.zeros(3)
    assert entry_side([-100.0, 5.0, 0.0], target) == "right lateral"
    assert entry_side([60.0, -60.0, 0.0], target) == "left anterolateral"
    assert entry_side([-60.0, 70.0, 0.0], target) == "right posterolateral"
    angle, tilt = needle_angles_deg([-100.0, 0.0, 0.0], target)
    assert angle == pytest.approx(90.0) and tilt == pytest.approx(0.0)
