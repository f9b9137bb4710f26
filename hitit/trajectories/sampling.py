"""Conservative clearance of many straight needle paths at once (vectorised numpy).

**What is decided.** For a path from skin entry ``e`` to target ``x`` (LPS mm) the needle axis is
the segment ``p(t) = e + t u``, ``0 <= t <= L``. The path is *hard-feasible* iff the clearance
field ``F(p) = min_g(D_g(p) - margin_g) - needle_radius >= -tolerance`` for every ``t``, where
``D_g(p)`` is the exact distance from ``p`` to the nearest voxel centre of the margin group ``g``
(see :mod:`hitit.trajectories.distance`). ``tolerance`` is at most half the smallest voxel spacing.

**Why a path called feasible is feasible (proof).** Every bound below is a *lower* bound of ``F``:

1. Nearest voxel: ``D_g`` is 1-Lipschitz (a distance to a set), so is ``F`` (a minimum of
   1-Lipschitz functions minus constants). For the voxel centre ``v`` nearest to ``p``, ``F(v)`` is
   exact (Maurer EDT) and ``F(p) >= F(v) - |p - v| =: B(p)``.
2. Trilinear bound (used at the finest level): ``D_g(p)^2 - |p|^2 = min_s(|s|^2 - 2 p.s)`` is a
   minimum of affine functions of ``p``, hence concave. With trilinear weights ``w_c >= 0``,
   ``sum w_c = 1`` and ``sum w_c v_c = p`` over the 8 surrounding voxel centres, concavity gives
   ``D_g(p)^2 >= sum_c w_c D_g(v_c)^2 - sum_c w_c |v_c - p|^2`` and the last sum equals
   ``sum_axes spacing_a^2 f_a (1 - f_a)`` (``f_a`` the fractional index). So
   ``T(p) = min_g(sqrt(max(that, 0)) - margin_g) - radius <= F(p)``. It is much tighter than
   ``B`` away from the surface (error about ``e^2 / (2 D)`` instead of ``e``).
3. Between two samples ``a`` and ``b`` a distance ``s`` apart, with lower bounds ``La <= F(a)``
   and ``Lb <= F(b)``, every point ``q`` of the segment satisfies
   ``F(q) >= max(La - |q - a|, Lb - |q - b|) >= (La + Lb - s) / 2`` (1-Lipschitz).
4. The search starts with samples every ``coarse_step_mm`` or less; an interval whose bound of
   (3) is ``>= -tolerance`` is *certified*. Others are split (up to 4 parts a level) until their
   length is ``<= fine_step_mm``; an interval still not certified there is a *violation*. A path
   is called feasible only when every interval covering ``[0, L]`` was certified, so by (3)
   ``F >= -tolerance`` everywhere on the needle axis, entry and tip included. ∎

Floating point: the fields are float32 (relative rounding 6e-8, i.e. < 1e-4 mm at 1 m); sums are
done in float64. The reverse error (a feasible path refused) is confined to paths whose true
minimum of ``F`` lies within about ``fine_step_mm / 2`` plus the trilinear error below
``-tolerance``; the tests measure it.

A sample where ``F(v) + |p - v| < -tolerance`` is a certain violation (upper bound); intervals
beyond the first certain violation of a path are dropped, since only the first obstacle met from
the skin matters for the verdict and the explanation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hitit.trajectories.distance import PreparedScene

#: Largest number of parts an interval is split into per refinement level [D]: 4 keeps the number of
#: levels small (each level costs numpy overhead) without evaluating many points far from obstacles.
SPLIT = 4


@dataclass
class PathClearance:
    """Clearance verdicts for N paths from entries to one target.

    Attributes:
        feasible: (N,) bool, hard-feasible (clearance >= margin - tolerance everywhere, proved).
        min_clearance_mm: (N,) smallest sampled lower bound of F (clearance beyond margin + radius),
            mm; accurate near the closest approach, where samples are dense.
        blocked_at_mm: (N,) distance from the entry (mm) of the first certain violation found (or of the
            first interval left uncertified at the finest step); inf if feasible. The first violation
            lies at most one sampling step before it (the exact blocker comes from ``check_path``).
        blocking_group: (N,) index of the margin group violated first (-1 if feasible).
        evaluated_points: number of field look-ups made (for benchmarks).
    """

    feasible: np.ndarray
    min_clearance_mm: np.ndarray
    blocked_at_mm: np.ndarray
    blocking_group: np.ndarray
    evaluated_points: int


def _continuous_index(scene: PreparedScene, points: np.ndarray) -> np.ndarray:
    """Continuous (i, j, k) indices of LPS points on the crop grid."""
    return scene.crop_grid.lps_to_index(points)


def nearest_bounds(scene: PreparedScene, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds (mm) of F at LPS points from the nearest voxel: F(v) -+ |p - v| (any v is valid)."""
    ijk = _continuous_index(scene, points)
    v = np.clip(np.rint(ijk), 0, np.asarray(scene.crop_grid.size) - 1).astype(np.intp)
    offset = np.linalg.norm((ijk - v) * np.asarray(scene.crop_grid.spacing_mm), axis=-1)
    value = scene.field_mm[v[..., 2], v[..., 1], v[..., 0]].astype(float)
    return value - offset, value + offset


