"""Ray-cast baseline of the kind the existing Slicer extension uses (benchmark and agreement tests only).

The 3D Slicer module PercutaneousApproachAnalysis (GitHub SNRLab/PercutaneousApproachAnalysis [V]) casts one line per
skin point against an obstacle surface mesh. Here, to compare like with like, the obstacle is the hard structures
dilated
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
from vtkmodules.vtkCommonDataModel import vtkImageData, vtkPolyData, vtkStaticCellLocator
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
    mesh = _mesh_lps(dilated, scene.crop_grid)
    locator = vtkStaticCellLocator()
    locator.SetDataSet(mesh)
    locator.BuildLocator()
    return RayCastBaseline(locator, mesh, time.perf_counter() - start)


# --------------------------------------------------------------------------- the baseline as a whole process
def baseline_process(ct_path: str, structures_path: str, lesion_path: str, config=None) -> dict:
    """The whole job done the PercutaneousApproachAnalysis way, from files (benchmark only); stage times in s.

    Read the CT and the TotalSegmentator label map (SimpleITK); skin: CT above the body threshold, its
    largest component (connected-components-3d), holes filled in 3D (fill-voids), meshed
    (vtkFlyingEdges3D) and decimated to entry points every ``entry_spacing_mm`` (vtkQuadricClustering);
    obstacle: every hard structure dilated by its margin + the needle radius (distance map on its box),
    meshed, vtkStaticCellLocator; one IntersectWithLine per entry within the needle length of the lesion
    centre. The same catalogue rules and needle as HITIT; no angle rules, no crop to the needle's reach.
    """
    import SimpleITK as sitk
    import cc3d
    import fill_voids
    from vtkmodules.vtkFiltersCore import vtkQuadricClustering

    from hitit.anatomy.body import BODY_THRESHOLD_HU
    from hitit.anatomy.catalogue import rules_for_target
    from hitit.geometry import Grid
    from hitit.io.segmentations import label_boxes, totalsegmentator_total_map
    from hitit.trajectories.config import TrajectoryConfig

    config = config or TrajectoryConfig()
    times: dict[str, float] = {}
    start = time.perf_counter()
    ct_image = sitk.ReadImage(str(ct_path))
    grid = Grid.from_sitk(ct_image)
    hu = sitk.GetArrayViewFromImage(ct_image)
    labels = sitk.GetArrayFromImage(sitk.ReadImage(str(structures_path)))
    lesion = sitk.GetArrayFromImage(sitk.ReadImage(str(lesion_path))) > 0
    times["read"] = time.perf_counter() - start

    start = time.perf_counter()
    body = cc3d.largest_k(hu > BODY_THRESHOLD_HU, k=1, connectivity=6) > 0
    body = fill_voids.fill(body, in_place=True)
    skin = _mesh_lps(body.view(np.uint8), grid)
    cluster = vtkQuadricClustering()
    cluster.SetInputData(skin)
    cluster.AutoAdjustNumberOfDivisionsOff()
    cluster.SetDivisionOrigin(*grid.origin_lps)
    cluster.SetDivisionSpacing(*(3 * [config.entry_spacing_mm]))
    cluster.UseInputPointsOn()
    cluster.Update()
    entries = numpy_support.vtk_to_numpy(cluster.GetOutput().GetPoints().GetData()).astype(float)
    times["skin"] = time.perf_counter() - start

    start = time.perf_counter()
    names = totalsegmentator_total_map()
    k, j, i = np.nonzero(lesion)
    target = grid.index_to_lps(np.array([i.mean(), j.mean(), k.mean()]))
    host = names.get(int(np.bincount(labels[lesion]).argmax()))
    rules = rules_for_target(
        sorted({names[v] for v in np.flatnonzero(np.bincount(labels.ravel())) if v in names}), host
    )
    obstacle = np.zeros(grid.shape, dtype=np.uint8)
    for value, (lo, hi) in label_boxes(labels).items():
        rule = rules.get(names.get(value, ""))
        if rule is not None and rule.kind == "hard":
            _dilate_into(obstacle, labels, value, (lo, hi), rule.margin_mm + config.needle_radius_mm, grid)
    mesh = _mesh_lps(obstacle, grid)
    locator = vtkStaticCellLocator()
    locator.SetDataSet(mesh)
    locator.BuildLocator()
    times["obstacles"] = time.perf_counter() - start

    start = time.perf_counter()
    reach = entries[np.linalg.norm(entries - target, axis=1) <= config.needle_length_mm]
    blocked = RayCastBaseline(locator, mesh, 0.0).blocked(reach, target)
    times["rays"] = time.perf_counter() - start
    return {
        "entries": int(len(entries)),
        "entries_in_reach": int(len(reach)),
        "clear": int((~blocked).sum()),
        "target_lps": [float(v) for v in target],
        "host_organ": host,
        "stages_s": times,
    }


def _mesh_lps(volume: np.ndarray, grid) -> vtkPolyData:
    """The 0.5 iso-surface of a uint8 volume ``[k, j, i]`` with its points in LPS mm."""
    image = vtkImageData()
    image.SetDimensions(volume.shape[2], volume.shape[1], volume.shape[0])
    image.GetPointData().SetScalars(numpy_support.numpy_to_vtk(np.ascontiguousarray(volume).ravel(), deep=False))
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
        points.SetData(numpy_support.numpy_to_vtk(grid.index_to_lps(ijk), deep=True))
        mesh.SetPoints(points)
    return mesh


def _dilate_into(out: np.ndarray, labels: np.ndarray, value: int, box, radius_mm: float, grid) -> None:
    """Set ``out`` where a voxel centre lies within ``radius_mm`` of label ``value`` (distance map on its box)."""
    import SimpleITK as sitk

    pad = np.ceil(radius_mm / np.asarray(grid.spacing_mm)[::-1]).astype(int) + 1
    lo = [max(int(v) - p, 0) for v, p in zip(box[0], pad)]
    hi = [min(int(v) + p, s) for v, p, s in zip(box[1], pad, labels.shape)]
    window = tuple(slice(a, b) for a, b in zip(lo, hi))
    image = sitk.GetImageFromArray((labels[window] == value).astype(np.uint8))
    image.SetSpacing(grid.spacing_mm)
    distance = sitk.GetArrayFromImage(
        sitk.SignedMaurerDistanceMap(image, insideIsPositive=False, squaredDistance=False, useImageSpacing=True)
    )
    out[window] |= (distance <= radius_mm).astype(np.uint8)


def main(argv: list[str] | None = None) -> int:
    """``python -m hitit.trajectories.baseline CT LABELS LESION``: run :func:`baseline_process`, print JSON."""
    import json
    import sys

    args = sys.argv[1:] if argv is None else argv
    print(json.dumps(baseline_process(*args[:3])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
