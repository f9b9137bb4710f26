"""Filling a course from the other HITIT outputs: a baseline plan, a visit's plan and review, measurements.

Every function reads the JSON-ready dicts the other commands write (``plan.json``, ``review.json``) and
returns course entries with the same lesion ids, so plans, reviews and response all use one set of ids.
Lengths mm, volumes mL, angles deg, points LPS mm.
"""

from __future__ import annotations

import datetime as dt

from hitit.course.record import (
    BASELINE_ID,
    Course,
    CourseLesion,
    Imaging,
    Visit,
    injected_category,
    is_injected_category,
)
from hitit.dosing.protocols import load_protocol
from hitit.errors import InputError
from hitit.response.study import ABSENT, TOO_SMALL


def recist_diameter(nodal: bool, longest_mm: float, short_axis_mm: float) -> float:
    """The diameter RECIST 1.1 sums: the short axis of a lymph node, the longest diameter otherwise (mm)
    (Eisenhauer et al., Eur J Cancer 2009, doi:10.1016/j.ejca.2008.10.026).
    """
    return float(short_axis_mm if nodal else longest_mm)


def measurement_record(nodal: bool, longest_mm: float, short_axis_mm: float, volume_ml: float | None = None) -> dict:
    """A time point's measurement of one lesion from its sizes (mm, mL); 0 mm is recorded as absent."""
    diameter = recist_diameter(nodal, longest_mm, short_axis_mm)
    record: dict = {
        "diameter_mm": ABSENT if diameter <= 0 else round(diameter, 2),
        "longest_diameter_mm": round(float(longest_mm), 2),
        "short_axis_mm": round(float(short_axis_mm), 2),
    }
    if volume_ml is not None:
        record["volume_ml"] = round(float(volume_ml), 3)
    return record


def new_course(
    patient: str,
    plan: dict,
    baseline_date: dt.date,
    plan_folder: str = "",
    non_targets: tuple[str, ...] = (),
    timepoint_id: str = BASELINE_ID,
    organs: dict[str, str] | None = None,
) -> Course:
    """A course whose baseline is a plan's lesions: each measurable lesion a target (T-NI), the others and
    ``non_targets`` non-targets (NT-NI); injections are added by the visits. The protocol is the plan's. The host
    organ is the one the plan measured, or ``organs[id]`` (which wins), else ``unknown``.
    """
    ids = [str(lesion["id"]) for lesion in plan.get("lesions", [])]
    organs = organs or {}
    unknown = sorted((set(non_targets) | set(organs)) - set(ids))
    if unknown:
        raise InputError(
            f"lesion(s) {', '.join(unknown)} (--non-target, --organ): not in the baseline plan ({', '.join(ids)})"
        )
    lesions, measurements = [], {}
    for item in plan["lesions"]:
        m = item["measurement"]
        lesion_id = str(item["id"])
        target = bool(m.get("measurable")) and lesion_id not in non_targets
        lesions.append(
            CourseLesion(
                lesion_id,
                organs.get(lesion_id) or m.get("organ") or "unknown",
                bool(m.get("nodal")),
                timepoint_id,
                [{"category": "T-NI" if target else "NT-NI", "from_visit": None}],
            )
        )
        measurements[lesion_id] = measurement_record(
            bool(m.get("nodal")), m["longest_diameter_mm"], m["short_axis_mm"], m.get("volume_ml")
        )
    protocol = plan["protocol"]
    name = (
        protocol["name"]
        if protocol.get("path", "").startswith("shipped protocol")
        else protocol.get("path") or protocol["name"]
    )
    baseline = Imaging(timepoint_id, baseline_date, measurements, {}, "baseline plan measurements", plan_folder)
    return Course(patient, name, lesions, [baseline])


def visit_lesions(plan: dict | None, review: dict | None) -> list[dict]:
    """Per-lesion visit records from a plan (planned path, volume, injectability) and a review (needle accuracy,
    delivered volume, technical success, injectate, samples); either may be None.
    """
    records: dict[str, dict] = {}
    for item in (plan or {}).get("lesions", []):
        record = records.setdefault(str(item["id"]), {"lesion_id": str(item["id"])})
        record["injectability"] = item["injectability"]["verdict"]
        record["injectability_reasons"] = [
            reason["message"] for reason in item["injectability"].get("reasons", []) if reason["severity"] == "no"
        ]  # why a "no": what the course status shows the user
        record["planned_volume_ml"] = float(item["allocation"]["injectate_ml"])
        trajectory = min(item.get("trajectories") or [], key=lambda t: t["rank"], default=None)  # the chosen path
        if trajectory is not None:
            record["planned_entry_lps"] = [float(v) for v in trajectory["entry_lps"]]
            record["planned_target_lps"] = [float(v) for v in trajectory["target_lps"]]
    if review:
        _add_review(records, review)
    return list(records.values())


