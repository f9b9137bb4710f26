"""The exact check of one given needle path (its measurements are in :mod:`hitit.trajectories.metrics`).

Frames: every point and direction is LPS mm. A path runs from a skin ``entry`` to a ``target``;
``u`` is its unit direction (entry -> target).

The single-path check (:func:`check_path`) is exact with respect to the engine's definition of
distance (to the nearest mask voxel centre, :mod:`hitit.trajectories.distance`): per-structure
segment distances are computed against every boundary voxel centre that could matter, with no
sampling. It applies the same rule as the map: feasible iff every hard structure keeps
``distance >= margin + needle_radius - tolerance``, so the two agree except for paths within the
map's small conservative band (where the map refuses and the check may accept).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from hitit.trajectories.distance import PreparedScene
from hitit.trajectories import feasibility
from hitit.trajectories.metrics import (
    axial_angle_deg,
    crop_mask,
    lung_crossings,
    organ_path_before_lesion,
    skin_angle_deg,
    soft_cost,
    target_in_lung,
)


@dataclass
class PathCheck:
    """Verdict and metrics of one path (LPS mm, degrees).

    Attributes:
        entry_lps, target_lps: the path's ends (LPS mm).
        feasible: True when every constraint holds (hard clearance, needle length, angle limits,
            minimum organ path).
        length_mm: entry-to-target distance.
        min_clearance_mm: smallest distance from the needle surface to a hard structure
            (distance to its nearest voxel centre minus the needle radius).
        margin_slack_mm: smallest (clearance - margin) over hard structures; >= -tolerance when clear.
        clearance_by_structure_mm: needle-surface distance to every hard structure in reach.
        blocking: hard structures closer than their margin (minus tolerance), first met from the skin first.
        violations: human-readable reason of every failed constraint.
        axial_angle_deg, skin_angle_deg: angles to the axial plane and to the skin normal (NaN if unknown).
        pleural_punctures, fissure_crossings, aerated_lung_mm: lung crossing metrics.
        organ_path_mm, host_organ: normal host-organ tissue before the lesion, and that organ.
        score: exp(-cost) of the soft criteria (1 = ideal), see :class:`hitit.trajectories.config.ScoreWeights`.
    """

    entry_lps: list[float]
    target_lps: list[float]
    feasible: bool
    length_mm: float
    min_clearance_mm: float
    margin_slack_mm: float
    clearance_by_structure_mm: dict[str, float]
    blocking: list[str]
    violations: list[str]
    axial_angle_deg: float
    skin_angle_deg: float
    pleural_punctures: int = 0
    fissure_crossings: int = 0
    aerated_lung_mm: float = 0.0
    organ_path_mm: float | None = None
    host_organ: str | None = None
    score: float = 0.0

    def to_dict(self) -> dict:
        """JSON-ready record (rounded to 0.01 mm / 0.1 deg)."""
        out = asdict(self)
        for key in ("length_mm", "min_clearance_mm", "margin_slack_mm", "aerated_lung_mm", "score"):
            out[key] = _round(out[key], 4 if key == "score" else 2)
        for key in ("axial_angle_deg", "skin_angle_deg"):
            out[key] = _round(out[key], 1)
        out["organ_path_mm"] = _round(out["organ_path_mm"], 2)
        out["clearance_by_structure_mm"] = {k: _round(v, 2) for k, v in self.clearance_by_structure_mm.items()}
        return out


def _round(value, digits: int):
    """Round a float for JSON; None for NaN/None, a large sentinel stays a float."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None
    return round(float(value), digits)


def exact_clearance(scene: PreparedScene, entry: np.ndarray, target: np.ndarray) -> tuple[dict[str, float], list[str]]:
    """Exact distance (mm) from segment entry->target to each hard structure's voxel centres, and the blockers.

    Blockers are the structures closer than margin + radius - tolerance, ordered by where the
    needle first comes that close, from the skin. An end point inside a structure's mask gives
    that structure distance 0.
    """
    idx = scene.index
    reach = idx.margins_mm + scene.needle_radius_mm - scene.tolerance_mm
    dist, first = idx.segment_query(entry, target, reach)
    for t_end, point in ((0.0, entry), (float(np.linalg.norm(target - entry)), target)):
        for name in _structures_holding(scene, point):
            s = idx.names.index(name)
            dist[s], first[s] = 0.0, min(first[s], t_end)
    distances = {name: float(d) for name, d in zip(idx.names, dist)}
    blocking = [idx.names[s] for s in np.argsort(first, kind="stable") if np.isfinite(first[s])]
    return distances, blocking


