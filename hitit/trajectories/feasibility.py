"""The feasibility rule of a straight needle path, written once.

The map over every skin entry (:func:`hitit.trajectories.planner.plan_target`, vectorised, with the
conservative clearance search) and the exact check of one path
(:func:`hitit.trajectories.check.check_path`) measure a path differently, but both turn the
measurements into refusals here: :func:`failed_rules` says which rules fail for each path,
:func:`refuse` records the first failed rule per entry of the map, :func:`violations` words every failed
rule of one path. Lengths mm, angles degrees.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from hitit.trajectories.config import TrajectoryConfig


class PathReason(IntEnum):
    """Why a path (or a skin entry of the map) is not feasible; the value is the map's ``reason`` array entry.

    The rules are evaluated in this order; an entry of the map carries the first one it fails.
    """

    FEASIBLE = 0
    NOT_CANDIDATE = 1
    BEYOND_NEEDLE = 2
    HARD_STRUCTURE = 3
    AXIAL_ANGLE = 4
    SKIN_ANGLE = 5
    ORGAN_PATH = 6
    LUNG_OUTSIDE_LUNG = 7

    @property
    def description(self) -> str:
        """The reason in words (the key of the plan's per-target entry counts)."""
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    PathReason.FEASIBLE: "feasible",
    PathReason.NOT_CANDIDATE: "not a candidate skin point",
    PathReason.BEYOND_NEEDLE: "beyond the needle length",
    PathReason.HARD_STRUCTURE: "hard structure within its margin",
    PathReason.AXIAL_ANGLE: "angle to the axial plane too large",
    PathReason.SKIN_ANGLE: "angle to the skin normal too large",
    PathReason.ORGAN_PATH: "too little normal organ tissue before the lesion",
    PathReason.LUNG_OUTSIDE_LUNG: "crosses aerated lung to a target outside it",
}


@dataclass(frozen=True)
class PathMeasurements:
    """What is known of N paths to one target; a field left None is not measured and its rule not evaluated.

    Attributes:
        length_mm: (N,) entry-to-target length.
        hard_clear: (N,) True where every hard structure keeps margin + needle radius - tolerance.
        axial_angle_deg: (N,) angle to the axial plane.
        skin_angle_deg: (N,) angle to the outward skin normal (NaN: no normal known, not limited).
        organ_path_mm: (N,) normal host-organ tissue crossed just before the lesion.
        organ_rule_mm: the minimum the host organ's rule asks for; host_organ: that organ (None: no rule).
        pleural_punctures: (N,) entries into aerated lung from outside it.
        target_in_lung: whether the target lies in aerated lung (then punctures are expected).
    """

    length_mm: np.ndarray | None = None
    hard_clear: np.ndarray | None = None
    axial_angle_deg: np.ndarray | None = None
    skin_angle_deg: np.ndarray | None = None
    organ_path_mm: np.ndarray | None = None
    organ_rule_mm: float = 0.0
    host_organ: str | None = None
    pleural_punctures: np.ndarray | None = None
    target_in_lung: bool | None = None


def failed_rules(cfg: TrajectoryConfig, m: PathMeasurements) -> dict[PathReason, np.ndarray]:
    """(N,) boolean per evaluated rule,
    True where the path fails it (rules whose measurements are missing are absent).
    """
    failed: dict[PathReason, np.ndarray] = {}
    if m.length_mm is not None:
        failed[PathReason.BEYOND_NEEDLE] = np.asarray(m.length_mm) > cfg.needle_length_mm
    if m.hard_clear is not None:
        failed[PathReason.HARD_STRUCTURE] = ~np.asarray(m.hard_clear, bool)
    if m.axial_angle_deg is not None:
        failed[PathReason.AXIAL_ANGLE] = np.asarray(m.axial_angle_deg) > cfg.axial_limit_deg
    if m.skin_angle_deg is not None:
        failed[PathReason.SKIN_ANGLE] = np.nan_to_num(np.asarray(m.skin_angle_deg, float)) > cfg.max_skin_angle_deg
    if m.organ_path_mm is not None and m.host_organ is not None:
        failed[PathReason.ORGAN_PATH] = np.asarray(m.organ_path_mm) < m.organ_rule_mm
    if m.pleural_punctures is not None and m.target_in_lung is not None:
        refused = cfg.avoid_lung_outside_lung and not m.target_in_lung
        failed[PathReason.LUNG_OUTSIDE_LUNG] = (np.asarray(m.pleural_punctures) > 0) & refused
    return failed


def refuse(reason: np.ndarray, failed: dict[PathReason, np.ndarray], where: np.ndarray | None = None) -> None:
    """Record in ``reason`` (the map's per-entry array, 0 = feasible so far) the first rule each entry fails.

    ``failed`` comes from :func:`failed_rules` on the entries ``where`` (indices into ``reason``; all when None).
    Entries already refused keep their earlier reason.
    """
    index = np.arange(len(reason)) if where is None else np.asarray(where)
    for rule in sorted(failed):
        hit = index[failed[rule] & (reason[index] == PathReason.FEASIBLE)]
        reason[hit] = rule


def violations(
    cfg: TrajectoryConfig, m: PathMeasurements, blockers: list[tuple[str, float, float]] = ()
) -> list[tuple[PathReason, str]]:
    """Every failed rule of one path (the measurements' first entry), each with a sentence giving its numbers.

    ``blockers``: (structure, clearance from the needle surface mm, margin mm) of each hard structure
    closer than its margin, first met from the skin first; they are worded first (what stands in the way),
    then the other rules in :class:`PathReason` order.
    """
    out = [
        (PathReason.HARD_STRUCTURE, f"{name}: {clearance:.1f} mm from the needle, margin {margin:g} mm")
        for name, clearance, margin in blockers
    ]
    failed = {rule: bool(np.atleast_1d(values)[0]) for rule, values in failed_rules(cfg, m).items()}
    if failed.get(PathReason.HARD_STRUCTURE) and not blockers:
        out.append((PathReason.HARD_STRUCTURE, PathReason.HARD_STRUCTURE.description))
    if failed.get(PathReason.BEYOND_NEEDLE):
        out.append(
            (
                PathReason.BEYOND_NEEDLE,
                f"length {_first(m.length_mm):.1f} mm exceeds the usable needle length {cfg.needle_length_mm:g} mm",
            )
        )
    if failed.get(PathReason.AXIAL_ANGLE):
        out.append(
            (
                PathReason.AXIAL_ANGLE,
                f"angle to the axial plane {_first(m.axial_angle_deg):.1f} deg exceeds {cfg.axial_limit_deg:g} deg",
            )
        )
    if failed.get(PathReason.SKIN_ANGLE):
        out.append(
            (
                PathReason.SKIN_ANGLE,
                f"angle to the skin normal {_first(m.skin_angle_deg):.1f} deg exceeds {cfg.max_skin_angle_deg:g} deg",
            )
        )
    if failed.get(PathReason.ORGAN_PATH):
        out.append(
            (
                PathReason.ORGAN_PATH,
                f"only {_first(m.organ_path_mm):.1f} mm of normal {m.host_organ} before the "
                f"lesion (rule {m.organ_rule_mm:g} mm)",
            )
        )
    if failed.get(PathReason.LUNG_OUTSIDE_LUNG):
        out.append((PathReason.LUNG_OUTSIDE_LUNG, "punctures the pleura to reach a target outside the lung"))
    return out


def _first(values) -> float:
    """The first entry of a per-path measurement (a scalar or an (N,) array) as a float."""
    return float(np.atleast_1d(values)[0])
