"""A plan's lesions as DICOM: ``lesions.seg.dcm`` (SEG) and ``measurements.sr.dcm`` (SR, TID 1500).

Both objects join the CT's study (same Study Instance UID, patient and study attributes copied from
the CT and nothing else identifying added), each in a new series with new UIDs, and reference the
CT series: the SEG frames by their source CT slices, the SR by the SEG segment and the CT series.

Each lesion is one SEG segment (SegmentLabel = lesion id) and one TID 1500 measurement group:
Tracking Identifier = lesion id, Tracking Unique Identifier from :func:`tracking_uid` (the same for
the same lesion of the same patient at every visit), the referenced segment, the finding site when
the host organ is known, volume, long axis, short axis and the planned injectate volume
(concepts in :mod:`hitit.dicom.concepts`). Measurement values are the plan's own numbers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hitit import __version__
from hitit.dicom.concepts import concept, finding_site, planned_injectate_volume, segment_category, segment_type
from hitit.dicom.ct_series import CtSeries
from hitit.errors import InputError

if TYPE_CHECKING:
    from hitit.plan.plan_file import PlanFile

#: The namespace of HITIT's tracking UIDs (a fixed random UUID): the default "stable seed".
TRACKING_NAMESPACE = uuid.UUID("4f1c2b7e-8d3a-4c55-9a61-2b9e7d0c5a13")
SEG_FILE = "lesions.seg.dcm"
SR_FILE = "measurements.sr.dcm"
#: Kind of output set an export folder is (named by its marker, see hitit.io.outdir).
DICOM_EXPORT_KIND = "dicom-export"
#: Series numbers of the new series (free choice; PACS viewers sort by them).
SEG_SERIES_NUMBER = 901
SR_SERIES_NUMBER = 902
MANUFACTURER = "HITIT"


@dataclass(frozen=True)
class LesionRecord:
    """What is exported of one plan lesion (mm, mL); ``organ`` is the host organ name or None."""

    lesion_id: str
    volume_ml: float
    longest_diameter_mm: float
    short_axis_mm: float
    injectate_ml: float
    organ: str | None
    nodal: bool


def lesion_records(plan: PlanFile) -> list[LesionRecord]:
    """The exported values of every lesion of a checked plan (:func:`hitit.plan.plan_file.load_plan`)."""
    records = []
    for lesion in plan.lesions:
        m = lesion.record["measurement"]
        records.append(
            LesionRecord(
                lesion.id,
                float(m["volume_ml"]),
                float(m["longest_diameter_mm"]),
                float(m["short_axis_mm"]),
                lesion.injectate_ml,
                m.get("organ"),
                bool(m["nodal"]),
            )
        )
    return records


def tracking_uid(patient_key: str, lesion_id: str, seed: str | None = None) -> str:
    """A UID (``2.25.<UUID>``, PS3.5 Annex B.2) fixed by patient, lesion id and seed.

    The same patient key, lesion id and seed give the same UID at every visit, so a lesion keeps
    its Tracking Unique Identifier across reports; another patient or lesion gets another one.
    """
    namespace = TRACKING_NAMESPACE if seed is None else uuid.uuid5(TRACKING_NAMESPACE, seed)
    name = "\x1f".join((patient_key, lesion_id))  # unit separator: "a" + "bc" and "ab" + "c" stay apart
    return f"2.25.{uuid.uuid5(namespace, name).int}"


def patient_key(ct: CtSeries, seed: str | None) -> str:
    """The patient part of tracking UIDs: Issuer + Patient ID of the CT; an InputError when neither it nor a seed
    exists.
    """
    patient_id = str(ct.first.get("PatientID", "") or "").strip()
    if not patient_id and seed is None:
        raise InputError(
            "The CT series has no Patient ID, so lesions cannot keep their Tracking Unique Identifier across visits: "
            "give --tracking-seed TEXT, the same text for every visit of this patient."
        )
    return f"{ct.first.get('IssuerOfPatientID', '') or ''}^{patient_id}"


def build_seg(ct: CtSeries, masks: dict[str, np.ndarray], records: list[LesionRecord], key: str, seed: str | None):
    """The DICOM SEG of the lesion masks (``[k, j, i]`` on ``ct.grid``), one binary segment per lesion
    carrying the lesion's tracking identifier and UID (as the SR does).
    """
    import highdicom as hd

    pixels = np.stack([masks[r.lesion_id] for r in records], axis=-1).astype(np.uint8)  # (slice, row, column, segment)
    descriptions = []
    for number, record in enumerate(records, start=1):
        site = finding_site(record.organ)
        descriptions.append(
            hd.seg.SegmentDescription(
                segment_number=number,
                segment_label=record.lesion_id,
                segmented_property_category=segment_category(),
                segmented_property_type=segment_type(),
                # the masks are the planner's input segmentation; HITIT records no algorithm for them
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
                anatomic_regions=[site] if site is not None else None,
                tracking_id=record.lesion_id,
                tracking_uid=tracking_uid(key, record.lesion_id, seed),
            )
        )
    return hd.seg.Segmentation(
        source_images=ct.datasets,
        pixel_array=pixels,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=SEG_SERIES_NUMBER,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        manufacturer_model_name="hitit",
        software_versions=__version__,
        device_serial_number="none",
        series_description="HITIT lesions",
        content_label="LESIONS",
        content_description="Lesions of a HITIT plan",
    )


def build_sr(ct: CtSeries, seg, records: list[LesionRecord], key: str, seed: str | None):
    """The TID 1500 Measurement Report (Comprehensive 3D SR) of the lesions, referencing ``seg`` and the CT."""
    import highdicom as hd
    from highdicom.sr import CodedConcept

    milliliter = CodedConcept("ml", "UCUM", "milliliter")
    millimeter = concept("UCUM", "Millimeter")
    groups = []
    for number, record in enumerate(records, start=1):
        site = finding_site(record.organ)
        groups.append(
            hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
                tracking_identifier=hd.sr.TrackingIdentifier(
                    uid=tracking_uid(key, record.lesion_id, seed), identifier=record.lesion_id
                ),
                referenced_segment=hd.sr.ReferencedSegment(
                    sop_class_uid=seg.SOPClassUID,
                    sop_instance_uid=seg.SOPInstanceUID,
                    segment_number=number,
                    source_series=hd.sr.SourceSeriesForSegmentation(ct.first.SeriesInstanceUID),
                ),
                finding_type=segment_type(),
                finding_sites=[hd.sr.FindingSite(site)] if site is not None else None,
                measurements=[
                    hd.sr.Measurement(concept("SCT", "Volume"), round(record.volume_ml, 3), milliliter),
                    hd.sr.Measurement(concept("SCT", "LongAxis"), round(record.longest_diameter_mm, 2), millimeter),
                    hd.sr.Measurement(concept("SCT", "ShortAxis"), round(record.short_axis_mm, 2), millimeter),
                    hd.sr.Measurement(planned_injectate_volume(), round(record.injectate_ml, 3), milliliter),
                ],
            )
        )
    observer = hd.sr.ObserverContext(
        observer_type=concept("DCM", "Device"),
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=hd.UID(), name=f"HITIT {__version__}"
        ),
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=concept("LN", "CTUnspecifiedBodyRegion"),  # LOINC 25045-6, CID 100
        imaging_measurements=groups,
    )
    return hd.sr.Comprehensive3DSR(
        evidence=[seg, *ct.datasets],
        content=report[0],
        series_instance_uid=hd.UID(),
        series_number=SR_SERIES_NUMBER,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        series_description="HITIT lesion measurements",
        is_complete=True,
        is_final=False,
        is_verified=False,
    )


def export_dicom(
    plan_dir: str | Path, ct_folder: str | Path, out_dir: str | Path, seed: str | None = None
) -> dict[str, Path]:
    """Write ``lesions.seg.dcm`` and ``measurements.sr.dcm`` of the plan in ``plan_dir`` into ``out_dir``.

    Both objects are built in memory first, so bad input (a CT without UIDs, a plan made on another
    grid, a lesion missing from the plan's masks) writes nothing; the two files are then placed as one
    output set (:func:`hitit.io.outdir.write_output_set`): an earlier export there is replaced as a whole,
    a file HITIT did not write is never overwritten.
    """
    from hitit.dicom.ct_series import read_ct_series
    from hitit.io.outdir import check_output_set, write_output_set
    from hitit.io.segmentations import read_structures, seg_nrrd_grid
    from hitit.plan.folder import LESION_MASKS_FILE
    from hitit.plan.plan_file import load_plan

    check_output_set(out_dir, DICOM_EXPORT_KIND, [SEG_FILE, SR_FILE])
    plan = load_plan(plan_dir)
    masks_path = Path(plan_dir) / LESION_MASKS_FILE
    if not masks_path.is_file():
        raise InputError(
            f"{plan_dir} has no {LESION_MASKS_FILE} (the lesion masks): plan the case again with this HITIT version."
        )
    ct = read_ct_series(ct_folder)
    if not seg_nrrd_grid(masks_path).same_as(ct.grid, tolerance_mm=0.01):
        raise InputError(
            f"The plan in {plan_dir} was made on another CT grid than the series in {ct_folder}: "
            f"give the CT series the plan was made on (plan grid {seg_nrrd_grid(masks_path).describe()})."
        )
    masks = read_structures(masks_path, ct.grid)
    records = lesion_records(plan)
    missing = [r.lesion_id for r in records if r.lesion_id not in masks or not masks[r.lesion_id].any()]
    if missing or not records:
        raise InputError(
            f"Lesions {missing} of plan.json have no mask in {masks_path.name}: plan the case again."
            if missing
            else f"The plan in {plan_dir} has no lesion to export."
        )
    seed_key = patient_key(ct, seed)
    seg = build_seg(ct, masks, records, seed_key, seed)
    sr = build_sr(ct, seg, records, seed_key, seed)

    def write(staging: Path) -> dict[str, Path]:
        paths = {"seg": staging / SEG_FILE, "sr": staging / SR_FILE}
        for key, dataset in (("seg", seg), ("sr", sr)):
            dataset.save_as(paths[key], enforce_file_format=True)
        return paths

    return write_output_set(out_dir, DICOM_EXPORT_KIND, write)
