"""The Response module's study table and its conversions to the HITIT core's documents (no scene, no Qt).

Scene side (Slicer): the study is a table of strings with one row per lesion and time point
(``STUDY_COLUMNS``); each diameter may come from a line markup named ``"<lesion>@<timepoint>"``
whose control points are RAS mm. Core side (``hitit.response``): the study dict of
``study.schema.json`` (``Study.to_dict()``), the response dict of ``StudyResponse.to_dict()``, and
the waterfall/spider data of ``hitit.response.plots``; all core points are LPS mm.

Nothing here imports ``slicer``, ``qt`` or the core (only the standard library and numpy), so it is
tested without Slicer; :mod:`hitit_slicer.response` puts it in the scene.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from collections.abc import Mapping, Sequence

import numpy as np

# --------------------------------------------------------------------- study table
#: Columns of the study table (one row per lesion x time point), in order.
STUDY_COLUMNS = (
    "Lesion",  # lesion id, kept across time points
    "Kind",  # "baseline" (present at baseline) or "new" (appeared at a follow-up)
    "Role",  # "target" / "non-target" for baseline lesions, empty for new lesions
    "Organ",
    "Nodal",  # yes / no
    "Injected from",  # time point id from which the lesion is injected, empty if never
    "Measurable",  # new lesions: yes / no; empty for baseline lesions
    "Appears at",  # time point id of the lesion's first row (baseline id for baseline lesions)
    "Time point",
    "Date",  # ISO date of the time point
    "Diameter (mm)",  # mm, "too-small", "absent" or empty (not measured)
    "Status",  # non-targets and new lesions: present / absent / unequivocal-progression / increased
    "Description",
)
KIND_BASELINE, KIND_NEW = "baseline", "new"
ROLES = ("target", "non-target")
TOO_SMALL, ABSENT = "too-small", "absent"
STATUSES = ("present", "absent", "unequivocal-progression", "increased")
#: Separator of line markup names: "<lesion>@<timepoint>".
NAME_SEPARATOR = "@"

_TRUE = {"yes", "true", "1", "y"}
_FALSE = {"no", "false", "0", "n", ""}


def formatBool(value) -> str:
    """``yes`` / ``no`` as shown in the study table."""
    return "yes" if value else "no"


def parseBool(text, where: str = "") -> bool:
    """A table cell as a boolean (yes/no, true/false, 1/0, empty = no); ValueError names the cell otherwise."""
    value = str(text).strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{where}: {text!r} is not yes or no")


def formatMeasurement(value) -> str:
    """A study measurement (mm, ``too-small``, ``absent`` or None) as a table cell."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return repr(float(value))


def parseMeasurement(text, where: str = ""):
    """A table cell as a study measurement: float mm, ``too-small``, ``absent`` or None (empty cell)."""
    value = str(text).strip()
    if not value:
        return None
    if value.lower() in (TOO_SMALL, ABSENT):
        return value.lower()
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{where}: {text!r} is not a diameter in mm, {TOO_SMALL!r} or {ABSENT!r}") from None
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{where}: {text!r} is not a finite, non-negative diameter in mm")
    return number


def _cellMap(columns: Sequence[str], row: Sequence) -> dict:
    if len(row) != len(columns):
        raise ValueError(f"study table row has {len(row)} cells for {len(columns)} columns: {list(row)}")
    return {name: "" if value is None else str(value) for name, value in zip(columns, row)}


def _checkColumns(columns: Sequence[str]) -> None:
    missing = [name for name in STUDY_COLUMNS if name not in columns]
    if missing:
        raise ValueError(
            f"the study table lacks the column(s) {', '.join(missing)}; columns are {', '.join(STUDY_COLUMNS)}"
        )


