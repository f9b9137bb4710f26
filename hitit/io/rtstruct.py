"""Read DICOM RT Structure Sets (RTSTRUCT) onto a CT grid: one named boolean mask per ROI.

Rasterisation rule (per ROI, per CT slice):

- Each closed planar contour belongs to the CT slice whose centre plane is nearest to the
  contour's own plane (contours must lie in planes parallel to the CT slices). When contours of
  several planes fall on one slice (a structure set drawn on thinner slices), the plane nearest
  the slice centre is used; there is no interpolation between contour planes, so slices without
  a contour plane within half a slice stay empty.
- A voxel is in the ROI when its centre is inside the contours of its slice by the **even-odd
  rule**: all contours of the slice together, so a contour inside another makes a hole, one inside
  the hole an island (rings and holes as RTSTRUCT writers store them).
- A voxel centre **on** a contour (within :data:`BOUNDARY_TOLERANCE_VOXELS`) is inside. Writers
  that trace masks, such as rt-utils (OpenCV border following), draw the polygon through the
  centres of the mask's boundary voxels, outer borders and hole borders alike; counting those
  centres as inside gives back such masks voxel for voxel. Contours drawn elsewhere (between
  voxel centres, by hand) are unaffected by the boundary rule; their area is then exact to about
  half a voxel along the contour.

POINT ROIs (markers) enclose no region and are left out; an open contour (OPEN_PLANAR,
OPEN_NONPLANAR) is refused because it encloses nothing. ROIs without any contour are kept as
empty masks, as every other segmentation reader keeps empty segments (lesions must not be empty).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from hitit.case import MaskSet
from hitit.errors import GeometryError, InputError
from hitit.geometry import Grid
from hitit.io.dicom_files import DicomSeriesRef, check_reference

#: A voxel centre within this distance (in voxels) of a contour counts as on it; contour points
#: this close to a voxel-centre coordinate are snapped onto it (DS strings round to ~1e-6 mm).
BOUNDARY_TOLERANCE_VOXELS = 1e-3
#: Largest spread of a contour's points across the CT slice direction (in slices) for the contour
#: to count as lying in one slice plane.
PLANE_TOLERANCE_SLICES = 0.01


def read_rtstruct(path: Path, dataset, grid: Grid, reference: DicomSeriesRef | None = None) -> MaskSet:
    """Named boolean masks (``[k, j, i]`` on ``grid``) of every region ROI of an RTSTRUCT ``dataset``.

    ``reference`` is the CT's series identity: a structure set of another study or frame of
    reference is refused; one none of whose contours falls on the CT raises a GeometryError.
    """
    check_reference(dataset, path, reference, "structure set")
    if "StructureSetROISequence" not in dataset or "ROIContourSequence" not in dataset:
        raise InputError(
            f"RT Structure Set {path.name} has no ROI list or no contours: it is incomplete; export it again."
        )
    names = {
        int(roi.ROINumber): str(roi.get("ROIName", "") or f"ROI_{roi.ROINumber}").strip()
        for roi in dataset.StructureSetROISequence
    }
    contours = {
        int(item.ReferencedROINumber): list(item.get("ContourSequence", [])) for item in dataset.ROIContourSequence
    }
    masks: MaskSet = {}
    any_contour = False
    with _numpy_decimal_strings():
        for number, name in names.items():
            items = contours.get(number, [])
            kinds = {str(c.get("ContourGeometricType", "")) for c in items}
            if items and kinds == {"POINT"}:
                continue  # a marker, not a region
            if name in masks:
                raise InputError(f"ROI name '{name}' appears twice in {path.name}: rename one of them.")
            masks[name] = rasterise_roi(items, grid, name, path)
            any_contour = any_contour or bool(items)
    if any_contour and not any(mask.any() for mask in masks.values()):
        raise GeometryError(
            f"RT Structure Set {path.name} does not overlap the CT (no contour on the CT grid {grid.describe()}): "
            "use the structure set drawn on this CT."
        )
    return masks


@contextlib.contextmanager
def _numpy_decimal_strings():
    """Let pydicom decode Decimal String values (Contour Data) straight into numpy arrays.

    Its default makes one Python object per number, which dominates the reading time of large
    structure sets (hundreds of thousands of coordinates); the setting is restored afterwards.
    """
    from pydicom import config

    previous = config.use_DS_numpy
    config.use_DS_numpy = True
    try:
        yield
    finally:
        config.use_DS_numpy = previous


def rasterise_roi(items: list, grid: Grid, name: str, path: Path) -> np.ndarray:
    """The ROI's contour items (ContourSequence) as a boolean mask ``[k, j, i]`` on ``grid``."""
    mask = np.zeros(grid.shape, dtype=bool)
    planes: dict[int, list[tuple[float, np.ndarray]]] = {}
    for item in items:
        kind = str(item.get("ContourGeometricType", ""))
        if kind != "CLOSED_PLANAR":
            raise InputError(
                f"ROI '{name}' in {path.name} has an {kind or 'untyped'} contour: only closed planar contours "
                "enclose a region; close the contour in the planning system (or remove it)."
            )
        ijk = _contour_indices(item, grid, name, path)
        k = float(ijk[:, 2].mean())
        if np.ptp(ijk[:, 2]) > PLANE_TOLERANCE_SLICES:
            raise InputError(
                f"ROI '{name}' in {path.name} has a contour that does not lie in a CT slice plane (it spans "
                f"{np.ptp(ijk[:, 2]):.2f} slices): the structure set was drawn on differently oriented images."
            )
        slice_index = int(np.rint(k))
        if 0 <= slice_index < grid.size[2]:
            planes.setdefault(slice_index, []).append((k, ijk[:, :2]))
    for slice_index, polygons in planes.items():
        nearest = min(abs(k - slice_index) for k, _ in polygons)
        chosen = [xy for k, xy in polygons if abs(abs(k - slice_index) - nearest) <= PLANE_TOLERANCE_SLICES]
        mask[slice_index] = rasterise_slice(chosen, grid.size[0], grid.size[1])
    return mask


