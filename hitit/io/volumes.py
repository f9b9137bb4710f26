"""Read and write scalar volumes: NRRD, NIfTI, MHA/MHD files and DICOM series folders.

SimpleITK does the decoding; this module adds the checks a radiologist's data needs: one series
per folder (or the one asked for), slices sorted and spaced by their positions (not by the
SliceThickness tag, which is often different), and errors that say what to fix. Geometry is LPS.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from hitit.case import Volume
from hitit.errors import InputError
from hitit.io.atomic import atomic_path
from hitit.io.dicom_files import DicomSeriesRef

#: File name endings read as single-file volumes.
VOLUME_SUFFIXES = (".nrrd", ".nhdr", ".nii", ".nii.gz", ".mha", ".mhd")
#: Endings :func:`write_volume` accepts: formats that keep header and voxels in one file, so the
#: atomic rename moves everything (``.nhdr``/``.mhd`` would leave a detached data file behind).
WRITE_SUFFIXES = (".nrrd", ".nii", ".nii.gz", ".mha")
#: Largest deviation of a slice gap from the median gap, as a fraction of the median (dimensionless).
SLICE_GAP_TOLERANCE = 0.01
#: Largest in-plane shift between consecutive slice positions, in mm (a gantry tilt shears the stack).
SLICE_SHEAR_TOLERANCE_MM = 0.01
#: Study, series, frame of reference and SOP instance UID, patient id and name tags, as SimpleITK names them.
_UID_TAGS = ("0020|000d", "0020|000e", "0020|0052", "0008|0018", "0010|0020", "0010|0010")
#: Header attributes carried into ``Volume.metadata``: DICOM tag -> keyword. They are the Contrast/Bolus
#: attributes of DICOM PS3.3 C.7.6.4 (whether and what contrast agent was given); a NRRD or MetaImage
#: header that holds a field named like the keyword (``ContrastBolusAgent:=...``) is read the same way.
HEADER_ATTRIBUTES = {
    "0018|0010": "ContrastBolusAgent",
    "0018|1040": "ContrastBolusRoute",
    "0018|1041": "ContrastBolusVolume",
    "0018|1042": "ContrastBolusStartTime",
    "0018|1044": "ContrastBolusTotalDose",
    "0018|1048": "ContrastBolusIngredient",
    "0018|1049": "ContrastBolusIngredientConcentration",
}
#: ``HeaderFormat`` recorded in ``Volume.metadata`` for each file ending.
HEADER_FORMATS = {
    ".nrrd": "NRRD",
    ".nhdr": "NRRD",
    ".nii": "NIfTI",
    ".nii.gz": "NIfTI",
    ".mha": "MetaImage",
    ".mhd": "MetaImage",
}


def read_volume(path: str | Path, series_id: str | None = None) -> Volume:
    """Read a 3D single-component volume from a file or a DICOM series folder (geometry in LPS mm).

    ``series_id`` picks one DICOM series when a folder holds several (the error lists the ids).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"Volume not found: {path}. Check the path.")
    series: DicomSeriesRef | None = None
    if path.is_dir():
        image, series = read_dicom_series_with_ref(path, series_id)
    else:
        image = read_image_file(path)
    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(
            f"{path} is a {image.GetDimension()}D image with {image.GetNumberOfComponentsPerPixel()} component(s) "
            "per voxel: a CT must be a single-component 3D volume (export one 3D scalar volume)."
        )
    volume = Volume.from_sitk(image)
    volume.dicom = series
    volume.metadata.update(header_attributes(image, "DICOM" if path.is_dir() else _header_format(path)))
    return volume


def _header_format(path: Path) -> str:
    """The header format of an image file from its ending (``unknown`` for another ending)."""
    return next((f for suffix, f in HEADER_FORMATS.items() if path.name.lower().endswith(suffix)), "unknown")


def header_attributes(image: sitk.Image | sitk.ImageFileReader, header_format: str) -> dict[str, str]:
    """The :data:`HEADER_ATTRIBUTES` present in ``image``'s metadata (by tag or keyword), and ``HeaderFormat``.

    ``image`` may be an image or a reader that has read the image information only.
    """
    found = {"HeaderFormat": header_format}
    keys = set(image.GetMetaDataKeys())
    for tag, keyword in HEADER_ATTRIBUTES.items():
        for key in (tag, keyword):
            if key in keys:
                found[keyword] = image.GetMetaData(key).strip()
    return found


def header_of_file(path: str | Path) -> dict[str, str]:
    """The :data:`HEADER_ATTRIBUTES` and ``HeaderFormat`` of one image file, read without its voxels.

    For a volume another program loaded from ``path`` (e.g. Slicer, whose volume nodes keep only the
    voxels); a DICOM file gives ``HeaderFormat`` ``DICOM`` whatever its ending. An empty dict when the
    file is gone or not an image SimpleITK reads.
    """
    path = Path(path)
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError:
        return {}
    dicom = reader.GetImageIOFromFileName(str(path)) == "GDCMImageIO"
    return header_attributes(reader, "DICOM" if dicom else _header_format(path))