def studyRowsFromDict(study: Mapping) -> tuple[list[str], list[list[str]]]:
    """Study table columns and rows (strings) from a study dict (the engine's JSON format).

    Baseline lesions get one row per time point; new lesions one row per time point from the one
    they appear at.
    """
    timepoints = list(study.get("timepoints", []))
    if not timepoints:
        raise ValueError("the study has no time point")
    ids = [str(t["id"]) for t in timepoints]
    baselineId = ids[0]
    rows = []
    for lesion in study.get("lesions", []):
        measurements, status = lesion.get("measurements") or {}, lesion.get("status") or {}
        for timepoint in timepoints:
            tp = str(timepoint["id"])
            rows.append(
                _row(
                    lesion["id"],
                    KIND_BASELINE,
                    lesion.get("role", ""),
                    lesion.get("organ", ""),
                    lesion.get("nodal", False),
                    lesion.get("injected_from") or "",
                    "",
                    baselineId,
                    tp,
                    timepoint["date"],
                    measurements.get(tp),
                    status.get(tp, ""),
                    lesion.get("description", ""),
                )
            )
    for lesion in study.get("new_lesions", []):
        appears = str(lesion["timepoint"])
        if appears not in ids:
            raise ValueError(f"new lesion {lesion['id']}: unknown time point {appears!r}")
        measurements, status = lesion.get("measurements") or {}, lesion.get("status") or {}
        for timepoint in timepoints[ids.index(appears) :]:
            tp = str(timepoint["id"])
            rows.append(
                _row(
                    lesion["id"],
                    KIND_NEW,
                    "",
                    lesion.get("organ", ""),
                    lesion.get("nodal", False),
                    "",
                    formatBool(lesion.get("measurable", True)),
                    appears,
                    tp,
                    timepoint["date"],
                    measurements.get(tp),
                    status.get(tp, ""),
                    lesion.get("description", ""),
                )
            )
    return list(STUDY_COLUMNS), rows


def _row(lesionId, kind, role, organ, nodal, injectedFrom, measurable, appears, tp, date, value, status, description):
    return [
        str(lesionId),
        kind,
        role or "",
        organ or "",
        formatBool(nodal),
        injectedFrom or "",
        measurable,
        appears,
        tp,
        str(date),
        formatMeasurement(value),
        status or "",
        description or "",
    ]


def timepointsFromRows(columns: Sequence[str], rows: Sequence[Sequence]) -> list[dict]:
    """Time points ``[{"id", "date"}]`` named in the table, in date order; ValueError if an id has two dates."""
    _checkColumns(columns)
    dates: dict[str, str] = {}
    for row in rows:
        cells = _cellMap(columns, row)
        tp, date = cells["Time point"].strip(), cells["Date"].strip()
        if tp in dates and dates[tp] != date:
            raise ValueError(f"time point {tp}: two dates in the study table ({dates[tp]} and {date})")
        dates[tp] = date
    return sorted(({"id": tp, "date": date} for tp, date in dates.items()), key=lambda t: t["date"])


