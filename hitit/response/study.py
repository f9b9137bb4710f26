"""The study model: one patient's lesions measured at successive time points.

A study file (JSON, schema in ``study.schema.json`` beside this module) lists time points (the
first is the baseline), baseline lesions with their role (target / non-target), and new lesions
that appear on study. Loading checks the structure with the schema, then the meaning (known time
point ids, increasing dates, finite diameters ...), and every error names the lesion, time point
and field to fix.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any
from collections.abc import Mapping

import jsonschema

from hitit.errors import InputError

#: A measurement as written in the study: mm, ``"too-small"`` or ``"absent"``.
Measurement = float | str

TOO_SMALL = "too-small"
ABSENT = "absent"
#: Value recorded for a lesion "too small to measure" (RECIST 1.1 practice: CDISC; EORTC RECIST Q&A).
TOO_SMALL_MM = 5.0
#: Value recorded for a lesion that has disappeared (RECIST 1.1 practice: CDISC; EORTC RECIST Q&A).
ABSENT_MM = 0.0

TARGET = "target"
NON_TARGET = "non-target"

STATUS_PRESENT = "present"
STATUS_ABSENT = "absent"
STATUS_UNEQUIVOCAL_PROGRESSION = "unequivocal-progression"
#: Any further increase after iUPD (iRECIST confirmation, Seymour 2017); RECIST 1.1 reads it as present.
STATUS_INCREASED = "increased"


def measurement_mm(value: Measurement | None) -> float | None:
    """The diameter a measurement contributes to a sum (mm); ``None`` when it was not measured.

    Source: CDISC; EORTC RECIST Q&A: "too small to measure" counts 5 mm,
    a lesion that has gone counts 0 mm.
    """
    if value is None:
        return None
    if value == TOO_SMALL:
        return TOO_SMALL_MM
    if value == ABSENT:
        return ABSENT_MM
    return float(value)


@dataclass(frozen=True)
class Timepoint:
    """One assessment (imaging time point)."""

    id: str
    date: dt.date

    def to_dict(self) -> dict:
        """As stored in a study file (JSON-ready)."""
        return {"id": self.id, "date": self.date.isoformat()}


@dataclass(frozen=True)
class Lesion:
    """A lesion present at baseline; its role never changes, it may become injected once."""

    id: str
    organ: str
    role: str
    nodal: bool = False
    injected_from: str | None = None
    measurements: Mapping[str, Measurement] = field(default_factory=dict)
    status: Mapping[str, str] = field(default_factory=dict)
    description: str = ""

    @property
    def is_target(self) -> bool:
        """True for a target lesion (its diameters enter the sum)."""
        return self.role == TARGET

    def diameter_mm(self, timepoint_id: str) -> float | None:
        """Diameter counted at a time point (mm), ``None`` when not measured there."""
        return measurement_mm(self.measurements.get(timepoint_id))

    def to_dict(self) -> dict:
        """As stored in a study file (JSON-ready)."""
        out: dict[str, Any] = {
            "id": self.id,
            "organ": self.organ,
            "nodal": self.nodal,
            "role": self.role,
            "injected_from": self.injected_from,
        }
        if self.description:
            out["description"] = self.description
        if self.measurements:
            out["measurements"] = dict(self.measurements)
        if self.status:
            out["status"] = dict(self.status)
        return out


@dataclass(frozen=True)
class NewLesion:
    """A lesion first seen after baseline (never injected: it did not exist when injections were chosen)."""

    id: str
    timepoint: str
    organ: str
    measurable: bool
    nodal: bool = False
    measurements: Mapping[str, Measurement] = field(default_factory=dict)
    status: Mapping[str, str] = field(default_factory=dict)
    description: str = ""

    def diameter_mm(self, timepoint_id: str) -> float | None:
        """Diameter counted at a time point (mm), ``None`` when not measured there."""
        return measurement_mm(self.measurements.get(timepoint_id))

    def is_absent(self, timepoint_id: str) -> bool:
        """True when the lesion is recorded as gone at the time point (0 mm or status absent)."""
        return self.diameter_mm(timepoint_id) == ABSENT_MM or self.status.get(timepoint_id) == STATUS_ABSENT

    def to_dict(self) -> dict:
        """As stored in a study file (JSON-ready)."""
        out: dict[str, Any] = {
            "id": self.id,
            "timepoint": self.timepoint,
            "organ": self.organ,
            "nodal": self.nodal,
            "measurable": self.measurable,
        }
        if self.description:
            out["description"] = self.description
        if self.measurements:
            out["measurements"] = dict(self.measurements)
        if self.status:
            out["status"] = dict(self.status)
        return out


@dataclass(frozen=True)
class Study:
    """A patient's time points, baseline lesions and new lesions."""

    timepoints: tuple[Timepoint, ...]
    lesions: tuple[Lesion, ...]
    new_lesions: tuple[NewLesion, ...] = ()
    patient: str = ""

    @property
    def baseline(self) -> Timepoint:
        """The first time point, the baseline."""
        return self.timepoints[0]

    @property
    def targets(self) -> tuple[Lesion, ...]:
        """The target lesions, in file order."""
        return tuple(lesion for lesion in self.lesions if lesion.is_target)

    @property
    def non_targets(self) -> tuple[Lesion, ...]:
        """The non-target lesions, in file order."""
        return tuple(lesion for lesion in self.lesions if not lesion.is_target)

    def index_of(self, timepoint_id: str) -> int:
        """Position of a time point (0 = baseline)."""
        for index, timepoint in enumerate(self.timepoints):
            if timepoint.id == timepoint_id:
                return index
        raise InputError(f"unknown time point id {timepoint_id!r}; known: {', '.join(t.id for t in self.timepoints)}")

    def is_injected(self, lesion: Lesion, index: int) -> bool:
        """Whether ``lesion`` is injected at time point ``index`` (injected from then on, never back)."""
        return lesion.injected_from is not None and self.index_of(lesion.injected_from) <= index

    def new_lesions_by(self, index: int) -> tuple[NewLesion, ...]:
        """New lesions that have appeared at or before time point ``index``."""
        return tuple(new for new in self.new_lesions if self.index_of(new.timepoint) <= index)

    def to_dict(self) -> dict:
        """As stored in a study file (JSON-ready)."""
        return {
            "patient": self.patient,
            "timepoints": [t.to_dict() for t in self.timepoints],
            "lesions": [lesion.to_dict() for lesion in self.lesions],
            "new_lesions": [new.to_dict() for new in self.new_lesions],
        }


