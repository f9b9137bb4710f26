"""Lesion measurements: volume, centroid, RECIST diameters, depth, organ, distances, necrosis, measurability.

Frames and units: points LPS mm, lengths mm, volumes mL, masks ``[k, j, i]`` on the CT grid.

**Acquisition plane.** RECIST measures on the acquired axial images, so the in-plane diameters are
measured in the grid's k-slices (the acquisition plane), which for an oblique acquisition is not the
patient's true axial plane.

**Voxel centres or edges.** Every length starts from voxel centres (as SimpleITK's Feret diameter does):

- the longest diameter (LD) is the largest distance between two voxel centres of one slice, *plus
  half the voxel's extent along that diameter* (``|u_i| s_i + |u_j| s_j`` for the unit direction u).
  At the LD's ends the boundary is strongly curved and the extreme voxel centres lie up to about one
  voxel inside it; the true edge lies on average halfway between the extreme centre and the extreme
  voxel edge, hence the half-voxel correction. On random ellipses (axis ratios 1-3, 5-60 mm, 0.7 mm
  pixels) the bare centre distance erred by -1.3 to 0 voxels, the corrected one by -0.7 to +0.7;
- the short axis (SA) is the width of the same slice's voxel centres measured perpendicular to the
  LD (the Feret width at right angles to the long axis; for an ellipse this is the minor axis), plus
  a quarter of the voxel's extent across. Its support points sit on the flat sides of the lesion,
  where the extreme centres lie on average only ~0.15 voxel inside the edge, so the correction is
  half that of the LD (bare centre width measured -1.0 to +0.3 voxels, corrected -0.7 to +0.6);
- the maximum 3D diameter uses the same rule as the LD in 3D;
- distances to structures and depth to the skin are between voxel centres: a lesion voxel that
  touches a structure voxel face-to-face is one voxel spacing away.

Costs are capped: only voxels that are extreme along each grid line through them (a superset of the
convex hull's vertices) enter the pairwise-distance search, and distance maps are computed on a crop
around the lesion (``structure_reach_mm``); a structure farther than the reach is reported as None.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import SimpleITK as sitk

from hitit.case import MaskSet
from hitit.errors import InputError
from hitit.geometry import Grid
from hitit.lesions.contrast import Contrast
from hitit.lesions.necrosis import NecrosisAssessment, NecrosisConfig, assess_necrosis
from hitit.lesions.segment import Lesion
from hitit.masks import box_crop, mask_box

#: The guideline the measurability defaults come from.
RECIST_1_1 = "RECIST 1.1 (Eisenhauer et al., Eur J Cancer 2009, doi:10.1016/j.ejca.2008.10.026)"

#: Contrast state of a CT nobody described (necrosis is then not assessed).
UNKNOWN_CONTRAST = Contrast(None, "no contrast information was given with the CT")

#: Pair-distance blocks are at most this many points wide (bounds memory to ~ 8 x BLOCK^2 bytes).
_PAIR_BLOCK = 2048


@dataclass(frozen=True)
class MeasurementConfig:
    """Thresholds used by :func:`measure_lesion`; every clinical number with its source.

    Attributes:
        necrosis: how the necrotic fraction is counted (fluid HU range, fat limit, partial-volume width),
            see :class:`hitit.lesions.necrosis.NecrosisConfig`.
        measurable_ld_mm: RECIST 1.1 minimum LD of a measurable non-nodal lesion on CT [V].
        thick_slice_mm / slice_multiple: when slices are thicker than 5 mm the minimum becomes
            2x the slice spacing [V] RECIST 1.1 (the slice spacing stands in for the slice thickness).
        node_target_sa_mm: node short axis for a measurable (target) node [V] RECIST 1.1.
        node_pathological_sa_mm: node short axis from which a node is pathological [V] RECIST 1.1.
        structure_reach_mm: distances to structures are computed up to this reach; beyond -> None.
    """

    necrosis: NecrosisConfig = field(default_factory=NecrosisConfig)
    measurable_ld_mm: float = 10.0
    thick_slice_mm: float = 5.0
    slice_multiple: float = 2.0
    node_target_sa_mm: float = 15.0
    node_pathological_sa_mm: float = 10.0
    structure_reach_mm: float = 50.0
    sources: dict = field(
        default_factory=lambda: {
            "measurable_ld_mm": f"[V] {RECIST_1_1}; PMC2755245 Table 3",
            "thick_slice_mm": f"[V] {RECIST_1_1}",
            "slice_multiple": f"[V] {RECIST_1_1}",
            "node_target_sa_mm": f"[V] {RECIST_1_1}",
            "node_pathological_sa_mm": f"[V] {RECIST_1_1}",
            "structure_reach_mm": "computation bound (crop of distance maps), not clinical",
        }
    )

    def to_dict(self) -> dict:
        """Every parameter and its source."""
        values = {k: v for k, v in self.__dict__.items() if k not in ("sources", "necrosis")}
        return {**values, "necrosis": self.necrosis.to_dict(), "sources": dict(self.sources)}


@dataclass
class LesionMeasurement:
    """Measurements of one lesion (LPS mm, mL). Optional items are None when their input was not given.

    ``ld_endpoints_lps`` are the voxel centres the LD runs between (slice ``ld_slice_k``);
    ``distance_to_structures_mm`` maps a structure name to the voxel-centre distance (0 = overlap) or
    None when farther than ``config.structure_reach_mm``. ``necrosis`` says whether the necrotic fraction
    could be assessed (contrast-enhanced CT) and how; ``necrosis_fraction`` is its fraction (None when not).
    """

    lesion_id: str
    name: str
    nodal: bool
    voxel_count: int
    volume_ml: float
    centroid_lps: tuple[float, float, float]
    longest_diameter_mm: float
    short_axis_mm: float
    ld_slice_k: int
    ld_endpoints_lps: tuple[tuple[float, float, float], tuple[float, float, float]]
    max_3d_diameter_mm: float
    measurable: bool
    recist_category: str
    recist_reason: str
    depth_mm: float | None = None
    organ: str | None = None
    organ_fraction: float | None = None
    distance_to_structures_mm: dict[str, float | None] = field(default_factory=dict)
    necrosis_fraction: float | None = None
    config: MeasurementConfig = field(default_factory=MeasurementConfig)
    necrosis: NecrosisAssessment | None = None

    def to_dict(self) -> dict:
        """JSON-ready record (frame LPS; lengths rounded to 0.01 mm, volumes to 0.001 mL)."""

        def r(v, n=2):
            return None if v is None else round(float(v), n)

        return {
            "id": self.lesion_id,
            "name": self.name,
            "nodal": self.nodal,
            "voxel_count": self.voxel_count,
            "volume_ml": r(self.volume_ml, 3),
            "centroid_lps": [r(v) for v in self.centroid_lps],
            "longest_diameter_mm": r(self.longest_diameter_mm),
            "short_axis_mm": r(self.short_axis_mm),
            "ld_slice_k": self.ld_slice_k,
            "ld_endpoints_lps": [[r(v) for v in p] for p in self.ld_endpoints_lps],
            "max_3d_diameter_mm": r(self.max_3d_diameter_mm),
            "depth_mm": r(self.depth_mm),
            "organ": self.organ,
            "organ_fraction": r(self.organ_fraction, 3),
            # structures beyond the reach (None) are left out: "farther than structure_reach_mm" is all they say
            "distance_to_structures_mm": {k: r(v) for k, v in self.distance_to_structures_mm.items() if v is not None},
            "necrosis_fraction": r(self.necrosis_fraction, 3),
            "necrosis": None if self.necrosis is None else self.necrosis.to_dict(),
            "measurable": self.measurable,
            "recist_category": self.recist_category,
            "recist_reason": self.recist_reason,
        }


# --------------------------------------------------------------------------- geometry helpers
def _bbox(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounding box ``[lo, hi)`` of a non-empty mask in array order (k, j, i)."""
    lo, hi = mask_box(mask)
    return np.array(lo), np.array(hi)