def studyDictFromRows(
    columns: Sequence[str], rows: Sequence[Sequence], timepoints: Sequence[Mapping] | None = None, patient: str = ""
) -> dict:
    """The study dict (engine format) from study table rows.

    ``timepoints`` (``[{"id", "date"}]`` in order) is authoritative when given; otherwise the time
    points are read from the rows. A lesion's description (organ, role ...) must be the same on all
    its rows; errors name the lesion, time point and column.
    """
    _checkColumns(columns)
    timepoints = [
        {"id": str(t["id"]), "date": str(t["date"])} for t in (timepoints or timepointsFromRows(columns, rows))
    ]
    known = [t["id"] for t in timepoints]
    lesions: dict[str, dict] = {}
    order: list[str] = []
    for row in rows:
        cells = _cellMap(columns, row)
        lesionId, tp = cells["Lesion"].strip(), cells["Time point"].strip()
        where = f"lesion {lesionId or '?'}, time point {tp or '?'}"
        if not lesionId:
            raise ValueError(f"{where}: empty lesion id")
        if tp not in known:
            raise ValueError(f"{where}: unknown time point {tp!r}; known: {', '.join(known)}")
        kind = cells["Kind"].strip().lower() or KIND_BASELINE
        if kind not in (KIND_BASELINE, KIND_NEW):
            raise ValueError(f"{where}, column Kind: {cells['Kind']!r} is not {KIND_BASELINE!r} or {KIND_NEW!r}")
        attributes = {
            "kind": kind,
            "role": cells["Role"].strip().lower(),
            "organ": cells["Organ"].strip(),
            "nodal": parseBool(cells["Nodal"], f"{where}, column Nodal"),
            "injected_from": cells["Injected from"].strip() or None,
            "measurable": parseBool(cells["Measurable"], f"{where}, column Measurable") if kind == KIND_NEW else None,
            "appears": cells["Appears at"].strip() or (known[0] if kind == KIND_BASELINE else ""),
        }
        if lesionId not in lesions:
            lesions[lesionId] = {**attributes, "measurements": {}, "status": {}, "description": ""}
            order.append(lesionId)
        lesion = lesions[lesionId]
        for key, value in attributes.items():
            if lesion[key] != value:
                raise ValueError(
                    f"{where}: {key.replace('_', ' ')} is {value!r} here but {lesion[key]!r} on another row; "
                    "give the lesion the same description on every row"
                )
        value = parseMeasurement(cells["Diameter (mm)"], f"{where}, column Diameter (mm)")
        if value is not None:
            lesion["measurements"][tp] = value
        status = cells["Status"].strip().lower()
        if status:
            lesion["status"][tp] = status
        lesion["description"] = lesion["description"] or cells["Description"].strip()
    study = {"patient": patient, "timepoints": timepoints, "lesions": [], "new_lesions": []}
    for lesionId in order:
        lesion = lesions[lesionId]
        measurements = {tp: lesion["measurements"][tp] for tp in known if tp in lesion["measurements"]}
        status = {tp: lesion["status"][tp] for tp in known if tp in lesion["status"]}
        if lesion["kind"] == KIND_BASELINE:
            item = {
                "id": lesionId,
                "organ": lesion["organ"],
                "nodal": lesion["nodal"],
                "role": lesion["role"],
                "injected_from": lesion["injected_from"],
            }
            target = study["lesions"]
        else:
            item = {
                "id": lesionId,
                "timepoint": lesion["appears"],
                "organ": lesion["organ"],
                "nodal": lesion["nodal"],
                "measurable": bool(lesion["measurable"]),
            }
            target = study["new_lesions"]
        if lesion["description"]:
            item["description"] = lesion["description"]
        if measurements:
            item["measurements"] = measurements
        if status:
            item["status"] = status
        target.append(item)
    return study


def lesionRowsFor(lesion: Mapping, timepoints: Sequence[Mapping]) -> list[list[str]]:
    """Empty rows (no measurement) of one lesion for the time points it is assessed at.

    ``lesion`` keys: ``id``, ``role``, ``organ``, ``nodal``, ``injected_from``, ``appears_at`` (a
    time point id; the baseline or empty for a baseline lesion), ``measurable``, ``description``.
    """
    if not timepoints:
        raise ValueError("add the time points before the lesions")
    ids = [str(t["id"]) for t in timepoints]
    lesionId = str(lesion.get("id", "")).strip()
    if not lesionId or NAME_SEPARATOR in lesionId:
        raise ValueError(f"lesion id {lesionId!r}: give a non-empty id without {NAME_SEPARATOR!r}")
    appears = str(lesion.get("appears_at") or ids[0])
    if appears not in ids:
        raise ValueError(f"lesion {lesionId}: unknown time point {appears!r} to appear at; known: {', '.join(ids)}")
    injected = lesion.get("injected_from") or ""
    if injected and injected not in ids:
        raise ValueError(
            f"lesion {lesionId}: unknown time point {injected!r} to be injected from; known: {', '.join(ids)}"
        )
    isNew = appears != ids[0]
    if not isNew and lesion.get("role") not in ROLES:
        raise ValueError(f"lesion {lesionId}: role must be one of {', '.join(ROLES)}, not {lesion.get('role')!r}")
    rows = []
    for timepoint in timepoints[ids.index(appears) :]:
        rows.append(
            _row(
                lesionId,
                KIND_NEW if isNew else KIND_BASELINE,
                "" if isNew else lesion.get("role"),
                lesion.get("organ", ""),
                lesion.get("nodal", False),
                "" if isNew else injected,
                formatBool(lesion.get("measurable", True)) if isNew else "",
                appears,
                timepoint["id"],
                timepoint["date"],
                None,
                "",
                lesion.get("description", ""),
            )
        )
    return rows