def read_image_file(path: Path) -> sitk.Image:
    """Read any image file SimpleITK knows; an :class:`InputError` if it is missing or unreadable."""
    if not path.is_file():
        raise InputError(f"Image file not found: {path}. Check the path.")
    if path.name.endswith((".nii", ".nii.gz")):
        _check_nifti_complete(path)
    try:
        return sitk.ReadImage(str(path))
    except RuntimeError as error:
        raise InputError(
            f"Cannot read {path} as an image ({_last_line(error)}). "
            "The file may be corrupt or truncated, or not a NRRD/NIfTI/MHA volume."
        ) from None


def _check_nifti_complete(path: Path) -> None:
    """InputError if a NIfTI-1 file is truncated or its gzip stream is broken.

    SimpleITK reads a truncated NIfTI without complaint (the missing voxels become zeros), which
    would silently shrink a mask; so the file length is checked against its header first.
    """
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            head = handle.read(348)
            orders = [o for o in "<>" if len(head) == 348 and struct.unpack(f"{o}i", head[:4])[0] == 348]
            if not orders:
                return  # not NIfTI-1 (e.g. NIfTI-2): SimpleITK reports what it cannot read
            order = orders[0]
            dims = struct.unpack(f"{order}8h", head[40:56])
            bitpix = struct.unpack(f"{order}h", head[72:74])[0]
            vox_offset = struct.unpack(f"{order}f", head[108:112])[0]
            expected = int(vox_offset) + int(np.prod(dims[1 : 1 + max(dims[0], 0)], dtype=np.int64)) * bitpix // 8
            if opener is gzip.open and _gzip_size_field(path) == expected % (1 << 32):
                return  # the gzip trailer says the stream ends where the header says (a cut file ends elsewhere)
            total = len(head)
            while chunk := handle.read(1 << 22):
                total += len(chunk)
    except (OSError, EOFError, zlib.error) as error:
        raise InputError(
            f"Cannot read {path}: the file is corrupt or truncated ({error}). Copy or export it again."
        ) from None
    if total < expected:
        raise InputError(
            f"Cannot read {path}: the file is truncated ({total} of {expected} bytes), probably corrupt; copy or "
            "export it again."
        )


def _gzip_size_field(path: Path) -> int:
    """The ISIZE field of a gzip file (uncompressed length mod 2**32, its last 4 bytes, RFC 1952).

    Checking it instead of decompressing the whole file halves the time to read a large NIfTI: a cut
    file's last 4 bytes are compressed data, which match the expected length by chance once in 2**32;
    anything else falls back to decompressing and counting.
    """
    with open(path, "rb") as handle:
        handle.seek(-4, 2)
        return struct.unpack("<I", handle.read(4))[0]


def _last_line(error: Exception) -> str:
    """The last non-empty line of an ITK error message (the useful one)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else "unknown error"


def read_dicom_series(folder: Path, series_id: str | None = None) -> sitk.Image:
    """Read one DICOM series from ``folder``: slices sorted by position, spacing from positions (mm).

    The slice spacing is the median gap between consecutive ImagePositionPatient values along
    the slice normal; unequal gaps (missing or duplicated slices) and sheared stacks (gantry
    tilt) are refused because one spacing could not describe them.
    """
    return read_dicom_series_with_ref(folder, series_id)[0]


def read_dicom_series_with_ref(folder: Path, series_id: str | None = None) -> tuple[sitk.Image, DicomSeriesRef]:
    """:func:`read_dicom_series` and the series' identity (study, series, frame of reference, SOP instance UIDs)."""
    files = _series_files(folder, series_id)
    positions, normal, tags = _slice_positions(files)
    order = np.argsort(positions @ normal, kind="stable")
    files = [files[i] for i in order]
    positions = positions[order]
    series = DicomSeriesRef(
        tags[0]["0020|000d"],
        tags[0]["0020|000e"],
        tags[0]["0020|0052"],
        tuple(tags[i]["0008|0018"] for i in order),
        tags[0]["0010|0020"],
        tags[0]["0010|0010"],
    )
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(files)
    try:
        image = reader.Execute()
    except RuntimeError as error:
        raise InputError(f"Cannot read the DICOM series in {folder}: {_last_line(error)}") from None
    _copy_header_attributes(files[0], image)
    if len(files) > 1:
        spacing = list(image.GetSpacing())
        spacing[2] = _uniform_slice_gap_mm(positions, normal, folder)
        image.SetSpacing(spacing)
        image.SetDirection(_series_direction(image, normal))
        image.SetOrigin(tuple(float(v) for v in positions[0]))
    return image, series