def _contour_indices(item, grid: Grid, name: str, path: Path) -> np.ndarray:
    """Contour points as continuous CT indices ``(n, 3)`` (i, j, k), snapped to voxel centres within tolerance."""
    try:
        points = np.asarray(item.ContourData, dtype=float).reshape(-1, 3)
    except (AttributeError, ValueError, TypeError):
        raise InputError(
            f"ROI '{name}' in {path.name} has a contour without valid Contour Data (x, y, z triplets)."
        ) from None
    if not len(points):
        raise InputError(f"ROI '{name}' in {path.name} has a contour with no point.")
    ijk = grid.lps_to_index(points)  # DICOM patient coordinates are LPS mm
    nearest = np.rint(ijk)
    return np.where(np.abs(ijk - nearest) <= BOUNDARY_TOLERANCE_VOXELS, nearest, ijk)


def rasterise_slice(polygons: list[np.ndarray], ni: int, nj: int) -> np.ndarray:
    """Voxel centres of an ``nj`` x ``ni`` slice inside ``polygons`` (even-odd) or on them; ``[j, i]``.

    ``polygons`` are closed polygons as ``(n, 2)`` arrays of continuous (i, j) indices.
    """
    starts = np.concatenate(polygons)
    ends = np.concatenate([np.roll(p, -1, axis=0) for p in polygons])
    # work in the polygons' bounding box only (every centre outside it is outside them)
    lo = np.clip(np.floor(starts.min(axis=0)).astype(int), 0, [ni, nj])
    hi = np.clip(np.ceil(starts.max(axis=0)).astype(int) + 1, 0, [ni, nj])
    out = np.zeros((nj, ni), dtype=bool)
    if np.any(hi <= lo):
        return out
    box_ni, box_nj = int(hi[0] - lo[0]), int(hi[1] - lo[1])
    starts, ends = starts - lo, ends - lo
    inside = _even_odd(starts, ends, box_ni, box_nj)
    inside[_on_boundary(starts, ends, box_ni, box_nj)] = True
    out[lo[1] : hi[1], lo[0] : hi[0]] = inside
    return out


