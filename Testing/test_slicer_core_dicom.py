"""DICOM SEG and RTSTRUCT into a Slicer scene through the core's readers, on the real Slicer core."""

from __future__ import annotations

import numpy as np

from slicer_core_tier import requires_slicer_core

pytestmark = requires_slicer_core


def test_dicom_seg_and_rtstruct_load_as_segments_on_the_ct(
    slicer_context, tmp_path, ts_dicom_truth, ts_dcmqi_seg, ts_rtstruct
):
    """Each SEG segment and RTSTRUCT ROI becomes a segment whose voxels on the CT are the label map's."""
    from hitit.io.volumes import write_volume
    from hitit_slicer.nodes import masksFromSegmentation, segmentNames
    from hitit_slicer.storage import loadStructuresWithCore, loadVolume

    ct, truth = ts_dicom_truth
    ctNode = loadVolume(slicer_context, write_volume(ct, tmp_path / "ct.nrrd"))
    for path in (ts_dcmqi_seg, ts_rtstruct):
        node = loadStructuresWithCore(slicer_context, path, ctNode)
        assert node.IsA("vtkMRMLSegmentationNode") and set(truth) <= set(segmentNames(node))
        masks = masksFromSegmentation(slicer_context, node, ctNode)
        for name in ("liver", "spleen", "aorta", "vertebrae_T12"):
            np.testing.assert_array_equal(masks[name], truth[name], err_msg=f"{path.name} {name}")
