"""The patient's body, its skin surface with candidate needle entry points, and CT-derived bone and lung.

Frames: masks are numpy bool arrays indexed ``[k, j, i]`` on the CT grid; every point and normal
is LPS mm. Every number is a documented, configurable default stored with the plan through the
``to_dict()`` of :class:`BodyConfig`, :class:`SkinConfig` and :class:`AutoStructureConfig`
(evidence tags as in ``docs/evidence.md``: [R] = recalled practice, [D] = derived by us).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from collections.abc import Callable, Iterable

import cc3d
import fill_voids
import numpy as np
import SimpleITK as sitk
from vtkmodules.util import numpy_support
from vtkmodules.vtkCommonCore import vtkPoints
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkImageData, vtkPolyData
from vtkmodules.vtkFiltersCore import vtkCleanPolyData, vtkFlyingEdges3D, vtkQuadricClustering

from hitit.case import Volume
from hitit.errors import InputError
from hitit.geometry import Grid
from hitit.masks import boxed_mask, mask_box

#: [R] Body/air threshold: air is -1000 HU, fat about -100 HU; -300 HU lies well between them and
#: below any soft tissue, yet above foam mattresses and blankets, which are mostly air.
BODY_THRESHOLD_HU = -300.0
#: [D] Radius (mm) of the opening applied before keeping the largest component: it cuts contacts
#: thinner than about twice the radius (a blanket fold, a strap, a pad edge touching the table),
#: and removes body parts thinner than that (fingertips), which are no entry sites anyway.
#: Limit: a broad contact (the back lying flat on a dense pad) is not cut.
TABLE_OPENING_RADIUS_MM = 3.0
#: [D] Default spacing (mm) of candidate entry points; never coarser than 2 mm, so that no safe entry
#: window a needle could use is skipped between two candidates.
SKIN_SPACING_MM = 2.0
#: [D] Radius (mm) of the ball of body voxels whose centroid gives the outward normal at a skin point:
#: at 1.5 mm voxels it keeps normals within about 4 degrees of the true ones on a cylinder (tested),
#: large enough to average out the voxel staircase, small next to the body's curvature radius.
NORMAL_RADIUS_MM = 6.0
#: [D] Voxels below this value lie outside the reconstructed field of view (scanners pad with
#: -2048 or -3024 HU); a skin point near them is a cut edge, not skin. Air itself is about -1000 HU.
OUTSIDE_FOV_HU = -1500.0
#: [D] A skin point is on a patient side when its outward normal is within this angle of that side.
SIDE_MAX_ANGLE_DEG = 60.0
#: [R] Bone: cortical bone is several hundred to over 1000 HU; +200 HU is above enhanced soft tissue
#: and most portal-venous vessels. Arterial-phase contrast may exceed it: it is then marked bone,
#: which is conservative (bone is a hard structure too).
BONE_MIN_HU = 200.0
#: [D] Bone components smaller than this (mL) are dropped: calcifications, contrast specks, noise.
BONE_MIN_COMPONENT_ML = 0.1
#: [R] Aerated lung lies below -400 HU (parenchyma about -850 HU); soft tissue lies above -100 HU.
LUNG_MAX_HU = -400.0
#: [D] Low-density components smaller than this (mL) are not lung (small gas bubbles).
LUNG_MIN_COMPONENT_ML = 10.0
#: [R]/[D] Bowel gas is nearly pure gas (about -1000 HU) while aerated lung holds vessels and
#: interstitium (median about -850 HU): a component whose median HU is at or below this is gas.
#: Limit: severely emphysematous lung (median near -950 HU) may be taken for gas.
GAS_MAX_MEDIAN_HU = -925.0

#: Outward LPS unit direction of each patient side.
SIDES_LPS = {
    "left": (1.0, 0.0, 0.0),
    "right": (-1.0, 0.0, 0.0),
    "posterior": (0.0, 1.0, 0.0),
    "anterior": (0.0, -1.0, 0.0),
    "superior": (0.0, 0.0, 1.0),
    "inferior": (0.0, 0.0, -1.0),
}


# --------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class BodyConfig:
    """Body-mask settings (HU, mm); see the module constants for their sources."""

    threshold_hu: float = BODY_THRESHOLD_HU
    opening_radius_mm: float = TABLE_OPENING_RADIUS_MM

    def to_dict(self) -> dict:
        """JSON-ready record."""
        return asdict(self)


@dataclass(frozen=True)
class SkinConfig:
    """Skin entry-point settings (mm, degrees, HU); see the module constants for their sources.

    ``spacing_mm`` is the target distance between neighbouring entry points. Points closer than one
    voxel plus ``spacing_mm`` to the image boundary (or to voxels below ``outside_fov_hu``) are invalid.
    """

    spacing_mm: float = SKIN_SPACING_MM
    normal_radius_mm: float = NORMAL_RADIUS_MM
    outside_fov_hu: float = OUTSIDE_FOV_HU
    side_max_angle_deg: float = SIDE_MAX_ANGLE_DEG

    def to_dict(self) -> dict:
        """JSON-ready record."""
        return asdict(self)


@dataclass(frozen=True)
class AutoStructureConfig:
    """Thresholds (HU) and minimum component sizes (mL) of the CT-derived bone and lung masks."""

    bone_min_hu: float = BONE_MIN_HU
    bone_min_component_ml: float = BONE_MIN_COMPONENT_ML
    lung_max_hu: float = LUNG_MAX_HU
    lung_min_component_ml: float = LUNG_MIN_COMPONENT_ML
    gas_max_median_hu: float = GAS_MAX_MEDIAN_HU

    def to_dict(self) -> dict:
        """JSON-ready record."""
        return asdict(self)


# --------------------------------------------------------------------------- small helpers
def _radius_voxels(grid: Grid, radius_mm: float) -> list[int]:
    """A radius in mm as whole voxels along i, j, k (0 on an axis whose spacing exceeds twice it)."""
    return [int(round(radius_mm / s)) for s in grid.spacing_mm]


def axial_array_axis(grid: Grid) -> int:
    """The numpy axis (0=k, 1=j, 2=i) whose grid axis is closest to the patient's S-I direction."""
    index_axis = int(np.argmax(np.abs(grid.direction_matrix[2, :])))
    return 2 - index_axis