@lru_cache(maxsize=1)
def study_schema() -> dict:
    """The JSON Schema of study files (shipped with the package)."""
    text = resources.files("hitit.response").joinpath("study.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def load_study(path: str | Path) -> Study:
    """Read and validate a study JSON file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not valid JSON (line {error.lineno}, column {error.colno}): {error.msg}") from error
    return study_from_dict(data, source=str(path))


def study_from_dict(data: Any, source: str = "study") -> Study:
    """Validate a decoded study document (schema, then meaning) and build the :class:`Study`."""
    _check_schema(data, source)
    timepoints = tuple(_parse_timepoint(item, source) for item in data["timepoints"])
    lesions = tuple(
        Lesion(
            id=item["id"],
            organ=item["organ"],
            role=item["role"],
            nodal=item.get("nodal", False),
            injected_from=item.get("injected_from"),
            measurements=dict(item.get("measurements", {})),
            status=dict(item.get("status", {})),
            description=item.get("description", ""),
        )
        for item in data["lesions"]
    )
    new_lesions = tuple(
        NewLesion(
            id=item["id"],
            timepoint=item["timepoint"],
            organ=item["organ"],
            measurable=item["measurable"],
            nodal=item.get("nodal", False),
            measurements=dict(item.get("measurements", {})),
            status=dict(item.get("status", {})),
            description=item.get("description", ""),
        )
        for item in data.get("new_lesions", [])
    )
    study = Study(timepoints=timepoints, lesions=lesions, new_lesions=new_lesions, patient=data.get("patient", ""))
    check_study(study, source)
    return study


def _check_schema(data: Any, source: str) -> None:
    """Raise an InputError naming the lesion and field of the first schema violation."""
    validator = jsonschema.Draft202012Validator(study_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is None:
        return
    where = _describe_location(data, list(error.absolute_path))
    raise InputError(f"{source}: {where}: {error.message}")


def _describe_location(data: Any, path: list) -> str:
    """'lesion L1, field measurements, time point W8' style location of a schema error."""
    if len(path) >= 2 and path[0] in ("lesions", "new_lesions", "timepoints"):
        item = data[path[0]][path[1]]
        kind = {"lesions": "lesion", "new_lesions": "new lesion", "timepoints": "time point"}[path[0]]
        name = item.get("id", f"#{path[1] + 1}") if isinstance(item, dict) else f"#{path[1] + 1}"
        parts = [f"{kind} {name}"]
        if len(path) >= 3:
            parts.append(f"field {path[2]}")
        if len(path) >= 4:
            parts.append(f"time point {path[3]}")
        return ", ".join(parts)
    return "/".join(str(p) for p in path) or "top level"


def _parse_timepoint(item: dict, source: str) -> Timepoint:
    try:
        date = dt.date.fromisoformat(item["date"])
    except ValueError as error:
        raise InputError(
            f"{source}: time point {item['id']}, field date: {item['date']!r} is not an ISO date (YYYY-MM-DD)"
        ) from error
    return Timepoint(id=item["id"], date=date)


def check_study(study: Study, source: str = "study") -> None:
    """Semantic checks the schema cannot express; raise InputError naming lesion, time point and field."""
    _check_timepoints(study, source)
    _check_unique_lesion_ids(study, source)
    known = {t.id for t in study.timepoints}
    for lesion in study.lesions:
        _check_lesion(study, lesion, known, source)
    for new in study.new_lesions:
        _check_new_lesion(study, new, known, source)


def _check_timepoints(study: Study, source: str) -> None:
    ids = [t.id for t in study.timepoints]
    for index, timepoint in enumerate(study.timepoints):
        if ids.count(timepoint.id) > 1:
            raise InputError(f"{source}: time point {timepoint.id}: id used twice; give each time point its own id")
        if index and timepoint.date <= study.timepoints[index - 1].date:
            raise InputError(
                f"{source}: time point {timepoint.id}, field date: {timepoint.date} is not after "
                f"{study.timepoints[index - 1].id} ({study.timepoints[index - 1].date}); list time points in "
                "increasing date order"
            )


def _check_unique_lesion_ids(study: Study, source: str) -> None:
    seen: set[str] = set()
    for lesion_id in [lesion.id for lesion in study.lesions] + [new.id for new in study.new_lesions]:
        if lesion_id in seen:
            raise InputError(f"{source}: lesion {lesion_id}: id used twice; give each lesion its own id")
        seen.add(lesion_id)


def _check_values(
    lesion_kind: str, lesion_id: str, values: Mapping[str, Any], field_name: str, known: set[str], source: str
) -> None:
    for timepoint_id, value in values.items():
        if timepoint_id not in known:
            raise InputError(
                f"{source}: {lesion_kind} {lesion_id}, field {field_name}: unknown time point {timepoint_id!r}; "
                f"use one of {', '.join(sorted(known))}"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(
                f"{source}: {lesion_kind} {lesion_id}, field {field_name}, time point {timepoint_id}: "
                f"{value} is not a finite diameter in mm"
            )


def _check_lesion(study: Study, lesion: Lesion, known: set[str], source: str) -> None:
    _check_values("lesion", lesion.id, lesion.measurements, "measurements", known, source)
    _check_values("lesion", lesion.id, lesion.status, "status", known, source)
    # The format has only injected_from, so "never back to non-injected" holds by construction;
    # what can still be wrong is a time point that does not exist.
    if lesion.injected_from is not None and lesion.injected_from not in known:
        raise InputError(
            f"{source}: lesion {lesion.id}, field injected_from: unknown time point {lesion.injected_from!r}; "
            f"use one of {', '.join(t.id for t in study.timepoints)} or null"
        )
    baseline = study.baseline.id
    if lesion.is_target and baseline not in lesion.measurements:
        raise InputError(
            f"{source}: lesion {lesion.id}, field measurements, time point {baseline}: "
            "a target lesion needs its baseline diameter"
        )
    if lesion.is_target and lesion.status:
        raise InputError(
            f"{source}: lesion {lesion.id}, field status: target lesions are measured; "
            "give diameters in measurements instead"
        )
    if not lesion.is_target and lesion.measurements:
        raise InputError(
            f"{source}: lesion {lesion.id}, field measurements: non-target lesions are assessed "
            "qualitatively; give status (present/absent/unequivocal-progression/increased) instead"
        )


def _check_new_lesion(study: Study, new: NewLesion, known: set[str], source: str) -> None:
    if new.timepoint not in known:
        raise InputError(f"{source}: new lesion {new.id}, field timepoint: unknown time point {new.timepoint!r}")
    appears = study.index_of(new.timepoint)
    if appears == 0:
        raise InputError(
            f"{source}: new lesion {new.id}, field timepoint: a lesion seen at baseline "
            f"({new.timepoint}) is not new; list it under lesions"
        )
    for field_name, values in (("measurements", new.measurements), ("status", new.status)):
        _check_values("new lesion", new.id, values, field_name, known, source)
        for timepoint_id in values:
            if study.index_of(timepoint_id) < appears:
                raise InputError(
                    f"{source}: new lesion {new.id}, field {field_name}, time point {timepoint_id}: "
                    f"before the lesion appears ({new.timepoint})"
                )
    if new.measurable and new.diameter_mm(new.timepoint) is None:
        raise InputError(
            f"{source}: new lesion {new.id}, field measurements, time point {new.timepoint}: "
            "a measurable new lesion needs its diameter when it appears (or set measurable to false)"
        )
