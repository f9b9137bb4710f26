"""Test DICOM made at test time from the real TotalSegmentator example (nothing large is committed).

- :func:`ct_series_with_uids`: a copy of the TotalSegmentator DICOM CT series (whose Study/Series/
  SOP Instance UIDs are empty and whose pixels are JPEG 2000) with UIDs filled in and the pixels
  stored uncompressed, so that independent writers (dcmqi, rt-utils) accept it.
- :func:`dcmqi_seg`: a DICOM SEG written by dcmqi's ``itkimage2segimage`` from the label map.
- :func:`rtutils_rtstruct`: an RTSTRUCT written by rt-utils from masks on the CT grid.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

#: UID root of the test objects (the "2.25" UUID-derived root keeps them globally unique).
TEST_STUDY_UID = "2.25.118720119430217930432931316045541958021"
TEST_SERIES_UID = "2.25.197640244104474893960478934342045736371"
TEST_PATIENT_ID = "HITIT-TEST-0001"
TEST_PATIENT_NAME = "Test^Patient"


def tool(name: str) -> Path:
    """Path of a command-line tool installed in the test environment, or skip the test naming it."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        pytest.skip(f"{name} is not installed (pip install -e '.[test]' installs dcmqi and dicom3tools)")
    return path


def ct_series_with_uids(
    source: Path,
    out: Path,
    study_uid: str = TEST_STUDY_UID,
    series_uid: str = TEST_SERIES_UID,
    patient_id: str = TEST_PATIENT_ID,
    step: int = 2,
) -> Path:
    """Copy of the DICOM series in ``source`` with UIDs, patient id and uncompressed HU pixels; returns ``out``.

    Every ``step``-th row and column is kept (pixel spacing x ``step``, same first voxel centre) to keep
    the tests fast; the voxel centres kept are voxel centres of the original series.
    """
    import pydicom
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

    out.mkdir(parents=True, exist_ok=True)
    for index, file in enumerate(sorted(p for p in source.iterdir() if p.is_file())):
        dataset = pydicom.dcmread(file)
        hu = sitk.GetArrayFromImage(sitk.ReadImage(str(file)))[0].astype(np.int16)[
            ::step, ::step
        ]  # GDCM decodes JPEG 2000
        dataset.Rows, dataset.Columns = hu.shape
        dataset.PixelSpacing = [f"{float(v) * step:g}" for v in dataset.PixelSpacing]
        dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        dataset.SOPClassUID = dataset.file_meta.MediaStorageSOPClassUID = CTImageStorage
        dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = f"{series_uid}.{index + 1}"
        dataset.StudyInstanceUID, dataset.SeriesInstanceUID = study_uid, series_uid
        dataset.StudyID, dataset.SeriesNumber = "1", 2
        dataset.PatientID, dataset.PatientName = patient_id, TEST_PATIENT_NAME
        dataset.PatientBirthDate, dataset.PatientSex, dataset.AccessionNumber = "19600101", "O", "A1"
        dataset.StudyTime = dataset.get("StudyTime") or "120000"
        dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit, dataset.PixelRepresentation = 16, 16, 15, 1
        dataset.RescaleIntercept, dataset.RescaleSlope = 0, 1
        for keyword in ("SmallestImagePixelValue", "LargestImagePixelValue"):
            if keyword in dataset:
                del dataset[keyword]
        dataset.PixelData = hu.tobytes()
        dataset["PixelData"].VR = "OW"
        dataset.save_as(out / f"CT{index + 1:04d}.dcm", enforce_file_format=True)
    return out


def flipped_label_image(label_map: Path, ct_folder: Path, out: Path) -> Path:
    """``label_map`` resampled (SimpleITK, nearest neighbour) onto the CT series grid with its rows
    running the other way, as TotalSegmentator's own label map does; written to ``out``.
    """
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(ct_folder)))
    ct = reader.Execute()
    flipped = sitk.Image(ct.GetSize(), sitk.sitkUInt8)  # same voxel centres, j axis reversed
    direction = np.asarray(ct.GetDirection()).reshape(3, 3)
    flipped.SetSpacing(ct.GetSpacing())
    flipped.SetOrigin(ct.TransformIndexToPhysicalPoint((0, ct.GetSize()[1] - 1, 0)))
    flipped.SetDirection((direction * [1, -1, 1]).ravel().tolist())
    labels = sitk.Resample(
        sitk.ReadImage(str(label_map)), flipped, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8
    )
    sitk.WriteImage(labels, str(out), True)
    return out


def dcmqi_seg(label_image: Path, names: dict[int, str], ct_folder: Path, out: Path, tmp: Path) -> Path:
    """A binary DICOM SEG of every label present in ``label_image``, written by dcmqi; returns ``out``."""
    values = np.unique(sitk.GetArrayFromImage(sitk.ReadImage(str(label_image))))
    segments = [
        {
            "labelID": int(v),
            "SegmentLabel": names[int(v)],
            "SegmentDescription": names[int(v)],
            "SegmentAlgorithmType": "AUTOMATIC",
            "SegmentAlgorithmName": "TotalSegmentator",
            "SegmentedPropertyCategoryCodeSequence": {
                "CodeValue": "123037004",
                "CodingSchemeDesignator": "SCT",
                "CodeMeaning": "Anatomical Structure",
            },
            "SegmentedPropertyTypeCodeSequence": {
                "CodeValue": "85756007",
                "CodingSchemeDesignator": "SCT",
                "CodeMeaning": "Tissue",
            },
        }
        for v in values
        if v
    ]
    metadata = {
        "ContentCreatorName": "Test",
        "ClinicalTrialSeriesID": "1",
        "ClinicalTrialTimePointID": "1",
        "SeriesDescription": "TotalSegmentator",
        "SeriesNumber": "300",
        "InstanceNumber": "1",
        "ContentLabel": "SEGMENTATION",
        "ContentDescription": "test",
        "segmentAttributes": [segments],
    }
    meta_path = tmp / "dcmqi-metadata.json"
    meta_path.write_text(json.dumps(metadata), encoding="utf-8")
    subprocess.run(
        [
            str(tool("itkimage2segimage")),
            "--inputImageList",
            str(label_image),
            "--inputDICOMDirectory",
            str(ct_folder),
            "--outputDICOM",
            str(out),
            "--inputMetadata",
            str(meta_path),
        ],
        check=True,
        capture_output=True,
    )
    return out


def rtutils_rtstruct(ct_folder: Path, masks: dict[str, np.ndarray], out: Path) -> Path:
    """An RTSTRUCT of ``masks`` (``[k, j, i]`` on the series grid, k by increasing position) written by rt-utils."""
    rt_utils = pytest.importorskip("rt_utils", reason="rt-utils is a test dependency (pip install -e '.[test]')")
    structure_set = rt_utils.RTStructBuilder.create_new(dicom_series_path=str(ct_folder))
    for name, mask in masks.items():
        structure_set.add_roi(
            mask=np.ascontiguousarray(mask.transpose(1, 2, 0)), name=name
        )  # rt-utils: (row, column, slice)
    structure_set.save(str(out))
    return out