def _copy_header_attributes(file_name: str, image: sitk.Image) -> None:
    """Copy the :data:`HEADER_ATTRIBUTES` of one slice of the series into ``image``'s metadata (by tag)."""
    reader = sitk.ImageFileReader()
    reader.SetFileName(file_name)
    try:
        reader.ReadImageInformation()
    except RuntimeError:
        return  # unreadable headers were refused already when the slices were placed
    for tag in HEADER_ATTRIBUTES:
        if reader.HasMetaDataKey(tag):
            image.SetMetaData(tag, reader.GetMetaData(tag))


def _series_files(folder: Path, series_id: str | None) -> list[str]:
    """File names of the chosen (or only) DICOM series in ``folder``."""
    series_ids = list(sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder)))
    if not series_ids:
        raise InputError(f"No DICOM series found in folder {folder}. Point to a folder of DICOM image files.")
    if series_id is None and len(series_ids) > 1:
        counts = ", ".join(
            f"'{sid}' ({len(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), sid))} files)"
            for sid in series_ids
        )
        raise InputError(
            f"Folder {folder} holds {len(series_ids)} DICOM series: {counts}. Choose one by its series id "
            "(read_volume(..., series_id=...)) or put the CT series in a folder of its own."
        )
    chosen = series_ids[0] if series_id is None else series_id
    if chosen not in series_ids:
        raise InputError(f"Series '{chosen}' is not in {folder}; the series there are: {', '.join(series_ids)}.")
    return list(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), chosen))


def _slice_positions(files: list[str]) -> tuple[np.ndarray, np.ndarray, list[dict[str, str]]]:
    """ImagePositionPatient of each file (N, 3) in LPS mm, the unit slice normal of the series, and
    each file's identifying UIDs (:data:`_UID_TAGS`, empty strings where missing).
    """
    positions, orientation, tags = [], None, []
    for name in files:
        reader = sitk.ImageFileReader()
        reader.SetFileName(name)
        try:
            reader.ReadImageInformation()
            tags.append(
                {tag: reader.GetMetaData(tag).strip(" \x00") if reader.HasMetaDataKey(tag) else "" for tag in _UID_TAGS}
            )
            positions.append([float(v) for v in reader.GetMetaData("0020|0032").split("\\")])
            orientation = orientation or [float(v) for v in reader.GetMetaData("0020|0037").split("\\")]
        except (RuntimeError, ValueError):
            raise InputError(
                f"DICOM file {name} has no usable Image Position/Orientation (Patient): "
                "it is not a CT slice that can be placed in space."
            ) from None
    normal = np.cross(orientation[:3], orientation[3:])
    return np.asarray(positions, dtype=float), normal / np.linalg.norm(normal), tags


def _uniform_slice_gap_mm(positions: np.ndarray, normal: np.ndarray, folder: Path) -> float:
    """The common distance between consecutive slices (mm), or an InputError if there is none."""
    steps = np.diff(positions, axis=0)
    gaps = steps @ normal
    median = float(np.median(gaps))
    if median <= 0 or np.any(np.abs(gaps - median) > SLICE_GAP_TOLERANCE * median):
        raise InputError(
            f"DICOM series in {folder} has unequal slice gaps ({gaps.min():.3f} to {gaps.max():.3f} mm, "
            f"median {median:.3f} mm): slices are missing or duplicated; export the complete series."
        )
    shear = np.linalg.norm(steps - np.outer(gaps, normal), axis=1)
    if np.any(shear > SLICE_SHEAR_TOLERANCE_MM):
        raise InputError(
            f"DICOM series in {folder} is sheared (slices shift {shear.max():.3f} mm sideways, e.g. gantry tilt): "
            "resample it to an orthogonal grid first."
        )
    return median


def _series_direction(image: sitk.Image, normal: np.ndarray) -> tuple[float, ...]:
    """Direction of the series: in-plane axes from the image, slice axis along the (sorted) normal."""
    direction = np.asarray(image.GetDirection(), dtype=float).reshape(3, 3)
    direction[:, 2] = normal
    return tuple(direction.ravel())


def write_volume(volume: Volume, path: str | Path, compress: bool = True) -> Path:
    """Write ``volume`` to ``path`` (format from the suffix, LPS geometry kept) atomically; return the path."""
    path = Path(path)
    if not path.name.endswith(WRITE_SUFFIXES):
        raise InputError(f"Cannot write {path}: use one of {', '.join(WRITE_SUFFIXES)}.")
    with atomic_path(path) as tmp:
        try:
            sitk.WriteImage(volume.to_sitk(), str(tmp), compress)
        except RuntimeError as error:
            raise InputError(f"Cannot write {path}: {_last_line(error)}") from None
    return path
