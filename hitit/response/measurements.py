"""Build a study from measurements: numbers per lesion and time point, or Slicer line markups.

The lesion-measurement code (masks -> longest diameter and short axis) hands over a plain mapping;
radiologists' calipers come as Slicer line markups (``.mrk.json``) named by lesion id. Either way
the result goes through the same validation as a study file.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from collections.abc import Iterable, Mapping

from hitit.errors import InputError
from hitit.response.study import Measurement, Study, study_from_dict

#: A lesion's measurement at one time point: a number / "too-small" / "absent", or both axes.
LesionMeasurement = Measurement | Mapping[str, float]

LONGEST_DIAMETER_KEY = "longest_diameter_mm"
SHORT_AXIS_KEY = "short_axis_mm"
#: Slicer labels control points "<node name>-<n>"; the suffix is stripped to get the lesion id.
_CONTROL_POINT_SUFFIX = re.compile(r"-\d+$")
_MARKUPS_SUFFIX = ".mrk.json"


def recist_diameter(lesion_id: str, timepoint_id: str, value: LesionMeasurement, nodal: bool) -> Measurement:
    """The diameter RECIST 1.1 sums: short axis for nodes, longest diameter otherwise (RECIST 1.1, Eisenhauer 2009)."""
    if not isinstance(value, Mapping):
        return value
    key = SHORT_AXIS_KEY if nodal else LONGEST_DIAMETER_KEY
    if key not in value:
        raise InputError(
            f"lesion {lesion_id}, time point {timepoint_id}, field {key}: missing "
            f"({'short axis for a node' if nodal else 'longest diameter'}); got {', '.join(value) or 'nothing'}"
        )
    return float(value[key])


def study_from_measurements(
    timepoints: Mapping[str, str],
    lesions: Mapping[str, Mapping],
    measurements: Mapping[str, Mapping[str, LesionMeasurement]],
    new_lesions: Iterable[Mapping] = (),
    patient: str = "",
) -> Study:
    """A validated study from plain mappings.

    ``timepoints``: id -> ISO date, in time order. ``lesions``: id -> {"organ", "role", "nodal",
    "injected_from", "status" (non-targets)}. ``measurements``: lesion id -> time point id -> mm,
    "too-small", "absent" or {"longest_diameter_mm", "short_axis_mm"} (nodes use the short axis).
    ``new_lesions``: entries as in the study file.
    """
    unknown = sorted(set(measurements) - set(lesions))
    if unknown:
        raise InputError(
            f"lesion {unknown[0]}, field measurements: not described in lesions (organ, role ...); add it there"
        )
    lesion_items = []
    for lesion_id, info in lesions.items():
        item = {"id": lesion_id, **info}
        nodal = bool(info.get("nodal", False))
        values = {
            tp: recist_diameter(lesion_id, tp, value, nodal) for tp, value in measurements.get(lesion_id, {}).items()
        }
        if values:
            item["measurements"] = values
        lesion_items.append(item)
    return study_from_dict(
        {
            "patient": patient,
            "timepoints": [{"id": tp, "date": date} for tp, date in timepoints.items()],
            "lesions": lesion_items,
            "new_lesions": [dict(item) for item in new_lesions],
        },
        source="measurements",
    )


def read_line_markups(path: str | Path, id_from: str = "name") -> dict[str, float]:
    """Lengths (mm) of the line markups in a Slicer ``.mrk.json`` file, by lesion id.

    The lesion id is the markup's ``name`` (or the file name without ``.mrk.json`` when the file has
    no name), or with ``id_from="label"`` the control-point label with Slicer's ``-1``/``-2`` suffix
    removed. The length is the distance between the two control points; it is the same in LPS and
    RAS, so the coordinate system does not matter.
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not valid JSON (line {error.lineno}): {error.msg}") from error
    lines = [m for m in document.get("markups", []) if m.get("type") == "Line"]
    if not lines:
        raise InputError(f"{path}: no line markup; measure each lesion with a Slicer line (ruler)")
    lengths: dict[str, float] = {}
    for markup in lines:
        lesion_id = _markup_lesion_id(path, markup, id_from)
        if lesion_id in lengths:
            raise InputError(f"{path}: lesion {lesion_id}: two lines; keep one line per lesion and time point")
        lengths[lesion_id] = _line_length_mm(path, lesion_id, markup)
    return lengths


def _markup_lesion_id(path: Path, markup: Mapping, id_from: str) -> str:
    if id_from == "name":
        return markup.get("name") or path.name.removesuffix(_MARKUPS_SUFFIX)
    if id_from != "label":
        raise InputError(f"id_from must be 'name' or 'label', not {id_from!r}")
    labels = {_CONTROL_POINT_SUFFIX.sub("", point.get("label", "")) for point in markup.get("controlPoints", [])}
    if len(labels) != 1 or "" in labels:
        raise InputError(
            f"{path}: line {markup.get('name', '')!r}: control-point labels {sorted(labels)} do not "
            "name one lesion; label both points with the lesion id"
        )
    return labels.pop()


def _line_length_mm(path: Path, lesion_id: str, markup: Mapping) -> float:
    points = markup.get("controlPoints", [])
    if len(points) != 2:
        raise InputError(f"{path}: lesion {lesion_id}: a line needs 2 control points, found {len(points)}")
    return math.dist(points[0]["position"], points[1]["position"])


def study_from_markups(
    timepoints: Mapping[str, str],
    lesions: Mapping[str, Mapping],
    markup_files: Mapping[str, Iterable[str | Path]],
    id_from: str = "name",
    new_lesions: Iterable[Mapping] = (),
    patient: str = "",
) -> Study:
    """A validated study from Slicer line markups: ``markup_files`` maps time point id -> .mrk.json files.

    Each line measures the diameter the criteria sum (longest diameter, or short axis for a node).
    Lines of lesions not listed in ``lesions`` are refused, so a typo in a name cannot go unnoticed.
    """
    measurements: dict[str, dict[str, float]] = {}
    for timepoint_id, files in markup_files.items():
        for path in files:
            for lesion_id, length in read_line_markups(path, id_from).items():
                if timepoint_id in measurements.setdefault(lesion_id, {}):
                    raise InputError(f"lesion {lesion_id}, time point {timepoint_id}: measured in two files ({path})")
                measurements[lesion_id][timepoint_id] = length
    # Lines named after a new lesion measure that new lesion.
    new_items = [{**item, "measurements": dict(item.get("measurements", {}))} for item in new_lesions]
    for item in new_items:
        item["measurements"].update(measurements.pop(item["id"], {}))
    return study_from_measurements(timepoints, lesions, measurements, new_items, patient)
