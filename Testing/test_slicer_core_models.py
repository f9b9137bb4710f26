"""Accessibility models written by the core, opened by Slicer's Models module on the real Slicer core."""

from __future__ import annotations

import numpy as np
from vtkmodules.util import numpy_support
from vtkmodules.vtkIOXML import vtkXMLPolyDataReader, vtkXMLPolyDataWriter

from slicer_core_tier import requires_slicer_core
from test_plan_folder import _mesh

from hitit.geometry import lps_to_ras
from hitit.plan.folder import write_polydata

pytestmark = requires_slicer_core


def _points(node) -> np.ndarray:
    return numpy_support.vtk_to_numpy(node.GetPolyData().GetPoints().GetData()).astype(float)


def test_accessibility_model_loads_in_slicer_where_it_belongs(slicer_context, tmp_path):
    """The compressed .vtp lands in RAS = the core's LPS points flipped, with its arrays, read as LPS from the file."""
    import slicer

    from hitit_slicer.storage import loadModel

    poly, points, triangles = _mesh()
    path = write_polydata(poly, tmp_path / "accessibility_L1.vtp")
    node = loadModel(slicer_context, path)
    assert node.GetStorageNode().GetCoordinateSystem() == slicer.vtkMRMLStorageNode.CoordinateSystemLPS
    np.testing.assert_allclose(_points(node), lps_to_ras(points), atol=1e-4)
    assert node.GetPolyData().GetNumberOfPolys() == len(triangles)
    for name in ("margin_slack_mm", "reason"):
        np.testing.assert_array_equal(
            numpy_support.vtk_to_numpy(node.GetPolyData().GetPointData().GetArray(name)),
            numpy_support.vtk_to_numpy(poly.GetPointData().GetArray(name)),
        )


def test_slicer_reads_the_space_marker_from_the_file(slicer_context, tmp_path):
    """Control: the same file marked RAS loads unflipped, so the LPS marker is what places the model."""
    from hitit_slicer.storage import loadModel

    poly, points, _ = _mesh(n=300)
    path = write_polydata(poly, tmp_path / "lps.vtp")
    reader = vtkXMLPolyDataReader()
    reader.SetFileName(str(path))
    reader.Update()
    marked = reader.GetOutput()
    marked.GetFieldData().GetAbstractArray("SPACE").SetValue(0, "RAS")
    writer = vtkXMLPolyDataWriter()
    writer.SetFileName(str(tmp_path / "ras.vtp"))
    writer.SetInputData(marked)
    assert writer.Write()
    np.testing.assert_allclose(_points(loadModel(slicer_context, tmp_path / "ras.vtp")), points, atol=1e-4)
