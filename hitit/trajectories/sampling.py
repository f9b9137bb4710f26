"""Conservative margin check of many straight needle paths to one target at once (vectorised numpy, float32).

**What is decided.** For a path from skin entry ``e`` to target ``x`` (LPS mm) the needle axis is
the segment ``p(t) = e + t u``, ``0 <= t <= L`` (``t`` in mm from the entry, ``|u| = 1``). The path
is *hard-feasible* iff the margin slack field ``F(p) = min_g C_g(p) >= -tolerance`` for every ``t``,
with ``C_g(p) = D_g(p) - margin_g - needle_radius`` (the room left beyond the margin; the clearance
proper is the distance from the needle surface, ``D_g(p) - needle_radius``) and ``D_g(p)`` the exact
distance from ``p`` to the nearest voxel centre of margin group ``g`` (see :mod:`hitit.trajectories.distance`).
``tolerance`` is at most half the smallest voxel spacing.

**Why a path called feasible is feasible (proof).** Every bound below is a *lower* bound (and
every upper bound an upper bound) of the true value at the true point:

1. Nearest voxel: ``D_g`` is 1-Lipschitz (a distance to a set), so are ``C_g`` and ``F`` (a minimum
   of 1-Lipschitz functions). For *any* voxel centre ``v`` of the crop (we take the nearest,
   clipped to the crop), ``D_g(v)`` is exact (Maurer EDT) and ``C_g(v) - |p - v| <= C_g(p) <=
   C_g(v) + |p - v|``. ``|p - v|`` is computed in index space scaled by the spacing times the
   largest singular value of the direction matrix (1 for an orthonormal one): never underestimated.
2. Trilinear bound: ``D_g(p)^2 - |p|^2 = min_s(|s|^2 - 2 p.s)`` (``s`` over the group's voxel
   centres) is a minimum of affine functions of ``p``, hence concave. With trilinear weights
   ``w_c >= 0``, ``sum w_c = 1`` and ``sum w_c v_c = p`` over the 8 surrounding voxel centres,
   concavity gives ``D_g(p)^2 >= sum_c w_c D_g(v_c)^2 - sum_c w_c |v_c - p|^2`` and the last sum
   equals ``sum_axes spacing_a^2 f_a (1 - f_a)`` (``f_a`` the fractional index). It is much tighter
   than (1) away from the surface (error about ``e^2 / (2 D)`` instead of ``e``).
3. Ball (sphere tracing): if ``l <= F(p(t))`` then, ``F`` being 1-Lipschitz and ``|p(t') - p(t)| = |t' - t|``,
   ``F(p(t')) >= l - |t' - t| >= -tolerance`` for every ``t'`` with ``|t' - t| <= l + tolerance``.
4. Interval, Lipschitz: between two samples ``a`` and ``b`` a distance ``s`` apart, with lower
   bounds ``La <= C_g(a)`` and ``Lb <= C_g(b)``, every point ``q`` of the segment satisfies
   ``C_g(q) >= max(La - |q - a|, Lb - |q - b|) >= (La + Lb - s) / 2``.
5. Interval, concavity: along the segment ``q(k) = (1 - k) a + k b``, ``0 <= k <= 1``, the concave
   function of (2) lies above its chord, and ``(1 - k)|a|^2 + k|b|^2 - |q(k)|^2 = k (1 - k) s^2``, so
   ``D_g(q(k))^2 >= (1 - k) A + k B - k (1 - k) s^2`` for any ``A <= D_g(a)^2``, ``B <= D_g(b)^2``
   (from the lower bounds of ``D_g`` at the ends, clipped at 0). The right side is a parabola in
   ``k``: its minimum over ``[0, 1]`` is ``A - c^2 / (4 s^2)`` with ``c = B - A - s^2`` when
   ``k* = -c / (2 s^2)`` lies in ``(0, 1)``, else ``min(A, B)``. Near an obstacle this is far
   tighter than (4): an interval of length ``s`` passing at distance ``D`` loses only about
   ``s^2 / (8 D)`` instead of ``s / 2``.
6. Search. *Phase 1* sphere-traces every path from its entry: at the certified front ``t`` it takes
   the bound ``l`` of (1) and, when ``l + tolerance >= MIN_STEP_MM``, moves the front to
   ``t + l + tolerance`` (by (3) the step is certified, so the certified part is always the prefix
   ``[0, t]``); the path is certified when the front passes ``L``. A front that cannot move on by
   ``MIN_STEP_MM`` passes close to an obstacle: points :data:`PROBES_MM` further are probed for a
   certain violation, then *phase 2*, the hierarchical interval search, certifies a window of
   :data:`WINDOW_MM` after the front (the whole remainder in the last round, or when few paths are
   left) and phase 1 resumes after it. Phase 2 samples every ``coarse_step_mm`` or less; an
   interval is certified when, for every group, the better of (4) and (5) is ``>= -tolerance``;
   others are split (up to :data:`SPLIT` parts a level); from :data:`TIGHT_MM` down, end bounds
   are the better of (1) and (2); an interval still uncertain at ``fine_step_mm`` is refused (a
   violation). A path is called feasible only when its prefix certified by balls and every interval
   covering the rest were certified, so ``F >= -tolerance`` everywhere on the needle axis, entry
   and tip included. ∎

Floating point: fields, positions and bounds are float32 (relative rounding 6e-8, i.e. < 1e-4 mm on
a crop of less than 1 m, sample positions included); :data:`EPS_MM` (1e-3 mm, ten times that) is
added to every nearest-voxel offset (so subtracted from lower and added to upper bounds), taken off
every trilinear and concavity bound and every ball step, and added to interval lengths in (5).
Consecutive float32 intervals may leave gaps of a few 1e-5 mm between them; every point of such a
gap is within that distance of a certified end point whose true ``F`` exceeds ``-tolerance`` by at
least ``EPS_MM`` minus the rounding, so it is covered too.

The reverse error (a feasible path refused) is confined to paths whose true minimum of ``F``
comes within the error of (2) at the ends of a ``fine_step_mm`` interval (at most about
``h^2 / (2 D)``, ``h`` the voxel half-diagonal: a tenth or two of a mm on a 0.8 x 0.8 x 1.5 mm grid)
plus that of (5) (``fine_step_mm^2 / (8 D)``, thousandths) of ``-tolerance``; the tests and
``hitit bench`` measure it.

A sample where the upper bound ``F(v) + |p - v| < -tolerance`` is a certain violation; a path is
not searched beyond it. Phase 1 meets obstacles from the skin inwards, so the violation recorded for
a blocked path is close to the first obstacle met from the skin.

Minimum margin slacks (``min_margin_slack_mm`` and per margin group ``group_margin_slack_mm``) are the
smallest lower bound (1)/(2) over the samples taken, the target included. Samples are dense where
the slack is small (a ball step is the slack itself plus the tolerance), so the value is
accurate near the closest approach (within about the voxel half-diagonal below and a fraction of the
distance to the structure above); for a blocked path it is the value at the violation found, not
over the whole path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hitit.trajectories.distance import PreparedScene

#: Largest number of parts an interval is split into per refinement level [D]: 4 keeps the number of
#: levels small (each level costs numpy overhead) without evaluating many points far from obstacles.
SPLIT = 4
#: Interval length (mm) from which interval ends get the trilinear bound (2) [D]: tight bounds certify
#: most short intervals without splitting them down to ``fine_step_mm`` (a speed knob only).
TIGHT_MM = 1.0
#: Allowance (mm) for float32 rounding of positions, offsets and field values (see the module proof) [D].
EPS_MM = 1e-3
#: Shortest phase-1 ball step (mm) [D]: a path whose certified step would be shorter passes close to an
#: obstacle and is handed to the interval search (a speed knob only; the proof holds for any value > 0).
MIN_STEP_MM = 0.5
#: Largest number of phase-1 steps per round [D]: paths still tracing then go to the interval search (speed knob).
MAX_STEPS = 32
#: Length (mm) of the stretch after a stuck front that one phase-2 round certifies before sphere tracing
#: resumes [D] (speed knob: short enough that a path entering an obstacle is decided where it meets it).
WINDOW_MM = 8.0
#: Distances (mm) after a stuck front probed for a certain violation before any refinement [D] (speed knob).
PROBES_MM = np.array([1.5, 3.0, 6.0], dtype=np.float32)
#: Number of paths still sphere-tracing below which their remainders go to one interval search [D] (speed knob).
TAIL_PATHS = 500
#: Phase-1/phase-2 rounds [D]; the last round's interval search takes each path's whole remainder.
MAX_ROUNDS = 4


@dataclass
class PathSlack:
    """Verdicts and margin slacks for N paths from entries to one target.

    Attributes:
        feasible: (N,) bool, hard-feasible (clearance >= margin - tolerance everywhere, proved).
        min_margin_slack_mm: (N,) smallest sampled lower bound of F (the margin slack: clearance beyond
            margin + radius), mm, capped at ``margin_slack_cap_mm``; accurate near the closest approach, where samples
            are dense; for an infeasible path, the value at the violation found.
        blocked_at_mm: (N,) distance from the entry (mm) of the violation found (a certain one, or the
            first interval left uncertified at the finest step); inf if feasible. Phase 1 meets
            obstacles from the skin, so it is near the first obstacle met (the exact blocker comes
            from ``check_path``).
        blocking_group: (N,) index of the margin group with the smallest margin slack at that point (-1 if feasible).
        evaluated_points: number of field look-ups made (for benchmarks).
        group_margin_slack_mm: (G, N) per margin group (``scene.groups`` order) the smallest sampled lower
            bound of ``D_g - margin_g - radius`` (mm, capped like ``min_margin_slack_mm``).
    """

    feasible: np.ndarray
    min_margin_slack_mm: np.ndarray
    blocked_at_mm: np.ndarray
    blocking_group: np.ndarray
    evaluated_points: int
    group_margin_slack_mm: np.ndarray | None = None


class FieldLookup:
    """Flat float32 views of a scene's group distance maps and its index geometry (cached on the scene)."""

    def __init__(self, scene: PreparedScene):
        grid = scene.crop_grid
        axes = grid.direction_matrix * np.asarray(grid.spacing_mm, float)  # columns: i, j, k steps in LPS mm
        self.origin = np.asarray(grid.origin_lps, float)
        self.to_index = np.linalg.inv(axes)
        # |D S d| <= sigma_max(D) |S d|: the offset in mm is never underestimated
        sigma = max(1.0, float(np.linalg.norm(grid.direction_matrix, 2)))
        self.scale = [np.float32(s * sigma * (1.0 + 1e-6)) for s in grid.spacing_mm]
        self.spacing = np.asarray(grid.spacing_mm, float) * sigma * (1.0 + 1e-6)
        self.size = tuple(int(v) for v in grid.size)
        self.top = [np.float32(v - 1) for v in self.size]
        ni, nj, nk = self.size
        self.itype = np.int32 if ni * nj * nk < 2**31 - 1 else np.int64
        self.stride_j, self.stride_k = self.itype(ni), self.itype(ni * nj)
        self.groups = len(scene.groups)
        if scene.groups:
            self.maps = [np.ascontiguousarray(g.distance_mm, dtype=np.float32).reshape(-1) for g in scene.groups]
            self.shift = [np.float32(g.margin_mm + scene.needle_radius_mm) for g in scene.groups]
        else:  # no hard structure within reach: the field is a constant slack
            self.maps = [np.ascontiguousarray(scene.field_mm, dtype=np.float32).reshape(-1)]
            self.shift = [np.float32(0.0)]

    @staticmethod
    def of(scene: PreparedScene) -> FieldLookup:
        """The scene's cached lookup (built on first use)."""
        look = getattr(scene, "_field_lookup", None)
        if look is None:
            look = FieldLookup(scene)
            scene._field_lookup = look
        return look

    def index(self, points_lps: np.ndarray) -> np.ndarray:
        """Continuous (i, j, k) indices (float64) of LPS points (..., 3), with the exact inverse of the grid matrix."""
        return (np.asarray(points_lps, float) - self.origin) @ self.to_index.T

    def nearest(self, i: np.ndarray, j: np.ndarray, k: np.ndarray):
        """Nearest-voxel values at float32 continuous indices:
        ``(F(v), offset + EPS_MM, [D_g(v) - margin_g - radius])``.
        """
        vi, vj, vk = np.rint(i), np.rint(j), np.rint(k)
        np.clip(vi, 0, self.top[0], out=vi)
        np.clip(vj, 0, self.top[1], out=vj)
        np.clip(vk, 0, self.top[2], out=vk)
        di, dj, dk = i - vi, j - vj, k - vk
        di *= self.scale[0]
        dj *= self.scale[1]
        dk *= self.scale[2]
        off = di * di
        off += dj * dj
        off += dk * dk
        np.sqrt(off, out=off)
        off += np.float32(EPS_MM)
        flat = vk.astype(self.itype)
        flat *= self.stride_k
        flat += vj.astype(self.itype) * self.stride_j
        flat += vi.astype(self.itype)
        values = []
        for m, s in zip(self.maps, self.shift):
            v = np.take(m, flat)
            v -= s
            values.append(v)
        field = values[0].copy() if len(values) > 1 else values[0]
        for v in values[1:]:
            np.minimum(field, v, out=field)
        return field, off, (values if self.groups else [])

    def trilinear(self, i: np.ndarray, j: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-group lower bounds (G, M) of ``D_g - margin_g - radius`` at float32 indices (proof steps 1 and 2).

        Each group gets the better of its nearest-voxel bound and its trilinear bound; the trilinear
        bound is computed only where the group can be the smallest one (its nearest lower bound is
        below another group's nearest upper bound), elsewhere it cannot change ``F``'s bound.
        Returns ``(bounds, inside)``; points whose 8 surrounding voxels are not all in the crop get -inf
        (the caller keeps its own nearest-voxel bound). Float32 throughout: the rounding (< 1e-4 mm) is covered by
        ``EPS_MM``.
        """
        eps = np.float32(EPS_MM)
        bases, fracs = [], []
        inside = np.ones(len(i), dtype=bool)
        for x, top in zip((i, j, k), self.top):
            b = np.floor(x)
            inside &= (b >= 0) & (b <= top - 1)
            np.clip(b, 0, top - 1, out=b)
            f = x - b
            np.clip(f, 0, 1, out=f)
            bases.append(b)
            fracs.append(f)
        flat = bases[2].astype(self.itype) * self.stride_k
        flat += bases[1].astype(self.itype) * self.stride_j
        flat += bases[0].astype(self.itype)
        one = np.float32(1.0)
        spread = np.zeros(len(i), dtype=np.float32)
        near_off = np.zeros(len(i), dtype=np.float32)
        near_idx = flat.copy()
        for f, s, stride in zip(fracs, self.scale, (self.itype(1), self.stride_j, self.stride_k)):
            spread += (s * s) * f * (one - f)
            up = f >= np.float32(0.5)
            d = np.where(up, one - f, f) * s
            near_off += d * d
            near_idx += up.astype(self.itype) * stride
        np.sqrt(near_off, out=near_off)
        near_off += eps
        out = np.empty((self.groups, len(i)), dtype=np.float32)
        if not self.groups:
            return out, inside
        near = [np.take(m, near_idx) - s for m, s in zip(self.maps, self.shift)]
        lows = [v - near_off for v in near]
        best_up = near[0] + near_off
        for v in near[1:]:
            np.minimum(best_up, v + near_off, out=best_up)
        wi = (one - fracs[0], fracs[0])
        wj = (one - fracs[1], fracs[1])
        wk = (one - fracs[2], fracs[2])
        for g, (m, s) in enumerate(zip(self.maps, self.shift)):
            out[g] = lows[g]
            need = np.flatnonzero(inside & (lows[g] < best_up))
            if not len(need):
                continue
            base = flat[need]
            acc = np.zeros(len(need), dtype=np.float32)
            for cj, ck in np.ndindex(2, 2):
                wjk = wj[cj][need] * wk[ck][need]
                row = base + (self.itype(ck) * self.stride_k + self.itype(cj) * self.stride_j)
                for ci in (0, 1):
                    d = np.take(m, row + self.itype(ci))
                    acc += (wjk * wi[ci][need]) * d * d
            acc -= spread[need]
            np.maximum(acc, 0, out=acc)
            tri = np.sqrt(acc) - s - eps
            out[g, need] = np.maximum(out[g, need], tri)
        # outside the crop's interior the clipped corners do not surround the point: no bound here
        out[:, ~inside] = -np.inf
        return out, inside


def path_min_margin_slack(
    scene: PreparedScene, entries: np.ndarray, target: np.ndarray, step_mm: float = 1.0, chunk: int = 4096
) -> np.ndarray:
    """Smallest nearest-voxel lower bound of F (mm) over samples at most ``step_mm`` apart along each whole path.

    Unlike :func:`trace_paths` it does not stop at the first violation, so it tells how deep the
    worst one is (used to rank blocked paths; no verdict is derived from it).
    """
    entries = np.atleast_2d(np.asarray(entries, dtype=float))
    target = np.asarray(target, dtype=float)
    out = np.full(len(entries), np.inf)
    look = FieldLookup.of(scene)
    if not len(entries):
        return out
    rays = _Rays(look, entries, target)
    count = int(np.ceil(rays.length.max() / step_mm)) + 1
    frac = np.linspace(0.0, 1.0, count, dtype=np.float32)
    for lo in range(0, len(entries), chunk):
        ids = np.arange(lo, min(lo + chunk, len(entries)))
        pid = np.repeat(ids, count)
        t = (rays.length32[ids][:, None] * frac[None, :]).ravel()
        field, off, _ = look.nearest(*rays.points(pid, t))
        out[ids] = (field - off).reshape(len(ids), count).min(axis=1)
    return out


class _Rays:
    """Float32 index-space geometry of N paths to one target: entry (ei, ej, ek), unit-mm direction (di, dj, dk),
    length.
    """

    def __init__(self, look: FieldLookup, entries: np.ndarray, target: np.ndarray):
        axis = target - entries
        self.length = np.sqrt(np.einsum("ij,ij->i", axis, axis))
        e = (entries - look.origin) @ look.to_index.T
        # index units per mm along the path: the index-space image of the unit vector entry -> target
        d = (axis @ look.to_index.T) / np.maximum(self.length, 1e-12)[:, None]
        e32, d32 = e.T.astype(np.float32), d.T.astype(np.float32)  # (3, N), each row contiguous
        self.e, self.d = list(e32), list(d32)
        self.length32 = self.length.astype(np.float32)

    def points(self, pid: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Float32 index coordinates of the points at ``t`` mm from the entries of paths ``pid``."""
        out = []
        for a in range(3):
            c = np.take(self.d[a], pid)
            c *= t
            c += np.take(self.e[a], pid)
            out.append(c)
        return tuple(out)


def trace_paths(
    scene: PreparedScene,
    entries: np.ndarray,
    target: np.ndarray,
    coarse_mm: float | None = None,
    fine_mm: float | None = None,
) -> PathSlack:
    """Certify the paths ``entries[n] -> target`` (LPS mm) against the margin slack field; see the module proof."""
    cfg = scene.config
    coarse = cfg.coarse_step_mm if coarse_mm is None else coarse_mm
    fine = cfg.fine_step_mm if fine_mm is None else fine_mm
    tol = np.float32(scene.tolerance_mm)
    entries = np.atleast_2d(np.asarray(entries, dtype=float))
    target = np.asarray(target, dtype=float)
    look = FieldLookup.of(scene)
    n = len(entries)
    groups = look.groups
    clear = np.full(n, np.inf, dtype=np.float32)
    gclear = np.full((groups, n), np.inf, dtype=np.float32)
    blocked = np.full(n, np.inf)
    if n == 0 or not groups:
        # no path, or no hard structure within reach (the field is a constant >= the reach): nothing blocks
        clear[:] = min(float(scene.field_mm.flat[0]), cfg.margin_slack_cap_mm) if groups == 0 else np.inf
        return PathSlack(
            np.ones(n, bool), clear.astype(float), blocked, np.full(n, -1, np.intp), 0, gclear.astype(float)
        )
    rays = _Rays(look, entries, target)
    # the target, common to every path, is sampled once (a closest approach is often at the tip)
    x = look.index(target[None, :])[0].astype(np.float32)
    field, off, values = look.nearest(*(np.full(1, v, dtype=np.float32) for v in x))
    clear[:] = (field - off)[0]
    for g in range(groups):
        gclear[g] = (values[g] - off)[0]
    evaluated = 1

    # phases 1 and 2 alternate: a path stuck in phase 1 has a window of WINDOW_MM after its front
    # certified by the interval search, then goes back to sphere tracing (the last round takes the
    # whole remainder), so paths that meet an obstacle are decided where they meet it
    act = np.arange(n)
    t = np.zeros(n, dtype=np.float32)
    length = rays.length32
    step_floor = np.float32(MIN_STEP_MM)
    for round_ in range(MAX_ROUNDS):
        # ---- phase 1: sphere tracing from the front (proof step 3)
        stuck_ids, stuck_t = [], []
        for _ in range(MAX_STEPS):
            if len(act) <= TAIL_PATHS:
                break  # a few paths left: the per-step numpy overhead is better spent in one interval search
            i, j, k = rays.points(act, t)
            field, off, values = look.nearest(i, j, k)
            evaluated += len(act)
            low = field - off
            clear[act] = np.minimum(clear[act], low)
            for g in range(groups):
                row = gclear[g]
                row[act] = np.minimum(row[act], values[g] - off)
            bad = field + off < -tol
            step = low + (tol - np.float32(EPS_MM))
            nxt = t + step
            done = (nxt >= length[act]) & ~bad
            stuck = (step < step_floor) & ~bad & ~done
            if bad.any():
                blocked[act[bad]] = t[bad]
            if stuck.any():
                stuck_ids.append(act[stuck])
                stuck_t.append(t[stuck])
            keep = ~(bad | done | stuck)
            act, t = act[keep], nxt[keep]
        rest, rest_t = act, t  # out of steps, or few left: their whole remainder goes to the interval search
        if not stuck_ids and not len(rest):
            break
        ids = np.concatenate(stuck_ids) if stuck_ids else np.zeros(0, dtype=np.intp)
        start = np.concatenate(stuck_t) if stuck_t else np.zeros(0, dtype=np.float32)
        # a front stuck at an obstacle usually enters it: a probe a little further that is certainly
        # violated (upper bound < -tolerance) decides the path without refinement
        probe_t = np.minimum(start[:, None] + PROBES_MM[None, :], length[ids][:, None]).ravel()
        probe_id = np.repeat(ids, len(PROBES_MM))
        field, off, values = look.nearest(*rays.points(probe_id, probe_t))
        evaluated += len(probe_id)
        shape = (len(ids), len(PROBES_MM))
        clear[ids] = np.minimum(clear[ids], (field - off).reshape(shape).min(axis=1))
        for g in range(groups):
            gclear[g, ids] = np.minimum(gclear[g, ids], (values[g] - off).reshape(shape).min(axis=1))
        hit = (field + off < -tol).reshape(shape)
        gone = hit.any(axis=1)
        if gone.any():
            where = hit[gone].argmax(axis=1)
            blocked[ids[gone]] = probe_t.reshape(len(ids), -1)[gone, where]
            ids, start = ids[~gone], start[~gone]
        # ---- phase 2: hierarchical interval search over a window after the front (proof step 4)
        end = length[ids]
        if round_ < MAX_ROUNDS - 1 and len(ids) + len(rest) > TAIL_PATHS:
            end = np.minimum(end, start + np.float32(WINDOW_MM))
        ids, start, end = np.r_[ids, rest], np.r_[start, rest_t], np.r_[end, length[rest]]
        if not len(ids):
            break
        evaluated += _interval_search(look, rays, ids, start, end, coarse, fine, tol, clear, gclear, blocked)
        again = ~np.isfinite(blocked[ids]) & (end < length[ids])
        act, t = ids[again], end[again]

    feasible = ~np.isfinite(blocked)
    group_at = np.full(n, -1, dtype=np.intp)
    where = np.flatnonzero(~feasible)
    if len(where) and groups:
        tb = np.minimum(blocked[where], rays.length[where]).astype(np.float32)
        _, _, values = look.nearest(*rays.points(where, tb))
        group_at[where] = np.argmin(np.stack(values), axis=0)
    cap = np.float32(cfg.margin_slack_cap_mm)
    return PathSlack(
        feasible,
        np.minimum(clear, cap).astype(float),
        blocked,
        group_at,
        evaluated,
        np.minimum(gclear, cap).astype(float),
    )


def _interval_search(
    look: FieldLookup,
    rays: _Rays,
    ids: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    coarse: float,
    fine: float,
    tol: np.float32,
    clear: np.ndarray,
    gclear: np.ndarray,
    blocked: np.ndarray,
) -> int:
    """Certify ``[start, end]`` (mm from the entry) of paths ``ids`` (distinct) by interval refinement.

    Slacks are updated and violations recorded in ``blocked`` in place; a path of ``ids`` left
    unblocked has its whole ``[start, end]`` certified. Intervals carry per-group lower bounds
    (``ca``, ``cb``, shape (G, M)) of ``D_g - margin_g - radius`` at their ends and are certified by
    :func:`_interval_bound` (proof steps 4 and 5); once an interval is no longer than
    :data:`TIGHT_MM` its end bounds are *tight* (the trilinear bound (2) was taken), and an interval
    still uncertain at ``fine_step_mm`` with tight ends is refused. Every array keeps each path's
    items adjacent and in order of ``t`` (built by ``np.repeat``, filtered by masks), which
    :func:`_min_into` relies on. Returns the number of field look-ups made.
    """
    fine32, tight_mm = np.float32(fine), np.float32(max(TIGHT_MM, fine))
    shift = np.array(look.shift, dtype=np.float32)
    seg = np.maximum(end - start, np.float32(0.0))
    parts = np.maximum(1, np.ceil(seg / np.float32(coarse)).astype(np.intp))
    step = (seg / parts).astype(np.float32)
    # every path's parts + 1 boundary samples, path after path
    count = parts + 1
    rank = (np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)).astype(np.float32)
    pid_pts = np.repeat(ids, count)
    t_pts = np.repeat(start, count) + rank * np.repeat(step, count)
    first_bad = np.full(len(blocked), np.inf)
    low = _evaluate(look, rays, pid_pts, t_pts, tol, clear, gclear, first_bad)
    evaluated = len(pid_pts)
    # intervals: the boundary samples minus each path's last one are the left ends
    left = np.ones(len(pid_pts), dtype=bool)
    left[np.cumsum(count) - 1] = False
    li = np.flatnonzero(left)
    pid, t0, ca, cb = pid_pts[li], t_pts[li], low[:, li], low[:, li + 1]
    step = np.repeat(step, parts)
    tight = np.zeros(len(pid), dtype=bool)

    def keep_only(mask):
        return pid[mask], t0[mask], step[mask], ca[:, mask], cb[:, mask], tight[mask]

    while len(pid):
        # a path with a violation is infeasible: refining it further cannot change the verdict
        open_ = (_interval_bound(ca, cb, step, shift, tol) < -tol) & ~(
            np.isfinite(first_bad[pid]) | np.isfinite(blocked[pid])
        )
        pid, t0, step, ca, cb, tight = keep_only(open_)
        if not len(pid):
            break
        # short intervals whose ends are not tight yet: take the trilinear bound at both ends
        loose = ~tight & (step <= tight_mm)
        if loose.any():
            lp, lt = pid[loose], t0[loose]
            ca[:, loose] = np.maximum(ca[:, loose], _trilinear(look, rays, lp, lt, clear, gclear))
            cb[:, loose] = np.maximum(cb[:, loose], _trilinear(look, rays, lp, lt + step[loose], clear, gclear))
            evaluated += 2 * len(lp)
            tight |= loose
            still = _interval_bound(ca, cb, step, shift, tol) < -tol
            pid, t0, step, ca, cb, tight = keep_only(still)
            if not len(pid):
                break
        # finest level: still uncertain with tight ends -> refused (first uncertain stretch from the skin)
        last = step <= fine32
        if last.any():
            np.minimum.at(blocked, pid[last], t0[last].astype(float))
            pid, t0, step, ca, cb, tight = keep_only(~last)
            if not len(pid):
                break
        k = np.clip(np.ceil(step / fine32), 2, SPLIT).astype(np.intp)
        parent_sub = (step / k).astype(np.float32)
        # children of a tight parent get the trilinear bound at their new points too (they stay tight);
        # the others get it lazily, when still uncertain (above)
        parent_tight = tight & (parent_sub <= tight_mm)
        sub = np.repeat(parent_sub, k)
        rank = (np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k)).astype(np.float32)
        npid = np.repeat(pid, k)
        nt0 = np.repeat(t0, k) + rank * sub
        inner = np.flatnonzero(rank > 0)
        ip, it = npid[inner], nt0[inner]
        lo_in = _evaluate(look, rays, ip, it, tol, clear, gclear, first_bad)
        evaluated += len(ip)
        tin = np.repeat(parent_tight, k)[inner]
        if tin.any():
            lo_in[:, tin] = np.maximum(lo_in[:, tin], _trilinear(look, rays, ip[tin], it[tin], clear, gclear))
            evaluated += int(tin.sum())
        starts = np.empty((len(shift), len(npid)), dtype=np.float32)
        outer = rank == 0
        starts[:, outer] = ca
        starts[:, inner] = lo_in
        ends = np.empty_like(starts)
        ends[:, :-1] = starts[:, 1:]
        ends[:, np.r_[outer[1:], True]] = cb
        pid, t0, step, ca, cb, tight = npid, nt0, sub, starts, ends, np.repeat(parent_tight, k)
    # a certain violation found whose interval was later dropped still blocks
    np.minimum(blocked, first_bad, out=blocked)
    return evaluated


