"""How planned trajectories are shown as lines: the one name and colour of each path, for every writer and viewer.

``trajectories.mrk.json`` (:mod:`hitit.plan.folder`) and the Slicer Planner's line nodes
(``hitit_slicer.planner``) both come from :func:`trajectory_lines`, so a line has the same name and colour
in the file and in the scene. Names: ``<lesion>-T<rank>`` for a safe path, ``<lesion>-X<rank>`` for a
least-bad unsafe one (shown so the radiologist sees why there is no plan; never offered as one).
Colours (RGB 0-1): green when the margins are kept with room to spare, amber when the room beyond the
margins (``margin_slack_mm``) is under the plan's ``margin_slack_reference_mm`` (the slack above which no
score penalty applies), red when unsafe. Points are LPS mm.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

SAFE_COLOR = (0.15, 0.75, 0.25)
MARGINAL_COLOR = (0.95, 0.75, 0.10)
UNSAFE_COLOR = (0.90, 0.15, 0.15)


def trajectory_name(lesion_id: str, rank: int, feasible: bool = True) -> str:
    """Line name of a planned path: ``<lesion>-T<rank>`` when safe, ``<lesion>-X<rank>`` for a least-bad one."""
    return f"{lesion_id}-{'T' if feasible else 'X'}{int(rank)}"


def line_color(
    feasible: bool, margin_slack_mm: float | None, comfortable_slack_mm: float
) -> tuple[float, float, float]:
    """Red if unsafe, amber if the margins are kept by less than ``comfortable_slack_mm`` (mm), else green."""
    if not feasible or margin_slack_mm is None:
        return UNSAFE_COLOR
    return MARGINAL_COLOR if margin_slack_mm < comfortable_slack_mm else SAFE_COLOR


@dataclass(frozen=True)
class TrajectoryLine:
    """One planned path as a line: its name, lesion, rank, ends (LPS mm), colour, a one-line description,
    and its plan.json trajectory record.
    """

    name: str
    lesion_id: str
    rank: int
    feasible: bool
    entry_lps: tuple[float, float, float]
    target_lps: tuple[float, float, float]
    color: tuple[float, float, float]
    description: str
    record: Mapping


def trajectory_lines(plan: Mapping, lesion_id: str | None = None) -> list[TrajectoryLine]:
    """Every planned path of ``plan`` (plan.json content) as a line, safe paths then least-bad ones per lesion,
    in rank order; only ``lesion_id``'s when given.
    """
    comfortable = float(plan["config"]["planning"]["margin_slack_reference_mm"])
    lines = []
    for lesion in plan["lesions"]:
        if lesion_id is not None and lesion["id"] != lesion_id:
            continue
        for t in [*lesion["trajectories"], *lesion.get("least_bad", [])]:
            feasible = bool(t["feasible"])
            description = (
                f"{'safe' if feasible else 'UNSAFE'}; length {t['length_mm']:.1f} mm; "
                f"min clearance {_mm(t['min_clearance_mm'])}"
            )
            lines.append(
                TrajectoryLine(
                    trajectory_name(lesion["id"], t["rank"], feasible),
                    str(lesion["id"]),
                    int(t["rank"]),
                    feasible,
                    tuple(t["entry_lps"]),
                    tuple(t["target_lps"]),
                    line_color(feasible, t.get("margin_slack_mm"), comfortable),
                    description,
                    t,
                )
            )
    return lines


def _mm(value) -> str:
    return "none in reach" if value is None else f"{value:.1f} mm"
