"""Injectate volume per lesion under a protocol, and allocation under a per-visit cap.

Volumes in mL, diameters in mm. Allocation policy (documented decision):

- lesions are ranked by the protocol's priority at this visit: ``largest_first`` (by longest
  diameter, ties in input order), ``new_first_then_largest`` (lesions first seen at this visit
  first, each group largest first) or ``input_order``;
- in that order each lesion receives its **full** protocol volume while it fits under the per-visit
  cap; the first lesion that does not fit, and every lesion after it, is deferred to a later visit.
  Volumes are never split to fill the cap and a smaller lesion never jumps ahead of a higher-priority
  one (the T-VEC label: inject by priority and stop at 4 mL, [V] Imlygic US prescribing information section 2; e.g.
  lesions of 6, 3, 2, 1 and 0.4 cm at a first visit: only the 6 cm lesion, 4 mL, is injected).

The dose is volume x the protocol's concentration at this visit (T-VEC: 10^6 PFU/mL at visit 1,
10^8 PFU/mL after).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from hitit.dosing.protocols import Protocol
from hitit.errors import InputError

#: Volumes closer than this (mL) count as equal when comparing with the cap (float round-off).
_ML_TOLERANCE = 1e-9


@dataclass(frozen=True)
class LesionDoseInput:
    """A lesion as the dosing rules see it: id, longest diameter (mm), volume (mL, optional), new at this visit."""

    lesion_id: str
    longest_diameter_mm: float
    volume_ml: float | None = None
    new: bool = False


@dataclass(frozen=True)
class LesionAllocation:
    """One lesion's allocation: protocol volume (mL), what is given at this visit (mL), and why."""

    lesion_id: str
    longest_diameter_mm: float
    volume_ml: float | None
    new: bool
    priority_rank: int
    required_ml: float
    injectate_ml: float
    inject: bool
    reason: str
    dose: float | None = None

    def to_dict(self) -> dict:
        """JSON-ready record."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class NotInjectable:
    """The allocation of a lesion that cannot be injected: nothing, and why (the injectability reasons)."""

    lesion_id: str
    reason: str

    @property
    def inject(self) -> bool:
        """Never injected."""
        return False

    @property
    def injectate_ml(self) -> float:
        """Nothing (mL)."""
        return 0.0

    def to_dict(self) -> dict:
        """JSON-ready record (the same keys a lesion left out of the allocation always had)."""
        return {"inject": False, "injectate_ml": 0.0, "reason": self.reason}


@dataclass(frozen=True)
class Allocation:
    """The allocation of one visit: per-lesion results in input order, totals and the protocol used."""

    protocol: Protocol
    visit: int
    lesions: tuple[LesionAllocation, ...]
    concentration_per_ml: float | None
    dose_unit: str | None
    policy: str = field(
        default="full volume in priority order while it fits the cap; the first lesion that "
        "does not fit and all after it are deferred"
    )

    @property
    def total_injectate_ml(self) -> float:
        """Total volume injected at this visit in mL."""
        return float(sum(a.injectate_ml for a in self.lesions))

    @property
    def total_dose(self) -> float | None:
        """Total dose at this visit (dose units, e.g. PFU), None without a concentration."""
        return None if self.concentration_per_ml is None else self.total_injectate_ml * self.concentration_per_ml

    def to_dict(self) -> dict:
        """JSON-ready allocation with the protocol (name, version, every parameter)."""
        return {
            "protocol": self.protocol.to_dict(),
            "visit": self.visit,
            "policy": self.policy,
            "per_visit_cap_ml": self.protocol.per_visit_cap_ml,
            "concentration_per_ml": self.concentration_per_ml,
            "dose_unit": self.dose_unit,
            "lesions": [a.to_dict() for a in self.lesions],
            "total_injectate_ml": round(self.total_injectate_ml, 6),
            "total_dose": self.total_dose,
        }

    def summary_dict(self) -> dict:
        """The visit's totals and policy without what a plan stores elsewhere (the protocol with its cap,
        the visit in the settings, each lesion's share in its own record).
        """
        return {
            "policy": self.policy,
            "concentration_per_ml": self.concentration_per_ml,
            "dose_unit": self.dose_unit,
            "total_injectate_ml": round(self.total_injectate_ml, 6),
            "total_dose": self.total_dose,
        }


def _size_table_ml(p: dict, longest_diameter_mm: float, volume_ml: float | None) -> float:
    """The volume of the last table row whose lower bound the longest diameter exceeds (the first row from 0)."""
    rows = [row for row in p["table"] if longest_diameter_mm > row["above_mm"]] or p["table"][:1]
    return float(rows[-1]["volume_ml"])


def _fixed_ml(p: dict, longest_diameter_mm: float, volume_ml: float | None) -> float:
    """The same volume for every lesion."""
    return float(p["volume_ml"])


def _per_volume_ml(p: dict, longest_diameter_mm: float, volume_ml: float) -> float:
    """``ml_per_ml`` mL of injectate per mL of lesion."""
    return float(p["ml_per_ml"] * volume_ml)


def _fraction_ml(p: dict, longest_diameter_mm: float, volume_ml: float) -> float:
    """A fraction of the lesion volume, kept within ``min_ml`` and ``max_ml``."""
    volume = p["fraction"] * volume_ml
    return float(min(max(volume, p.get("min_ml", 0.0)), p.get("max_ml", math.inf)))


@dataclass(frozen=True)
class DoseKind:
    """How a protocol ``kind`` turns a lesion into mL: ``volume_ml(parameters, longest diameter mm, volume mL)``."""

    needs_lesion_volume: bool
    volume_ml: Callable[[dict, float, float | None], float]


#: The protocol kinds (``kind`` in a protocol file, see ``protocol.schema.json``) and their rules.
DOSE_KINDS: dict[str, DoseKind] = {
    "size_table": DoseKind(False, _size_table_ml),
    "fixed": DoseKind(False, _fixed_ml),
    "per_volume": DoseKind(True, _per_volume_ml),
    "fraction": DoseKind(True, _fraction_ml),
}


def injectate_ml(
    protocol: Protocol, longest_diameter_mm: float, volume_ml: float | None = None, lesion_id: str = "lesion"
) -> float:
    """Protocol volume (mL) for one lesion of this longest diameter (mm) and volume (mL)."""
    kind = DOSE_KINDS.get(protocol.kind)
    if kind is None:
        raise InputError(
            f"Protocol '{protocol.name}': unknown kind '{protocol.kind}'; known kinds: {', '.join(DOSE_KINDS)}."
        )
    if kind.needs_lesion_volume and volume_ml is None:
        raise InputError(f"Protocol '{protocol.name}' doses by lesion volume: give volume_ml for lesion '{lesion_id}'.")
    return kind.volume_ml(protocol.parameters, longest_diameter_mm, volume_ml)


def priority_order(lesions: list[LesionDoseInput], rule: str) -> list[int]:
    """Indices of ``lesions`` in injection priority under ``rule``."""
    indices = list(range(len(lesions)))
    if rule == "input_order":
        return indices
    if rule == "new_first_then_largest":
        return sorted(indices, key=lambda n: (not lesions[n].new, -lesions[n].longest_diameter_mm, n))
    return sorted(indices, key=lambda n: (-lesions[n].longest_diameter_mm, n))


def allocate(lesions: list[LesionDoseInput], protocol: Protocol, visit: int = 1) -> Allocation:
    """Allocate injectate at visit number ``visit`` (1 = first) under the protocol's per-visit cap."""
    if visit < 1:
        raise InputError(f"Visit number must be 1 or more, got {visit}.")
    ids = [lesion.lesion_id for lesion in lesions]
    if len(set(ids)) != len(ids):
        raise InputError(f"Lesion ids must be unique, got {ids}.")
    cap = protocol.per_visit_cap_ml
    remaining = math.inf if cap is None else float(cap)
    concentration = protocol.concentration_per_ml(visit)
    order = priority_order(lesions, protocol.priority(visit))
    results: dict[int, LesionAllocation] = {}
    blocked_by: str | None = None
    for rank, n in enumerate(order, start=1):
        lesion = lesions[n]
        required = injectate_ml(protocol, lesion.longest_diameter_mm, lesion.volume_ml, lesion.lesion_id)
        fits = blocked_by is None and required <= remaining + _ML_TOLERANCE
        if fits:
            remaining -= required
            reason = f"priority {rank}: {required:g} mL"
        elif blocked_by is None:
            blocked_by = lesion.lesion_id
            reason = (
                f"deferred: needs {required:g} mL but only {max(remaining, 0.0):g} mL remain of the "
                f"{cap:g} mL per-visit cap"
            )
        else:
            reason = f"deferred: after {blocked_by}, which did not fit the per-visit cap (strict priority order)"
        given = required if fits else 0.0
        results[n] = LesionAllocation(
            lesion.lesion_id,
            lesion.longest_diameter_mm,
            lesion.volume_ml,
            lesion.new,
            rank,
            required,
            given,
            fits,
            reason,
            None if concentration is None else given * concentration,
        )
    return Allocation(
        protocol,
        visit,
        tuple(results[n] for n in range(len(lesions))),
        concentration,
        protocol.parameters.get("dose_unit"),
    )
