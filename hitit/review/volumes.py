"""Delivered versus prescribed injectate volume, per lesion and per visit, and technical success.

Technical success of an injection is the delivery of the whole prescribed volume (Sheth et al.,
JAMA Netw Open 2020, MD Anderson series; the log items follow Marabelle et al., Ann Oncol 2018, PMC6290929). The
prescription is the plan's allocation (``injectate_ml`` of each lesion);
what was delivered comes from an injection log written during the procedure:

- JSON: ``{"visit": N, "injections": [{"lesion_id", "delivered_ml", "needle", "passes",
  "leakage_seen", "visit", "note"}]}`` or a bare list of such records;
- CSV with a header row naming the same columns (``lesion_id`` and ``delivered_ml`` required).

Several records for one lesion (several passes or syringes) add up. Volumes are mL.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hitit.errors import InputError
from hitit.io.jsonfile import read_json
from hitit.plan.plan_file import PlanFile

#: Volume (mL) by which the delivered volume may fall short of the prescription and still count as
#: the full prescribed volume: half a graduation step of the finely graduated 0.5-1 mL syringes
#: used for intratumoral injection (0.1 mL marks; Imlygic US prescribing information section 2). Technical success
#: itself
#: is "full prescribed volume delivered" (Sheth 2020) [D].
TECHNICAL_SUCCESS_TOLERANCE_ML = 0.05


@dataclass
class InjectionRecord:
    """One line of the injection log (volume in mL)."""

    lesion_id: str
    delivered_ml: float
    needle: str | None = None
    passes: int | None = None
    leakage_seen: bool | None = None
    visit: int | None = None
    note: str | None = None

    def to_dict(self) -> dict:
        """JSON-ready record."""
        return asdict(self)


@dataclass
class LesionVolume:
    """Prescribed and delivered volume of one lesion at one visit (mL)."""

    lesion_id: str
    prescribed_ml: float
    delivered_ml: float
    technical_success: bool | None
    in_plan: bool
    passes: int | None = None
    needles: list[str] = field(default_factory=list)
    leakage_seen: bool | None = None

    @property
    def shortfall_ml(self) -> float:
        """Prescribed minus delivered (mL); negative when more than prescribed was given."""
        return self.prescribed_ml - self.delivered_ml

    def to_dict(self) -> dict:
        """JSON-ready record (mL)."""
        return {
            **asdict(self),
            "shortfall_ml": round(self.shortfall_ml, 4),
            "delivered_fraction": round(self.delivered_ml / self.prescribed_ml, 4) if self.prescribed_ml > 0 else None,
        }


@dataclass
class VisitVolumes:
    """Per-lesion volumes of one visit and the visit totals (mL)."""

    visit: int | None
    lesions: list[LesionVolume]
    tolerance_ml: float = TECHNICAL_SUCCESS_TOLERANCE_ML

    @property
    def prescribed_total_ml(self) -> float:
        """Total planned injectate of the visit (mL)."""
        return float(sum(row.prescribed_ml for row in self.lesions))

    @property
    def delivered_total_ml(self) -> float:
        """Total delivered injectate of the visit (mL)."""
        return float(sum(row.delivered_ml for row in self.lesions))

    @property
    def technical_success(self) -> bool | None:
        """True when every planned lesion received its full volume; None when nothing was prescribed."""
        judged = [row.technical_success for row in self.lesions if row.technical_success is not None]
        return all(judged) if judged else None

    def to_dict(self) -> dict:
        """JSON-ready record with the tolerance and its source."""
        return {
            "visit": self.visit,
            "prescribed_total_ml": round(self.prescribed_total_ml, 4),
            "delivered_total_ml": round(self.delivered_total_ml, 4),
            "technical_success": self.technical_success,
            "tolerance_ml": self.tolerance_ml,
            "definition": "technical success = full prescribed volume delivered (delivered >= prescribed - tolerance); "
            "Sheth et al., JAMA Netw Open 2020",
            "lesions": [row.to_dict() for row in self.lesions],
        }


def _as_bool(value) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "y"):
        return True
    if text in ("0", "false", "no", "n"):
        return False
    raise InputError(f"Injection log: leakage_seen must be yes/no or true/false, not {value!r}.")


def _as_int(value) -> int | None:
    return None if value is None or value == "" else int(value)


def _record(item: dict, where: str) -> InjectionRecord:
    """One validated log record."""
    try:
        delivered = float(item["delivered_ml"])
        lesion_id = str(item["lesion_id"]).strip()
        record = InjectionRecord(
            lesion_id,
            delivered,
            item.get("needle") or None,
            _as_int(item.get("passes")),
            _as_bool(item.get("leakage_seen")),
            _as_int(item.get("visit")),
            item.get("note") or None,
        )
    except KeyError as missing:
        raise InputError(
            f"{where}: every injection needs {missing}; columns are lesion_id, delivered_ml, needle, "
            "passes, leakage_seen, visit, note."
        ) from None
    except (TypeError, ValueError):
        raise InputError(f"{where}: delivered_ml, passes and visit must be numbers (got {item}).") from None
    if delivered < 0 or not lesion_id:
        raise InputError(f"{where}: a record needs a lesion id and a delivered volume >= 0 mL (got {item}).")
    return record


def read_injection_log(path: str | Path) -> list[InjectionRecord]:
    """Read a JSON or CSV injection log (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Injection log not found: {path}.")
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            return [_record(row, f"{path} row {n + 2}") for n, row in enumerate(csv.DictReader(handle))]
    return injection_records(read_json(path, "injection log"), str(path))


def injection_records(document, where: str = "injection log") -> list[InjectionRecord]:
    """Records from an already-parsed JSON log (a list, or a dict with ``injections`` and an optional ``visit``)."""
    items = document.get("injections") if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise InputError(f'{where}: expected a list of injections or {{"injections": [...]}}.')
    default_visit = document.get("visit") if isinstance(document, dict) else None
    records = [_record(item, f"{where} injection {n + 1}") for n, item in enumerate(items)]
    for record in records:
        if record.visit is None and default_visit is not None:
            record.visit = int(default_visit)
    return records


def review_volumes(
    plan: PlanFile, records: list[InjectionRecord], tolerance_ml: float = TECHNICAL_SUCCESS_TOLERANCE_ML
) -> VisitVolumes:
    """Delivered vs prescribed per lesion for the plan's visit; log records of other visits are ignored.

    Lesions with nothing prescribed get ``technical_success`` None; lesions in the log but not in
    the plan are listed with ``in_plan`` False.
    """
    visit = plan.visit
    records = [r for r in records if r.visit is None or r.visit == visit]
    rows = []
    planned_ids = []
    for lesion in plan.lesions:
        planned_ids.append(lesion.id)
        rows.append(
            _lesion_row(
                lesion.id, lesion.injectate_ml, [r for r in records if r.lesion_id == lesion.id], True, tolerance_ml
            )
        )
    for lesion_id in dict.fromkeys(r.lesion_id for r in records if r.lesion_id not in planned_ids):
        rows.append(_lesion_row(lesion_id, 0.0, [r for r in records if r.lesion_id == lesion_id], False, tolerance_ml))
    return VisitVolumes(visit, rows, tolerance_ml)


def _lesion_row(
    lesion_id: str, prescribed: float, records: list[InjectionRecord], in_plan: bool, tolerance_ml: float
) -> LesionVolume:
    """Sum one lesion's records and judge technical success."""
    delivered = float(sum(r.delivered_ml for r in records))
    passes = [r.passes for r in records if r.passes is not None]
    leakage = [r.leakage_seen for r in records if r.leakage_seen is not None]
    success = bool(delivered >= prescribed - tolerance_ml) if prescribed > 0 else None
    return LesionVolume(
        lesion_id,
        prescribed,
        delivered,
        success,
        in_plan,
        sum(passes) if passes else None,
        sorted({r.needle for r in records if r.needle}),
        any(leakage) if leakage else None,
    )