def _overlaps(box: tuple[slice, ...], mask: np.ndarray) -> bool:
    """True when ``mask`` has a voxel in ``box`` (array-order slices); a mask's own box answers first."""
    own = mask_box(mask)
    if own is None or any(b.stop <= lo or b.start >= hi for b, lo, hi in zip(box, *own)):
        return False
    return bool(np.asarray(mask[box]).any())


def _grow_box(lo, hi, margin, shape) -> tuple[slice, ...]:
    """Slices of the box ``[lo - margin, hi + margin)`` clipped to ``shape`` (array order)."""
    lo = np.maximum(np.asarray(lo) - margin, 0)
    hi = np.minimum(np.asarray(hi) + margin, shape)
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))


def _line_extremes(mask: np.ndarray, axis: int) -> np.ndarray:
    """Voxels of ``mask`` that are the first or last set voxel along ``axis`` on their grid line."""
    forward = np.cumsum(mask, axis=axis, dtype=np.int32)
    backward = np.flip(np.cumsum(np.flip(mask, axis=axis), axis=axis, dtype=np.int32), axis=axis)
    return mask & ((forward == 1) | (backward == 1))


def _farthest_pair(points: np.ndarray) -> tuple[float, int, int]:
    """Largest pairwise distance among ``points`` (n, d) and the two indices (blocked, vectorised)."""
    if len(points) < 2:
        return 0.0, 0, 0
    best = (-1.0, 0, 0)
    for start in range(0, len(points), _PAIR_BLOCK):
        block = points[start : start + _PAIR_BLOCK]
        d2 = np.sum((block[:, None, :] - points[None, :, :]) ** 2, axis=-1)
        a, b = np.unravel_index(int(np.argmax(d2)), d2.shape)
        if d2[a, b] > best[0]:
            best = (float(d2[a, b]), start + int(a), int(b))
    return float(np.sqrt(best[0])), best[1], best[2]


