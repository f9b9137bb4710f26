"""Files HITIT writes, opened with Slicer's own readers on the real Slicer core: they land where the core says."""

from __future__ import annotations

import numpy as np
import pytest

from slicer_core_tier import requires_slicer_core

pytestmark = requires_slicer_core


@pytest.fixture
def teaching_case(slicer_context, teaching_case_files):
    from hitit_slicer.teaching_case import loadTeachingCase

    return loadTeachingCase(slicer_context, paths=teaching_case_files)


def test_teaching_ct_loads_with_slicer_on_the_core_grid(teaching_case):
    """ct.nrrd read by Slicer's archetype volume reader: same voxels, IJK-to-RAS = the core's LPS grid converted."""
    import slicer

    from hitit.io.volumes import read_volume
    from hitit_slicer.nodes import volumeFromNode, worldIJKToRAS

    core = read_volume(teaching_case.paths["ct"])
    node = teaching_case.ct
    assert node.IsA("vtkMRMLScalarVolumeNode") and node.GetStorageNode().IsA("vtkMRMLVolumeArchetypeStorageNode")
    np.testing.assert_allclose(worldIJKToRAS(node), core.grid.ijk_to_ras_matrix(), atol=1e-6)
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(node), core.array)
    assert volumeFromNode(node).grid.same_as(core.grid)


def test_teaching_segmentations_load_with_slicer_as_the_core_masks(slicer_context, teaching_case):
    """.seg.nrrd read by Slicer's segmentation reader: every segment, its name and colour, and its voxels on the CT."""
    import hitit.phantom
    from hitit_slicer.nodes import masksFromSegmentation, segmentNames

    made = hitit.phantom.make_teaching_case()
    for kind in ("structures", "lesions"):
        node = getattr(teaching_case, kind)
        expected = getattr(made.case, kind)
        assert node.GetStorageNode().IsA("vtkMRMLSegmentationStorageNode")
        assert segmentNames(node) == list(expected)
        masks = masksFromSegmentation(slicer_context, node, teaching_case.ct)
        for name, mask in expected.items():
            np.testing.assert_array_equal(masks[name], mask, err_msg=f"{kind} {name}")
        segmentation = node.GetSegmentation()
        for name in expected:  # every segment of this file carries the core's colour
            segmentId = segmentation.GetSegmentIdBySegmentName(name)
            assert segmentId, f"{kind} {name}"
            np.testing.assert_allclose(segmentation.GetSegment(segmentId).GetColor(), made.colors[name], atol=1e-3)
    # the temporary labelmaps of the export are gone again
    assert slicer_context.scene.GetNumberOfNodesByClass("vtkMRMLLabelMapVolumeNode") == 0
