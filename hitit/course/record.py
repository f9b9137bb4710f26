"""The course record: one patient's lesions and one timeline of imaging time points and injection visits.

A course file (``course.json``, schema ``course.schema.json`` beside this module) holds

- ``lesions``: stable ids used by every plan, review and measurement of the course, each with its host
  organ, the time point it was first seen at and its itRECIST category history (T-I, T-NI, NT-I, NT-NI for
  baseline lesions, NL-I / NL-NI for new lesions; each entry says from which visit it holds, ``null`` =
  from the baseline);
- ``timeline``: imaging time points (``kind: imaging``: date, measurements per lesion in mm, qualitative
  status) and visits (``kind: visit``: date, agent, concentration, cap, plan and review folders, per lesion
  the planned path and volume, delivered volume, needle accuracy, technical success and samples, and the
  workflow checklist) in date order; the first entry is the baseline imaging.

Loading checks the schema, then the meaning; every error names the lesion, the visit or time point, and
the field. The categories follow itRECIST (Goldmacher et al., J Clin Oncol 2020, doi:10.1200/JCO.19.02985):
target / non-target status never changes, and a lesion can become injected but never goes back.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from hitit.errors import InputError
from hitit.io.atomic import write_text_atomic
from hitit.io.jsonfile import read_json

COURSE_FORMAT = "hitit-course"
COURSE_FORMAT_VERSION = 1
BASELINE_ID = "BL"
IMAGING, VISIT = "imaging", "visit"
BASELINE_CATEGORIES = ("T-I", "T-NI", "NT-I", "NT-NI")
NEW_CATEGORIES = ("NL-I", "NL-NI")


def is_injected_category(category: str) -> bool:
    """Whether an itRECIST category (T-I, NT-I, NL-I ...) is an injected one."""
    return category.endswith("-I")


def injected_category(category: str) -> str:
    """The injected counterpart of a category (T-NI -> T-I; an injected category is returned as is)."""
    return category if is_injected_category(category) else category[:-3] + "-I"


@dataclass
class CourseLesion:
    """A lesion with a stable id: host organ, first time point and itRECIST category history."""

    id: str
    organ: str
    nodal: bool
    first_seen: str
    category_history: list[dict]
    measurable: bool | None = None
    description: str = ""

    @property
    def is_new(self) -> bool:
        """A lesion first seen after the baseline."""
        return self.category_history[0]["category"] in NEW_CATEGORIES

    @property
    def is_target(self) -> bool:
        """A baseline target lesion (T-I or T-NI); the role never changes."""
        return self.category_history[0]["category"].startswith("T-")

    @property
    def injected_from_visit(self) -> int | None:
        """Number of the visit from which the lesion counts as injected (None = never; 0 = from the baseline)."""
        for entry in self.category_history:
            if is_injected_category(entry["category"]):
                return entry["from_visit"] or 0
        return None

    def category_at_visit(self, number: int) -> str:
        """The lesion's category at visit ``number`` (the last history entry in force then)."""
        category = self.category_history[0]["category"]
        for entry in self.category_history:
            if (entry["from_visit"] or 0) <= number:
                category = entry["category"]
        return category

    def to_dict(self) -> dict:
        """JSON-ready record, as in the course file."""
        out: dict[str, Any] = {
            "id": self.id,
            "organ": self.organ,
            "nodal": self.nodal,
            "first_seen": self.first_seen,
            "category_history": [dict(e) for e in self.category_history],
        }
        if self.measurable is not None:
            out["measurable"] = self.measurable
        if self.description:
            out["description"] = self.description
        return out


