"""Ray-cast baseline of the kind the existing Slicer extension uses (benchmark and agreement tests only).

The 3D Slicer module PercutaneousApproachAnalysis (GitHub SNRLab/PercutaneousApproachAnalysis [V]) casts one line per skin point against an
obstacle surface mesh. Here, to compare like with like, the obstacle is the hard structures dilated
by their margin plus the needle radius (voxels whose centre is within that distance of a mask voxel
centre, taken from the prepared distance maps), meshed with vtkFlyingEdges3D at the 0.5 iso-level,
located with vtkStaticCellLocator, and each path tested with one ``IntersectWithLine``.
Its surface lies half a voxel outside the dilated voxel centres, so it disagrees with the engine
only for paths within about half a voxel of the margin.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from vtkmodules.util import numpy_support
from vtkmodules.vtkCommonCore import mutable, vtkPoints
from vtkmodules.vtkCommonDataModel import vtkImageData, vtkStaticCellLocator
from vtkmodules.vtkFiltersCore import vtkFlyingEdges3D

from hitit.trajectories.distance import PreparedScene


@dataclass
class RayCastBaseline:
    """Obstacle mesh and its locator; ``build_s`` is the time spent meshing and building."""

    locator: vtkStaticCellLocator
    mesh: object
    build_s: float

    def blocked(self, entries: np.ndarray, target: np.ndarray) -> np.ndarray:
        """(N,) True where the segment entry -> target (LPS mm) crosses the obstacle surface."""
        t, sub = mutable(0.0), mutable(0)
        x, pcoords = [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]
        target = [float(v) for v in target]
        out = np.zeros(len(entries), dtype=bool)
        for n, e in enumerate(np.asarray(entries, dtype=float).tolist()):
            out[n] = bool(self.locator.IntersectWithLine(e, target, 0.001, t, x, pcoords, sub))
        return out


def build_baseline(scene: PreparedScene) -> RayCastBaseline:
    """Mesh the margin-dilated hard structures of ``scene`` and build the cell locator."""
    start = time.perf_counter()
    dilated = np.zeros(scene.crop_grid.shape, dtype=np.uint8)
    for g in scene.groups:
        dilated |= g.distance_mm <= np.float32(g.margin_mm + scene.needle_radius_mm)
    image = vtkImageData()
    image.SetDimensions(dilated.shape[2], dilated.shape[1], dilated.shape[0])
    image.GetPointData().SetScalars(numpy_support.numpy_to_vtk(dilated.ravel(), deep=True))
    contour = vtkFlyingEdges3D()
    contour.SetInputData(image)
    contour.SetValue(0, 0.5)
    contour.ComputeNormalsOff()
    contour.ComputeScalarsOff()
    contour.Update()
    mesh = contour.GetOutput()
    if mesh.GetNumberOfPoints():
        ijk = numpy_support.vtk_to_numpy(mesh.GetPoints().GetData()).astype(float)
        points = vtkPoints()
        points.SetData(numpy_support.numpy_to_vtk(scene.crop_grid.index_to_lps(ijk), deep=True))
        mesh.SetPoints(points)
    locator = vtkStaticCellLocator()
    locator.SetDataSet(mesh)
    locator.BuildLocator()
    return RayCastBaseline(locator, mesh, time.perf_counter() - start)