def _interval_bound(ca: np.ndarray, cb: np.ndarray, step: np.ndarray, shift: np.ndarray, tol: np.float32) -> np.ndarray:
    """Lower bound of F on each interval from per-group lower bounds ``ca``, ``cb`` (G, M) of ``D_g - shift_g`` at its
    ends.

    Per group the better of the Lipschitz bound (proof step 4) and the concavity bound (step 5) on
    ``D_g``, then the minimum over groups; step 5 is only computed where step 4 alone does not reach
    ``-tol`` (the result is compared with ``-tol`` only). Step 5 takes the interval length plus
    ``EPS_MM`` and ``EPS_MM`` off the result; in float32 its rounding stays far below ``EPS_MM``
    wherever it can certify (``D`` near ``margin + radius``, terms below ``D^2 + s^2``).
    """
    lipschitz = (ca + cb - step) * np.float32(0.5)
    best = lipschitz.min(axis=0)
    # the concavity bound only where the Lipschitz one does not certify already
    need = np.flatnonzero(best < -tol)
    if not len(need):
        return best
    sh = shift.astype(np.float32)[:, None]
    da = np.maximum(ca[:, need] + sh, np.float32(0.0))
    db = np.maximum(cb[:, need] + sh, np.float32(0.0))
    s2 = step[need] + np.float32(EPS_MM)
    s2 *= s2
    a2, b2 = da * da, db * db
    c = b2 - a2 - s2
    lam = c / (np.float32(-2.0) * s2)
    # at an interior minimum |c| < 2 s^2, so the subtracted term is below s^2: float32 is accurate there
    low2 = np.where((lam > 0) & (lam < 1), a2 - c * c / (np.float32(4.0) * s2), np.minimum(a2, b2))
    concave = np.sqrt(np.maximum(low2, np.float32(0.0))) - sh - np.float32(EPS_MM)
    best[need] = np.maximum(lipschitz[:, need], concave).min(axis=0)
    return best