def _half_voxel_along(direction: np.ndarray, spacing: np.ndarray) -> float:
    """Half the voxel's extent (mm) along a unit direction given in voxel-axis components."""
    return 0.5 * float(np.sum(np.abs(direction) * spacing))


def in_plane_diameters(mask: np.ndarray, grid: Grid) -> tuple[float, float, int, np.ndarray]:
    """RECIST LD and SA (mm) over the acquired k-slices, the LD slice index k and the LD end indices (2, 3).

    See the module docstring for the definitions (voxel centres + half a voxel for the LD,
    perpendicular Feret width of centres + a quarter voxel for the SA).
    """
    lo, hi = _bbox(mask)
    sub = mask[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
    candidates = _line_extremes(sub, 2) & _line_extremes(sub, 1)
    spacing = np.asarray(grid.spacing_mm[:2])  # (s_i, s_j)
    k_all, j_all, i_all = np.nonzero(candidates)
    best = (-1.0, 0, None, None)
    for k in np.unique(k_all):
        sel = k_all == k
        pts = np.stack([i_all[sel], j_all[sel]], axis=1) * spacing
        d, a, b = _farthest_pair(pts)
        u = (pts[b] - pts[a]) / d if d > 0 else np.array([1.0, 0.0])
        ld = d + _half_voxel_along(u, spacing)
        if ld > best[0]:
            best = (ld, int(k), pts[[a, b]], u)
    ld, k, ends_mm, u = best
    j_s, i_s = np.nonzero(sub[k])
    v = np.array([-u[1], u[0]])
    across = np.stack([i_s, j_s], axis=1) * spacing @ v
    sa = float(across.max() - across.min()) + 0.5 * _half_voxel_along(v, spacing)
    ends_ijk = np.column_stack([ends_mm / spacing + lo[[2, 1]], np.full(2, k + lo[0])])
    return float(ld), sa, int(k + lo[0]), ends_ijk


def max_3d_diameter_mm(mask: np.ndarray, grid: Grid) -> float:
    """Largest 3D diameter (mm): farthest voxel centres plus half a voxel along that direction."""
    lo, hi = _bbox(mask)
    sub = mask[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
    candidates = _line_extremes(sub, 0) & _line_extremes(sub, 1) & _line_extremes(sub, 2)
    k, j, i = np.nonzero(candidates)
    spacing = np.asarray(grid.spacing_mm)
    pts = np.stack([i, j, k], axis=1) * spacing  # voxel-axis mm frame: a rotation of LPS
    d, a, b = _farthest_pair(pts)
    u = (pts[b] - pts[a]) / d if d > 0 else np.array([1.0, 0.0, 0.0])
    return d + _half_voxel_along(u, spacing)


# --------------------------------------------------------------------------- context measurements
def skin_distance_map(body_mask: np.ndarray, grid: Grid) -> np.ndarray:
    """Distance (mm) from each voxel centre inside the body to the nearest body-surface voxel centre."""
    image = grid.image_from_array(np.asarray(body_mask, dtype=np.uint8))
    dist = sitk.SignedMaurerDistanceMap(image, insideIsPositive=True, squaredDistance=False, useImageSpacing=True)
    return sitk.GetArrayFromImage(dist).astype(np.float32)


def depth_to_skin_mm(mask: np.ndarray, skin_distance: np.ndarray) -> float:
    """Shortest voxel-centre distance (mm) from the lesion to the skin (0 if it reaches the surface)."""
    return max(float(skin_distance[mask].min()), 0.0)


def depth_to_points_mm(mask: np.ndarray, grid: Grid, skin_points_lps: np.ndarray) -> float | None:
    """Shortest distance (mm) from the lesion's voxel centres to the given skin points (LPS; None without any).

    Used with the skin entry points a plan already has (on the body surface, within half a voxel of it,
    about 2 mm apart): the depth is then the distance to the nearest entry point, at most about one
    point spacing more than the distance to the surface, and no whole-volume distance map is needed.
    Only boundary voxels (with a background face neighbour) can be nearest to a point outside the lesion:
    from an interior voxel, its face neighbour towards the point is closer.
    """
    points = np.asarray(skin_points_lps, dtype=float)
    if len(points) == 0:
        return None
    lo, hi = _bbox(mask)
    crop = np.asarray(mask[tuple(slice(a, b) for a, b in zip(lo, hi))])
    padded = np.pad(crop, 1)
    interior = crop.copy()
    for axis in range(3):
        for shift in (-1, 1):
            interior &= np.roll(padded, shift, axis=axis)[1:-1, 1:-1, 1:-1]
    kji = np.argwhere(crop & ~interior) + lo
    lesion = grid.index_to_lps(kji[:, ::-1].astype(float))
    # a point farther from the lesion's centre than the nearest point plus the lesion's diameter cannot be nearest
    centre = lesion.mean(axis=0)
    from_centre = np.linalg.norm(points - centre, axis=1)
    spread = 2.0 * float(np.linalg.norm(lesion - centre, axis=1).max())
    points = points[from_centre <= from_centre.min() + spread]
    # squared distances as |p|^2 + |q|^2 - 2 p.q (one matrix product per block), about the lesion's centre
    lesion, points = lesion - centre, points - centre
    lesion_sq, points_sq = (lesion**2).sum(axis=1), (points**2).sum(axis=1)
    best = np.inf
    for start in range(0, len(lesion), _PAIR_BLOCK):
        block = slice(start, start + _PAIR_BLOCK)
        d2 = lesion_sq[block, None] + points_sq[None, :] - 2.0 * (lesion[block] @ points.T)
        best = min(best, float(d2.min()))
    return float(np.sqrt(max(best, 0.0)))


def _spacing_zyx(grid: Grid) -> np.ndarray:
    return np.asarray(grid.spacing_mm)[::-1]


def distances_to_structures_mm(
    mask: np.ndarray, grid: Grid, structures: MaskSet, reach_mm: float
) -> dict[str, float | None]:
    """Voxel-centre distance (mm) from the lesion to each structure (0 = overlap; None = beyond ``reach_mm``)."""
    lo, hi = _bbox(mask)
    box = _grow_box(lo, hi, np.ceil(reach_mm / _spacing_zyx(grid)).astype(int) + 1, mask.shape)
    lesion = np.asarray(mask[box])
    # one distance map, of the lesion: the smallest lesion-structure voxel-centre distance is the smallest
    # value of the lesion's map over the structure's voxels (0 where they overlap)
    image = sitk.GetImageFromArray(lesion.astype(np.uint8))
    image.SetSpacing(grid.spacing_mm)
    dist = np.maximum(
        sitk.GetArrayFromImage(
            sitk.SignedMaurerDistanceMap(image, insideIsPositive=False, squaredDistance=False, useImageSpacing=True)
        ),
        0.0,
    )
    out: dict[str, float | None] = {}
    for name, structure in structures.items():
        if not _overlaps(box, structure):
            out[name] = None
            continue
        d = float(dist[np.asarray(structure[box])].min())
        out[name] = d if d <= reach_mm else None
    return out


def containing_organ(mask: np.ndarray, structures: MaskSet) -> tuple[str | None, float | None]:
    """The structure holding most of the lesion's voxels and that fraction (None when none overlaps)."""
    lo, hi = _bbox(mask)
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))
    lesion = np.asarray(mask[box])
    counts = {
        name: int(np.count_nonzero(np.asarray(s[box])[lesion])) if _overlaps(box, s) else 0
        for name, s in structures.items()
    }
    if not counts or max(counts.values()) == 0:
        return None, None
    name = max(counts, key=counts.get)
    return name, counts[name] / int(mask.sum())


