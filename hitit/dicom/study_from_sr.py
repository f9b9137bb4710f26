"""A response study (``study.json``) from TID 1500 measurement reports, one report per time point.

Lesions are matched across reports by Tracking Unique Identifier and named by their Tracking
Identifier (the baseline's, when a later report renames a lesion). Time points are ordered by
date; a time point's id is its date unless a label is given. A lesion in the baseline report is
a baseline lesion; one first reported later is a new lesion of that time point. Each measurement is
the RECIST diameter: longest diameter, or the short axis for nodes (a lesion whose finding site is
a lymph node, or marked nodal in the roles file).

A non-target lesion (set in the roles file) is assessed qualitatively: status ``present`` at each
time point that reports it, to be edited where it progressed unequivocally.

Defaults the reports cannot give: role ``target`` for every measured baseline lesion,
``injected_from`` null, organ from the finding site (else ``unspecified``). :func:`read_roles`
reads a CSV (``lesion_id, role, nodal, injected_from`` and optionally ``organ``) that sets them.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from hitit.dicom.measurement_reports import MeasurementReportRead, ReportedLesion
from hitit.errors import InputError
from hitit.response.study import NON_TARGET, STATUS_PRESENT, TARGET, study_from_dict

#: Organ written when a report names no finding site.
UNSPECIFIED_ORGAN = "unspecified"
_TRUE = {"1", "true", "yes", "y"}
_FALSE = {"", "0", "false", "no", "n"}


@dataclass(frozen=True)
class LesionRole:
    """What the user says about one lesion (None: keep the default)."""

    role: str | None = None
    nodal: bool | None = None
    injected_from: str | None = None
    organ: str | None = None


@dataclass
class StudyFromReports:
    """The study document (validated) and the messages telling the user what to check or fill in."""

    study: dict
    messages: list[str] = field(default_factory=list)


def read_roles(path: str | Path) -> dict[str, LesionRole]:
    """Lesion id -> :class:`LesionRole` from a CSV with columns lesion_id, role, nodal, injected_from[, organ]."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Roles file not found: {path}.")
    roles: dict[str, LesionRole] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "lesion_id" not in reader.fieldnames:
            raise InputError(
                f"{path.name}: the first line must name the columns lesion_id, role, nodal, injected_from (organ "
                "optional)."
            )
        for line, row in enumerate(reader, start=2):
            lesion_id = (row.get("lesion_id") or "").strip()
            role = (row.get("role") or "").strip().lower() or None
            nodal = (row.get("nodal") or "").strip().lower()
            if not lesion_id or role not in (None, TARGET, NON_TARGET) or nodal not in _TRUE | _FALSE:
                raise InputError(
                    f"{path.name} line {line}: need a lesion_id, role {TARGET} or {NON_TARGET}, nodal yes/no; "
                    f"got {dict(row)}."
                )
            roles[lesion_id] = LesionRole(
                role,
                (nodal in _TRUE) if nodal else None,
                (row.get("injected_from") or "").strip() or None,
                (row.get("organ") or "").strip() or None,
            )
    return roles


def study_from_reports(
    reports: list[MeasurementReportRead], labels: list[str] | None = None, roles: dict[str, LesionRole] | None = None
) -> StudyFromReports:
    """The study of ``reports`` (any order), validated against the study schema and rules."""
    if labels and len(labels) != len(reports):
        raise InputError(
            f"{len(labels)} labels for {len(reports)} reports: give one --label per report, in the same order."
        )
    named = sorted(zip(reports, labels or [None] * len(reports)), key=lambda pair: pair[0].date)
    timepoints = [(label or report.date, report) for report, label in named]
    ids = [tp for tp, _ in timepoints]
    if len(set(ids)) != len(ids):
        raise InputError(f"Two reports have the same time point id ({', '.join(ids)}): give each report a --label.")
    patients = {r.patient_id for r in reports if r.patient_id}
    if len(patients) > 1:
        raise InputError(
            f"The reports are of different patients ({', '.join(sorted(patients))}): give one patient's reports."
        )
    roles = roles or {}
    first_seen: dict[str, tuple[str, ReportedLesion]] = {}
    values: dict[str, dict[str, ReportedLesion]] = {}
    for tp, report in timepoints:
        for lesion in report.lesions:
            first_seen.setdefault(lesion.key, (tp, lesion))
            values.setdefault(lesion.key, {})[tp] = lesion
    unknown = sorted(set(roles) - {lesion.lesion_id for _, lesion in first_seen.values()})
    if unknown:
        raise InputError(
            f"Roles file names lesions {unknown} that no report measures: check the lesion ids (Tracking Identifiers)."
        )
    baseline = ids[0]
    lesions, new_lesions, defaulted = [], [], []
    for key, (tp, first) in first_seen.items():
        role = roles.get(first.lesion_id, LesionRole())
        nodal = first.nodal if role.nodal is None else role.nodal
        item = {"id": first.lesion_id, "organ": role.organ or first.organ or UNSPECIFIED_ORGAN, "nodal": nodal}
        item["measurements"] = {t: _diameter(lesion, nodal, t) for t, lesion in values[key].items()}
        if tp == baseline:
            item.update(role=role.role or TARGET, injected_from=role.injected_from)
            if item["role"] == NON_TARGET:  # assessed qualitatively: a reported lesion is present
                item["status"] = {t: STATUS_PRESENT for t in item.pop("measurements")}
            if first.lesion_id not in roles:
                defaulted.append(first.lesion_id)
            lesions.append(item)
        else:
            new_lesions.append({**item, "timepoint": tp, "measurable": True})
    study = {
        "timepoints": [{"id": tp, "date": report.date} for tp, report in timepoints],
        "lesions": lesions,
        "new_lesions": new_lesions,
    }
    study_from_dict(study, source="measurement reports")  # schema and rules; raises naming the field to fix
    messages = []
    if defaulted:
        messages.append(
            f"Lesions {', '.join(defaulted)}: role set to target and injected_from to null (never injected). "
            "Edit role, nodal, organ and injected_from in the study file, or pass --roles FILE "
            "(CSV lesion_id,role,nodal,injected_from)."
        )
    unspecified = [item["id"] for item in lesions + new_lesions if item["organ"] == UNSPECIFIED_ORGAN]
    if unspecified:
        messages.append(
            f"Lesions {', '.join(unspecified)}: no finding site in the reports, organ '{UNSPECIFIED_ORGAN}'; fill it "
            "in."
        )
    return StudyFromReports(study, messages)


def _diameter(lesion: ReportedLesion, nodal: bool, timepoint: str) -> float:
    """The RECIST diameter of one measurement (mm): short axis for nodes, longest diameter otherwise."""
    value = lesion.short_axis_mm if nodal else lesion.longest_diameter_mm
    if value is None:
        what = "short axis (the lesion is nodal)" if nodal else "long axis or length"
        raise InputError(
            f"Lesion {lesion.lesion_id} at {timepoint}: the report has no {what}; measure it or mark it "
            "otherwise in --roles."
        )
    return round(float(value), 2)
