"""Deposit plan: where along the needle to inject, and how much of the lesion that covers.

Frame LPS mm, volumes mL. For a lesion mask on the CT grid and a needle path (skin entry -> target):

1. the needle is followed from the entry through the target up to where it leaves the lesion
   (the tip may be advanced past the target while it stays in the lesion; ``advance_past_target``);
2. usable stretches are those whose distance to the lesion boundary is at least ``margin_mm``
   (distances between voxel centres, from a distance map of the lesion);
3. the injectate is split into ``n = ceil(injectate / max_deposit_ml)`` equal deposits (at least one per
   path), placed evenly along the usable stretches (at the midpoints of n equal parts);
4. a lesion too large for one line, i.e. with voxels farther than ``radial_reach_mm`` from every
   needle line, gets fanned paths from the same skin entry, each tilted towards the lesion voxel
   farthest from every line so far by at most ``max_fan_angle_deg``, up to ``max_paths`` paths (T-VEC label
   technique: one insertion point, redirect along several tracks [V] Imlygic US prescribing information section 2);
5. coverage = fraction of lesion voxels within the volume-equivalent sphere of at least one deposit.

Deposits are reported as points and as the depth along the needle from the skin entry, the number
the radiologist reads off the needle's centimetre marks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import SimpleITK as sitk

from hitit.errors import InputError
from hitit.geometry import Grid
from hitit.masks import box_crop

#: The drug label whose injection technique the deposit defaults follow.
TVEC_LABEL = "Imlygic (talimogene laherparepvec) US prescribing information section 2"


@dataclass(frozen=True)
class DepositConfig:
    """Deposit-plan parameters (mm, mL, degrees), each with its source.

    Attributes:
        margin_mm: no deposit closer than this to the lesion boundary (limits leakage);
            [R]/[D] leakage rises near the lesion edge (Muñoz 2021, doi:10.1136/jitc-2020-001800).
        max_deposit_ml: largest single deposit; [D] several small infusions limit leakage and a
            0.5 mL graduated syringe is the label's example (PMC7295656; T-VEC label section 2).
        radial_reach_mm: lesion voxels farther than this from every needle line call for another
            (fanned) path; [R] "several tracks when larger than the needle's radial reach" (T-VEC label section 2).
        max_fan_angle_deg: largest tilt of a fanned path from the first path; [R] "a few degrees".
        max_paths: most needle paths from one entry (the first one included); [R].
        advance_past_target: allow deposits beyond the target while still in the lesion; [D].
    """

    margin_mm: float = 3.0
    max_deposit_ml: float = 0.5
    radial_reach_mm: float = 15.0
    max_fan_angle_deg: float = 15.0
    max_paths: int = 3
    advance_past_target: bool = True
    sources: dict = field(
        default_factory=lambda: {
            "margin_mm": "[R]/[D] off-target leakage near the lesion edge (Muñoz et al., J Immunother Cancer 2021, "
            "doi:10.1136/jitc-2020-001800)",
            "max_deposit_ml": f"[D] several small infusions limit leakage (PMC7295656); 0.5 mL syringe ({TVEC_LABEL})",
            "radial_reach_mm": f"[R] redirect when the lesion is larger than the needle's radial reach ({TVEC_LABEL})",
            "max_fan_angle_deg": "[R] fanning by a few degrees from one entry",
            "max_paths": "[R] practical number of redirections",
            "advance_past_target": "[D] planning choice",
        }
    )

    def to_dict(self) -> dict:
        """Every parameter and its source."""
        return {**{k: v for k, v in self.__dict__.items() if k != "sources"}, "sources": dict(self.sources)}


@dataclass
class Deposit:
    """One deposit: LPS point, depth along the needle from the skin entry (mm), volume (mL), margin (mm)."""

    point_lps: tuple[float, float, float]
    needle_depth_mm: float
    volume_ml: float
    distance_to_boundary_mm: float

    def to_dict(self) -> dict:
        """JSON-ready record."""
        return {
            "point_lps": [round(v, 2) for v in self.point_lps],
            "needle_depth_mm": round(self.needle_depth_mm, 1),
            "volume_ml": round(self.volume_ml, 4),
            "distance_to_boundary_mm": round(self.distance_to_boundary_mm, 2),
        }


@dataclass
class NeedlePath:
    """One needle line from the shared entry: unit direction (LPS), tilt from the first path, deposits."""

    entry_lps: tuple[float, float, float]
    direction_lps: tuple[float, float, float]
    tilt_deg: float
    deposits: list[Deposit]

    def to_dict(self) -> dict:
        """JSON-ready record."""
        return {
            "entry_lps": list(self.entry_lps),
            "direction_lps": [round(v, 5) for v in self.direction_lps],
            "tilt_deg": round(self.tilt_deg, 2),
            "deposits": [d.to_dict() for d in self.deposits],
        }


@dataclass
class DepositPlan:
    """All paths and deposits for one lesion, the coverage estimate, warnings and the parameters."""

    paths: list[NeedlePath]
    injectate_ml: float
    deposit_volume_ml: float
    deposit_radius_mm: float
    coverage_fraction: float
    warnings: list[str]
    config: DepositConfig

    @property
    def deposits(self) -> list[Deposit]:
        """Every deposit of every path."""
        return [d for p in self.paths for d in p.deposits]

    def to_dict(self) -> dict:
        """JSON-ready plan (points LPS mm); the injectate and the deposit settings are the plan's, stored once there."""
        return {
            "deposit_volume_ml": self.deposit_volume_ml,
            "deposit_radius_mm": round(self.deposit_radius_mm, 2),
            "coverage_fraction": round(self.coverage_fraction, 4),
            "paths": [p.to_dict() for p in self.paths],
            "warnings": list(self.warnings),
        }


