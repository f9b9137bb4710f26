"""Plain containers the whole core passes around: a volume on a grid, and a planning case."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import SimpleITK as sitk

from hitit.errors import GeometryError
from hitit.geometry import Grid


@dataclass
class Volume:
    """A scalar image: ``array`` is indexed ``[k, j, i]`` and placed in LPS by ``grid``.

    For a CT the values are Hounsfield units. ``metadata`` holds the header attributes HITIT uses,
    named by their DICOM keywords (e.g. ``ContrastBolusAgent``), plus ``HeaderFormat`` (``DICOM``,
    ``NRRD``...) when the volume was read from a file; empty for a volume made in memory. ``dicom``
    identifies the DICOM series the volume was read from (a :class:`hitit.io.dicom_files.DicomSeriesRef`),
    None for other sources.
    """

    grid: Grid
    array: np.ndarray
    metadata: dict[str, str] = field(default_factory=dict)
    dicom: object | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.array.shape != self.grid.shape:
            raise GeometryError(
                f"Array shape {self.array.shape} does not match grid shape (k, j, i) {self.grid.shape}."
            )

    @classmethod
    def from_sitk(cls, image: sitk.Image) -> Volume:
        """Wrap a 3D SimpleITK image (the array is a copy)."""
        return cls(Grid.from_sitk(image), sitk.GetArrayFromImage(image))

    def to_sitk(self) -> sitk.Image:
        """The volume as a SimpleITK image with the same geometry and the header attributes of ``metadata``."""
        image = self.grid.image_from_array(self.array)
        for key, value in self.metadata.items():
            if key != "HeaderFormat":
                image.SetMetaData(key, str(value))
        return image


#: Named binary masks that all lie on one grid: ``{name: bool array (k, j, i)}``.
MaskSet = dict[str, np.ndarray]


@dataclass
class Case:
    """What planning needs: a CT, its critical structures and its lesions, all on the CT grid."""

    ct: Volume
    structures: MaskSet = field(default_factory=dict)
    lesions: MaskSet = field(default_factory=dict)

    def __post_init__(self) -> None:
        for kind, masks in (("structure", self.structures), ("lesion", self.lesions)):
            for name, mask in masks.items():
                if mask.shape != self.ct.grid.shape:
                    raise GeometryError(
                        f"{kind.capitalize()} '{name}' has shape {mask.shape}, not the CT's {self.ct.grid.shape}: "
                        "put masks on the CT grid first (hitit.geometry.mask_onto_grid)."
                    )
                if mask.dtype != bool:
                    masks[name] = mask.astype(bool)

    @property
    def grid(self) -> Grid:
        """The CT grid every mask of the case lies on."""
        return self.ct.grid