def recist_category(
    nodal: bool, ld_mm: float, sa_mm: float, slice_mm: float, config: MeasurementConfig
) -> tuple[bool, str, str]:
    """RECIST 1.1 measurability: (measurable, category, reason) for a lesion (Eisenhauer 2009)."""
    if nodal:
        if sa_mm >= config.node_target_sa_mm:
            return True, "measurable node", f"short axis {sa_mm:.1f} mm >= {config.node_target_sa_mm:g} mm"
        if sa_mm >= config.node_pathological_sa_mm:
            return (
                False,
                "pathological node (non-target)",
                (f"short axis {sa_mm:.1f} mm in [{config.node_pathological_sa_mm:g}, {config.node_target_sa_mm:g}) mm"),
            )
        return False, "normal node", f"short axis {sa_mm:.1f} mm < {config.node_pathological_sa_mm:g} mm"
    minimum = config.measurable_ld_mm
    if slice_mm > config.thick_slice_mm:
        minimum = max(minimum, config.slice_multiple * slice_mm)
    if ld_mm >= minimum:
        return True, "measurable", f"longest diameter {ld_mm:.1f} mm >= {minimum:g} mm"
    return False, "non-measurable", f"longest diameter {ld_mm:.1f} mm < {minimum:g} mm"


# --------------------------------------------------------------------------- entry points
def measure_lesion(
    lesion: Lesion,
    grid: Grid,
    hu: np.ndarray | None = None,
    body_mask: np.ndarray | None = None,
    structures: MaskSet | None = None,
    config: MeasurementConfig = MeasurementConfig(),
    skin_distance: np.ndarray | None = None,
    contrast: Contrast | None = None,
) -> LesionMeasurement:
    """Measure one lesion on ``grid``.

    ``hu``: the CT array (HU) for the necrosis fraction, assessed only when ``contrast`` says the CT
    is contrast-enhanced (:mod:`hitit.lesions.necrosis`); ``body_mask``: the patient's body for the
    depth (or a precomputed ``skin_distance`` map from :func:`skin_distance_map`); ``structures``:
    named masks for the organ and the distances. All arrays are ``[k, j, i]`` on ``grid``.
    """
    mask = lesion.mask
    if mask.shape != grid.shape:
        raise InputError(f"Lesion '{lesion.lesion_id}' has shape {mask.shape}, not the CT's {grid.shape}.")
    crop, lo = box_crop(mask) or (np.zeros((1, 1, 1), bool), (0, 0, 0))
    count = int(np.count_nonzero(crop))
    k, j, i = (axis + offset for axis, offset in zip(np.nonzero(crop), lo))
    centroid = grid.index_to_lps(np.array([i.mean(), j.mean(), k.mean()]))
    ld, sa, ld_k, ends = in_plane_diameters(mask, grid)
    measurable, category, reason = recist_category(lesion.nodal, ld, sa, grid.spacing_mm[2], config)
    if skin_distance is None and body_mask is not None:
        skin_distance = skin_distance_map(body_mask, grid)
    organ, organ_fraction = (lesion.organ, None)
    if structures:
        found, organ_fraction = containing_organ(mask, structures)
        organ = lesion.organ or found
    necrosis = None if hu is None else assess_necrosis(mask, hu, grid, contrast or UNKNOWN_CONTRAST, config.necrosis)
    return LesionMeasurement(
        lesion.lesion_id,
        lesion.name,
        lesion.nodal,
        count,
        count * grid.voxel_volume_ml,
        tuple(float(v) for v in centroid),
        ld,
        sa,
        ld_k,
        tuple(tuple(float(v) for v in p) for p in grid.index_to_lps(ends)),
        max_3d_diameter_mm(mask, grid),
        measurable,
        category,
        reason,
        depth_mm=None if skin_distance is None else depth_to_skin_mm(mask, skin_distance),
        organ=organ,
        organ_fraction=organ_fraction,
        distance_to_structures_mm=distances_to_structures_mm(mask, grid, structures, config.structure_reach_mm)
        if structures
        else {},
        necrosis_fraction=None if necrosis is None else necrosis.fraction,
        config=config,
        necrosis=necrosis,
    )


def measure_lesions(
    lesions: list[Lesion],
    grid: Grid,
    hu: np.ndarray | None = None,
    body_mask: np.ndarray | None = None,
    structures: MaskSet | None = None,
    config: MeasurementConfig = MeasurementConfig(),
    contrast: Contrast | None = None,
) -> list[LesionMeasurement]:
    """Measure several lesions, computing the skin distance map once (``contrast``: see :func:`measure_lesion`)."""
    skin = None if body_mask is None else skin_distance_map(body_mask, grid)
    return [measure_lesion(lesion, grid, hu, None, structures, config, skin, contrast) for lesion in lesions]
