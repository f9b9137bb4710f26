"""hitit_slicer's conversions on the real Slicer core: volume nodes (oblique, flipped, anisotropic) and segments to
the core's LPS grid and masks, and a real plan to lines, deposits and the lesion table.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from hitit.geometry import Grid
from slicer_core_tier import requires_slicer_core

pytestmark = requires_slicer_core

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


def real_and_synthetic():
    """The real CT shipped in Testing/Data (its absence is a failure, not a skip) and the oblique flipped image."""
    return [sitk.ReadImage(str(EXAMPLE_CT)), oblique_flipped_image()]


def _shift(ijk_to_ras, di):
    matrix = np.array(ijk_to_ras, dtype=float)
    matrix[:3, 3] = matrix[:3, 3] + matrix[:3, :3] @ np.array([di, 0.0, 0.0])
    return matrix


def volume_node(context, image: sitk.Image, name="volume"):
    """A scalar volume node holding an image as Slicer would load it (voxels [k, j, i], IJK-to-RAS)."""
    import slicer

    from hitit_slicer.coordinates import vtkMatrixFromArray

    node = context.scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name)
    node.SetIJKToRASMatrix(vtkMatrixFromArray(slicer_ijk_to_ras(image)))
    slicer.util.updateVolumeFromArray(node, sitk.GetArrayFromImage(image))
    return node


@pytest.mark.parametrize("image", real_and_synthetic(), ids=lambda i: f"{i.GetSize()}")
def test_volume_node_to_the_core_keeps_the_file_geometry(slicer_context, image):
    from hitit_slicer.nodes import volumeFromNode

    node = volume_node(slicer_context, image)
    volume = volumeFromNode(node)
    assert volume.grid.same_as(Grid.from_sitk(image))
    np.testing.assert_allclose(volume.grid.ijk_to_lps_matrix()[:3, 3], image.GetOrigin(), atol=1e-6)
    np.testing.assert_array_equal(volume.array, sitk.GetArrayFromImage(image))
    import slicer

    slicer.util.arrayFromVolume(node)[0, 0, 0] += 1  # the core keeps its own copy
    assert volume.array[0, 0, 0] != slicer.util.arrayFromVolume(node)[0, 0, 0]


@pytest.mark.parametrize("image", real_and_synthetic(), ids=lambda i: f"{i.GetSize()}")
def test_voxel_positions_agree_both_ways(slicer_context, image):
    from hitit_slicer.coordinates import lpsFromRAS, rasFromLPS
    from hitit_slicer.nodes import gridOfVolumeNode

    node = volume_node(slicer_context, image)
    grid = gridOfVolumeNode(node)
    size = np.asarray(image.GetSize())
    rng = np.random.default_rng(1)
    for ijk in [np.zeros(3, int), size - 1, *(rng.integers(0, size) for _ in range(5))]:
        lps_itk = np.asarray(image.TransformIndexToPhysicalPoint([int(v) for v in ijk]))
        ras_slicer = (slicer_ijk_to_ras(image) @ np.append(ijk, 1.0))[:3]
        np.testing.assert_allclose(lpsFromRAS(ras_slicer), lps_itk, atol=1e-6)
        np.testing.assert_allclose(rasFromLPS(grid.index_to_lps(ijk)), ras_slicer, atol=1e-6)


def test_markup_points_round_trip():
    from hitit_slicer.coordinates import LPS_TO_RAS_MATRIX, lpsFromRAS, rasFromLPS

    points = np.random.default_rng(0).normal(scale=100.0, size=(20, 3))
    np.testing.assert_allclose(lpsFromRAS(rasFromLPS(points)), points)
    np.testing.assert_allclose(rasFromLPS([1.0, 2.0, 3.0]), [-1.0, -2.0, 3.0])
    np.testing.assert_allclose((LPS_TO_RAS_MATRIX @ np.c_[points, np.ones(20)].T).T[:, :3], rasFromLPS(points))


def test_segment_stored_on_another_grid_lands_on_the_ct_voxels(slicer_context):
    """A segment whose labelmap is on a grid shifted by whole voxels is exported onto the CT's voxels where it lies."""
    import slicer

    from hitit_slicer.coordinates import vtkMatrixFromArray
    from hitit_slicer.nodes import masksFromSegmentation, setSegmentFromMask

    image = oblique_flipped_image()
    ct = volume_node(slicer_context, image, "ct")
    labels = np.zeros(sitk.GetArrayViewFromImage(image).shape, np.uint8)
    labels[2:5, 4:9, 5:12] = 1
    padded = np.zeros((labels.shape[0], labels.shape[1], labels.shape[2] + 2), np.uint8)
    padded[:, :, 2:] = labels
    other = slicer_context.scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "other grid")
    other.SetIJKToRASMatrix(vtkMatrixFromArray(_shift(slicer_ijk_to_ras(image), -2)))
    slicer.util.updateVolumeFromArray(other, padded)
    segmentation = slicer_context.scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "lesions")
    segmentation.SetReferenceImageGeometryParameterFromVolumeNode(other)
    setSegmentFromMask(slicer_context, segmentation, "L1", padded > 0, other)
    np.testing.assert_array_equal(masksFromSegmentation(slicer_context, segmentation, ct)["L1"], labels > 0)
    setSegmentFromMask(slicer_context, segmentation, "L1", padded > 0, other)  # again: replaced, not added
    assert segmentation.GetSegmentation().GetNumberOfSegments() == 1


