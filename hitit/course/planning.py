"""Planning a visit of a course: the visit number, protocol and new lesions the planner needs, from the course.

The planner's allocation (:func:`hitit.dosing.allocate.allocate`) then applies the protocol's per-visit rules
(T-VEC: 10^6 PFU/mL at visit 1 and 10^8 after, 4 mL per visit, largest first at visit 1 and new lesions
first later; Imlygic US prescribing information section 2).
"""

from __future__ import annotations

from hitit.course.record import Course
from hitit.course.schedule import is_new_for_dosing
from hitit.errors import InputError


def course_visit_settings(
    course: Course, protocol: str | None, visit: int | None, new_lesions: tuple[str, ...]
) -> tuple[str, int, tuple[str, ...]]:
    """(protocol, visit number, new lesion ids) for planning a visit of ``course``.

    The visit defaults to the course's next one and may also re-plan an earlier one; the protocol defaults to
    the course's; new lesions are those first seen after the baseline (and, re-planning a visit, before it) and not
    injected before this visit, plus ``new_lesions``.
    """
    following = len(course.visits) + 1
    number = visit or following
    if not 1 <= number <= following:
        raise InputError(
            f"--visit {number}: the course has {len(course.visits)} visit(s); plan visit {following} "
            "(the next one) or re-plan an earlier one"
        )
    date = course.visit(number).date if course.visit(number) else None
    new = [
        lesion.id
        for lesion in course.lesions
        if is_new_for_dosing(lesion, number) and (date is None or course.imaging_by_id(lesion.first_seen).date <= date)
    ]
    return protocol or course.protocol, number, tuple(dict.fromkeys([*new, *new_lesions]))


def check_course_lesions(course: Course, lesion_ids: list[str]) -> list[str]:
    """Refuse lesion ids the course does not know (ids stay stable over the course); return lines that say what
    each lesion received before.
    """
    unknown = [lesion_id for lesion_id in lesion_ids if lesion_id not in course.lesion_ids()]
    if unknown:
        raise InputError(
            f"lesion(s) {', '.join(unknown)} are not in the course: name the masks with the course's ids "
            f"({', '.join(course.lesion_ids())}) or add a new lesion with 'hitit course add-timepoint --new ID=ORGAN'"
        )
    lines = []
    for lesion_id in lesion_ids:
        given = [
            (v.number, v.lesion(lesion_id).get("delivered_ml", v.lesion(lesion_id).get("planned_volume_ml")))
            for v in course.visits
            if v.lesion(lesion_id) is not None
        ]
        given = [(n, ml) for n, ml in given if ml]
        category = course.lesion(lesion_id).category_at_visit(len(course.visits) + 1)
        history = ", ".join(f"visit {n} {ml:g} mL" for n, ml in given) or "never injected"
        lines.append(f"course: {lesion_id} ({category}): {history}")
    return lines