class _LesionField:
    """The lesion's voxel centres (LPS) and an inside-distance map, sampled at LPS points."""

    def __init__(self, mask: np.ndarray, grid: Grid):
        # on the lesion's box widened by one voxel: an inside voxel's distance to the boundary depends on
        # the lesion's voxels and the background around them only
        self.grid = grid
        self.mask, lo = box_crop(mask, pad=1)
        self.lo = np.asarray(lo[::-1])  # (i, j, k) of the box's first voxel
        image = sitk.GetImageFromArray(self.mask.astype(np.uint8))
        image.SetSpacing(grid.spacing_mm)
        self.inside = sitk.GetArrayFromImage(
            sitk.SignedMaurerDistanceMap(image, insideIsPositive=True, squaredDistance=False, useImageSpacing=True)
        )
        k, j, i = np.nonzero(self.mask)
        self.points = grid.index_to_lps(np.stack([i, j, k], axis=1) + self.lo)

    def inside_distance(self, points_lps: np.ndarray) -> np.ndarray:
        """Distance (mm) to the lesion boundary at the nearest voxel; -1 outside the lesion or the image."""
        ijk = np.rint(self.grid.lps_to_index(points_lps)).astype(int) - self.lo
        ok = np.all((ijk >= 0) & (ijk < np.asarray(self.mask.shape[::-1])), axis=1)
        out = np.full(len(points_lps), -1.0)
        i, j, k = ijk[ok].T
        out[ok] = np.where(self.mask[k, j, i], self.inside[k, j, i], -1.0)
        return out


def _samples_along(
    field_: _LesionField, entry: np.ndarray, direction: np.ndarray, stop_mm: float, step_mm: float
) -> tuple[np.ndarray, np.ndarray]:
    """Depths (mm from entry) and inside distances sampled along a line from ``entry`` to ``stop_mm``."""
    t = np.arange(0.0, stop_mm + step_mm, step_mm)
    return t, field_.inside_distance(entry + t[:, None] * direction)


def _usable_depths(
    field_: _LesionField, entry, direction, stop_mm, config: DepositConfig, step_mm: float, warnings: list[str]
) -> np.ndarray:
    """Depths along one line where a deposit keeps ``margin_mm`` (or the deepest inside point, with a warning)."""
    t, d = _samples_along(field_, entry, direction, stop_mm, step_mm)
    inside = d >= 0
    if not inside.any():
        return np.empty(0)
    if config.advance_past_target:
        last = np.nonzero(inside)[0].max()
        t, d = t[: last + 1], d[: last + 1]
    usable = t[d >= config.margin_mm]
    if usable.size == 0:
        warnings.append(
            f"no point of a path is {config.margin_mm:g} mm inside the lesion: one deposit at the "
            f"deepest point ({d.max():.1f} mm from the boundary)"
        )
        usable = t[[int(np.argmax(d))]]
    return usable