def _even_odd(starts: np.ndarray, ends: np.ndarray, ni: int, nj: int) -> np.ndarray:
    """Even-odd inside test of every voxel centre against the edges ``starts -> ends`` (``[j, i]``).

    Each non-horizontal edge crosses the rows ``j`` with ``min(y) <= j < max(y)`` (half-open, so a
    vertex shared by two edges counts once); a centre is inside when an odd number of crossings
    lie strictly to its left. Crossings are accumulated per row and column and summed along rows.
    """
    y0, y1 = starts[:, 1], ends[:, 1]
    edges = np.flatnonzero(y0 != y1)
    lo = np.clip(np.ceil(np.minimum(y0, y1)[edges]), 0, nj).astype(int)
    hi = np.clip(np.ceil(np.maximum(y0, y1)[edges]), 0, nj).astype(int)
    counts = np.zeros((nj, ni + 1), dtype=np.int32)
    edge, row = _expand(edges, lo, hi)
    if len(row):
        x0, dx = starts[edge, 0], ends[edge, 0] - starts[edge, 0]
        t = (row - starts[edge, 1]) / (ends[edge, 1] - starts[edge, 1])
        first_right = np.clip(
            np.floor(x0 + t * dx).astype(np.int64) + 1, 0, ni
        )  # first centre strictly right of the crossing
        np.add.at(counts, (row, first_right), 1)
    return (np.cumsum(counts, axis=1)[:, :ni] % 2).astype(bool)


def _on_boundary(starts: np.ndarray, ends: np.ndarray, ni: int, nj: int) -> np.ndarray:
    """Voxel centres lying on an edge ``starts -> ends`` (within the boundary tolerance), ``[j, i]``."""
    on = np.zeros((nj, ni), dtype=bool)
    tol = BOUNDARY_TOLERANCE_VOXELS
    y0, y1 = starts[:, 1], ends[:, 1]
    sloped = np.flatnonzero(y0 != y1)
    lo = np.clip(np.ceil(np.minimum(y0, y1)[sloped] - tol), 0, nj).astype(int)
    hi = np.clip(np.floor(np.maximum(y0, y1)[sloped] + tol) + 1, 0, nj).astype(int)
    edge, row = _expand(sloped, lo, hi)
    if len(row):
        t = (row - starts[edge, 1]) / (ends[edge, 1] - starts[edge, 1])
        x = starts[edge, 0] + t * (ends[edge, 0] - starts[edge, 0])
        column = np.rint(x)
        hit = (np.abs(x - column) <= tol) & (column >= 0) & (column < ni)
        on[row[hit], column[hit].astype(int)] = True
    flat = np.flatnonzero((y0 == y1) & (np.abs(y0 - np.rint(y0)) <= tol) & (np.rint(y0) >= 0) & (np.rint(y0) < nj))
    left = np.clip(np.ceil(np.minimum(starts[flat, 0], ends[flat, 0]) - tol), 0, ni).astype(int)
    right = np.clip(np.floor(np.maximum(starts[flat, 0], ends[flat, 0]) + tol) + 1, 0, ni).astype(int)
    edge, column = _expand(flat, left, right)
    if len(column):
        on[np.rint(y0[edge]).astype(int), column] = True
    return on


def _expand(edges: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each edge, every integer in ``[lo, hi)``: (edge index repeated, the integers)."""
    counts = np.maximum(hi - lo, 0)
    edge = np.repeat(edges, counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return edge, np.repeat(lo, counts) + offsets