@dataclass
class Imaging:
    """An imaging time point: ``measurements`` lesion id -> {diameter_mm (RECIST diameter, mm, or too-small /
    absent), longest_diameter_mm, short_axis_mm, volume_ml}; ``status`` lesion id -> qualitative status.
    """

    id: str
    date: dt.date
    measurements: dict[str, dict] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)
    source: str = ""
    plan_folder: str = ""

    kind = IMAGING

    @property
    def label(self) -> str:
        """How error messages name this entry."""
        return f"time point {self.id}"

    def to_dict(self) -> dict:
        """JSON-ready record, as in the course file."""
        out: dict[str, Any] = {
            "kind": IMAGING,
            "id": self.id,
            "date": self.date.isoformat(),
            "measurements": self.measurements,
        }
        if self.status:
            out["status"] = self.status
        if self.source:
            out["source"] = self.source
        if self.plan_folder:
            out["plan_folder"] = self.plan_folder
        return out


@dataclass
class Visit:
    """An injection visit: agent, concentration (dose units per mL), cap (mL), the plan and review folders, per
    lesion what was planned and delivered (``lesions``: visit-lesion records as in the schema) and the
    workflow checklist (item id -> ticked).
    """

    number: int
    date: dt.date
    agent: str
    concentration_per_ml: float | None = None
    dose_unit: str | None = None
    per_visit_cap_ml: float | None = None
    plan_folder: str = ""
    review_folder: str = ""
    technical_success: bool | None = None
    lesions: list[dict] = field(default_factory=list)
    checklist: dict[str, bool] = field(default_factory=dict)

    kind = VISIT

    @property
    def label(self) -> str:
        """How error messages name this entry."""
        return f"visit {self.number}"

    def lesion(self, lesion_id: str) -> dict | None:
        """This visit's record of a lesion, None when the visit has none."""
        return next((item for item in self.lesions if item["lesion_id"] == lesion_id), None)

    def injected_ids(self) -> list[str]:
        """Lesions injected at this visit: delivered volume above zero, or (no delivery logged) planned above zero."""
        ids = []
        for item in self.lesions:
            delivered = item.get("delivered_ml")
            amount = delivered if delivered is not None else item.get("planned_volume_ml", 0.0)
            if amount and amount > 0:
                ids.append(item["lesion_id"])
        return ids

    def to_dict(self) -> dict:
        """JSON-ready record, as in the course file."""
        out: dict[str, Any] = {
            "kind": VISIT,
            "number": self.number,
            "date": self.date.isoformat(),
            "agent": self.agent,
            "concentration_per_ml": self.concentration_per_ml,
            "dose_unit": self.dose_unit,
            "per_visit_cap_ml": self.per_visit_cap_ml,
            "technical_success": self.technical_success,
            "lesions": self.lesions,
            "checklist": self.checklist,
        }
        if self.plan_folder:
            out["plan_folder"] = self.plan_folder
        if self.review_folder:
            out["review_folder"] = self.review_folder
        return out


@dataclass
class Course:
    """A patient's course: lesions and the timeline (imaging and visits, date order, baseline imaging first)."""

    patient: str
    protocol: str
    lesions: list[CourseLesion]
    timeline: list[Imaging | Visit]

    @property
    def imaging(self) -> list[Imaging]:
        """The imaging time points, in date order (the first is the baseline)."""
        return [entry for entry in self.timeline if isinstance(entry, Imaging)]

    @property
    def visits(self) -> list[Visit]:
        """The injection visits, in date order."""
        return [entry for entry in self.timeline if isinstance(entry, Visit)]

    @property
    def baseline(self) -> Imaging:
        """The baseline imaging time point."""
        return self.timeline[0]

    def lesion(self, lesion_id: str) -> CourseLesion:
        """The lesion with this id; an InputError listing the known ids otherwise."""
        for lesion in self.lesions:
            if lesion.id == lesion_id:
                return lesion
        raise InputError(
            f"lesion {lesion_id}: not in the course; known lesions: {', '.join(self.lesion_ids()) or 'none'}"
        )

    def lesion_ids(self) -> list[str]:
        """Every lesion id, in the course's order."""
        return [lesion.id for lesion in self.lesions]

    def imaging_by_id(self, timepoint_id: str) -> Imaging:
        """The imaging time point with this id (an InputError naming the known ones otherwise)."""
        for timepoint in self.imaging:
            if timepoint.id == timepoint_id:
                return timepoint
        raise InputError(
            f"time point {timepoint_id}: not in the course; known: {', '.join(t.id for t in self.imaging)}"
        )

    def visit(self, number: int) -> Visit | None:
        """Visit ``number``, None when the course has no such visit."""
        return next((v for v in self.visits if v.number == number), None)

    def add(self, entry: Imaging | Visit) -> None:
        """Insert an entry in date order (after entries of the same date)."""
        index = len(self.timeline)
        while index > 1 and self.timeline[index - 1].date > entry.date:
            index -= 1
        self.timeline.insert(index, entry)

    def to_dict(self) -> dict:
        """JSON-ready record, as in the course file."""
        return {
            "format": COURSE_FORMAT,
            "format_version": COURSE_FORMAT_VERSION,
            "patient": self.patient,
            "protocol": self.protocol,
            "lesions": [lesion.to_dict() for lesion in self.lesions],
            "timeline": [entry.to_dict() for entry in self.timeline],
        }