def upsertLesion(
    columns: Sequence[str], rows: Sequence[Sequence], lesion: Mapping, timepoints: Sequence[Mapping]
) -> list[list[str]]:
    """Rows with ``lesion`` added, or its description replaced (measurements and status kept)."""
    _checkColumns(columns)
    index = {name: position for position, name in enumerate(columns)}
    lesionId = str(lesion.get("id", "")).strip()
    old = {
        _cellMap(columns, row)["Time point"]: list(row) for row in rows if _cellMap(columns, row)["Lesion"] == lesionId
    }
    fresh = lesionRowsFor(lesion, timepoints)
    for row in fresh:
        previous = old.get(row[STUDY_COLUMNS.index("Time point")])
        if previous is not None:
            for name in ("Diameter (mm)", "Status"):
                row[STUDY_COLUMNS.index(name)] = previous[index[name]]
    fresh = [[row[STUDY_COLUMNS.index(name)] if name in STUDY_COLUMNS else "" for name in columns] for row in fresh]
    kept = [list(row) for row in rows if _cellMap(columns, row)["Lesion"] != lesionId]
    position = next((n for n, row in enumerate(rows) if _cellMap(columns, row)["Lesion"] == lesionId), len(kept))
    return kept[:position] + fresh + kept[position:]


def removeLesion(columns: Sequence[str], rows: Sequence[Sequence], lesionId: str) -> list[list[str]]:
    """Rows without the lesion ``lesionId``; ValueError if it is not in the table."""
    kept = [list(row) for row in rows if _cellMap(columns, row)["Lesion"] != lesionId]
    if len(kept) == len(rows):
        raise ValueError(f"lesion {lesionId!r} is not in the study table")
    return kept


def lesionIds(columns: Sequence[str], rows: Sequence[Sequence]) -> list[str]:
    """Lesion ids of the table, in first-row order."""
    ids: list[str] = []
    for row in rows:
        lesionId = _cellMap(columns, row)["Lesion"]
        if lesionId not in ids:
            ids.append(lesionId)
    return ids


def lesionAttributes(columns: Sequence[str], rows: Sequence[Sequence], lesionId: str) -> dict:
    """The description of one lesion (keys as in :func:`lesionRowsFor`) read from its first row."""
    for row in rows:
        cells = _cellMap(columns, row)
        if cells["Lesion"] == lesionId:
            return {
                "id": lesionId,
                "role": cells["Role"],
                "organ": cells["Organ"],
                "nodal": parseBool(cells["Nodal"], f"lesion {lesionId}, column Nodal"),
                "injected_from": cells["Injected from"] or None,
                "appears_at": cells["Appears at"],
                "measurable": parseBool(cells["Measurable"], f"lesion {lesionId}, column Measurable"),
                "description": cells["Description"],
                "kind": cells["Kind"],
            }
    raise ValueError(f"lesion {lesionId!r} is not in the study table")