def _min_into(dest: np.ndarray, pid: np.ndarray, values: np.ndarray) -> None:
    """``dest[p] = min(dest[p], values of p)`` where each path's entries of ``pid`` are adjacent."""
    if not len(pid):
        return
    starts = np.flatnonzero(np.r_[True, pid[1:] != pid[:-1]])
    p = pid[starts]
    dest[p] = np.minimum(dest[p], np.minimum.reduceat(values, starts))


def _evaluate(
    look: FieldLookup,
    rays: _Rays,
    pid: np.ndarray,
    t: np.ndarray,
    tol: np.float32,
    clear: np.ndarray,
    gclear: np.ndarray,
    first_bad: np.ndarray,
) -> np.ndarray:
    """Per-group nearest-voxel lower bounds (G, M) of ``D_g - margin_g - radius`` at ``t`` on paths ``pid`` (adjacent
    per path).

    Slacks are updated, and ``first_bad`` gets the smallest ``t`` of a certain violation
    (upper bound of F ``< -tolerance``) per path.
    """
    field, off, values = look.nearest(*rays.points(pid, t))
    low = np.stack(values)
    low -= off
    _min_into(clear, pid, field - off)
    for g in range(look.groups):
        _min_into(gclear[g], pid, low[g])
    bad = field + off < -tol
    if bad.any():
        np.minimum.at(first_bad, pid[bad], t[bad].astype(float))
    return low


def _trilinear(
    look: FieldLookup, rays: _Rays, pid: np.ndarray, t: np.ndarray, clear: np.ndarray, gclear: np.ndarray
) -> np.ndarray:
    """Per-group trilinear lower bounds (G, M) of ``D_g - margin_g - radius`` at ``t`` on paths ``pid`` (-inf outside
    the crop's interior). ``pid`` keeps each path's items adjacent; the path slacks are updated with the bounds.
    """
    per_group, inside = look.trilinear(*rays.points(pid, t))
    for g in range(look.groups):
        _min_into(gclear[g], pid[inside], per_group[g][inside])
    _min_into(clear, pid[inside], per_group.min(axis=0)[inside])
    return per_group