@pytest.fixture(scope="module")
def real_plan():
    """A real plan of the teaching case (coarse grid), as the module receives it from the core."""
    from hitit.phantom import make_teaching_case
    from hitit.plan import PlanConfig, plan_case

    teaching = make_teaching_case(spacing_mm=(2.0, 2.0, 3.0))
    return plan_case(teaching.case, PlanConfig(protocol="pv10"))


def test_plan_dict_to_table_lines_and_deposits(real_plan, tmp_path):
    from hitit.plan import trajectory_lines as colours
    from hitit.plan.lesion_table import LESION_COLUMNS
    from hitit_slicer import planner

    plan = real_plan.to_dict()
    columns, rows = planner.lesionTableRows(plan)
    assert columns == list(LESION_COLUMNS)
    assert [row[columns.index("id")] for row in rows] == ["L1", "L2", "L3", "L4"]
    l1 = real_plan.lesion("L1")
    assert rows[0][columns.index("volume_ml")] == f"{l1.measurement.volume_ml:.2f}"
    assert rows[0][columns.index("injectable")] == l1.injectability.verdict
    lines = planner.trajectoryLines(plan)
    assert [line["name"] for line in lines if line["lesion"] == "L1"] == ["L1-T1", "L1-T2", "L1-T3"]
    first = l1.target.trajectories[0]
    assert lines[0]["entryRAS"] == [-first.entry_lps[0], -first.entry_lps[1], first.entry_lps[2]]
    reference = plan["config"]["planning"]["margin_slack_reference_mm"]
    for line in lines:
        slack = line["record"]["margin_slack_mm"]
        expected = colours.SAFE_COLOR if slack >= reference else colours.MARGINAL_COLOR
        assert line["color"] == expected
    assert colours.line_color(False, 10.0, reference) == colours.UNSAFE_COLOR
    deposits = planner.depositPoints(plan, "L1")
    core = [d for path in l1.deposits.paths for d in path.deposits]
    assert len(deposits) == len(core) > 0
    # an independent count: L1's injectate in deposits of at most max_deposit_ml, at least one per needle path
    max_deposit_ml = plan["config"]["deposits"]["max_deposit_ml"]
    assert len(deposits) == max(math.ceil(l1.injectate_ml / max_deposit_ml - 1e-9), len(l1.deposits.paths))
    assert deposits[0]["positionRAS"] == pytest.approx(
        [-core[0].point_lps[0], -core[0].point_lps[1], core[0].point_lps[2]], abs=0.01
    )
    assert deposits[0]["label"] == f"L1-D1 {core[0].needle_depth_mm:.0f} mm"


def test_path_check_summary_of_a_line_through_the_aorta(real_plan):
    from hitit_slicer import planner

    aorta = np.array(
        [20.0, 30.0, 0.0]
    )  # in the teaching case the aorta runs left of the midline, in front of the spine
    check = real_plan.check_path(aorta + [0.0, -150.0, 0.0], aorta + [0.0, 40.0, 0.0], "L2").to_dict()
    summary = planner.pathCheckSummary(check)
    assert summary["verdict"] == "UNSAFE" and "aorta" in summary["blocking"]
    assert summary["closest"][0][1] == min(check["clearance_by_structure_mm"].values())
    assert set(summary["angles"]) == {"axial_angle_deg", "skin_angle_deg"}
    assert summary["violations"] == check["violations"] and summary["violations"]