def applyMeasurements(columns: Sequence[str], rows: Sequence[Sequence], values: Mapping) -> list[list[str]]:
    """Rows with diameters set: ``values`` maps ``(lesion id, time point id)`` to mm / ``too-small`` / ``absent``.

    Every key must name a row of the table, so a mistyped line name cannot go unnoticed.
    """
    _checkColumns(columns)
    lesionColumn, tpColumn = columns.index("Lesion"), columns.index("Time point")
    valueColumn = columns.index("Diameter (mm)")
    out = [list(row) for row in rows]
    where = {(row[lesionColumn], row[tpColumn]): n for n, row in enumerate(out)}
    for (lesionId, tp), value in values.items():
        if (lesionId, tp) not in where:
            lesionsKnown = ", ".join(lesionIds(columns, rows)) or "none"
            raise ValueError(
                f"{lineNodeName(lesionId, tp)}: no study row for lesion {lesionId!r} at time point {tp!r} "
                f"(lesions: {lesionsKnown}); add the lesion or rename the line"
            )
        out[where[(lesionId, tp)]][valueColumn] = formatMeasurement(value)
    return out


def syncTimepoints(columns: Sequence[str], rows: Sequence[Sequence], timepoints: Sequence[Mapping]) -> list[list[str]]:
    """Rows matching a new time point list: missing rows added, dates updated, rows of removed time points dropped."""
    columns = list(columns)
    _checkColumns(columns)
    out = []
    for lesionId in lesionIds(columns, rows):
        attributes = lesionAttributes(columns, rows, lesionId)
        ids = [str(t["id"]) for t in timepoints]
        if attributes["appears_at"] not in ids:
            attributes["appears_at"] = ids[0] if attributes["kind"] == KIND_BASELINE else ids[-1]
        if attributes.get("injected_from") and attributes["injected_from"] not in ids:
            attributes["injected_from"] = None
        out = upsertLesion(
            columns,
            out + [list(row) for row in rows if _cellMap(columns, row)["Lesion"] == lesionId],
            attributes,
            timepoints,
        )
    return out


