"""Turn a :class:`~hitit.plan.pipeline.Plan` into its folder (JSON, markups, VTK maps, CSV, report)."""

from __future__ import annotations

import io
from pathlib import Path

from hitit.case import Case
from hitit.plan.pipeline import Plan
from hitit.plan.report import build_report
from hitit.plan.folder import write_plan_folder


def write_plan(plan: Plan, case: Case, out_dir: str | Path) -> dict[str, Path]:
    """Write the plan folder for ``plan`` computed on ``case``; returns the written paths by kind."""
    plan_dict = plan.to_dict()
    polydata = {lesion.lesion_id: lesion.target.accessibility_polydata() for lesion in plan.lesions}
    pictures = {lesion.lesion_id: _png(lesion.target) for lesion in plan.lesions}
    return write_plan_folder(plan_dict, out_dir, polydata, build_report(plan_dict, case, pictures))


def _png(target) -> bytes:
    """The accessibility map picture of one target as PNG bytes."""
    buffer = io.BytesIO()
    target.render_png(buffer)
    return buffer.getvalue()
