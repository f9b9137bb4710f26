"""Accessibility models: compressed ``.vtp`` files marked LPS the way Slicer's model storage node reads them."""

import numpy as np
from vtkmodules.util import numpy_support
from vtkmodules.vtkCommonCore import vtkPoints
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData
from vtkmodules.vtkIOXML import vtkXMLPolyDataReader

from hitit.plan.folder import write_polydata
from hitit.trajectories import PathReason


def _mesh(n=4000, seed=3):
    """A triangulated strip of ``n`` points with a float and a byte point array (LPS mm)."""
    rng = np.random.default_rng(seed)
    points = np.column_stack([np.linspace(-150.0, 150.0, n), rng.normal(0, 80, n), rng.uniform(-90, 90, n)])
    triangles = np.array([[i, i + 1, i + 2] for i in range(n - 2)], dtype=np.int64)
    poly = vtkPolyData()
    vtk_points = vtkPoints()
    vtk_points.SetData(numpy_support.numpy_to_vtk(points, deep=True))
    poly.SetPoints(vtk_points)
    cells = vtkCellArray()
    cells.SetData(
        numpy_support.numpy_to_vtkIdTypeArray(np.arange(0, 3 * len(triangles) + 1, 3, dtype=np.int64), deep=True),
        numpy_support.numpy_to_vtkIdTypeArray(triangles.ravel(), deep=True),
    )
    poly.SetPolys(cells)
    for name, values in (
        ("margin_slack_mm", rng.uniform(0, 20, n).astype(np.float32)),
        ("reason", rng.integers(0, len(PathReason), n).astype(np.uint8)),
    ):
        array = numpy_support.numpy_to_vtk(values, deep=True)
        array.SetName(name)
        poly.GetPointData().AddArray(array)
    return poly, points, triangles


def test_model_file_round_trip_is_compressed_and_marked_lps(tmp_path):
    poly, points, triangles = _mesh()
    path = write_polydata(poly, tmp_path / "accessibility_L1.vtp")
    header = path.read_bytes()[:600].decode("latin-1")
    assert 'compressor="vtkZLibDataCompressor"' in header and 'format="appended"' in header
    reader = vtkXMLPolyDataReader()
    reader.SetFileName(str(path))
    reader.Update()
    back = reader.GetOutput()
    # Slicer's model storage node reads the coordinate system from this field-data string array
    assert back.GetFieldData().GetAbstractArray("SPACE").GetValue(0) == "LPS"
    np.testing.assert_allclose(numpy_support.vtk_to_numpy(back.GetPoints().GetData()), points, atol=1e-4)
    np.testing.assert_array_equal(
        numpy_support.vtk_to_numpy(back.GetPolys().GetConnectivityArray()).reshape(-1, 3), triangles
    )
    for name in ("margin_slack_mm", "reason"):
        np.testing.assert_array_equal(
            numpy_support.vtk_to_numpy(back.GetPointData().GetArray(name)),
            numpy_support.vtk_to_numpy(poly.GetPointData().GetArray(name)),
        )
    # the caller's polydata is left as it was (double points, no SPACE field)
    assert poly.GetPoints().GetData().GetDataTypeAsString() == "double"
    assert poly.GetFieldData().GetAbstractArray("SPACE") is None


def test_plan_json_keeps_each_list_of_numbers_on_one_line():
    import json

    from hitit.plan.folder import plan_json_text

    plan = {
        "entry": [-165.0, -29.5, 1e-05],
        "points": [[1, 2], [3, 4]],
        "name": "a [1,\n 2] b",
        "mixed": [1, "x", None],
    }
    text = plan_json_text(plan)
    assert json.loads(text) == plan
    assert '"entry": [-165.0, -29.5, 1e-05]' in text and "  [1, 2]," in text
    assert '"mixed": [\n' in text  # only lists of numbers are joined