def _line_distance(points: np.ndarray, entry: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Distance (mm) from points to the infinite line through ``entry`` along unit ``direction``."""
    rel = points - entry
    return np.linalg.norm(rel - (rel @ direction)[:, None] * direction, axis=1)


def _tilted(main: np.ndarray, towards: np.ndarray, max_deg: float) -> tuple[np.ndarray, float]:
    """Unit vector rotated from ``main`` towards ``towards`` by at most ``max_deg``; and the angle used."""
    towards = towards / np.linalg.norm(towards)
    angle = math.degrees(math.acos(float(np.clip(main @ towards, -1.0, 1.0))))
    if angle < 1e-6:
        return main, 0.0
    use = min(angle, max_deg)
    perp = towards - (main @ towards) * main
    perp /= np.linalg.norm(perp)
    rad = math.radians(use)
    return math.cos(rad) * main + math.sin(rad) * perp, use


def plan_deposits(
    mask: np.ndarray, grid: Grid, entry_lps, target_lps, injectate_ml: float, config: DepositConfig = DepositConfig()
) -> DepositPlan:
    """Plan deposits of ``injectate_ml`` mL for the lesion ``mask`` along the path ``entry_lps`` -> ``target_lps`` (LPS
    mm).
    """
    if injectate_ml <= 0:
        raise InputError(f"Injectate volume must be positive, got {injectate_ml} mL.")
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != grid.shape or not mask.any():
        raise InputError("The lesion mask must be non-empty and on the CT grid.")
    entry, target = np.asarray(entry_lps, float), np.asarray(target_lps, float)
    length = float(np.linalg.norm(target - entry))
    if length == 0:
        raise InputError("Entry and target are the same point: give a needle path.")
    field_ = _LesionField(mask, grid)
    main = (target - entry) / length
    lo, hi = grid.bounds_lps()
    stop = length + (float(np.linalg.norm(hi - lo)) if config.advance_past_target else 0.0)
    step = 0.5 * grid.min_spacing_mm
    warnings: list[str] = []
    directions, tilts = [main], [0.0]
    while len(directions) < config.max_paths:
        near = np.min([_line_distance(field_.points, entry, d) for d in directions], axis=0)
        if near.max() <= config.radial_reach_mm:
            break
        direction, tilt = _tilted(main, field_.points[int(np.argmax(near))] - entry, config.max_fan_angle_deg)
        if min(np.linalg.norm(direction - d) for d in directions) < 1e-6:
            break
        directions.append(direction)
        tilts.append(tilt)
    usable = [_usable_depths(field_, entry, d, stop, config, step, warnings) for d in directions]
    kept = [(d, a, u) for d, a, u in zip(directions, tilts, usable) if u.size]
    if not kept:
        raise InputError("The needle path does not pass through the lesion: check the entry and target points.")
    n_total = max(math.ceil(injectate_ml / config.max_deposit_ml - 1e-9), len(kept))
    lengths = np.array([max(u[-1] - u[0], step) for _, _, u in kept])
    counts = _split_counts(n_total, lengths)
    volume = injectate_ml / n_total
    paths = [
        NeedlePath(tuple(entry), tuple(d), a, _place(field_, entry, d, u, c, volume))
        for (d, a, u), c in zip(kept, counts)
    ]
    radius = (3.0 * volume * 1000.0 / (4.0 * math.pi)) ** (1.0 / 3.0)
    points = np.array([dep.point_lps for p in paths for dep in p.deposits])
    near = np.min(np.linalg.norm(field_.points[:, None, :] - points[None, :, :], axis=-1), axis=1)
    coverage = float(np.mean(near <= radius))
    return DepositPlan(paths, injectate_ml, volume, radius, coverage, warnings, config)


def _split_counts(n_total: int, lengths: np.ndarray) -> list[int]:
    """Deposits per path: at least one each, the rest proportional to usable length (largest remainder)."""
    extra = n_total - len(lengths)
    share = extra * lengths / lengths.sum()
    counts = np.floor(share).astype(int)
    order = np.argsort(-(share - counts))
    counts[order[: extra - counts.sum()]] += 1
    return [int(c) + 1 for c in counts]


def _place(field_: _LesionField, entry, direction, usable: np.ndarray, count: int, volume: float) -> list[Deposit]:
    """``count`` deposits at the midpoints of equal parts of the usable depths (sorted)."""
    quantiles = (np.arange(count) + 0.5) / count
    depths = usable[np.clip(np.round(quantiles * (len(usable) - 1)).astype(int), 0, len(usable) - 1)]
    points = entry + depths[:, None] * direction
    margins = field_.inside_distance(points)
    return [Deposit(tuple(float(v) for v in p), float(t), volume, float(m)) for p, t, m in zip(points, depths, margins)]
