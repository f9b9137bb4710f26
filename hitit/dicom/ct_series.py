"""The headers of a CT series that DICOM objects written by HITIT refer to.

Only the headers are read (never the pixels, so JPEG 2000 or any other transfer syntax is fine);
the slices are sorted along the slice normal as :func:`hitit.io.volumes.read_volume` sorts them,
so that slice ``k`` of the CT grid is ``datasets[k]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hitit.errors import InputError
from hitit.geometry import Grid

#: What a referencing object needs from every slice (DICOM keyword -> what it is called in messages).
REQUIRED_UIDS = {
    "StudyInstanceUID": "Study Instance UID",
    "SeriesInstanceUID": "Series Instance UID",
    "SOPInstanceUID": "SOP Instance UID",
    "SOPClassUID": "SOP Class UID",
    "FrameOfReferenceUID": "Frame of Reference UID",
}


@dataclass
class CtSeries:
    """A CT series' slice headers (pydicom datasets without pixel data), in grid slice order, and its grid."""

    folder: Path
    datasets: list
    grid: Grid

    @property
    def first(self):
        """The first slice's header (patient, study and equipment attributes are the series')."""
        return self.datasets[0]


def read_ct_series(folder: str | Path) -> CtSeries:
    """Headers of the one CT series in ``folder``; an :class:`InputError` unless it carries every UID
    a referencing object needs (:data:`REQUIRED_UIDS`).
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder: --ct takes the folder of the CT series' DICOM files.")
    datasets = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        try:
            dataset = pydicom.dcmread(str(path), stop_before_pixels=True)
        except (InvalidDicomError, OSError, EOFError, ValueError):
            continue  # not a DICOM file (a README, a thumbnail): not part of the series
        if "ImagePositionPatient" in dataset:
            datasets.append(dataset)
    if not datasets:
        raise InputError(f"No DICOM image slices in {folder}: --ct takes the folder of the CT series' DICOM files.")
    series = {str(d.get("SeriesInstanceUID", "")) for d in datasets}
    if len(series) > 1:
        raise InputError(
            f"Folder {folder} holds {len(series)} DICOM series: put the planning CT series in a folder of its own."
        )
    missing = [
        label
        for keyword, label in REQUIRED_UIDS.items()
        if any(not str(d.get(keyword, "") or "").strip() for d in datasets)
    ]
    if missing:
        raise InputError(
            f"The CT series in {folder} has no {', '.join(missing)} (a de-identified copy?): DICOM objects must "
            "reference the CT by its UIDs, so use the series as stored in PACS."
        )
    orientation = np.asarray(datasets[0].ImageOrientationPatient, dtype=float)
    normal = np.cross(orientation[:3], orientation[3:])
    datasets.sort(key=lambda d: float(np.asarray(d.ImagePositionPatient, dtype=float) @ normal))
    return CtSeries(folder, datasets, _grid(datasets, orientation, normal))


def _grid(datasets: list, orientation: np.ndarray, normal: np.ndarray) -> Grid:
    """The series grid: i along rows (IOP row direction), j down columns, k along the sorted normal (LPS mm)."""
    positions = np.asarray([d.ImagePositionPatient for d in datasets], dtype=float)
    row_spacing, column_spacing = (float(v) for v in datasets[0].PixelSpacing)
    gap = (
        float(np.median(np.diff(positions @ normal)))
        if len(datasets) > 1
        else float(datasets[0].get("SliceThickness", 1) or 1)
    )
    direction = np.column_stack([orientation[:3], orientation[3:], normal])
    return Grid(
        (int(datasets[0].Columns), int(datasets[0].Rows), len(datasets)),
        (column_spacing, row_spacing, gap),
        tuple(positions[0]),
        direction.ravel(),
    )
