"""What is due next in a course: the next visit under the protocol's schedule, the lesions eligible at it in
the protocol's priority order with their volumes under the per-visit cap, and the next imaging time point.

The allocation is :func:`hitit.dosing.allocate.allocate` itself, fed with each lesion's latest longest
diameter; "new" lesions (first seen after the baseline and not yet injected) come first at later visits
when the protocol says so (T-VEC: Imlygic US prescribing information section 2). Dates are calendar dates;
intervals days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from hitit.course.record import Course, CourseLesion, Imaging
from hitit.dosing.allocate import DOSE_KINDS, Allocation, LesionDoseInput, allocate
from hitit.dosing.protocols import Protocol, load_protocol
from hitit.response.study import ABSENT

#: Days from one imaging time point to the next when nothing else is set: response is typically read every
#: 6-9 weeks in trials ([R] common trial schedules; iRECIST, Seymour et al., Lancet Oncol 2017, PMC5648544,
#: confirms progression 4-8 weeks later); the shorter end is used.
IMAGING_INTERVAL_DAYS = 42
#: Latest start of treatment after the baseline imaging (days): RECIST 1.1 baseline within 4 weeks of the
#: start of treatment (Eisenhauer et al., Eur J Cancer 2009, doi:10.1016/j.ejca.2008.10.026).
BASELINE_VALID_DAYS = 28


@dataclass(frozen=True)
class NotEligible:
    """A lesion left out of the next visit's allocation, and why."""

    lesion_id: str
    reason: str

    def to_dict(self) -> dict:
        """JSON-ready record, as in the course file."""
        return {"lesion_id": self.lesion_id, "reason": self.reason}


@dataclass(frozen=True)
class CourseStatus:
    """What is due next: visit number and date (None without a schedule), why that date, the allocation of the
    eligible lesions, the lesions left out, and the next imaging date.
    """

    next_visit: int
    next_visit_date: dt.date | None
    date_rule: str
    allocation: Allocation
    not_eligible: tuple[NotEligible, ...]
    next_imaging_date: dt.date
    treat_until: dt.date | None = None
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        """JSON-ready record, as in the course file."""
        return {
            "next_visit": self.next_visit,
            "next_visit_date": None if self.next_visit_date is None else self.next_visit_date.isoformat(),
            "date_rule": self.date_rule,
            "allocation": self.allocation.to_dict(),
            "not_eligible": [n.to_dict() for n in self.not_eligible],
            "next_imaging_date": self.next_imaging_date.isoformat(),
            "treat_until": None if self.treat_until is None else self.treat_until.isoformat(),
            "notes": list(self.notes),
        }


def visit_date(protocol: Protocol, course: Course, number: int) -> tuple[dt.date | None, str]:
    """The date visit ``number`` is due under the protocol's schedule, and the rule that gives it."""
    schedule = protocol.schedule
    if number == 1:
        latest = course.baseline.date + dt.timedelta(days=BASELINE_VALID_DAYS)
        return (
            latest,
            f"at the latest {BASELINE_VALID_DAYS} days after the baseline imaging (RECIST 1.1 baseline window)",
        )
    if schedule is None:
        return None, f"protocol '{protocol.name}' gives no schedule: set the date with the treating team"
    previous = course.visit(number - 1)
    days = schedule["second_visit_after_days"] if number == 2 else schedule["later_visits_every_days"]
    return previous.date + dt.timedelta(days=days), f"{days} days after visit {number - 1} ({schedule['source']})"


def latest_size(course: Course, lesion: CourseLesion) -> tuple[str, dict] | None:
    """(time point id, measurement) of the lesion's latest measurement, None when never measured."""
    for timepoint in reversed(course.imaging):
        if lesion.id in timepoint.measurements:
            return timepoint.id, timepoint.measurements[lesion.id]
    return None


def latest_injectability(course: Course, lesion_id: str) -> str | None:
    """The injectability verdict of the lesion's latest plan in the course (yes / caution / no), None if none."""
    record = _latest_judged(course, lesion_id)
    return None if record is None else record["injectability"]


