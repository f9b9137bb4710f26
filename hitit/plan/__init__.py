"""Planning a case end to end and writing the plan folder (what ``hitit plan`` and HITITPlanner do)."""

from hitit.plan.pipeline import Cancelled, LesionPlan, Plan, plan_case
from hitit.plan.folder import write_plan
from hitit.plan.config import PlanConfig

__all__ = ["Cancelled", "LesionPlan", "Plan", "PlanConfig", "plan_case", "write_plan"]
