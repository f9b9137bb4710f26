"""HITITPlannerLib.conversions on real images: Slicer's (k, j, i) arrays + IJK-to-RAS matrices <-> the core."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from hitit.geometry import Grid

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "HITITPlanner"))
from HITITPlannerLib import conversions  # noqa: E402

EXAMPLE_CT = Path(__file__).parent / "Data" / "totalsegmentator-example" / "example_ct.nii.gz"


def slicer_ijk_to_ras(image: sitk.Image) -> np.ndarray:
    """The IJK-to-RAS matrix Slicer gives for an image it loaded: ITK's LPS geometry with x, y negated."""
    direction = np.asarray(image.GetDirection()).reshape(3, 3)
    matrix = np.eye(4)
    matrix[:3, :3] = direction * np.asarray(image.GetSpacing())
    matrix[:3, 3] = image.GetOrigin()
    matrix[:2, :] *= -1.0
    return matrix


def oblique_flipped_image() -> sitk.Image:
    angle = np.deg2rad(20.0)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    direction = rotation @ np.diag([1.0, -1.0, -1.0])  # flipped j and k axes
    array = np.arange(17 * 13 * 7, dtype=np.int16).reshape(7, 13, 17)
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((0.8, 1.3, 2.5))
    image.SetOrigin((12.0, -30.5, 101.0))
    image.SetDirection(direction.ravel().tolist())
    return image


def real_or_synthetic():
    images = [oblique_flipped_image()]
    if EXAMPLE_CT.is_file():
        images.insert(0, sitk.ReadImage(str(EXAMPLE_CT)))
    return images


@pytest.mark.parametrize("image", real_or_synthetic(), ids=lambda i: f"{i.GetSize()}")
def test_volume_from_slicer_array_matches_the_file_geometry(image):
    array = sitk.GetArrayFromImage(image)  # what slicer.util.arrayFromVolume gives: [k, j, i]
    volume = conversions.volumeFromArray(array, slicer_ijk_to_ras(image))
    assert volume.grid.same_as(Grid.from_sitk(image))
    np.testing.assert_allclose(volume.grid.ijk_to_lps_matrix()[:3, 3], image.GetOrigin(), atol=1e-6)
    np.testing.assert_array_equal(volume.array, array)
    array[0, 0, 0] += 1  # the core keeps its own copy
    assert volume.array[0, 0, 0] != array[0, 0, 0]
    np.testing.assert_allclose(volume.grid.ijk_to_ras_matrix(), slicer_ijk_to_ras(image), atol=1e-9)


@pytest.mark.parametrize("image", real_or_synthetic(), ids=lambda i: f"{i.GetSize()}")
def test_voxel_positions_agree_both_ways(image):
    grid = conversions.gridFromIJKToRAS(slicer_ijk_to_ras(image), sitk.GetArrayViewFromImage(image).shape)
    size = np.asarray(image.GetSize())
    rng = np.random.default_rng(1)
    for ijk in [np.zeros(3, int), size - 1, *(rng.integers(0, size) for _ in range(5))]:
        lps_itk = np.asarray(image.TransformIndexToPhysicalPoint([int(v) for v in ijk]))
        ras_slicer = (slicer_ijk_to_ras(image) @ np.append(ijk, 1.0))[:3]
        np.testing.assert_allclose(conversions.lpsFromRAS(ras_slicer), lps_itk, atol=1e-6)
        np.testing.assert_allclose(conversions.rasFromLPS(grid.index_to_lps(ijk)), ras_slicer, atol=1e-6)


def test_markup_points_round_trip():
    points = np.random.default_rng(0).normal(scale=100.0, size=(20, 3))
    np.testing.assert_allclose(conversions.lpsFromRAS(conversions.rasFromLPS(points)), points)
    np.testing.assert_allclose(conversions.rasFromLPS([1.0, 2.0, 3.0]), [-1.0, -2.0, 3.0])
    matrix = conversions.lpsToRASMatrix()
    np.testing.assert_allclose((matrix @ np.c_[points, np.ones(20)].T).T[:, :3], conversions.rasFromLPS(points))


