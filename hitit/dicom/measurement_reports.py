"""Read TID 1500 Measurement Reports (DICOM SR) back as per-lesion diameters.

One report is one time point, as OHIF's measurement tracking, Slicer's QuantitativeReporting and
``hitit export-dicom`` save them. Every measurement group (volumetric TID 1411, planar TID 1410,
image-level TID 1501) with a tracking identifier is a lesion; it is keyed by its Tracking Unique
Identifier (the identifier text when a group has no UID). Diameters, in mm:

- longest diameter: the group's "Long axis" (SCT 103339001), else "Length" (SCT 410668003), else
  "Diameter" (SCT 81827009);
- short axis: "Short axis" (SCT 103340004) when present.

The report's date is its Study Date (the date of the CT it measures), else its Content Date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from hitit.errors import InputError

#: Concept names (SCT code values) read as the longest diameter, in order of preference.
LONGEST_DIAMETER_CODES = ("103339001", "410668003", "81827009")
SHORT_AXIS_CODE = "103340004"
#: SCT "Lymph node": a finding site that makes the lesion nodal by default.
LYMPH_NODE_CODE = "59441001"
#: Units accepted for diameters, with their factor to mm (UCUM codes).
LENGTH_UNITS_MM = {"mm": 1.0, "cm": 10.0, "m": 1000.0, "um": 0.001}


@dataclass(frozen=True)
class ReportedLesion:
    """One lesion's measurement group in one report (mm); ``organ`` is the finding site's meaning or None."""

    key: str
    lesion_id: str
    longest_diameter_mm: float | None
    short_axis_mm: float | None
    organ: str | None
    nodal: bool


@dataclass
class MeasurementReportRead:
    """One TID 1500 report: its file, date (ISO), patient id and lesions."""

    path: Path
    date: str
    patient_id: str
    lesions: list[ReportedLesion] = field(default_factory=list)


def read_measurement_report(path: str | Path) -> MeasurementReportRead:
    """The lesions of a TID 1500 SR file; an :class:`InputError` for any other file."""
    import highdicom as hd

    from hitit.io.dicom_files import read_dicom_object

    path = Path(path)
    if not path.is_file():
        raise InputError(f"Measurement report not found: {path}. Check the path.")
    dataset = read_dicom_object(path)
    if str(dataset.get("Modality", "")) != "SR" or "ContentSequence" not in dataset:
        raise InputError(
            f"{path.name} is not a DICOM structured report (Modality {dataset.get('Modality', 'none')}): "
            "pass TID 1500 measurement reports (SR)."
        )
    try:
        report = hd.sr.MeasurementReport.from_sequence([dataset])
    except (ValueError, AttributeError, KeyError, TypeError) as error:
        raise InputError(f"{path.name} is an SR but not a TID 1500 Measurement Report ({error}).") from None
    groups = (
        report.get_volumetric_roi_measurement_groups()
        + report.get_planar_roi_measurement_groups()
        + report.get_image_measurement_groups()
    )
    read = MeasurementReportRead(path, _report_date(dataset, path), str(dataset.get("PatientID", "") or ""))
    for group in groups:
        lesion = _lesion(group, path)
        if lesion is not None:
            if any(other.key == lesion.key for other in read.lesions):
                raise InputError(
                    f"{path.name}: lesion {lesion.lesion_id} ({lesion.key}) has two measurement groups; keep one."
                )
            read.lesions.append(lesion)
    if not read.lesions:
        raise InputError(
            f"{path.name} has no measurement group with a tracking identifier: nothing to follow over time."
        )
    return read


def _report_date(dataset, path: Path) -> str:
    """ISO date of the report: Study Date, else Content Date."""
    value = str(dataset.get("StudyDate", "") or dataset.get("ContentDate", "") or "")
    try:
        return dt.datetime.strptime(value, "%Y%m%d").date().isoformat()
    except ValueError:
        raise InputError(
            f"{path.name} has no valid Study Date or Content Date ({value!r}): time points need a date."
        ) from None


def _lesion(group, path: Path) -> ReportedLesion | None:
    """The lesion of one measurement group, or None when the group has no tracking identifier."""
    identifier = group.tracking_identifier
    if not identifier:
        return None
    measurements = {str(m.name.value): m for m in group.get_measurements()}
    longest = next((_mm(measurements[c], identifier, path) for c in LONGEST_DIAMETER_CODES if c in measurements), None)
    short = _mm(measurements[SHORT_AXIS_CODE], identifier, path) if SHORT_AXIS_CODE in measurements else None
    sites = [site.value for site in (group.finding_sites or [])]
    return ReportedLesion(
        key=str(group.tracking_uid or identifier),
        lesion_id=str(identifier),
        longest_diameter_mm=longest,
        short_axis_mm=short,
        organ=str(sites[0].meaning).lower() if sites else None,
        nodal=any(str(s.value) == LYMPH_NODE_CODE for s in sites),
    )


def _mm(measurement, lesion_id: str, path: Path) -> float:
    """A length measurement in mm (UCUM unit converted)."""
    unit = str(measurement.unit.value)
    if unit not in LENGTH_UNITS_MM:
        raise InputError(
            f"{path.name}: lesion {lesion_id}: {measurement.name.meaning} is in {unit!r}, not a length unit (mm, cm)."
        )
    return float(measurement.value) * LENGTH_UNITS_MM[unit]