# --------------------------------------------------------------------------- reading and writing
@lru_cache(maxsize=1)
def course_schema() -> dict:
    """The JSON Schema of course files (shipped with the package)."""
    return json.loads(resources.files("hitit.course").joinpath("course.schema.json").read_text(encoding="utf-8"))


def load_course(path: str | Path) -> Course:
    """Read and validate a course file."""
    return course_from_dict(read_json(path, "course file"), source=str(path))


def is_course_document(data: Any) -> bool:
    """Whether decoded JSON claims to be a course file (its ``format``)."""
    return isinstance(data, dict) and data.get("format") == COURSE_FORMAT


def course_from_dict(data: Any, source: str = "course") -> Course:
    """Validate a decoded course document (schema, then meaning) and build the :class:`Course`."""
    _check_schema(data, source)
    lesions = [
        CourseLesion(
            item["id"],
            item["organ"],
            item["nodal"],
            item["first_seen"],
            [dict(e) for e in item["category_history"]],
            item.get("measurable"),
            item.get("description", ""),
        )
        for item in data["lesions"]
    ]
    timeline = [_entry(item, source) for item in data["timeline"]]
    course = Course(data["patient"], data["protocol"], lesions, timeline)
    check_course(course, source)
    return course


def save_course(course: Course, path: str | Path, new: bool = False) -> Path:
    """Validate and write ``course`` to ``path`` atomically.

    ``new``: the file must not exist yet (``hitit course new`` never overwrites). Otherwise the file there
    must be a course file (HITIT's own format), so a user's other file is never replaced.
    """
    path = Path(path)
    check_course(course, str(path))
    if path.exists():
        if new:
            raise InputError(
                f"{path} already exists: give another --out, or add to that course with 'hitit course add-visit'."
            )
        if not is_course_document(_json_or_none(path)):
            raise InputError(f"{path} is not a HITIT course file: it is left alone; write the course elsewhere.")
    return write_text_atomic(path, json.dumps(course.to_dict(), indent=1) + "\n")


