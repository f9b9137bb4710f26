"""Trajectory engine: safe straight needle paths from skin to target, proposed and checked.

Entry points for callers:

- :func:`prepare` (once per case and rule set) -> :class:`PreparedScene`;
- :func:`plan_target` (per target) -> :class:`TargetPlan` with ``trajectories``,
  ``accessibility_polydata()`` and ``to_dict()``;
- :func:`check_path` (one drawn path, a few ms) -> :class:`PathCheck`.

All settings live in :class:`TrajectoryConfig` (stored with each plan). Frames: LPS mm.
"""

from hitit.trajectories.check import PathCheck, check_path
from hitit.trajectories.config import GAUGE_OUTER_DIAMETER_MM, TrajectoryConfig, ScoreWeights, needle_radius_mm
from hitit.trajectories.distance import PreparedScene, prepare
from hitit.trajectories.feasibility import PathReason
from hitit.trajectories.planner import TargetPlan, plan_target

__all__ = [
    "GAUGE_OUTER_DIAMETER_MM",
    "PathCheck",
    "TrajectoryConfig",
    "PreparedScene",
    "PathReason",
    "ScoreWeights",
    "TargetPlan",
    "check_path",
    "needle_radius_mm",
    "plan_target",
    "prepare",
]