def _structures_holding(scene: PreparedScene, point: np.ndarray) -> list[str]:
    """Hard structures whose mask holds the nearest voxel of ``point`` (via the group maps and the index)."""
    ijk = np.rint(scene.crop_grid.lps_to_index(point)).astype(int)
    if not scene.crop_grid.contains_index(ijk, 0.0):
        return []
    names = []
    for g in scene.groups:
        if g.distance_mm[ijk[2], ijk[1], ijk[0]] == 0.0:
            # the voxel is in the group's union: name the group member whose boundary is nearest to it
            pts = scene.index
            inside = [n for n in g.names if n in pts.names]
            d, _ = pts.segment_query(point, point, np.zeros(len(pts.names)))
            names.append(min(inside, key=lambda n: d[pts.names.index(n)]))
    return names


def check_path(
    scene: PreparedScene,
    entry_lps,
    target_lps,
    skin_normal_lps=None,
    lesion_mask: np.ndarray | None = None,
    *,
    lesion_extent_mm: float | None = None,
) -> PathCheck:
    """Check the straight path ``entry_lps -> target_lps`` (LPS mm): exact clearance, angles, lung, organ path.

    ``skin_normal_lps`` is the outward skin normal at the entry (else the skin angle is unknown and
    not limited). ``lesion_mask`` is the target lesion on the full CT grid (for the organ-path rule);
    ``lesion_extent_mm`` its :func:`~hitit.trajectories.metrics.lesion_extent` when the caller has it
    (saves scanning the mask).
    Takes a few milliseconds after :func:`hitit.trajectories.distance.prepare`. Returns a :class:`PathCheck`:
    feasibility, the violations in words, length and clearances (mm), angles (deg), lung crossings.

    Example, a 4 mm vessel tube along z at x = 15 mm (LPS) on a 1 x 1 x 2 mm grid:

    >>> import numpy as np
    >>> from hitit.anatomy.catalogue import rules_for_target
    >>> from hitit.geometry import Grid
    >>> from hitit.trajectories import TrajectoryConfig, check_path, prepare
    >>> grid = Grid((60, 60, 30), (1.0, 1.0, 2.0), (-30.0, -30.0, -30.0), np.eye(3).ravel())
    >>> k, j, i = np.indices(grid.shape)
    >>> aorta = (i - 45) ** 2 + (j - 30) ** 2 <= 4 ** 2
    >>> scene = prepare((grid, {"aorta": aorta}), rules_for_target(["aorta"]), TrajectoryConfig(), np.zeros(3))
    >>> through = check_path(scene, [25.0, 0.0, 0.0], [0.0, 0.0, 0.0])  # from the left, across the tube
    >>> through.feasible, through.blocking
    (False, ['aorta'])
    >>> beside = check_path(scene, [0.0, -25.0, 0.0], [0.0, 0.0, 0.0])  # from the front, 11 mm from its wall
    >>> beside.feasible, beside.length_mm, round(beside.clearance_by_structure_mm["aorta"])
    (True, 25.0, 10)
    """
    cfg = scene.config
    entry, target = np.asarray(entry_lps, float), np.asarray(target_lps, float)
    length = float(np.linalg.norm(target - entry))
    distances, blocking = exact_clearance(scene, entry, target)
    r = scene.needle_radius_mm
    clearance = {n: d - r for n, d in distances.items()}
    slack = min((d - m - r for d, m in zip(distances.values(), scene.index.margins_mm)), default=np.inf)
    axial = float(axial_angle_deg(entry[None], target)[0])
    skin = float(
        skin_angle_deg(
            entry[None], target, None if skin_normal_lps is None else np.asarray(skin_normal_lps, float)[None]
        )[0]
    )
    lung = lung_crossings(scene, entry[None], target)
    lesion = None if lesion_mask is None else crop_mask(scene, lesion_mask)
    organ_mm, host, rule = organ_path_before_lesion(scene, entry[None], target, lesion, lesion_extent_mm)
    measured = feasibility.PathMeasurements(
        length_mm=np.array([length]),
        hard_clear=np.array([not blocking]),
        axial_angle_deg=np.array([axial]),
        skin_angle_deg=np.array([skin]),
        organ_path_mm=organ_mm,
        organ_rule_mm=rule,
        host_organ=host,
        pleural_punctures=lung["pleural_punctures"],
        target_in_lung=target_in_lung(scene, target),
    )
    blockers = [(n, clearance[n], scene.rules[n].margin_mm) for n in blocking]
    violations = [text for _, text in feasibility.violations(cfg, measured, blockers)]
    cost = soft_cost(scene, length, slack, axial, skin, lung)[0]
    return PathCheck(
        entry.tolist(),
        target.tolist(),
        not violations,
        length,
        min(clearance.values(), default=np.inf),
        slack,
        clearance,
        blocking,
        violations,
        axial,
        skin,
        int(lung["pleural_punctures"][0]),
        int(lung["fissure_crossings"][0]),
        float(lung["aerated_lung_mm"][0]),
        None if host is None else float(organ_mm[0]),
        host,
        float(np.exp(-cost)),
    )
