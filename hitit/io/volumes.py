"""Read and write scalar volumes: NRRD, NIfTI, MHA/MHD files and DICOM series folders.

SimpleITK does the decoding; this module adds the checks a radiologist's data needs: one series
per folder, slice spacing taken from the slice positions (not the SliceThickness tag, which is
often different), and errors that say what to fix.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from hitit.case import Volume
from hitit.errors import InputError
from hitit.io.atomic import atomic_path

#: File name endings read as single-file volumes.
VOLUME_SUFFIXES = (".nrrd", ".nhdr", ".nii", ".nii.gz", ".mha", ".mhd")
#: Largest relative deviation of a slice gap from the median gap before a series is refused (dimensionless).
SLICE_GAP_TOLERANCE = 0.01


def read_volume(path: str | Path) -> Volume:
    """Read a 3D volume from a file or a DICOM series folder (geometry in LPS)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"Volume not found: {path}. Check the path.")
    image = read_dicom_series(path) if path.is_dir() else _read_file(path)
    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(
            f"{path} is a {image.GetDimension()}D image with {image.GetNumberOfComponentsPerPixel()} components: "
            "a CT must be a single-component 3D volume."
        )
    return Volume.from_sitk(image)


def _read_file(path: Path) -> sitk.Image:
    try:
        return sitk.ReadImage(str(path))
    except RuntimeError as error:
        first_line = str(error).strip().splitlines()[-1] if str(error).strip() else "unknown error"
        raise InputError(
            f"Cannot read {path} as an image ({first_line}). The file may be corrupt or not a NRRD/NIfTI/MHA/DICOM volume."
        ) from None


def read_dicom_series(folder: Path) -> sitk.Image:
    """Read the single DICOM series in ``folder``, spacing from slice positions.

    GDCM sorts the files by image position along the slice normal; the spacing between slices
    is the median gap between consecutive positions, and unequal gaps (missing slices) are refused.
    """
    series_ids = sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder))
    if not series_ids:
        raise InputError(f"No DICOM series found in folder {folder}. Point to a folder of DICOM image files.")
    if len(series_ids) > 1:
        raise InputError(
            f"Folder {folder} holds {len(series_ids)} DICOM series ({', '.join(series_ids)}): "
            "put the CT series you want in a folder of its own."
        )
    files = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), series_ids[0])
    positions = np.array([_image_position(f) for f in files])
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(files)
    try:
        image = reader.Execute()
    except RuntimeError as error:
        raise InputError(f"Cannot read the DICOM series in {folder}: {str(error).strip().splitlines()[-1]}") from None
    if len(files) > 1:
        normal = np.asarray(image.GetDirection()).reshape(3, 3)[:, 2]
        gaps = np.diff(positions @ normal)
        median = float(np.median(gaps))
        if median <= 0 or np.any(np.abs(gaps - median) > SLICE_GAP_TOLERANCE * abs(median)):
            raise InputError(
                f"DICOM series in {folder} has unequal slice gaps ({gaps.min():.3f} to {gaps.max():.3f} mm): "
                "slices are missing or duplicated; export the complete series."
            )
        spacing = list(image.GetSpacing())
        spacing[2] = median
        image.SetSpacing(spacing)
    return image


def _image_position(filename: str) -> tuple[float, float, float]:
    reader = sitk.ImageFileReader()
    reader.SetFileName(filename)
    reader.ReadImageInformation()
    return tuple(float(v) for v in reader.GetMetaData("0020|0032").split("\\"))


def write_volume(volume: Volume, path: str | Path, compress: bool = True) -> Path:
    """Write ``volume`` to ``path`` (format from the suffix) atomically; return the path."""
    path = Path(path)
    if not any(str(path).endswith(s) for s in VOLUME_SUFFIXES):
        raise InputError(f"Cannot write {path}: use one of {', '.join(VOLUME_SUFFIXES)}.")
    with atomic_path(path) as tmp:
        sitk.WriteImage(volume.to_sitk(), str(tmp), compress)
    return path
