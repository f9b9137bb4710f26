"""Planning a case end to end and writing the plan folder (what ``hitit plan`` and HITITPlanner do)."""

from hitit.plan.pipeline import Cancelled, LesionPlan, Plan, plan_case
from hitit.plan.folder import write_plan
from hitit.plan.config import PlanConfig
from hitit.plan.plan_file import PlanFile, load_plan

__all__ = ["Cancelled", "LesionPlan", "Plan", "PlanConfig", "PlanFile", "load_plan", "plan_case", "write_plan"]