def _json_or_none(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _entry(item: dict, source: str) -> Imaging | Visit:
    date = _date(
        item["date"], source, f"time point {item['id']}" if item["kind"] == IMAGING else f"visit {item['number']}"
    )
    if item["kind"] == IMAGING:
        return Imaging(
            item["id"],
            date,
            {k: dict(v) for k, v in item["measurements"].items()},
            dict(item.get("status", {})),
            item.get("source", ""),
            item.get("plan_folder", ""),
        )
    return Visit(
        item["number"],
        date,
        item["agent"],
        item.get("concentration_per_ml"),
        item.get("dose_unit"),
        item.get("per_visit_cap_ml"),
        item.get("plan_folder", ""),
        item.get("review_folder", ""),
        item.get("technical_success"),
        [dict(v) for v in item["lesions"]],
        dict(item["checklist"]),
    )


def _date(text: str, source: str, where: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{source}: {where}, field date: {text!r} is not a date (YYYY-MM-DD)") from None


def _check_schema(data: Any, source: str) -> None:
    """Raise an InputError naming the lesion / visit / time point and field of the first schema violation."""
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(course_schema()).iter_errors(data))
    if error is not None:
        raise InputError(f"{source}: {_location(data, list(error.absolute_path))}: {error.message}")


def _location(data: Any, path: list) -> str:
    """'lesion L1, field category_history' or 'visit 2, field lesions' style location of a schema error."""
    if len(path) >= 2 and path[0] in ("lesions", "timeline") and isinstance(data.get(path[0]), list):
        item = data[path[0]][path[1]]
        if not isinstance(item, dict):
            name = f"{path[0]} entry #{path[1] + 1}"
        elif path[0] == "lesions":
            name = f"lesion {item.get('id', f'#{path[1] + 1}')}"
        elif item.get("kind") == VISIT:
            name = f"visit {item.get('number', f'#{path[1] + 1}')}"
        else:
            name = f"time point {item.get('id', f'#{path[1] + 1}')}"
        rest = [str(p) for p in path[2:]]
        return name + (f", field {'/'.join(rest)}" if rest else "")
    return "field " + "/".join(str(p) for p in path) if path else "top level"


# --------------------------------------------------------------------------- meaning
def check_course(course: Course, source: str = "course") -> None:
    """Checks the schema cannot state; an InputError naming the lesion, visit or time point and the field."""
    _check_timeline(course, source)
    known_timepoints = {t.id: n for n, t in enumerate(course.imaging)}
    visit_numbers = {v.number for v in course.visits}
    seen: set[str] = set()
    for lesion in course.lesions:
        if lesion.id in seen:
            raise InputError(f"{source}: lesion {lesion.id}: id used twice; give each lesion its own id")
        seen.add(lesion.id)
        _check_lesion(course, lesion, known_timepoints, visit_numbers, source)
    for timepoint in course.imaging:
        _check_imaging(course, timepoint, known_timepoints, source)
    for visit in course.visits:
        _check_visit(course, visit, source)


def _check_timeline(course: Course, source: str) -> None:
    first = course.timeline[0]
    if not isinstance(first, Imaging):
        raise InputError(
            f"{source}: {first.label}, field date: the timeline starts with the baseline imaging; "
            "a visit cannot precede the baseline"
        )
    ids: set[str] = set()
    previous, previous_imaging = first, None
    for entry in course.timeline:
        if isinstance(entry, Visit) and entry.date < first.date:
            raise InputError(
                f"{source}: {entry.label}, field date: {entry.date} precedes the baseline imaging "
                f"{first.id} ({first.date}); a visit cannot precede the baseline"
            )
        if entry.date < previous.date:
            raise InputError(
                f"{source}: {entry.label}, field date: {entry.date} is before the entry listed before it "
                f"({previous.date}); list the timeline in date order"
            )
        if isinstance(entry, Imaging):
            if entry.id in ids:
                raise InputError(f"{source}: {entry.label}, field id: used twice; give each time point its own id")
            if previous_imaging is not None and entry.date <= previous_imaging.date:
                raise InputError(
                    f"{source}: {entry.label}, field date: {entry.date} is not after {previous_imaging.label} "
                    f"({previous_imaging.date}); imaging dates must increase"
                )
            ids.add(entry.id)
            previous_imaging = entry
        previous = entry
    numbers = [v.number for v in course.visits]
    if numbers != list(range(1, len(numbers) + 1)):
        raise InputError(
            f"{source}: visits, field number: visits are numbered 1, 2, 3 ... in date order, got {numbers}"
        )


def _check_lesion(
    course: Course, lesion: CourseLesion, timepoints: dict[str, int], visits: set[int], source: str
) -> None:
    where = f"{source}: lesion {lesion.id}"
    if lesion.first_seen not in timepoints:
        raise InputError(
            f"{where}, field first_seen: unknown time point {lesion.first_seen!r}; use one of {', '.join(timepoints)}"
        )
    new = timepoints[lesion.first_seen] > 0
    allowed = NEW_CATEGORIES if new else BASELINE_CATEGORIES
    history = lesion.category_history
    if history[0]["from_visit"] is not None and not new:
        raise InputError(
            f"{where}, field category_history/0/from_visit: a baseline lesion's first category holds "
            "from the baseline (null)"
        )
    last_visit = 0
    for index, entry in enumerate(history):
        field_name = f"category_history/{index}"
        if entry["category"] not in allowed:
            kind = "a new lesion (first seen after the baseline)" if new else "a baseline lesion"
            raise InputError(
                f"{where}, field {field_name}/category: {entry['category']} is not a category of {kind}; "
                f"use {' or '.join(allowed)}"
            )
        number = entry["from_visit"]
        if number is not None and number not in visits:
            raise InputError(f"{where}, field {field_name}/from_visit: no visit {number} in the course")
        if index and (number or 0) <= last_visit:
            raise InputError(
                f"{where}, field {field_name}/from_visit: visit {number} does not come after the "
                f"previous entry's; list category changes in visit order"
            )
        if index:
            _check_transition(where, field_name, history[index - 1]["category"], entry["category"], number)
        last_visit = number or 0


def _check_transition(where: str, field_name: str, before: str, after: str, number: int | None) -> None:
    """itRECIST: target / non-target never changes; a lesion becomes injected but never returns."""
    if before.split("-")[0] != after.split("-")[0]:
        raise InputError(
            f"{where}, field {field_name}/category, visit {number}: {before} -> {after} changes the "
            "target/non-target role, which never changes after the baseline (itRECIST)"
        )
    if is_injected_category(before) and not is_injected_category(after):
        raise InputError(
            f"{where}, field {field_name}/category, visit {number}: {before} -> {after}: a lesion "
            "cannot go back from injected to non-injected (itRECIST)"
        )
    if before == after:
        raise InputError(f"{where}, field {field_name}/category, visit {number}: repeats {before}; list changes only")


def _check_imaging(course: Course, timepoint: Imaging, timepoints: dict[str, int], source: str) -> None:
    index = timepoints[timepoint.id]
    for field_name, values in (("measurements", timepoint.measurements), ("status", timepoint.status)):
        for lesion_id in values:
            where = f"{source}: time point {timepoint.id}, field {field_name}/{lesion_id}"
            if lesion_id not in course.lesion_ids():
                raise InputError(
                    f"{where}: unknown lesion {lesion_id!r}; add it to the course's lesions "
                    f"(a new lesion: 'hitit course add-timepoint --new {lesion_id}=ORGAN')"
                )
            first = timepoints[course.lesion(lesion_id).first_seen]
            if index < first:
                raise InputError(
                    f"{where}: lesion {lesion_id} is first seen at {course.lesion(lesion_id).first_seen}, "
                    "after this time point"
                )


def _check_visit(course: Course, visit: Visit, source: str) -> None:
    seen: set[str] = set()
    for index, item in enumerate(visit.lesions):
        lesion_id = item["lesion_id"]
        where = f"{source}: {visit.label}, field lesions/{index}/lesion_id"
        if lesion_id not in course.lesion_ids():
            raise InputError(
                f"{where}: unknown lesion {lesion_id!r}; the course knows {', '.join(course.lesion_ids())}"
            )
        if lesion_id in seen:
            raise InputError(f"{where}: lesion {lesion_id} listed twice")
        seen.add(lesion_id)
        lesion = course.lesion(lesion_id)
        first = course.imaging_by_id(lesion.first_seen)
        if visit.date < first.date:
            raise InputError(
                f"{where}: lesion {lesion_id} is first seen at {first.id} ({first.date}), after this visit"
            )
    for lesion_id in visit.injected_ids():
        category = course.lesion(lesion_id).category_at_visit(visit.number)
        if not is_injected_category(category):
            raise InputError(
                f"{source}: lesion {lesion_id}, field category_history: injected at {visit.label} "
                f"but {category} there; add an injected category from visit {visit.number}"
            )