def studyCsvText(columns: Sequence[str], rows: Sequence[Sequence]) -> str:
    """The study table as CSV text (header line, then one line per row)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue()


def studyRowsFromCsvText(text: str) -> tuple[list[str], list[list[str]]]:
    """Columns and rows from the CSV text written by :func:`studyCsvText`."""
    table = list(csv.reader(io.StringIO(text)))
    if not table:
        raise ValueError("the CSV file is empty")
    columns = table[0]
    _checkColumns(columns)
    return columns, [row for row in table[1:] if any(cell.strip() for cell in row)]


# --------------------------------------------------------------------- time points from volumes
_ISO_IN_TEXT = re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})(?!\d)")


def isoDateFromDicom(value) -> str | None:
    """``YYYYMMDD`` (DICOM DA, e.g. StudyDate 0008,0020) as ``YYYY-MM-DD``; None when empty or invalid."""
    text = str(value or "").strip()
    if not re.fullmatch(r"\d{8}", text):
        return None
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:])).isoformat()
    except ValueError:
        return None


def dateFromText(text) -> str | None:
    """The first valid date ``YYYY-MM-DD`` or ``YYYYMMDD`` in a text (e.g. a volume name), as ISO; else None."""
    for match in _ISO_IN_TEXT.finditer(str(text or "")):
        try:
            return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3))).isoformat()
        except ValueError:
            continue
    return None


def timepointIdsFromDates(dates: Sequence[str]) -> list[str]:
    """Time point ids for ISO dates in increasing order: ``BL`` then ``W<weeks since baseline>``.

    Two dates in the same week get ``-2``, ``-3`` ... suffixes; ValueError if the dates are not increasing.
    """
    parsed = [dt.date.fromisoformat(str(d)) for d in dates]
    for earlier, later in zip(parsed, parsed[1:]):
        if later <= earlier:
            raise ValueError(f"time point dates must increase: {later} is not after {earlier}")
    ids: list[str] = []
    for index, date in enumerate(parsed):
        base = "BL" if index == 0 else f"W{round((date - parsed[0]).days / 7)}"
        name, count = base, 1
        while name in ids:
            count += 1
            name = f"{base}-{count}"
        ids.append(name)
    return ids


def timepointsFromVolumeDates(volumes: Sequence[Mapping]) -> list[dict]:
    """Time points from volumes: ``[{"name", "date"}]`` (ISO or None) -> ``[{"id", "date", "volume"}]`` in date order.

    Volumes with the same date are one time point. ValueError names the volumes without a date.
    """
    undated = [str(v["name"]) for v in volumes if not v.get("date")]
    if undated:
        raise ValueError(
            "no date for volume(s) " + ", ".join(undated) + ": load them from DICOM (study date) or put "
            "the date in the volume name as YYYY-MM-DD"
        )
    byDate: dict[str, str] = {}
    for volume in volumes:
        byDate.setdefault(str(volume["date"]), str(volume["name"]))
    dates = sorted(byDate)
    return [{"id": tp, "date": date, "volume": byDate[date]} for tp, date in zip(timepointIdsFromDates(dates), dates)]


# --------------------------------------------------------------------- line markups
def lineNodeName(lesionId: str, timepointId: str) -> str:
    """Name of the line markup measuring a lesion at a time point: ``<lesion>@<timepoint>``."""
    for label, value in (("lesion id", lesionId), ("time point id", timepointId)):
        if not str(value).strip() or NAME_SEPARATOR in str(value):
            raise ValueError(f"{label} {value!r}: must be non-empty and contain no {NAME_SEPARATOR!r}")
    return f"{str(lesionId).strip()}{NAME_SEPARATOR}{str(timepointId).strip()}"


def parseLineNodeName(name: str) -> tuple[str, str]:
    """``(lesion id, time point id)`` from a line markup name ``<lesion>@<timepoint>``.

    ValueError with the expected form when the name has no ``@``, several, or an empty part.
    """
    text = str(name or "").strip()
    parts = text.split(NAME_SEPARATOR)
    if len(parts) != 2:
        found = "no" if len(parts) == 1 else str(len(parts) - 1)
        raise ValueError(
            f"line name {name!r} has {found} {NAME_SEPARATOR!r}; name measurement lines "
            f"<lesion>{NAME_SEPARATOR}<timepoint>, e.g. L1{NAME_SEPARATOR}BL"
        )
    lesionId, timepointId = (part.strip() for part in parts)
    if not lesionId or not timepointId:
        raise ValueError(
            f"line name {name!r}: the {'lesion id' if not lesionId else 'time point id'} is empty; "
            f"name measurement lines <lesion>{NAME_SEPARATOR}<timepoint>, e.g. L1{NAME_SEPARATOR}BL"
        )
    return lesionId, timepointId


def lineLengthMm(points) -> float:
    """Length (mm) of a line from its two control points (N x 3, RAS or LPS: the length is the same)."""
    array = np.asarray(points, dtype=float)
    if array.shape != (2, 3):
        raise ValueError(f"a measurement line needs exactly 2 control points, got array of shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError("a measurement line has an undefined control point")
    return float(np.linalg.norm(array[1] - array[0]))


# --------------------------------------------------------------------- response tables
RECIST_NAME, IRECIST_NAME, ITRECIST_NAME = "RECIST1.1", "iRECIST", "itRECIST"
CRITERIA = (RECIST_NAME, IRECIST_NAME, ITRECIST_NAME)

_FIRST_COLUMNS = (("Time point", "timepoint_id"), ("Date", None), ("Overall", "overall"))
#: The columns RECIST 1.1 and iRECIST share after the first ones (iRECIST reads RECIST's sums and changes).
_RECIST_COLUMNS = (
    ("Target", "target"),
    ("Non-target", "non_target"),
    ("New lesions", "new_lesions"),
    ("Sum (mm)", "sum_mm"),
    ("Change from baseline (%)", "change_from_baseline_pct"),
    ("Change from nadir (%)", "change_from_nadir_pct"),
)
#: Per criterion: table column -> key in the criterion's time point record (``None``: computed here).
RESPONSE_COLUMNS = {
    RECIST_NAME: _FIRST_COLUMNS + _RECIST_COLUMNS + (("Change from nadir (mm)", "change_from_nadir_mm"),),
    IRECIST_NAME: _FIRST_COLUMNS
    + _RECIST_COLUMNS
    + (
        ("New-lesion target sum (mm)", "new_lesion_target_sum_mm"),
        ("Triggers", "progression_triggers"),
        ("Notes", "notes"),
    ),
    ITRECIST_NAME: _FIRST_COLUMNS
    + (
        ("Injected", "injected"),
        ("Non-injected", "non_injected"),
        ("Sum (mm)", "sum_mm"),
        ("Change from baseline (%)", "change_from_baseline_pct"),
        ("Injected sum (mm)", "injected_sum_mm"),
        ("Injected change (%)", "injected_change_from_baseline_pct"),
        ("Non-injected sum (mm)", "non_injected_sum_mm"),
        ("Non-injected change (%)", "non_injected_change_from_baseline_pct"),
        ("Lesion categories", "lesion_categories"),
    ),
}


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return formatBool(value)
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, Mapping):
        return "; ".join(f"{key}: {item}" for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return "; ".join(str(item) for item in value)
    return str(value)


def responseTables(response: Mapping) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Per criterion (RECIST1.1, iRECIST, itRECIST): columns and one row of strings per time point."""
    tables = {}
    for criterion in CRITERIA:
        spec = RESPONSE_COLUMNS[criterion]
        rows = []
        for timepoint in response.get("timepoints", []):
            record = timepoint["criteria"][criterion]
            rows.append([timepoint["date"] if key is None else _cell(record.get(key)) for _, key in spec])
        tables[criterion] = ([name for name, _ in spec], rows)
    return tables


