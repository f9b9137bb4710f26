"""The response study of a course: the same lesion ids and time points, assessed by :mod:`hitit.response`.

The course's imaging time points become the study's time points, its baseline lesions the study's lesions
(target or non-target by their first itRECIST category) and its later lesions the study's new lesions; the
response engines are not repeated here.

When a lesion counts as injected (the study's ``injected_from``, a time point id): a lesion first injected
before the first follow-up imaging counts as injected from the baseline (its category is decided at the
baseline, itRECIST: Goldmacher et al., J Clin Oncol 2020, doi:10.1200/JCO.19.02985, Fig. 1); a lesion first
injected later counts from the first imaging time point after that visit, so every assessment describes the
lesions as they were when imaged [D].

Non-target lesions are assessed qualitatively: a recorded status is used as is; a non-target measured from
its mask (no status) is ``absent`` at 0 mm and ``present`` otherwise -- unequivocal progression is a
reader's judgement and must be given as a status.
"""

from __future__ import annotations

from hitit.course.record import Course, CourseLesion
from hitit.response.study import ABSENT, NON_TARGET, TARGET, Lesion, NewLesion, Study, Timepoint, check_study
from hitit.response.study import STATUS_ABSENT, STATUS_PRESENT


def injected_from_timepoint(course: Course, lesion: CourseLesion) -> str | None:
    """The id of the first time point at which the lesion counts as injected (see the module docstring)."""
    number = lesion.injected_from_visit
    if number is None:
        return None
    imaging = course.imaging
    if number == 0:
        return imaging[0].id
    date = course.visit(number).date
    if len(imaging) < 2 or date < imaging[1].date:
        return imaging[0].id
    later = [t for t in imaging if t.date > date]
    # injected after the last imaging: no assessment sees it yet; the study format needs a time point
    return later[0].id if later else None


def _diameters(course: Course, lesion_id: str) -> dict:
    return {t.id: t.measurements[lesion_id]["diameter_mm"] for t in course.imaging if lesion_id in t.measurements}


def _status(course: Course, lesion_id: str) -> dict:
    """Recorded status, else from the measurement (0 mm / absent -> absent, otherwise present)."""
    status = {}
    for t in course.imaging:
        if lesion_id in t.status:
            status[t.id] = t.status[lesion_id]
        elif lesion_id in t.measurements:
            value = t.measurements[lesion_id]["diameter_mm"]
            status[t.id] = STATUS_ABSENT if value in (ABSENT, 0, 0.0) else STATUS_PRESENT
    return status


def course_study(course: Course) -> Study:
    """The :class:`~hitit.response.study.Study` of a course, checked like a study file."""
    timepoints = tuple(Timepoint(t.id, t.date) for t in course.imaging)
    lesions, new_lesions = [], []
    for lesion in course.lesions:
        if lesion.is_new:
            new_lesions.append(
                NewLesion(
                    lesion.id,
                    lesion.first_seen,
                    lesion.organ,
                    bool(lesion.measurable),
                    lesion.nodal,
                    _diameters(course, lesion.id) if lesion.measurable else {},
                    {} if lesion.measurable else _status(course, lesion.id),
                    lesion.description,
                )
            )
        elif lesion.is_target:
            lesions.append(
                Lesion(
                    lesion.id,
                    lesion.organ,
                    TARGET,
                    lesion.nodal,
                    injected_from_timepoint(course, lesion),
                    _diameters(course, lesion.id),
                    {},
                    lesion.description,
                )
            )
        else:
            lesions.append(
                Lesion(
                    lesion.id,
                    lesion.organ,
                    NON_TARGET,
                    lesion.nodal,
                    injected_from_timepoint(course, lesion),
                    {},
                    _status(course, lesion.id),
                    lesion.description,
                )
            )
    study = Study(timepoints, tuple(lesions), tuple(new_lesions), course.patient)
    check_study(study, "course response study")
    return study
