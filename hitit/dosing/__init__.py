"""Injectate volume per lesion under a protocol (shipped JSON data files), per-visit allocation, deposit plans."""

from hitit.dosing.protocols import Protocol, available_protocols, load_protocol
from hitit.dosing.allocate import Allocation, LesionAllocation, LesionDoseInput, allocate, injectate_ml
from hitit.dosing.deposits import DepositConfig, DepositPlan, plan_deposits

__all__ = [
    "Protocol",
    "available_protocols",
    "load_protocol",
    "Allocation",
    "LesionAllocation",
    "LesionDoseInput",
    "allocate",
    "injectate_ml",
    "DepositConfig",
    "DepositPlan",
    "plan_deposits",
]