def latest_refusal(course: Course, lesion_id: str) -> str:
    """Why the latest plan judged the lesion not injectable, in words (the plan's reasons when the course has them)."""
    record = _latest_judged(course, lesion_id)
    reasons = "; ".join((record or {}).get("injectability_reasons", []))
    return "judged not injectable in its latest plan" + (f": {reasons}" if reasons else "")


def _latest_judged(course: Course, lesion_id: str) -> dict | None:
    for visit in reversed(course.visits):
        record = visit.lesion(lesion_id)
        if record is not None and record.get("injectability"):
            return record
    return None


def is_new_for_dosing(lesion: CourseLesion, visit_number: int | None = None) -> bool:
    """A lesion first seen after the baseline and not injected before visit ``visit_number`` (default: ever): it
    comes first at later T-VEC visits.
    """
    injected = lesion.injected_from_visit
    return lesion.is_new and (injected is None or (visit_number is not None and injected >= visit_number))


def latest_volume_ml(course: Course, lesion: CourseLesion) -> float | None:
    """The lesion's most recently measured volume (mL), None when no time point measured one."""
    for timepoint in reversed(course.imaging):
        volume = timepoint.measurements.get(lesion.id, {}).get("volume_ml")
        if volume is not None:
            return float(volume)
    return None


def _candidate(
    course: Course, lesion: CourseLesion, last: Imaging, protocol: Protocol
) -> LesionDoseInput | NotEligible:
    size = latest_size(course, lesion)
    if last.status.get(lesion.id) == ABSENT:
        return NotEligible(lesion.id, f"absent at {last.id}")
    if size is None:
        return NotEligible(lesion.id, "never measured: add a time point with its size")
    timepoint_id, measurement = size
    if measurement["diameter_mm"] == ABSENT:
        return NotEligible(lesion.id, f"absent at {timepoint_id}")
    if latest_injectability(course, lesion.id) == "no":
        return NotEligible(lesion.id, latest_refusal(course, lesion.id))
    longest = measurement.get("longest_diameter_mm", measurement["diameter_mm"])
    if not isinstance(longest, (int, float)):
        return NotEligible(lesion.id, f"too small to measure at {timepoint_id}: no size to dose by")
    volume = latest_volume_ml(course, lesion)
    if volume is None and DOSE_KINDS[protocol.kind].needs_lesion_volume:
        return NotEligible(
            lesion.id,
            f"protocol '{protocol.name}' doses by volume and no time point measured it (add a time point from masks)",
        )
    return LesionDoseInput(lesion.id, float(longest), volume, is_new_for_dosing(lesion))


def course_status(course: Course) -> CourseStatus:
    """What is due next in ``course`` (see the module docstring)."""
    protocol = load_protocol(course.protocol)
    number = len(course.visits) + 1
    date, rule = visit_date(protocol, course, number)
    last = course.imaging[-1]
    inputs, excluded = [], []
    for lesion in course.lesions:
        candidate = _candidate(course, lesion, last, protocol)
        (excluded if isinstance(candidate, NotEligible) else inputs).append(candidate)
    allocation = allocate(inputs, protocol, number)
    schedule = protocol.schedule or {}
    first = course.visit(1)
    until = (
        first.date + dt.timedelta(days=schedule["minimum_duration_days"])
        if first is not None and schedule.get("minimum_duration_days")
        else None
    )
    notes = (f"treat until at least {until}",) if until else ()
    latest = course.timeline[-1]
    if date is not None and date < latest.date:
        notes += (
            f"visit {number} was due on {date}, before the course's latest entry ({latest.label}, {latest.date}): "
            "overdue or paused",
        )
    return CourseStatus(
        number,
        date,
        rule,
        allocation,
        tuple(excluded),
        last.date + dt.timedelta(days=IMAGING_INTERVAL_DAYS),
        until,
        notes,
    )