def _fill_holes_per_slice(mask: np.ndarray, axis: int) -> np.ndarray:
    """Fill the holes of every 2D slice of ``mask`` across numpy ``axis`` (background not connected to the
    slice's edge through face neighbours becomes foreground; fill-voids, slice by slice).
    """
    moved = np.moveaxis(mask, axis, 0)
    filled = np.empty(moved.shape, dtype=bool)
    for n, section in enumerate(moved):
        filled[n] = fill_voids.fill(section) if section.any() else False
    return np.moveaxis(filled, 0, axis)


def _nearest_voxels(grid: Grid, points_lps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest voxel index ``(N, 3)`` (i, j, k) of LPS points, clipped to the grid, and an inside flag."""
    ijk = np.rint(grid.lps_to_index(points_lps)).astype(int)
    inside = np.all((ijk >= 0) & (ijk < np.asarray(grid.size)), axis=1)
    return np.clip(ijk, 0, np.asarray(grid.size) - 1), inside


def _lookup(mask: np.ndarray, grid: Grid, points_lps: np.ndarray) -> np.ndarray:
    """Nearest-voxel value of ``mask`` at LPS points (False outside the grid)."""
    ijk, inside = _nearest_voxels(grid, points_lps)
    return mask[ijk[:, 2], ijk[:, 1], ijk[:, 0]] & inside


# --------------------------------------------------------------------------- body
def body_mask(
    ct: Volume,
    threshold_hu: float = BODY_THRESHOLD_HU,
    opening_radius_mm: float = TABLE_OPENING_RADIUS_MM,
    slab: tuple[int, int] | None = None,
) -> np.ndarray:
    """The patient's body on the CT grid: bool array ``[k, j, i]``.

    Steps: voxels above ``threshold_hu`` (HU); a morphological opening with a ball of
    ``opening_radius_mm`` (mm) that cuts thin contacts to the table or clothing; the largest
    face-connected component (the table and anything else not connected is dropped); holes filled in
    every axial slice (lungs open to the airway in 3D are closed in the slice). Once every axial slice
    is filled, every background voxel left is connected within its slice to the image edge, so no 3D
    hole is left either (internal air of bowel, stomach and lungs is inside the body).

    ``slab``: ``(first, stop)`` slices along the grid axis nearest the patient's S-I axis: the body is
    computed on those slices only (False elsewhere), each kept whole so that the per-slice filling is
    the same as on the whole CT. The opening is local (a voxel's value depends on the CT within twice the
    radius), so it is exact away from the slab's ends; the largest component is the largest within the
    slab: the same voxels as on the whole CT whenever the body's section through the slab is one piece
    (a torso is; an arm beside the chest that joins the body only above the slab would be dropped).
    The result is a :class:`~hitit.masks.BoxedMask` (only the slab's pages are allocated).
    """
    grid = ct.grid
    axis = axial_array_axis(grid)
    first, stop = slab if slab is not None else (0, grid.shape[axis])
    window = [slice(None)] * 3
    window[axis] = slice(first, stop)
    above = np.asarray(ct.array)[tuple(window)] > threshold_hu
    radius = _radius_voxels(grid, opening_radius_mm)
    if any(radius) and above.any():
        above = _opening(above, grid, radius)
    body = cc3d.largest_k(above, k=1, connectivity=6) > 0
    if not body.any():
        raise InputError(f"No voxel of the CT is above {threshold_hu:g} HU: is this a CT in Hounsfield units?")
    body = _fill_holes_per_slice(body, axis)
    lo = [0, 0, 0]
    lo[axis] = first
    return boxed_mask(grid.shape, (tuple(lo), tuple(a + b for a, b in zip(lo, body.shape))), body)


def _opening(mask: np.ndarray, grid: Grid, radius: list[int]) -> np.ndarray:
    """Binary opening of ``mask`` with SimpleITK's ball of ``radius`` voxels (i, j, k), computed on the box of
    ``mask`` widened by twice the radius (outside it the opening is background anyway).
    """
    nz = [np.flatnonzero(np.any(mask, axis=a)) for a in ((1, 2), (0, 2), (0, 1))]
    pad = [2 * r + 1 for r in radius[::-1]]  # k, j, i
    lo = [max(int(n[0]) - p, 0) for n, p in zip(nz, pad)]
    hi = [min(int(n[-1]) + 1 + p, size) for n, p, size in zip(nz, pad, mask.shape)]
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    image = sitk.GetImageFromArray(mask[box].astype(np.uint8))
    opened = sitk.GetArrayFromImage(sitk.BinaryMorphologicalOpening(image, radius, sitk.sitkBall)) > 0
    out = np.zeros_like(mask)
    out[box] = opened
    return out


# --------------------------------------------------------------------------- skin
@dataclass
class SkinSurface:
    """Candidate needle entry points on the skin, and the decimated skin mesh they are the vertices of.

    Attributes:
        points_lps: (N, 3) points on the body surface, LPS mm.
        normals_lps: (N, 3) unit outward normals, LPS.
        valid: (N,) True where the point is a candidate entry (no exclusion below applies).
        triangles: (M, 3) vertex indices of the mesh (for display; per-point arrays colour it).
        excluded: reason -> (N,) bool, for ``fov_edge`` (cut edge of the scan), ``region``, ``side``.
        parameters: the settings used (body, skin, region, side), stored with the plan.
    """

    points_lps: np.ndarray
    normals_lps: np.ndarray
    valid: np.ndarray
    triangles: np.ndarray
    excluded: dict[str, np.ndarray] = field(default_factory=dict)
    parameters: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready summary: settings and point counts (not the points themselves)."""
        return {
            "frame": "LPS",
            "parameters": self.parameters,
            "points": int(len(self.points_lps)),
            "valid": int(self.valid.sum()),
            "excluded": {k: int(v.sum()) for k, v in self.excluded.items()},
        }

    def to_polydata(self) -> vtkPolyData:
        """The skin mesh as vtkPolyData in LPS mm, with point normals and a ``valid`` point array (0/1)."""
        poly = vtkPolyData()
        points = vtkPoints()
        points.SetData(numpy_support.numpy_to_vtk(np.ascontiguousarray(self.points_lps, dtype=float), deep=True))
        poly.SetPoints(points)
        cells = vtkCellArray()
        offsets = np.arange(0, 3 * len(self.triangles) + 1, 3, dtype=np.int64)
        cells.SetData(
            numpy_support.numpy_to_vtkIdTypeArray(offsets, deep=True),
            numpy_support.numpy_to_vtkIdTypeArray(
                np.ascontiguousarray(self.triangles, dtype=np.int64).ravel(), deep=True
            ),
        )
        poly.SetPolys(cells)
        normals = numpy_support.numpy_to_vtk(np.ascontiguousarray(self.normals_lps, dtype=np.float32), deep=True)
        normals.SetName("Normals")
        poly.GetPointData().SetNormals(normals)
        valid = numpy_support.numpy_to_vtk(self.valid.astype(np.uint8), deep=True)
        valid.SetName("valid")
        poly.GetPointData().AddArray(valid)
        return poly


def _surface_mesh_lps(
    body: np.ndarray, grid: Grid, spacing_mm: float, known: tuple[tuple, tuple] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Body surface decimated to about ``spacing_mm``: (points LPS (N, 3), triangles (M, 3)).

    The fine surface is the 0.5 iso-surface of the mask in index space (within half a voxel of the
    mask boundary), mapped to LPS with the grid's IJK->LPS transform; quadric clustering on an
    LPS lattice of ``spacing_mm`` keeps one input vertex per cell, so every point lies on the fine surface.
    The lattice is anchored at the grid's origin, so a point's cell does not depend on how much of the
    body is meshed. Vertices of neighbouring cells can nearly touch where the surface clips a cell corner:
    points closer than half the spacing are merged, so neighbours end up between 0.5 and about 1 spacing apart.
    ``known`` (array-order box): the body is known there only; no surface is made on the box's faces.
    """
    box = mask_box(body)
    lo = np.array([max(v - 1, 0) for v in box[0]])
    hi = np.array([min(v + 1, s) for v, s in zip(box[1], body.shape)])
    if known is not None:
        lo, hi = np.maximum(lo, known[0]), np.minimum(hi, known[1])
    crop = np.ascontiguousarray(body[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]], dtype=np.uint8)
    image = vtkImageData()
    image.SetDimensions(crop.shape[2], crop.shape[1], crop.shape[0])
    image.SetOrigin(float(lo[2]), float(lo[1]), float(lo[0]))  # index units: (i, j, k) of the crop's first voxel
    image.GetPointData().SetScalars(numpy_support.numpy_to_vtk(crop.ravel(), deep=True))
    contour = vtkFlyingEdges3D()
    contour.SetInputData(image)
    contour.SetValue(0, 0.5)
    contour.ComputeNormalsOff()
    contour.ComputeGradientsOff()
    contour.ComputeScalarsOff()
    contour.Update()
    fine = contour.GetOutput()
    ijk = numpy_support.vtk_to_numpy(fine.GetPoints().GetData())
    fine.GetPoints().SetData(numpy_support.numpy_to_vtk(grid.index_to_lps(ijk), deep=True))
    cluster = vtkQuadricClustering()
    cluster.SetInputData(fine)
    cluster.AutoAdjustNumberOfDivisionsOff()
    cluster.SetDivisionOrigin(*[float(v) for v in grid.origin_lps])
    cluster.SetDivisionSpacing(float(spacing_mm), float(spacing_mm), float(spacing_mm))
    cluster.UseInputPointsOn()
    clean = vtkCleanPolyData()
    clean.SetInputConnection(cluster.GetOutputPort())
    clean.ToleranceIsAbsoluteOn()
    clean.SetAbsoluteTolerance(0.5 * spacing_mm)
    clean.Update()
    out = clean.GetOutput()
    points = numpy_support.vtk_to_numpy(out.GetPoints().GetData()).astype(float)
    triangles = numpy_support.vtk_to_numpy(out.GetPolys().GetConnectivityArray()).reshape(-1, 3).astype(np.int64)
    return points, triangles


def _sub_grid(grid: Grid, lo_kji) -> Callable[[tuple], Grid]:
    """The grid of an array-order sub-box starting at ``lo_kji`` (its size from the array given)."""
    origin = tuple(grid.index_to_lps(np.asarray(lo_kji[::-1], dtype=float)))
    return lambda shape: Grid(tuple(int(v) for v in shape[::-1]), grid.spacing_mm, origin, grid.direction)


def _outward_normals(
    body: np.ndarray, grid: Grid, points_lps: np.ndarray, radius_mm: float, known: tuple[tuple, tuple] | None = None
) -> np.ndarray:
    """Unit outward normals (LPS) at surface points: from the centroid of the body within ``radius_mm``.

    The body lies on the inner side of a surface point, so the vector from the centroid of the body
    in a ball centred on the point to the point itself points out of the body, whatever the mesh
    winding or grid direction. For speed the mask is first block-averaged so that the ball spans
    about three blocks per radius; the block occupancy (0..1) weights the centroid, which also
    smooths the voxel staircase. Voxels outside the image do not count (they are unknown), nor do
    voxels outside ``known`` (array-order box where the body is known). The blocks are aligned with the
    whole grid's (the known box starts on a block boundary), so a point whose ball lies in the known box
    gets the normal it would get from the whole body.
    """
    factors = [max(1, int(radius_mm / 3.0 / s)) for s in grid.spacing_mm]
    lo = [0, 0, 0] if known is None else [(v // f) * f for v, f in zip(known[0], factors[::-1])]
    hi = list(body.shape) if known is None else list(known[1])
    crop = np.asarray(body[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]])
    crop_grid = _sub_grid(grid, lo)(crop.shape)
    coarse = sitk.BinShrink(sitk.Cast(crop_grid.image_from_array(crop), sitk.sitkFloat32), factors)
    occupancy = sitk.GetArrayFromImage(coarse)
    cgrid = Grid.from_sitk(coarse)
    steps = [np.arange(-int(np.ceil(radius_mm / s)) - 1, int(np.ceil(radius_mm / s)) + 2) for s in cgrid.spacing_mm]
    offsets = np.stack(np.meshgrid(*steps, indexing="ij"), axis=-1).reshape(-1, 3)
    offsets_lps = offsets @ (cgrid.direction_matrix * np.asarray(cgrid.spacing_mm)).T
    keep = np.linalg.norm(offsets_lps, axis=1) <= radius_mm + 0.5 * np.linalg.norm(cgrid.spacing_mm)
    offsets, offsets_lps = offsets[keep], offsets_lps[keep]
    base = np.rint(cgrid.lps_to_index(points_lps)).astype(int)
    size = np.asarray(cgrid.size)
    normals = np.empty_like(points_lps)
    for start in range(0, len(points_lps), 2048):  # chunks bound the (points x offsets) memory
        chunk = slice(start, start + 2048)
        ijk = base[chunk, None, :] + offsets[None, :, :]
        inside = np.all((ijk >= 0) & (ijk < size), axis=2)
        ijk = np.clip(ijk, 0, size - 1)
        # block positions relative to the point: the ball is centred on the point, not on its block
        relative = (cgrid.index_to_lps(base[chunk]) - points_lps[chunk])[:, None, :] + offsets_lps[None, :, :]
        in_ball = inside & (np.linalg.norm(relative, axis=2) <= radius_mm)
        weight = occupancy[ijk[..., 2], ijk[..., 1], ijk[..., 0]] * in_ball
        normals[chunk] = -np.einsum("nv,nvd->nd", weight, relative)
    return normals / np.maximum(np.linalg.norm(normals, axis=1), 1e-9)[:, None]


def _fov_edge(
    grid: Grid,
    points_lps: np.ndarray,
    spacing_mm: float,
    ct: Volume | None,
    outside_fov_hu: float,
    known: tuple[tuple, tuple] | None = None,
) -> np.ndarray:
    """True for points within one voxel plus ``spacing_mm`` of the image boundary or of padding voxels
    (padding looked for in the array-order box ``known``, default the whole CT).
    """
    ijk = grid.lps_to_index(points_lps)
    reach_voxels = 1.0 + spacing_mm / np.asarray(grid.spacing_mm)
    size = np.asarray(grid.size, dtype=float)
    edge = np.any((ijk < reach_voxels) | (ijk > size - 1 - reach_voxels), axis=1)
    if ct is not None:
        lo, hi = known if known is not None else ((0, 0, 0), grid.shape)
        padding = np.asarray(ct.array)[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] < outside_fov_hu
        if padding.any():
            sub = _sub_grid(grid, lo)(padding.shape)
            radius = [int(np.ceil(r)) for r in reach_voxels]
            near = sitk.GetArrayFromImage(sitk.BinaryDilate(sub.image_from_array(padding), radius, sitk.sitkBall)) > 0
            edge |= _lookup(near, sub, points_lps)
    return edge


def _region_mask(grid: Grid, points_lps: np.ndarray, region) -> np.ndarray:
    """True for points outside ``region``: an LPS box ``(lo, hi)`` in mm or a bool mask on the grid."""
    if isinstance(region, np.ndarray) and region.shape == grid.shape:
        # the points lie up to half a voxel outside the body, so a region drawn on the body surface
        # is widened by one voxel before the nearest-voxel look-up
        near = sitk.GetArrayFromImage(sitk.BinaryDilate(grid.image_from_array(region.astype(bool)), [1, 1, 1])) > 0
        return ~_lookup(near, grid, points_lps)
    box = np.asarray(region, dtype=float)
    if box.shape != (2, 3):
        raise InputError(
            "A skin region is an LPS box ((xmin, ymin, zmin), (xmax, ymax, zmax)) in mm or a mask on the CT grid."
        )
    return ~np.all((points_lps >= box.min(axis=0)) & (points_lps <= box.max(axis=0)), axis=1)


def _side_mask(normals_lps: np.ndarray, side: str | Iterable[str], max_angle_deg: float) -> np.ndarray:
    """True for points whose outward normal is farther than ``max_angle_deg`` from every named side."""
    sides = [side] if isinstance(side, str) else list(side)
    unknown = [s for s in sides if s.lower() not in SIDES_LPS]
    if unknown or not sides:
        raise InputError(f"Unknown patient side {unknown or sides}; use {', '.join(SIDES_LPS)}.")
    directions = np.array([SIDES_LPS[s.lower()] for s in sides])
    return ~np.any(normals_lps @ directions.T >= np.cos(np.radians(max_angle_deg)), axis=1)


def skin_surface(
    source: Volume | np.ndarray,
    grid: Grid | None = None,
    spacing_mm: float = SKIN_SPACING_MM,
    region=None,
    side: str | Iterable[str] | None = None,
    *,
    body: np.ndarray | None = None,
    params: SkinConfig | None = None,
    body_params: BodyConfig | None = None,
    known: tuple[tuple, tuple] | None = None,
    keep: tuple[tuple, tuple] | None = None,
) -> SkinSurface:
    """Candidate skin entry points (LPS mm) with outward unit normals, about ``spacing_mm`` apart.

    ``source`` is the CT (its body mask is computed with ``body_params`` unless ``body`` is given),
    or a body mask ``[k, j, i]`` with its ``grid``. Points on the cut edge of the scanned field of
    view (within one voxel plus ``spacing_mm`` of the first/last slice or the lateral image edges, or
    of voxels below ``params.outside_fov_hu``) are invalid. ``region`` (an LPS box or a bool mask on
    the grid) and ``side`` (``left``/``right``/``anterior``/``posterior``/``superior``/``inferior``,
    or several) further restrict the valid points; invalid points stay in the mesh for display.

    ``known`` (array-order box, hi exclusive): the body mask is known there only (a slab of
    :func:`body_mask`); ``keep`` (a box inside it): only the points whose nearest voxel lies in it are
    made. Every step is local (mesh, lattice cell, merging, normal ball, padding look-up), so a point
    at least :func:`skin_halo_mm` inside ``known`` is the point the whole body would give.
    """
    params = replace(params or SkinConfig(), spacing_mm=float(spacing_mm))
    if not spacing_mm > 0:
        raise InputError(f"Skin point spacing must be a positive number of mm, got {spacing_mm!r}.")
    body_params = body_params or BodyConfig()
    ct = source if isinstance(source, Volume) else None
    computed_body = ct is not None and body is None
    if ct is not None:
        grid = ct.grid
        if computed_body:
            body = body_mask(ct, body_params.threshold_hu, body_params.opening_radius_mm)
    else:
        body = np.asarray(source, dtype=bool)
        if grid is None or body.shape != grid.shape:
            raise InputError("skin_surface needs a CT Volume, or a body mask together with its grid (same shape).")
    if not body.any():
        raise InputError("The body mask is empty: no skin surface to place entry points on.")
    points, triangles = _surface_mesh_lps(body, grid, spacing_mm, known)
    if keep is not None:
        points, triangles = _points_in_box(points, triangles, grid, keep)
    normals = _outward_normals(body, grid, points, params.normal_radius_mm, known)
    excluded = {"fov_edge": _fov_edge(grid, points, spacing_mm, ct, params.outside_fov_hu, known)}
    if region is not None:
        excluded["region"] = _region_mask(grid, points, region)
    if side is not None:
        excluded["side"] = _side_mask(normals, side, params.side_max_angle_deg)
    valid = ~np.any(np.stack(list(excluded.values())), axis=0)
    settings = {
        "skin": params.to_dict(),
        "body": body_params.to_dict() if computed_body else "given",
        "region": "mask"
        if isinstance(region, np.ndarray) and region.ndim == 3
        else (None if region is None else np.asarray(region, dtype=float).tolist()),
        "side": side if side is None or isinstance(side, str) else list(side),
    }
    return SkinSurface(points, normals, valid, triangles, excluded, settings)


def skin_halo_mm(params: SkinConfig, body: BodyConfig, grid: Grid) -> float:
    """How far (mm) inside the known box of the body a skin point must lie to be the whole body's point:
    its lattice cell and the merge distance (two spacings), its normal ball and block, the padding
    look-up, one voxel, and twice the opening radius (the opening reads the CT that far).
    """
    voxel = max(grid.spacing_mm)
    local = max(
        2.0 * params.spacing_mm,
        params.normal_radius_mm + params.normal_radius_mm / 3.0 + voxel,
        params.spacing_mm + voxel,
    )
    return local + 2.0 * body.opening_radius_mm + 2.0 * voxel


def _points_in_box(points: np.ndarray, triangles: np.ndarray, grid: Grid, box) -> tuple[np.ndarray, np.ndarray]:
    """The points (and the triangles between them, renumbered) whose nearest voxel lies in ``box`` (array order)."""
    kji = np.rint(grid.lps_to_index(points)).astype(int)[:, ::-1]
    inside = np.all((kji >= np.asarray(box[0])) & (kji < np.asarray(box[1])), axis=1)
    number = np.cumsum(inside) - 1
    kept = triangles[np.all(inside[triangles], axis=1)]
    return points[inside], number[kept]


# --------------------------------------------------------------------------- CT-derived structures
def _components_at_least(mask: np.ndarray, grid: Grid, min_ml: float) -> sitk.Image:
    """Label image of the face-connected components of ``mask`` of at least ``min_ml`` mL (1..n, by size)."""
    min_voxels = int(np.ceil(min_ml / grid.voxel_volume_ml))
    return sitk.RelabelComponent(sitk.ConnectedComponent(grid.image_from_array(mask), False), min_voxels, True)


def auto_bone(ct: Volume, body: np.ndarray, params: AutoStructureConfig | None = None) -> np.ndarray:
    """Bone inside the body: HU >= ``bone_min_hu``, components under ``bone_min_component_ml`` dropped."""
    params = params or AutoStructureConfig()
    dense = (np.asarray(ct.array) >= params.bone_min_hu) & body
    labels = _components_at_least(dense, ct.grid, params.bone_min_component_ml)
    return sitk.GetArrayFromImage(labels) > 0


def auto_lung(ct: Volume, body: np.ndarray, params: AutoStructureConfig | None = None) -> np.ndarray:
    """Aerated lung inside the body, bowel gas excluded; holes (vessels) filled in each axial slice.

    Heuristic: face-connected components at or below ``lung_max_hu`` of at least
    ``lung_min_component_ml`` whose median HU is above ``gas_max_median_hu`` (lung parenchyma holds
    tissue and blood, bowel gas is nearly pure gas). Limits: severe emphysema or a large bulla can
    read as gas and be missed; lung and bowel gas touching without a visible diaphragm would merge.
    There are no lobes, hence no fissures, in this mask.
    """
    params = params or AutoStructureConfig()
    hu = np.asarray(ct.array)
    labels = _components_at_least((hu <= params.lung_max_hu) & body, ct.grid, params.lung_min_component_ml)
    stats = sitk.LabelIntensityStatisticsImageFilter()
    stats.Execute(labels, ct.to_sitk())
    lung_labels = [label for label in stats.GetLabels() if stats.GetMedian(label) > params.gas_max_median_hu]
    lung = np.isin(sitk.GetArrayFromImage(labels), lung_labels)
    return _fill_holes_per_slice(lung, axial_array_axis(ct.grid)) if lung.any() else lung


def auto_structures(
    ct: Volume, body: np.ndarray, kinds: Iterable[str] = ("bone", "lung"), params: AutoStructureConfig | None = None
) -> dict[str, np.ndarray]:
    """CT-derived structure masks for ``--auto-structures``: ``{"auto_bone": ..., "auto_lung": ...}``.

    The names map to the catalogue categories bone (hard) and lung (traversable).
    """
    makers = {"bone": auto_bone, "lung": auto_lung}
    unknown = [k for k in kinds if k not in makers]
    if unknown:
        raise InputError(f"Unknown auto-structure kind(s) {unknown}: choose from {', '.join(makers)}.")
    return {f"auto_{kind}": makers[kind](ct, body, params) for kind in kinds}
