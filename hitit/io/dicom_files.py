"""Recognise the DICOM objects given as structures or lesions, and check that they belong to the CT.

A DICOM file given where a segmentation is expected is read whole with pydicom, checked for
truncation (pydicom reads a cut-off file without complaint) and dispatched by its SOP Class UID:
Segmentation (binary, fractional or label map) or RT Structure Set. Anything else gets one line
saying what it is and what to pass instead. When the CT was read from a DICOM series, its
identity (:class:`DicomSeriesRef`) lets the readers refuse an object of another study or frame
of reference.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

from hitit.errors import GeometryError, InputError

#: Segmentation Storage (binary and fractional segmentations), DICOM PS3.4 Annex B.5.
SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
#: Label Map Segmentation Storage (one label value per segment), DICOM PS3.4 Annex B.5 (2024).
LABELMAP_SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.7"
#: RT Structure Set Storage, DICOM PS3.4 Annex B.5.
RTSTRUCT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"
#: Kind of structure object per SOP Class UID.
STRUCTURE_KINDS = {SEG_SOP_CLASS: "seg", LABELMAP_SEG_SOP_CLASS: "seg", RTSTRUCT_SOP_CLASS: "rtstruct"}
#: The Sequence Delimitation Item that ends an undefined-length sequence (PS3.5 §7.5), little endian.
_SEQUENCE_DELIMITER_LE = struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
_UNDEFINED_LENGTH = 0xFFFFFFFF


@dataclass(frozen=True)
class DicomSeriesRef:
    """Identity of the DICOM series a CT was read from (empty strings where the series has none).

    Attributes:
        study_uid: StudyInstanceUID (0020,000D).
        series_uid: SeriesInstanceUID (0020,000E).
        frame_of_reference_uid: FrameOfReferenceUID (0020,0052): the patient coordinate system.
        sop_instance_uids: SOPInstanceUID of each slice, in slice order.
        patient_id, patient_name: PatientID (0010,0020) and PatientName (0010,0010); kept in memory
            only, written nowhere unless the user asks (``hitit plan --include-patient-id``).
    """

    study_uid: str
    series_uid: str
    frame_of_reference_uid: str
    sop_instance_uids: tuple[str, ...] = ()
    patient_id: str = field(default="", repr=False)
    patient_name: str = field(default="", repr=False)


def is_dicom_file(path: Path) -> bool:
    """True for a ``.dcm`` file or any file with the DICOM preamble (``DICM`` at byte 128)."""
    from pydicom.misc import is_dicom

    return path.is_file() and (path.suffix.lower() == ".dcm" or is_dicom(str(path)))


def read_dicom_object(path: Path):
    """The whole DICOM file as a pydicom Dataset; an :class:`InputError` if unreadable or truncated."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        dataset = pydicom.dcmread(str(path))
        _check_complete(path, dataset)
    except InvalidDicomError:
        raise InputError(f"{path} is not a DICOM file (no DICOM header): pass a DICOM SEG or RTSTRUCT file.") from None
    except (OSError, EOFError, ValueError, KeyError, TypeError, struct.error) as error:
        if isinstance(error, InputError):
            raise
        raise InputError(
            f"Cannot read DICOM file {path}: it is truncated or corrupt ({error}); copy or export it again."
        ) from None
    return dataset


def _check_complete(path: Path, dataset) -> None:
    """InputError if the file ends inside its last data element (pydicom stops quietly at the end).

    The last top-level element must end exactly at the end of the file, as pydicom's own parse
    places it; an undefined-length sequence must end with its delimitation item.
    """
    if not len(dataset):
        raise InputError(f"DICOM file {path} holds no data elements: it is truncated; copy or export it again.")
    size = path.stat().st_size
    last = dataset.get_item(list(dataset.keys())[-1])  # the raw element: pydicom keeps where its value lies
    value_tell, length = getattr(last, "value_tell", None), getattr(last, "length", None)
    if value_tell is not None and length is not None and length != _UNDEFINED_LENGTH:
        complete = value_tell + length == size
    elif getattr(last, "VR", None) == "SQ" or getattr(last, "is_undefined_length", False):
        with path.open("rb") as handle:
            handle.seek(max(size - 8, 0))
            complete = handle.read(8) in (_SEQUENCE_DELIMITER_LE, struct.pack(">HHI", 0xFFFE, 0xE0DD, 0))
    else:
        complete = True  # nothing to compare: the reader's required-attribute checks decide
    if not complete:
        raise InputError(
            f"DICOM file {path} is truncated (it ends inside its last data element); copy or export it again."
        )


def structure_kind(dataset, path: Path) -> str:
    """``"seg"`` or ``"rtstruct"`` from the SOP Class UID; an :class:`InputError` for any other object."""
    from pydicom.uid import UID

    sop_class = str(dataset.get("SOPClassUID", "") or "")
    kind = STRUCTURE_KINDS.get(sop_class)
    if kind is None:
        what = UID(sop_class).name if sop_class else "a DICOM object without SOP Class UID"
        modality = dataset.get("Modality", "")
        raise InputError(
            f"{path.name} is {what}{f' ({modality})' if modality else ''}, not a segmentation: pass a DICOM SEG or "
            "RT Structure Set file as structures or lesions (a CT series folder goes to --ct)."
        )
    return kind


def check_reference(dataset, path: Path, reference: DicomSeriesRef | None, what: str) -> None:
    """Refuse ``dataset`` when it belongs to another study or frame of reference than the CT.

    Only the UIDs both sides carry are compared (a CT read from NRRD/NIfTI has none; a
    de-identified series may lack its study UID); positions are checked by the readers.
    """
    if reference is None:
        return
    study = str(dataset.get("StudyInstanceUID", "") or "")
    if reference.study_uid and study and study != reference.study_uid:
        raise InputError(
            f"{path.name} is a {what} of another study (StudyInstanceUID {study}, the CT's is {reference.study_uid}): "
            f"use the {what} made on this CT."
        )
    frames = referenced_frames_of_reference(dataset)
    if reference.frame_of_reference_uid and frames and reference.frame_of_reference_uid not in frames:
        raise GeometryError(
            f"{path.name} is a {what} in another frame of reference ({', '.join(sorted(frames))}, the CT's is "
            f"{reference.frame_of_reference_uid}): its coordinates do not apply to this CT; use the {what} made on it."
        )


def referenced_frames_of_reference(dataset) -> set[str]:
    """Frame of Reference UIDs a SEG (its own) or an RTSTRUCT (the ones its ROIs use) lives in."""
    frames = {str(dataset.get("FrameOfReferenceUID", "") or "")}
    for roi in dataset.get("StructureSetROISequence", []):
        frames.add(str(roi.get("ReferencedFrameOfReferenceUID", "") or ""))
    frames.discard("")
    return frames


def dicom_sop_class(path: Path) -> str:
    """The SOP Class UID of a DICOM file read up to its pixel data ('' when it cannot be read)."""
    import pydicom

    try:
        return str(
            pydicom.dcmread(str(path), stop_before_pixels=True, specific_tags=["SOPClassUID"]).get("SOPClassUID", "")
        )
    except Exception:  # an unreadable file is not a segmentation; the caller says what was expected
        return ""