def trilinear_bounds(scene: PreparedScene, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-point lower bound T(p) <= F(p) from the concavity of D^2 - |p|^2 (proof step 2), and the argmin group.

    Points whose 8 surrounding voxels are not all in the crop get -inf (the caller keeps its other bound).
    """
    ijk = _continuous_index(scene, points)
    size = np.asarray(scene.crop_grid.size)
    base = np.floor(ijk).astype(np.intp)
    inside = np.all((base >= 0) & (base < size - 1), axis=-1)
    base = np.clip(base, 0, size - 2)
    frac = np.clip(ijk - base, 0.0, 1.0)
    spacing = np.asarray(scene.crop_grid.spacing_mm)
    spread = (spacing ** 2 * frac * (1.0 - frac)).sum(axis=-1)
    best = np.full(len(points), np.inf)
    group = np.full(len(points), -1, dtype=np.intp)
    weights = [(1.0 - frac[:, a], frac[:, a]) for a in range(3)]
    i, j, k = base[:, 0], base[:, 1], base[:, 2]
    for number, g in enumerate(scene.groups):
        acc = np.zeros(len(points))
        for ci, cj, ck in np.ndindex(2, 2, 2):
            d = g.distance_mm[k + ck, j + cj, i + ci].astype(float)
            acc += weights[0][ci] * weights[1][cj] * weights[2][ck] * d * d
        slack = np.sqrt(np.maximum(acc - spread, 0.0)) - g.margin_mm - scene.needle_radius_mm
        better = slack < best
        best[better], group[better] = slack[better], number
    if not scene.groups:
        best[:] = np.inf
    best[~inside] = -np.inf
    return best, group


def trace_paths(scene: PreparedScene, entries: np.ndarray, target: np.ndarray,
                coarse_mm: float | None = None, fine_mm: float | None = None) -> PathClearance:
    """Certify the paths ``entries[n] -> target`` (LPS mm) against the clearance field; see the module proof."""
    cfg = scene.config
    coarse = cfg.coarse_step_mm if coarse_mm is None else coarse_mm
    fine = cfg.fine_step_mm if fine_mm is None else fine_mm
    tol = scene.tolerance_mm
    entries = np.atleast_2d(np.asarray(entries, dtype=float))
    target = np.asarray(target, dtype=float)
    n = len(entries)
    axis = target - entries
    length = np.linalg.norm(axis, axis=1)
    unit = axis / np.maximum(length, 1e-12)[:, None]
    parts = max(1, int(np.ceil(length.max(initial=0.0) / coarse)))
    t = length[:, None] * (np.arange(parts + 1) / parts)[None, :]
    lower, upper = nearest_bounds(scene, entries[:, None, :] + t[..., None] * unit[:, None, :])
    evaluated = lower.size
    min_clear = lower.min(axis=1)
    first_bad = np.where(upper < -tol, t, np.inf).min(axis=1)
    blocked = np.full(n, np.inf)
    group_at = np.full(n, -1, dtype=np.intp)
    # intervals: path id, start t (mm from entry), length, bounds at both ends
    pid = np.repeat(np.arange(n), parts)
    t0 = t[:, :-1].ravel()
    step = np.repeat(length / parts, parts)
    la, lb = lower[:, :-1].ravel(), lower[:, 1:].ravel()
    while len(pid):
        open_ = (la + lb - step) / 2.0 < -tol
        # a path with a certain violation is infeasible: refining it further cannot change the verdict
        open_ &= ~np.isfinite(first_bad[pid])
        pid, t0, step, la, lb = pid[open_], t0[open_], step[open_], la[open_], lb[open_]
        if not len(pid):
            break
        if step.max() <= fine:
            pts = entries[pid] + t0[:, None] * unit[pid]
            ends = pts + step[:, None] * unit[pid]
            ta, ga = trilinear_bounds(scene, pts)
            tb, _ = trilinear_bounds(scene, ends)
            evaluated += 2 * len(pid)
            la, lb = np.maximum(la, ta), np.maximum(lb, tb)
            np.minimum.at(min_clear, pid, np.minimum(la, lb))
            bad = (la + lb - step) / 2.0 < -tol
            order = np.lexsort((t0[bad], pid[bad]))
            bp, bt, bg = pid[bad][order], t0[bad][order], ga[bad][order]
            firsts = np.r_[True, bp[1:] != bp[:-1]] if len(bp) else np.zeros(0, dtype=bool)
            blocked[bp[firsts]] = np.minimum(blocked[bp[firsts]], bt[firsts])
            group_at[bp[firsts]] = bg[firsts]
            break
        k = np.clip(np.ceil(step / fine), 2, SPLIT).astype(np.intp)
        sub = np.repeat(step / k, k)
        rank = np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k)
        npid = np.repeat(pid, k)
        nt0 = np.repeat(t0, k) + rank * sub
        inner = rank > 0
        pts = entries[npid[inner]] + nt0[inner, None] * unit[npid[inner]]
        lo_in, up_in = nearest_bounds(scene, pts)
        evaluated += len(pts)
        starts = np.empty(len(npid))
        starts[~inner] = la
        starts[inner] = lo_in
        ends = np.r_[starts[1:], 0.0]
        last = np.r_[~inner[1:], True]
        ends[last] = lb
        np.minimum.at(min_clear, npid[inner], lo_in)
        certain = up_in < -tol
        np.minimum.at(first_bad, npid[inner][certain], nt0[inner][certain])
        pid, t0, step, la, lb = npid, nt0, sub, starts, ends
    # a certain violation found at coarse levels whose interval was later dropped still blocks
    blocked = np.minimum(blocked, first_bad)
    feasible = ~np.isfinite(blocked)
    if np.any(~feasible & (group_at < 0)):
        where = ~feasible & (group_at < 0)
        pts = entries[where] + np.minimum(blocked[where], length[where])[:, None] * unit[where]
        group_at[where] = trilinear_bounds(scene, pts)[1]
    return PathClearance(feasible, np.minimum(min_clear, scene.config.clearance_cap_mm), blocked, group_at, evaluated)