def test_mask_on_other_grid_is_resampled_and_same_grid_kept():
    image = oblique_flipped_image()
    ijk_to_ras = slicer_ijk_to_ras(image)
    grid = conversions.gridFromIJKToRAS(ijk_to_ras, sitk.GetArrayViewFromImage(image).shape)
    labels = np.zeros(grid.shape, np.uint8)
    labels[2:5, 4:9, 5:12] = 1
    same = conversions.maskOnGrid(labels, ijk_to_ras, grid)
    np.testing.assert_array_equal(same, labels > 0)
    # the same labels stored on a grid shifted by whole voxels land on the same physical voxels
    padded = np.zeros((grid.shape[0], grid.shape[1], grid.shape[2] + 2), np.uint8)
    padded[:, :, 2:] = labels
    moved = conversions.maskOnGrid(padded, _shift(ijk_to_ras, -2), grid)
    np.testing.assert_array_equal(moved, labels > 0)


def _shift(ijk_to_ras, di):
    matrix = np.array(ijk_to_ras, dtype=float)
    matrix[:3, 3] = matrix[:3, 3] + matrix[:3, :3] @ np.array([di, 0.0, 0.0])
    return matrix


def test_plan_dict_to_table_lines_and_deposits():
    plan = {"frame": "LPS", "config": {"default_margin_mm": 5.0}, "lesions": [
        {"id": "L1", "status": "planned", "measurements": {"volume_ml": 14.137, "longest_axial_diameter_mm": 30.0},
         "injectability": {"injectable": True, "reasons": []}, "injectate_ml": 2.5,
         "trajectories": [
             {"rank": 1, "entry": [10.0, 20.0, 30.0], "target": [0.0, 0.0, 0.0], "feasible": True, "min_clearance_mm": 12.0},
             {"rank": 2, "entry": [10.0, 20.0, 30.0], "target": [0.0, 0.0, 0.0], "feasible": True, "min_clearance_mm": 6.0},
             {"rank": 3, "entry": [1.0, 2.0, 3.0], "target": [0.0, 0.0, 0.0], "feasible": False, "min_clearance_mm": 0.0}],
         "deposits": [{"position_lps": [1.0, 2.0, 3.0], "depth_from_skin_mm": 71.6, "volume_ml": 1.25}]}]}
    columns, rows = conversions.lesionTableRows(plan)
    assert rows[0][columns.index("Lesion")] == "L1"
    assert rows[0][columns.index("Volume (mL)")] == "14.14"
    assert rows[0][columns.index("Injectable")] == "yes"
    assert rows[0][columns.index("Feasible paths")] == "2"
    assert rows[0][columns.index("Best clearance (mm)")] == "12.0"
    lines = conversions.trajectoryLines(plan)
    assert [line["name"] for line in lines] == ["L1-T1", "L1-T2", "L1-T3"]
    assert lines[0]["entryRAS"] == [-10.0, -20.0, 30.0]
    assert [line["color"] for line in lines] == [conversions.SAFE_COLOR, conversions.MARGINAL_COLOR, conversions.UNSAFE_COLOR]
    deposits = conversions.depositPoints(plan, "L1")
    assert deposits[0]["positionRAS"] == [-1.0, -2.0, 3.0] and deposits[0]["label"] == "L1-D1 72 mm"
    summary = conversions.pathCheckSummary({"feasible": False, "length_mm": 80.0, "min_clearance_mm": -3.0,
                                            "clearance_by_structure_mm": {"aorta": -3.0, "liver": 20.0},
                                            "blocking": ["aorta"], "angle_from_axial_deg": 12.0})
    assert summary["verdict"] == "UNSAFE" and summary["closest"][0] == ("aorta", -3.0)
    assert summary["angles"] == {"angle_from_axial_deg": 12.0}
