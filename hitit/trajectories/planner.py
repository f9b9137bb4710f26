"""Per-target planning: every skin entry point judged, the best distinct trajectories, the accessibility map.

Frames: LPS mm throughout; angles in degrees. One call of :func:`plan_target` evaluates every
candidate skin point of a :class:`hitit.anatomy.body.SkinSurface` as the entry of a straight path
to the target, with the conservative clearance search of :mod:`hitit.trajectories.sampling`, then
re-checks each proposed trajectory exactly (:func:`hitit.trajectories.check.check_path`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from hitit.trajectories.check import PathCheck, check_path, exact_clearance
from hitit.trajectories.distance import PreparedScene
from hitit.trajectories.feasibility import PathMeasurements, PathReason, failed_rules, refuse
from hitit.trajectories.metrics import (
    axial_angle_deg,
    crop_mask,
    lesion_extent,
    lung_crossings,
    organ_path_before_lesion,
    skin_angle_deg,
    soft_cost,
    target_in_lung,
)
from hitit.trajectories.sampling import path_min_margin_slack, trace_paths

#: Entries whose blocking structure is named exactly in a no-safe-path result (spread over the blocked ones) [D].
EXPLAINED_ENTRIES = 200
#: Decimals of the lengths and clearances (mm) and of the score in the accessibility map's arrays [D]:
#: 0.1 mm is a fifth of the finest CT voxel; the score differs between ranked paths in the second decimal.
MAP_MM_DIGITS = 1
MAP_SCORE_DIGITS = 3
#: Sampling step (mm) of the path-wide margin slack that ranks blocked entries when there is no safe path [D].
PATHWIDE_STEP_MM = 1.0


@dataclass
class TargetPlan:
    """The result of planning one target.

    Attributes:
        target_id: lesion id or label.
        target_lps: the aimed point (LPS mm).
        status: ``ok`` (at least one feasible trajectory) or ``no_safe_path``.
        trajectories: the top-k distinct feasible trajectories, best first (exact checks).
        least_bad: when there is no safe path, the least-bad distinct paths with their violations.
        blocking_structures: ``{name: number of explained entries it blocks first}`` (no safe path or
            for information), from an exact check of up to :data:`EXPLAINED_ENTRIES` blocked entries.
        message: one sentence for the user.
        skin: the skin surface whose points are the entries; ``arrays`` holds per-point
            ``feasible`` (bool), ``margin_slack_mm`` (the margin slack: clearance beyond margin + needle
            radius, capped; a path's ``min_clearance_mm`` is its distance to the needle surface, margin not deducted),
            ``score`` (exp(-cost), 0 when infeasible), ``length_mm``, ``reason`` (the first failed rule,
            a :class:`~hitit.trajectories.feasibility.PathReason`), ``axial_angle_deg``, ``skin_angle_deg``,
            ``blocked_at_mm`` (from the skin), and per margin group (the hard structures sharing one margin, named by
            their categories, see
            ``margin_slack_groups``) ``margin_slack_<categories>_mm``: the minimum clearance to that group
            beyond its margin + needle radius (capped; ``margin_slack_mm`` is their minimum). Entries
            that are not evaluated (not candidates, beyond the needle) have -inf slacks.
        margin_slack_groups: array name -> ``{"margin_mm", "categories", "structures"}`` of each
            per-group margin slack array.
        counts: entries per reason; timings_s: seconds per step; config: settings used.
    """

    target_id: str
    target_lps: np.ndarray
    status: str
    trajectories: list[PathCheck]
    least_bad: list[PathCheck]
    blocking_structures: dict[str, int]
    message: str
    skin: object
    arrays: dict[str, np.ndarray]
    counts: dict[str, int]
    timings_s: dict[str, float] = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    margin_slack_groups: dict[str, dict] = field(default_factory=dict)

    def accessibility_polydata(self):
        """The skin mesh (vtkPolyData, LPS mm) with per-point arrays feasible, margin_slack_mm, score,
        length_mm, reason and the per-group ``margin_slack_<categories>_mm``.

        These arrays colour a map: lengths and slacks are rounded to :data:`MAP_MM_DIGITS` decimals
        and the score to :data:`MAP_SCORE_DIGITS` (a rounded map compresses to a fraction of its size); the
        exact values of a path are those of its check.
        """
        from vtkmodules.util import numpy_support

        poly = self.skin.to_polydata()
        for name in ("feasible", "margin_slack_mm", "score", "length_mm", "reason", *self.margin_slack_groups):
            values = self.arrays[name]
            # flags and reason codes are small integers: one byte each in the model file
            small = values.dtype == bool or np.issubdtype(values.dtype, np.integer)
            if small:
                values = values.astype(np.uint8)
            else:
                values = np.round(values, MAP_SCORE_DIGITS if name == "score" else MAP_MM_DIGITS).astype(np.float32)
            array = numpy_support.numpy_to_vtk(np.ascontiguousarray(values), deep=True)
            array.SetName(name)
            poly.GetPointData().AddArray(array)
        poly.GetPointData().SetActiveScalars("score")
        return poly

    def to_dict(self) -> dict:
        """JSON-ready result (no per-point arrays: see :meth:`accessibility_polydata`)."""

        def rows(checks: list[PathCheck]) -> list[dict]:
            return [{"rank": i + 1, **c.to_dict()} for i, c in enumerate(checks)]

        return {
            "id": self.target_id,
            "frame": "LPS",
            "target_lps": [float(v) for v in self.target_lps],
            "status": self.status,
            "message": self.message,
            "trajectories": rows(self.trajectories),
            "least_bad": rows(self.least_bad),
            "blocking_structures": self.blocking_structures,
            "entries": self.counts,
            "margin_slack_groups": self.margin_slack_groups,
            "timings_s": {k: round(v, 4) for k, v in self.timings_s.items()},
            "config": self.config,
        }


def _distinct(order: np.ndarray, points: np.ndarray, k: int, min_sep_mm: float) -> list[int]:
    """The first ``k`` indices of ``order`` whose points are at least ``min_sep_mm`` from every chosen one."""
    chosen: list[int] = []
    for i in order:
        if all(np.linalg.norm(points[i] - points[j]) >= min_sep_mm for j in chosen):
            chosen.append(int(i))
            if len(chosen) == k:
                break
    return chosen


def plan_target(
    scene: PreparedScene, target_lps, skin, target_id: str = "target", lesion_mask: np.ndarray | None = None
) -> TargetPlan:
    """Plan one target (LPS mm) over every candidate point of ``skin`` (a ``SkinSurface``).

    ``lesion_mask`` (full CT grid) enables the minimum normal-organ path rule up to the lesion
    edge; without it the path is counted up to the target point.
    """
    cfg = scene.config
    timings: dict[str, float] = {}
    start = time.perf_counter()
    target = np.asarray(target_lps, dtype=float)
    points = np.asarray(skin.points_lps, dtype=float)
    normals = getattr(skin, "normals_lps", None)
    n = len(points)
    length = np.sqrt(np.einsum("ij,ij->i", target - points, target - points))
    reason = np.where(np.asarray(skin.valid, bool), PathReason.FEASIBLE, PathReason.NOT_CANDIDATE)
    refuse(reason, failed_rules(cfg, PathMeasurements(length_mm=length)))
    reach = np.flatnonzero(reason == PathReason.FEASIBLE)
    clear = trace_paths(scene, points[reach], target)
    timings["clearance"] = time.perf_counter() - start

    start = time.perf_counter()
    axial = axial_angle_deg(points, target)
    skin_deg = skin_angle_deg(points, target, normals)
    slack = np.full(n, np.nan)
    slack[reach] = clear.min_margin_slack_mm
    blocked_at = np.full(n, np.inf)
    blocked_at[reach] = clear.blocked_at_mm
    refuse(reason, failed_rules(cfg, PathMeasurements(hard_clear=clear.feasible)), reach)
    refuse(reason, failed_rules(cfg, PathMeasurements(axial_angle_deg=axial, skin_angle_deg=skin_deg)))
    cand = np.flatnonzero(reason == PathReason.FEASIBLE)
    lesion = None if lesion_mask is None else crop_mask(scene, lesion_mask)
    extent = None if lesion is None else lesion_extent(scene, lesion)
    organ_mm, host, rule = organ_path_before_lesion(scene, points[cand], target, lesion, extent)
    refuse(
        reason, failed_rules(cfg, PathMeasurements(organ_path_mm=organ_mm, organ_rule_mm=rule, host_organ=host)), cand
    )
    cand = np.flatnonzero(reason == PathReason.FEASIBLE)
    lung = lung_crossings(scene, points[cand], target)
    in_lung = target_in_lung(scene, target)
    refuse(
        reason,
        failed_rules(cfg, PathMeasurements(pleural_punctures=lung["pleural_punctures"], target_in_lung=in_lung)),
        cand,
    )
    kept = reason[cand] == PathReason.FEASIBLE
    cand, lung = cand[kept], {k: v[kept] for k, v in lung.items()}
    score = np.zeros(n)
    score[cand] = np.exp(-soft_cost(scene, length[cand], slack[cand], axial[cand], skin_deg[cand], lung))
    feasible = reason == PathReason.FEASIBLE
    timings["metrics"] = time.perf_counter() - start

    start = time.perf_counter()
    order = cand[np.argsort(-score[cand], kind="stable")]
    trajectories = []
    for i in _distinct(order, points, cfg.top_k, cfg.min_entry_separation_mm):
        check = check_path(
            scene, points[i], target, None if normals is None else normals[i], lesion_mask, lesion_extent_mm=extent
        )
        if check.feasible:  # always, as the map is conservative; a refusal here is never proposed
            trajectories.append(check)
    arrays = {
        "feasible": feasible,
        "margin_slack_mm": np.nan_to_num(slack, nan=-np.inf),
        "score": score,
        "length_mm": length,
        "reason": reason,
        "axial_angle_deg": axial,
        "skin_angle_deg": skin_deg,
        "blocked_at_mm": blocked_at,
    }
    groups = margin_slack_group_names(scene)
    for g, name in enumerate(groups):
        values = np.full(n, -np.inf)
        values[reach] = clear.group_margin_slack_mm[g]
        arrays[name] = values
    counts = {r.description: int((reason == r).sum()) for r in PathReason}
    counts.update(total=n, feasible=int(feasible.sum()))
    blocking, least_bad = {}, []
    if not trajectories:
        # the map's margin slack of a blocked entry is the one at the violation found first from the skin; ranking
        # the blocked entries needs the worst violation along the whole path (sampled every PATHWIDE_STEP_MM)
        wide = slack.copy()
        blocked = np.flatnonzero(reason >= PathReason.HARD_STRUCTURE)
        wide[blocked] = path_min_margin_slack(scene, points[blocked], target, PATHWIDE_STEP_MM)
        blocking = _blocking_summary(scene, points, target, reason, wide)
        least_bad = _least_bad(scene, points, normals, target, reason, wide, length, axial, skin_deg, lesion_mask)
    timings["propose"] = time.perf_counter() - start
    status = "ok" if trajectories else "no_safe_path"
    message = (
        f"{len(trajectories)} distinct safe trajectories out of {counts['feasible']} feasible entries."
        if trajectories
        else _no_path_message(counts, blocking, cfg)
    )
    return TargetPlan(
        target_id,
        target,
        status,
        trajectories,
        least_bad,
        blocking,
        message,
        skin,
        arrays,
        counts,
        timings,
        cfg.to_dict(),
        groups,
    )


def margin_slack_group_names(scene: PreparedScene) -> dict[str, dict]:
    """Map array name -> description of each margin group of ``scene`` (its order).

    A group is named by the catalogue categories of its structures, e.g. ``margin_slack_bone+solid_organ_mm``;
    when two groups share their categories (a margin overridden for some structures), the margin is
    appended (``margin_slack_vessel_7mm_mm``).
    """
    labels = ["+".join(sorted({scene.rules[n].category for n in g.names})) for g in scene.groups]
    out: dict[str, dict] = {}
    for g, label in zip(scene.groups, labels):
        name = f"margin_slack_{label}_mm" if labels.count(label) == 1 else f"margin_slack_{label}_{g.margin_mm:g}mm_mm"
        out[name] = {"margin_mm": g.margin_mm, "categories": label.split("+"), "structures": list(g.names)}
    return out


def _blocking_summary(scene: PreparedScene, points, target, reason, slack) -> dict[str, int]:
    """First blocking structure (exact) of up to :data:`EXPLAINED_ENTRIES` blocked entries, counted per name."""
    blocked = np.flatnonzero(reason == PathReason.HARD_STRUCTURE)
    if len(blocked) > EXPLAINED_ENTRIES:
        # the least-blocked ones first (they tell what stands in the way of the best paths), then a spread
        by_slack = blocked[np.argsort(-slack[blocked], kind="stable")]
        half = EXPLAINED_ENTRIES // 2
        blocked = np.unique(np.r_[by_slack[:half], by_slack[half :: max(1, len(by_slack) // half)]])
    counts: dict[str, int] = {}
    for i in blocked:
        names = exact_clearance(scene, points[i], target)[1]
        if names:
            counts[names[0]] = counts.get(names[0], 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def _least_bad(scene, points, normals, target, reason, slack, length, axial, skin_deg, lesion_mask) -> list[PathCheck]:
    """The least-bad distinct paths within reach: smallest hard-margin deficit, then smallest angle excess."""
    cfg = scene.config
    past_reach = reason >= PathReason.HARD_STRUCTURE  # within the needle length, refused by a later rule
    reach = np.flatnonzero(past_reach) if np.any(past_reach) else np.flatnonzero(reason == PathReason.BEYOND_NEEDLE)
    if len(reach) == 0:
        return []
    deficit = np.maximum(-np.nan_to_num(slack[reach], nan=0.0) - scene.tolerance_mm, 0.0)
    excess = (
        np.maximum(axial[reach] - cfg.axial_limit_deg, 0.0)
        + np.maximum(np.nan_to_num(skin_deg[reach]) - cfg.max_skin_angle_deg, 0.0)
    ) / 10.0
    excess += np.maximum(length[reach] - cfg.needle_length_mm, 0.0) / 10.0
    order = reach[np.lexsort((length[reach], deficit + excess))]
    chosen = _distinct(order, points, cfg.least_bad_k, cfg.min_entry_separation_mm)
    return [check_path(scene, points[i], target, None if normals is None else normals[i], lesion_mask) for i in chosen]


def _no_path_message(counts: dict[str, int], blocking: dict[str, int], cfg) -> str:
    """Why there is no safe path, in one sentence."""
    if counts["total"] - counts[PathReason.NOT_CANDIDATE.description] == counts[PathReason.BEYOND_NEEDLE.description]:
        return f"No safe path: no candidate skin point lies within the {cfg.needle_length_mm:g} mm needle length."
    names = ", ".join(list(blocking)[:5]) or "none"
    parts = [
        f"{counts[r.description]} {r.description}"
        for r in PathReason
        if r >= PathReason.HARD_STRUCTURE and counts[r.description]
    ]
    return "No safe path: " + "; ".join(parts) + f". Blocking structures (first met from the skin): {names}."