def responseCategory(response: Mapping, criterion: str, timepointId: str, field: str = "overall"):
    """One category from a response dict, e.g. ``("RECIST1.1", "W8")`` -> ``"PR"``."""
    for timepoint in response.get("timepoints", []):
        if timepoint["id"] == timepointId:
            return timepoint["criteria"][criterion].get(field)
    raise ValueError(f"time point {timepointId!r} is not in the response")


def responseSummary(response: Mapping) -> str:
    """Best overall response per criterion and stream, one line each, then the warnings."""
    best = response.get("best_overall_response", {})
    lines = []
    for criterion in (RECIST_NAME, IRECIST_NAME):
        if criterion in best:
            lines.append(
                f"{criterion}: {best[criterion].get('unconfirmed')} (confirmed: {best[criterion].get('confirmed')})"
            )
    for stream, value in (best.get(ITRECIST_NAME) or {}).items():
        lines.append(f"{ITRECIST_NAME} {stream}: {value.get('unconfirmed')} (confirmed: {value.get('confirmed')})")
    lines += [f"Warning: {warning}" for warning in response.get("warnings", [])]
    return "\n".join(lines)


# --------------------------------------------------------------------- plots
STREAM_OVERALL, STREAM_INJECTED, STREAM_NON_INJECTED = "overall", "injected", "non_injected"
STREAM_TITLES = {
    STREAM_OVERALL: "All targets",
    STREAM_INJECTED: "Injected (T-I)",
    STREAM_NON_INJECTED: "Non-injected (T-NI)",
}
#: RGB 0-1 per stream (same hues as the core's matplotlib plots).
STREAM_COLORS = {
    STREAM_OVERALL: (0.27, 0.27, 0.27),
    STREAM_INJECTED: (0.85, 0.37, 0.01),
    STREAM_NON_INJECTED: (0.11, 0.62, 0.47),
}
_LESION_PREFIX = "lesion "


