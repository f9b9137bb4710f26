"""One-time preparation of a case for trajectory planning: margin slack fields and an exact obstacle index.

Definition used everywhere in the engine (and by the tests): **the distance from a point p to a
structure is the Euclidean distance (mm) from p to the nearest voxel centre of the structure's mask.**
A structure is thus the finite set of its voxel centres (LPS mm); its true boundary lies somewhere
between voxel centres and is not known more precisely than the voxels anyway. Margins are
measured from these centres; the needle's outer radius is added to every margin.

What is prepared (all cropped to the region the needle can reach: the targets +- needle length +
the largest margin + needle radius + two voxels, so every obstacle that can come within its margin of a
reachable needle point is inside the crop):

- one distance map per *margin group* (hard structures that share a margin are merged, so a
  TotalSegmentator case needs two or three transforms, not a hundred): SimpleITK
  ``SignedMaurerDistanceMap`` (exact Euclidean distance at voxel centres, mm, float32), clamped
  at 0 inside the mask so that it equals the distance to the nearest mask voxel centre;
- the margin slack field ``F(v) = min_g(D_g(v) - margin_g) - needle_radius`` (mm, float32): a path is
  hard-feasible iff ``F >= -tolerance`` all along it. ``F`` is a minimum of 1-Lipschitz functions,
  hence 1-Lipschitz, which is what makes the sampling of :mod:`hitit.trajectories.sampling` provably conservative;
- an exact obstacle index (:class:`BoundaryIndex`): the boundary voxel centres of each hard
  structure, grouped in spatial chunks, for exact per-structure segment distances;
- a label map of traversable (lung) structures and masks of organs with a minimum-path rule.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import SimpleITK as sitk

from hitit.anatomy.catalogue import StructureRule, normalise_name, rules_for_target
from hitit.case import Case, MaskSet
from hitit.errors import InputError
from hitit.geometry import Grid
from hitit.masks import BoxedMask, mask_box, scan_box
from hitit.trajectories.config import TrajectoryConfig

#: Edge (mm) of the spatial cells that chunk boundary points in :class:`BoundaryIndex`: small enough
#: that a query opens few points, large enough that there are few chunks to bound [D].
CHUNK_MM = 8.0


@dataclass
class MarginGroup:
    """Hard structures sharing one margin, and their merged distance map on the crop.

    Attributes:
        margin_mm: the catalogue margin (needle radius not included).
        names: structure names in the group.
        distance_mm: (k, j, i) float32, distance from each crop voxel centre to the nearest voxel
            centre of any structure of the group (0 inside), mm, capped at margin + needle radius +
            ``margin_slack_cap_mm``.
    """

    margin_mm: float
    names: list[str]
    distance_mm: np.ndarray


@dataclass
class BoundaryIndex:
    """Boundary voxel centres (LPS mm) of every hard structure, chunked for exact segment queries.

    The nearest mask voxel centre of a point outside the mask's voxels is always a boundary voxel
    (a voxel with a background face neighbour): from an interior voxel the face neighbour towards the
    point is closer. So segment-to-boundary distances equal segment-to-mask distances wherever the
    segment is outside the mask; a segment that enters a mask passes within half a voxel diagonal of
    a boundary centre (it crosses a boundary cell), far below any hard margin.

    Attributes:
        names: structure names, index = structure id.
        margins_mm: margin per structure id.
        points: (P, 3) float64 LPS boundary centres, sorted by chunk.
        chunk_start: (C + 1,) offsets of each chunk's points in ``points``.
        chunk_centre: (C, 3) LPS centre of each chunk; chunk_radius: (C,) radius enclosing its points.
        chunk_structure: (C,) structure id of each chunk.
    """

    names: list[str]
    margins_mm: np.ndarray
    points: np.ndarray
    chunk_start: np.ndarray
    chunk_centre: np.ndarray
    chunk_radius: np.ndarray
    chunk_structure: np.ndarray

    def segment_query(self, a: np.ndarray, b: np.ndarray, reach_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact per-structure distance (mm) from segment a->b (LPS) to its boundary centres.

        Returns ``(distance_mm (S,), first_mm (S,))``: the minimum distance, and the distance from
        ``a`` along the segment of the first point closer than ``reach_mm[s]`` to structure s
        (inf when none). Chunks are opened only when their lower bound can change either answer:
        first, per structure, the chunk with the smallest upper bound, whose exact distance then
        bounds the structure's minimum; then every chunk whose lower bound is below that exact
        distance or below the reach.
        """
        n = len(self.names)
        dist = np.full(n, np.inf)
        first = np.full(n, np.inf)
        if len(self.chunk_radius) == 0:
            return dist, first
        d_centre = _point_segment_distance(self.chunk_centre, a, b)[0]
        lower = d_centre - self.chunk_radius
        upper = d_centre + self.chunk_radius
        sid = self.chunk_structure
        best = np.full(n, np.inf)
        np.minimum.at(best, sid, upper)
        _, pick = np.unique(np.where(upper == best[sid], sid, -1), return_index=True)
        seed = np.zeros(len(sid), dtype=bool)
        seed[pick] = True
        seed &= upper == best[sid]  # drops the -1 bucket
        d1, t1, o1 = self._open(np.flatnonzero(seed), a, b)
        np.minimum.at(dist, o1, d1)
        rest = ~seed & ((lower < dist[sid]) | (lower < reach_mm[sid]))
        d2, t2, o2 = self._open(np.flatnonzero(rest), a, b)
        np.minimum.at(dist, o2, d2)
        d, t, owner = np.r_[d1, d2], np.r_[t1, t2], np.r_[o1, o2]
        r = reach_mm[owner]
        hit = d < r
        if hit.any():
            # the needle axis first comes within r of point q at t_proj - sqrt(r^2 - d^2)
            t_in = np.maximum(t[hit] - np.sqrt(r[hit] ** 2 - d[hit] ** 2), 0.0)
            np.minimum.at(first, owner[hit], t_in)
        return dist, first

    def _open(self, chunks: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Exact distances, positions along a->b and structure ids of the points of ``chunks``."""
        if len(chunks) == 0:
            return np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64)
        starts, stops = self.chunk_start[chunks], self.chunk_start[chunks + 1]
        counts = stops - starts
        idx = np.repeat(stops - counts.cumsum(), counts) + np.arange(counts.sum())
        owner = np.repeat(self.chunk_structure[chunks], counts)
        d, t = _point_segment_distance(self.points[idx], a, b)
        return d, t, owner


def _point_segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance (mm) from points (P, 3) to segment a->b, and the position along it (mm from a) of the closest point."""
    u = b - a
    length = float(np.linalg.norm(u))
    if length == 0:
        return np.linalg.norm(points - a, axis=1), np.zeros(len(points))
    u = u / length
    t = np.clip((points - a) @ u, 0.0, length)
    closest = a + t[:, None] * u
    return np.linalg.norm(points - closest, axis=1), t


@dataclass
class PreparedScene:
    """Everything the planner and path checker need for one case and one set of structure rules.

    Attributes:
        grid: the full CT grid; crop_grid: the cropped grid all arrays below lie on.
        crop_lo: (i, j, k) index of the crop's first voxel in ``grid``.
        rules: the rule of every structure used.
        config: the planning settings.
        needle_radius_mm, tolerance_mm: from the config and the grid (tolerance <= half min spacing).
        groups: margin groups with their distance maps.
        field_mm: margin slack field F (float32, k, j, i), mm; see the module docstring.
        index: exact obstacle index of the hard structures.
        lung_labels: (k, j, i) uint8, 0 outside aerated lung, else 1 + index in ``lung_names``.
        lung_names: traversable structure names.
        organ_masks: masks (crop) of allowed organs with a minimum normal-tissue path rule.
        timings_s: seconds spent per preparation step.
        warnings: messages for the user (unknown structures, empty masks...).
    """

    grid: Grid
    crop_grid: Grid
    crop_lo: tuple[int, int, int]
    rules: dict[str, StructureRule]
    config: TrajectoryConfig
    needle_radius_mm: float
    tolerance_mm: float
    groups: list[MarginGroup]
    field_mm: np.ndarray
    index: BoundaryIndex
    lung_labels: np.ndarray
    lung_names: list[str]
    organ_masks: dict[str, np.ndarray]
    timings_s: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def lung_box(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Continuous (i, j, k) index box of the lung labels, widened by one voxel; None without lung."""
        if not self.lung_names:
            return None
        if not hasattr(self, "_lung_box"):
            nz = [np.flatnonzero(np.any(self.lung_labels, axis=a)) for a in ((0, 1), (0, 2), (1, 2))]
            self._lung_box = (np.array([n[0] for n in nz], float) - 1.0, np.array([n[-1] for n in nz], float) + 1.0)
        return self._lung_box

    @property
    def hard_names(self) -> list[str]:
        """Names of the hard structures present in the crop."""
        return list(self.index.names)

    def to_dict(self) -> dict:
        """JSON-ready summary (no arrays)."""
        return {
            "frame": "LPS",
            "crop": {"lo_ijk": list(self.crop_lo), "size": list(self.crop_grid.size)},
            "needle_radius_mm": self.needle_radius_mm,
            "tolerance_mm": self.tolerance_mm,
            "margin_groups": [{"margin_mm": g.margin_mm, "structures": g.names} for g in self.groups],
            "traversable": self.lung_names,
            "rules": {n: r.to_dict() for n, r in self.rules.items()},
            "timings_s": {k: round(v, 4) for k, v in self.timings_s.items()},
            "warnings": self.warnings,
        }


# --------------------------------------------------------------------------- crop
def reach_crop(grid: Grid, targets_lps: np.ndarray, reach_mm) -> tuple[np.ndarray, np.ndarray]:
    """Index box (lo, hi) in (i, j, k), hi exclusive, holding every point within ``reach_mm`` of a target
    (one distance, or (x, y, z) half-widths in LPS mm: the box of each target +- them).
    """
    targets = np.atleast_2d(np.asarray(targets_lps, dtype=float))
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=float) * reach_mm
    ijk = grid.lps_to_index((targets[:, None, :] + corners[None, :, :]).reshape(-1, 3))
    lo = np.clip(np.floor(ijk.min(axis=0)).astype(int) - 1, 0, np.asarray(grid.size))
    hi = np.clip(np.ceil(ijk.max(axis=0)).astype(int) + 2, 0, np.asarray(grid.size))
    if np.any(hi <= lo):
        raise InputError("The targets lie outside the CT: nothing to plan.")
    return lo, hi


def axial_reach_mm(config: TrajectoryConfig, reach_mm: float, beyond_mm: float = 0.0) -> np.ndarray:
    """LPS half-widths (x, y, z) of the region a needle of ``config`` reaches from a target: its length in
    every direction in the axial plane, and ``length x sin(axial limit)`` along the patient's S-I axis (a
    path at most that angle from the axial plane rises at most that much); ``beyond_mm`` is added to each.
    """
    limit = min(config.axial_limit_deg, 90.0)
    along = config.needle_length_mm * np.sin(np.radians(limit))
    return np.array([reach_mm, reach_mm, min(along, reach_mm)]) + beyond_mm


def _with_box(lo: np.ndarray, hi: np.ndarray, include, grow_mm: float, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """The (i, j, k) box [lo, hi) widened to hold ``include`` (an array-order box, or None) grown by ``grow_mm``."""
    if include is None:
        return lo, hi
    grow = np.ceil(grow_mm / np.asarray(grid.spacing_mm)).astype(int)
    return (
        np.minimum(lo, np.maximum(np.asarray(include[0][::-1]) - grow, 0)),
        np.maximum(hi, np.minimum(np.asarray(include[1][::-1]) + grow, np.asarray(grid.size))),
    )


def crop_grid_of(grid: Grid, lo: np.ndarray, hi: np.ndarray) -> Grid:
    """The sub-grid of ``grid`` covering index box [lo, hi) (i, j, k)."""
    return Grid(
        tuple(int(v) for v in hi - lo), grid.spacing_mm, tuple(grid.index_to_lps(lo.astype(float))), grid.direction
    )


def _crops(masks: MaskSet, names, lo: np.ndarray, hi: np.ndarray) -> dict[str, np.ndarray]:
    """The masks of ``names`` that have voxels in the (i, j, k) box [lo, hi), cut to it, each with its box in the
    crop (:class:`~hitit.masks.BoxedMask`; only the part of a mask's own box inside the crop is scanned).
    """
    out = {}
    for name in names:
        if name not in masks:
            continue
        mask, own = masks[name], getattr(masks[name], "box", None)
        a, b = np.asarray(lo[::-1]), np.asarray(hi[::-1])  # array order
        if own is not None:
            a_in, b_in = np.maximum(a, own[0]), np.minimum(b, own[1])
        else:
            a_in, b_in = a, b
        if np.any(b_in <= a_in):
            continue
        inner = scan_box(np.asarray(mask[a_in[0] : b_in[0], a_in[1] : b_in[1], a_in[2] : b_in[2]]))
        if inner is None:
            continue
        crop = np.asarray(mask[a[0] : b[0], a[1] : b[1], a[2] : b[2]]).view(BoxedMask)
        crop.box = (tuple(int(v) for v in a_in - a + inner[0]), tuple(int(v) for v in a_in - a + inner[1]))
        crop.flags.writeable = False
        out[name] = crop
    return out


# --------------------------------------------------------------------------- distance maps
def distance_map_mm(mask: np.ndarray, grid: Grid) -> np.ndarray:
    """Exact Euclidean distance (mm, float32) from each voxel centre to the nearest centre of ``mask`` (0 inside)."""
    image = grid.image_from_array(mask.astype(np.uint8))
    signed = sitk.SignedMaurerDistanceMap(
        image, insideIsPositive=False, squaredDistance=False, useImageSpacing=True, backgroundValue=0
    )
    # inside voxels get negative depths; the distance to the nearest mask centre is 0 there
    return np.maximum(sitk.GetArrayViewFromImage(signed), 0.0).astype(np.float32)


def _capped_distance_mm(mask: np.ndarray, grid: Grid, cap_mm: float) -> np.ndarray:
    """:func:`distance_map_mm` capped at ``cap_mm``, computed on the mask's box widened by the cap only: every
    voxel outside that box is farther than the cap from the mask along some axis, so it holds the cap.
    """
    out = np.full(mask.shape, np.float32(cap_mm), dtype=np.float32)
    box = scan_box(mask)
    if box is None:
        return out
    grow = np.ceil(cap_mm / np.asarray(grid.spacing_mm)[::-1]).astype(int) + 1
    lo = np.maximum(np.asarray(box[0]) - grow, 0)
    hi = np.minimum(np.asarray(box[1]) + grow, mask.shape)
    window = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))
    sub = crop_grid_of(grid, lo[::-1].copy(), hi[::-1].copy())
    out[window] = np.minimum(distance_map_mm(mask[window], sub), np.float32(cap_mm))
    return out


def _boundary_voxels(mask: np.ndarray) -> np.ndarray:
    """(k, j, i) indices of mask voxels with at least one background face neighbour (or on the array edge)."""
    padded = np.pad(mask, 1, constant_values=False)
    interior = padded[1:-1, 1:-1, 1:-1].copy()
    for axis in range(3):
        for shift in (-1, 1):
            interior &= np.roll(padded, shift, axis=axis)[1:-1, 1:-1, 1:-1]
    return np.argwhere(mask & ~interior)


def build_index(masks: dict[str, np.ndarray], margins: dict[str, float], grid: Grid) -> BoundaryIndex:
    """:class:`BoundaryIndex` of ``masks`` (on ``grid``), chunked in cells of :data:`CHUNK_MM`."""
    names, points, keys, owners = [], [], [], []
    for name, mask in masks.items():
        first, last = mask_box(mask)
        lo = np.maximum(np.asarray(first) - 1, 0)
        sub = np.asarray(mask[lo[0] : last[0] + 1, lo[1] : last[1] + 1, lo[2] : last[2] + 1])
        kji = _boundary_voxels(sub) + lo
        lps = grid.index_to_lps(kji[:, ::-1].astype(float))
        names.append(name)
        points.append(lps)
        keys.append(np.floor(lps / CHUNK_MM).astype(np.int64))
        owners.append(np.full(len(lps), len(names) - 1))
    if not points:
        empty = np.zeros((0, 3))
        return BoundaryIndex(
            [], np.zeros(0), empty, np.zeros(1, dtype=np.int64), empty, np.zeros(0), np.zeros(0, dtype=np.int64)
        )
    pts, key, owner = np.concatenate(points), np.concatenate(keys), np.concatenate(owners)
    key = key - key.min(axis=0)
    span = key.max(axis=0) + 1
    flat = owner * int(np.prod(span)) + (key[:, 0] * span[1] + key[:, 1]) * span[2] + key[:, 2]
    order = np.argsort(flat, kind="stable")
    pts, flat, owner = pts[order], flat[order], owner[order]
    starts = np.flatnonzero(np.r_[True, flat[1:] != flat[:-1]])
    chunk_start = np.r_[starts, len(pts)].astype(np.int64)
    centre = np.add.reduceat(pts, starts, axis=0) / np.diff(chunk_start)[:, None]
    radius = np.maximum.reduceat(np.linalg.norm(pts - np.repeat(centre, np.diff(chunk_start), axis=0), axis=1), starts)
    return BoundaryIndex(names, np.array([margins[n] for n in names]), pts, chunk_start, centre, radius, owner[starts])


# --------------------------------------------------------------------------- prepare
def _organ_rule_applies(name: str, config: TrajectoryConfig) -> bool:
    """True when structure ``name`` has a minimum normal-tissue path rule (key equals or prefixes its name)."""
    key = normalise_name(name)
    return any(key == normalise_name(k) or key.startswith(normalise_name(k) + "_") for k in config.min_organ_path_mm)


def prepare(
    case: Case | tuple[Grid, MaskSet],
    rules: dict[str, StructureRule] | None,
    config: TrajectoryConfig,
    targets_lps: np.ndarray,
    target_organ: str | None = None,
    *,
    axial_limited: bool = False,
    include: tuple[tuple, tuple] | None = None,
) -> PreparedScene:
    """Prepare a case for planning the targets ``targets_lps`` ((3,) or (T, 3), LPS mm).

    ``case`` is a :class:`Case` or ``(grid, {name: mask})``. ``rules`` maps structure names to
    their rule (``hitit.anatomy.catalogue.rules_for_target``); None builds them from the built-in
    catalogue with ``target_organ`` allowed. Targets that share the rules (same host organ) share
    one prepared scene.

    ``axial_limited``: the crop spans along the patient's S-I axis only what paths within the
    configured angle to the axial plane reach (:func:`axial_reach_mm`): every point of such a path
    lies between its entry and its target, so within ``length x sin(limit)`` of the target's level,
    and every obstacle within its margin plus ``margin_slack_cap_mm`` of such a point is in the crop, which
    makes the verdict, clearances and score of such a path the full crop's. A path beyond the angle (refused by that
    rule anyway) is checked conservatively: outside the crop nothing is known to be clear. ``include``: an
    array-order box (the lesions) the crop also covers.
    """
    grid, masks = (case.grid, case.structures) if isinstance(case, Case) else case
    warnings: list[str] = []
    if rules is None:
        rules = rules_for_target(list(masks), target_organ, warnings)
    missing = sorted(set(masks) - set(rules))
    if missing:
        raise InputError(f"No planning rule for structures {missing}: build rules with rules_for_target.")
    timings: dict[str, float] = {}
    start = time.perf_counter()
    radius = config.needle_radius_mm
    hard = {n: r for n, r in rules.items() if r.kind == "hard" and n in masks}
    max_margin = max((r.margin_mm for r in hard.values()), default=0.0)
    reach = config.needle_length_mm + max_margin + radius + 2.0 * max(grid.spacing_mm)
    # clearances are reported (and scored) up to the cap beyond the margin: obstacles that far count
    margin_reach = max_margin + radius + config.margin_slack_cap_mm + 2.0 * max(grid.spacing_mm)
    wide_lo, wide_hi = _with_box(*reach_crop(grid, targets_lps, reach), include, margin_reach, grid)
    if axial_limited:
        half = np.minimum(axial_reach_mm(config, config.needle_length_mm, margin_reach), reach)  # in-plane: unlimited
        lo, hi = _with_box(*reach_crop(grid, targets_lps, half), include, margin_reach, grid)
    else:
        lo, hi = wide_lo, wide_hi
    cgrid = crop_grid_of(grid, lo, hi)
    present = _crops(masks, rules, lo, hi)
    # the exact check measures every hard structure within the needle's reach at any angle, so that its
    # per-structure clearances do not depend on the angle limit
    wide_grid = crop_grid_of(grid, wide_lo, wide_hi)
    wide = _crops(masks, rules, wide_lo, wide_hi) if axial_limited else present
    timings["crop"] = time.perf_counter() - start

    start = time.perf_counter()
    groups = []
    field_mm = np.full(cgrid.shape, np.inf, dtype=np.float32)
    for margin in sorted({r.margin_mm for n, r in hard.items() if n in present}):
        names = [n for n, r in hard.items() if n in present and r.margin_mm == margin]
        union = np.zeros(cgrid.shape, dtype=bool)
        for n in names:
            union |= present[n]
        # capped where clearances stop counting: min(D, constant) is still exact below the cap and
        # 1-Lipschitz, and the search then reads the same field whatever the crop's size
        distance = _capped_distance_mm(union, cgrid, margin + radius + config.margin_slack_cap_mm)
        groups.append(MarginGroup(margin, names, distance))
        np.minimum(field_mm, distance - np.float32(margin), out=field_mm)
    field_mm -= np.float32(radius)
    if not groups:
        field_mm[:] = np.float32(reach)  # no hard structure within reach: everything is clear
    timings["distance_maps"] = time.perf_counter() - start

    start = time.perf_counter()
    index = build_index({n: wide[n] for n in hard if n in wide}, {n: hard[n].margin_mm for n in hard}, wide_grid)
    timings["index"] = time.perf_counter() - start
    lung_names = [n for n, r in rules.items() if r.kind == "traversable" and n in present]
    lung = np.zeros(cgrid.shape, dtype=np.uint8)
    for number, n in enumerate(lung_names, start=1):
        lung[present[n] & (lung == 0)] = number
    organs = {
        n: present[n]
        for n, r in rules.items()
        if r.kind == "allowed" and n in present and _organ_rule_applies(n, config)
    }
    warnings += [f"Structure '{n}' is empty or outside the needle's reach; ignored." for n in masks if n not in wide]
    return PreparedScene(
        grid,
        cgrid,
        tuple(int(v) for v in lo),
        dict(rules),
        config,
        radius,
        config.tolerance_for(grid.min_spacing_mm),
        groups,
        field_mm,
        index,
        lung,
        lung_names,
        organs,
        timings,
        warnings,
    )
