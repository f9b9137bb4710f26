"""An imaging time point's measurements from a study-like JSON, from line markups or from lesion masks.

Masks go through the lesion measurement code (:func:`hitit.lesions.measure.measure_lesion`: RECIST longest
diameter and short axis in the axial plane, volume); a line markup named after a lesion gives its diameter
(its length, mm); a study file's time point gives its diameters and statuses as recorded. Every lesion id
must be one of the course's, or be declared new at this time point.
"""

from __future__ import annotations

import numpy as np

from hitit.course.build import measurement_record
from hitit.course.record import Course
from hitit.errors import InputError
from hitit.geometry import Grid
from hitit.lesions.measure import measure_lesion
from hitit.lesions.segment import Lesion
from hitit.response.study import Study


def measurements_from_masks(
    course: Course, masks: dict[str, np.ndarray], grid: Grid, new_nodal: dict[str, bool] | None = None
) -> dict[str, dict]:
    """Lesion id -> measurement record of every mask (empty mask: absent), measured on ``grid``."""
    out = {}
    for lesion_id, mask in masks.items():
        nodal = (
            course.lesion(lesion_id).nodal
            if lesion_id in course.lesion_ids()
            else (new_nodal or {}).get(lesion_id, False)
        )
        if not mask.any():
            out[lesion_id] = measurement_record(nodal, 0.0, 0.0, 0.0)
            continue
        m = measure_lesion(Lesion(lesion_id, mask, nodal=nodal), grid)
        out[lesion_id] = measurement_record(nodal, m.longest_diameter_mm, m.short_axis_mm, m.volume_ml)
    return out


def measurements_from_lines(markups) -> dict[str, dict]:
    """Lesion id -> measurement from line markups named after the lesions (length in mm, LPS points)."""
    out = {}
    for markup in markups:
        if markup.kind != "line":
            continue
        points = np.asarray(markup.points_lps, float)
        length = float(np.linalg.norm(points[1] - points[0]))
        out[markup.name] = {"diameter_mm": round(length, 2), "longest_diameter_mm": round(length, 2)}
    if not out:
        raise InputError("The markups file holds no line: measure each lesion with a line named after its id.")
    return out


def measurements_from_study(study: Study, timepoint_id: str) -> tuple[dict[str, dict], dict[str, str]]:
    """(measurements, statuses) a study file records at one of its time points."""
    study.index_of(timepoint_id)
    measurements, status = {}, {}
    for lesion in (*study.lesions, *study.new_lesions):
        if timepoint_id in lesion.measurements:
            measurements[lesion.id] = {"diameter_mm": lesion.measurements[timepoint_id]}
        if timepoint_id in lesion.status:
            status[lesion.id] = lesion.status[timepoint_id]
    return measurements, status