def waterfallSeries(waterfall: Mapping[str, float]) -> list[dict]:
    """Bar series of the waterfall plot: one per stream (overall, injected, non-injected), kept apart.

    ``waterfall`` is ``hitit.response.plots.waterfall_data``: stream -> best change (%). Each
    series: ``name``, ``stream``, ``x`` (bar position), ``y`` (%), ``color``.
    """
    series = []
    for position, stream in enumerate(s for s in STREAM_TITLES if s in waterfall):
        series.append(
            {
                "name": STREAM_TITLES[stream],
                "stream": stream,
                "x": [float(position)],
                "y": [float(waterfall[stream])],
                "color": STREAM_COLORS[stream],
            }
        )
    return series


def spiderSeries(spider: Mapping[str, tuple], injectedLesionIds=()) -> list[dict]:
    """Line series of the spider plot: the stream sums and one per target lesion.

    ``spider`` is ``hitit.response.plots.spider_data`` (key -> (weeks, %)); lesion series are
    coloured and grouped (``stream``) injected or non-injected by ``injectedLesionIds``.
    """
    injected = set(injectedLesionIds)
    series = []
    for key, (xs, ys) in spider.items():
        if key.startswith(_LESION_PREFIX):
            lesionId = key[len(_LESION_PREFIX) :]
            stream = STREAM_INJECTED if lesionId in injected else STREAM_NON_INJECTED
            name, width = f"{lesionId} ({'injected' if stream == STREAM_INJECTED else 'non-injected'})", 1
        else:
            stream, name, width = key, f"{STREAM_TITLES.get(key, key)} sum", 3
        series.append(
            {
                "name": name,
                "stream": stream,
                "lesion": key[len(_LESION_PREFIX) :] if key.startswith(_LESION_PREFIX) else "",
                "x": [float(x) for x in xs],
                "y": [float(y) for y in ys],
                "color": STREAM_COLORS.get(stream, (0.5, 0.5, 0.5)),
                "lineWidth": width,
            }
        )
    return series


def injectedLesionIds(study: Mapping) -> list[str]:
    """Ids of the baseline lesions injected at some time point (``injected_from`` set)."""
    return [str(lesion["id"]) for lesion in study.get("lesions", []) if lesion.get("injected_from")]


# --------------------------------------------------------------------- injection-site review
REVIEW_COLUMNS = (
    "Lesion",
    "Needle",
    "Tip to target (mm)",
    "Angle (deg)",
    "Depth error (mm)",
    "Lateral at target depth (mm)",
    "Margins kept",
    "Note",
)


def reviewTableRows(review: Mapping) -> tuple[list[str], list[list[str]]]:
    """Columns and rows of the needle review table from ``Review.to_dict()``: one row per lesion."""
    rows = []
    reviewed = set()
    for needle in review.get("needles", []):
        lesionId = str(needle["lesion_id"])
        reviewed.add(lesionId)
        deviation = needle.get("deviation") or {}
        margins = needle.get("margins") or {}

        def number(key, deviation=deviation):
            value = deviation.get(key)
            return "" if value is None else f"{float(value):.2f}"

        rows.append(
            [
                lesionId,
                str((needle.get("needle") or {}).get("source", "")),
                number("tip_to_target_mm"),
                number("angle_deg"),
                number("depth_error_mm"),
                number("lateral_at_target_depth_mm"),
                _cell(margins.get("kept")),
                str((review.get("needle_notes") or {}).get(lesionId, "")),
            ]
        )
    for lesionId, note in (review.get("needle_notes") or {}).items():
        if lesionId not in reviewed:
            rows.append([lesionId, "", "", "", "", "", "", str(note)])
    return list(REVIEW_COLUMNS), rows