def _add_review(records: dict[str, dict], review: dict) -> None:
    """Needles, volumes, injectate and samples of a review.json into the per-lesion records."""

    def record(lesion_id) -> dict:
        return records.setdefault(str(lesion_id), {"lesion_id": str(lesion_id)})

    for needle in review.get("needles", []):
        r = record(needle["lesion_id"])
        r["tip_to_target_mm"] = float(needle["deviation"]["tip_to_target_mm"])
        r["angle_deg"] = float(needle["deviation"]["angle_deg"])
        r["margins_kept"] = bool(needle["margins"].get("kept"))
    for row in (review.get("volumes") or {}).get("lesions", []):
        r = record(row["lesion_id"])
        r["delivered_ml"] = float(row["delivered_ml"])
        r["technical_success"] = row.get("technical_success")
    for row in review.get("injectate", []):
        r = record(row["lesion_id"])
        r["injectate_ml"] = float(row["injectate_ml"])
        r["leaked_ml"] = float(row["leaked_ml"])
    for sample in review.get("samples", []):
        record(sample["lesion_id"]).setdefault("samples", []).append(
            {
                "id": str(sample["id"]),
                "kind": sample.get("kind") or "",
                "timepoint": sample.get("timepoint") or "",
                "nearest_planned_deposit_mm": sample.get("nearest_planned_deposit_mm"),
            }
        )


def make_visit(
    course: Course,
    number: int,
    date: dt.date,
    plan: dict | None = None,
    review: dict | None = None,
    plan_folder: str = "",
    review_folder: str = "",
    agent: str | None = None,
) -> Visit:
    """Visit ``number`` on ``date`` with the protocol's concentration and cap for that visit number."""
    protocol = load_protocol(course.protocol)
    technical = None if not review or not review.get("volumes") else review["volumes"].get("technical_success")
    return Visit(
        number,
        date,
        agent or protocol.name,
        protocol.concentration_per_ml(number),
        protocol.parameters.get("dose_unit"),
        protocol.per_visit_cap_ml,
        plan_folder,
        review_folder,
        technical,
        visit_lesions(plan, review),
        {},
    )


def merge_visit(old: Visit, new: Visit) -> Visit:
    """``new`` over ``old``: per-lesion fields, folders and the checklist ``new`` gives win, the rest stays."""
    by_id = {item["lesion_id"]: dict(item) for item in old.lesions}
    for item in new.lesions:
        by_id.setdefault(item["lesion_id"], {}).update(item)
    return Visit(
        new.number,
        new.date,
        new.agent,
        new.concentration_per_ml,
        new.dose_unit,
        new.per_visit_cap_ml,
        new.plan_folder or old.plan_folder,
        new.review_folder or old.review_folder,
        new.technical_success if new.technical_success is not None else old.technical_success,
        list(by_id.values()),
        {**old.checklist, **new.checklist},
    )


def record_injections(course: Course, visit: Visit) -> list[str]:
    """Reclassify every lesion first injected at ``visit`` (T-NI -> T-I from that visit; never back); return
    their ids.
    """
    changed = []
    for lesion_id in visit.injected_ids():
        lesion = course.lesion(lesion_id)
        current = lesion.category_at_visit(visit.number)
        if is_injected_category(current):
            continue
        lesion.category_history = [e for e in lesion.category_history if (e["from_visit"] or 0) < visit.number]
        lesion.category_history.append({"category": injected_category(current), "from_visit": visit.number})
        changed.append(lesion_id)
    return changed


def add_new_lesion(
    course: Course, lesion_id: str, organ: str, timepoint_id: str, measurable: bool, nodal: bool = False
) -> None:
    """Add a lesion first seen at ``timepoint_id`` (a follow-up): category NL-NI until it is injected."""
    if lesion_id in course.lesion_ids():
        raise InputError(
            f"lesion {lesion_id}: already in the course (first seen at {course.lesion(lesion_id).first_seen}); "
            "a new lesion needs a new id"
        )
    course.lesions.append(
        CourseLesion(lesion_id, organ, nodal, timepoint_id, [{"category": "NL-NI", "from_visit": None}], measurable)
    )


def too_small_or_absent(value) -> bool:
    """Whether a recorded diameter is one of the study format's words (too-small, absent)."""
    return value in (TOO_SMALL, ABSENT)
