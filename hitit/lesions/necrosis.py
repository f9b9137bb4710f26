"""Necrotic fraction of a lesion: non-enhancing fluid-like tissue, counted only where it can be told.

Frames and units: masks ``[k, j, i]`` on the CT grid, CT values HU, lengths mm.

Necrosis is tissue that does not enhance: on a **contrast-enhanced** CT viable tumour rises above
fluid attenuation while necrosis stays there. On an unenhanced CT the two read alike, so there the
fraction is **not assessed** (with the reason), never guessed (:mod:`hitit.lesions.contrast`). When
it is assessed a lesion voxel counts as necrotic when all of these hold:

1. its lesion-only Gaussian average (sigma ``smoothing_mm``; a normalised convolution, so tissue
   outside the mask never enters it) lies in the fluid range ``[fluid_min_hu, fluid_max_hu]``:
   water-like, neither air nor fat, and not enhancing;
2. it lies farther than the **partial-volume width** inside the mask boundary: a voxel whose
   neighbourhood of ``partial_volume_voxels`` voxels along each axis leaves the mask may mix lesion
   with what surrounds it (aerated lung, fat), which would read as fluid. The width is thus
   ``partial_volume_voxels`` x the spacing along each axis (for 0.57 x 0.57 x 5 mm voxels:
   0.57, 0.57 and 5 mm), which follows the slice thickness where partial volume is worst;
3. it lies farther than that width, plus the whole voxels within twice the smoothing sigma, from any
   voxel inside the lesion that reads as fat or air (average at or below ``fat_max_hu``): the average of a
   fat/soft-tissue or air/soft-tissue edge passes through the fluid range there.

A voxel of the boundary shell cannot show necrosis by itself, but one in the fluid range next to
(within the partial-volume width of) necrosis seen inside is that necrosis reaching the edge, and
counts too. The fraction is necrotic voxels over **all** lesion voxels: a central necrotic core is
measured at its true share, a lesion necrotic to its edge near 1. Necrosis seen nowhere inside (a
shell thinner than the width, or only next to fat or air) is not counted, so the fraction is a lower
bound; ``assessable_fraction`` (the share of voxels judged on their own) says how much was seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import SimpleITK as sitk

from hitit.geometry import Grid
from hitit.lesions.contrast import Contrast

#: Published source of the fluid range (both bounds).
_BOSNIAK = (
    "Silverman SG et al., Bosniak classification of cystic renal masses, version 2019, Radiology "
    "2019;292:475-488, doi:10.1148/radiol.2019182646: simple fluid attenuation -9 to 20 HU on CT"
)
#: Published source of the fat range.
_FAT = (
    "Mitsiopoulos N et al., J Appl Physiol 1998;85:115-122, doi:10.1152/jappl.1998.85.1.115: adipose tissue "
    "-190 to -30 HU on CT (the range body-composition studies use)"
)


@dataclass(frozen=True)
class NecrosisConfig:
    """Settings of :func:`assess_necrosis` (HU, mm, voxels); every number with its source.

    Attributes:
        fluid_min_hu / fluid_max_hu: the non-enhancing fluid range a necrotic voxel reads in; above
            ``fluid_max_hu`` tissue enhances (viable), below ``fluid_min_hu`` it is fat, air or their
            partial volume.
        fat_max_hu: at or below this a voxel inside the lesion is fat or air; fluid-range voxels near it
            are partial volume, not necrosis.
        smoothing_mm: Gaussian sigma of the lesion-only average, so that CT noise (10-15 HU) does not
            move single voxels in or out of the range.
        partial_volume_voxels: the partial-volume width in voxels along each axis (see the module docstring).
    """

    fluid_min_hu: float = -9.0
    fluid_max_hu: float = 20.0
    fat_max_hu: float = -30.0
    smoothing_mm: float = 1.5
    partial_volume_voxels: int = 1
    sources: dict = field(
        default_factory=lambda: {
            "fluid_min_hu": _BOSNIAK,
            "fluid_max_hu": f"{_BOSNIAK}; viable tumour enhances above it on contrast CT",
            "fat_max_hu": _FAT,
            "smoothing_mm": "image-processing choice (noise suppression), not clinical",
            "partial_volume_voxels": "image-processing choice: one voxel of the acquired grid along each axis, the "
            "extent over which a boundary voxel mixes the tissues on both sides",
            "contrast": "necrosis is non-enhancement and is judged on contrast-enhanced imaging: Bitar 2024 (necrosis "
            "assessed on baseline imaging, the solid component targeted)",
        }
    )

    def to_dict(self) -> dict:
        """Every parameter and its source."""
        return {**{k: v for k, v in self.__dict__.items() if k != "sources"}, "sources": dict(self.sources)}


@dataclass
class NecrosisAssessment:
    """The necrosis answer for one lesion.

    Attributes:
        assessed: False when the CT does not allow it (``reason`` says why); then ``fraction`` is None.
        fraction: necrotic voxels over all lesion voxels (0-1).
        assessable_fraction: share of lesion voxels beyond the partial-volume width of the boundary and
            of fat/air, judged on their own.
        partial_volume_width_mm: the width along i, j, k (mm).
        contrast: the contrast state it rests on, with how it is known.
        reason: why not assessed, or what was counted.
    """

    assessed: bool
    fraction: float | None
    reason: str
    contrast: Contrast
    assessable_fraction: float | None = None
    partial_volume_width_mm: tuple[float, float, float] | None = None

    def to_dict(self) -> dict:
        """JSON-ready record (fractions to 0.001)."""

        def r(v):
            return None if v is None else round(float(v), 3)

        return {
            "status": "assessed" if self.assessed else "not assessed",
            "fraction": r(self.fraction),
            "reason": self.reason,
            "contrast": self.contrast.to_dict(),
            "assessable_fraction": r(self.assessable_fraction),
            "partial_volume_width_mm": None
            if self.partial_volume_width_mm is None
            else [round(w, 3) for w in self.partial_volume_width_mm],
        }


def not_assessed(contrast: Contrast, reason: str) -> NecrosisAssessment:
    """A lesion whose necrosis could not be assessed, and why."""
    return NecrosisAssessment(False, None, f"necrosis not assessed: {reason}", contrast)


def _box(lo: np.ndarray, hi: np.ndarray, margin: np.ndarray, shape) -> tuple[slice, ...]:
    """Slices of ``[lo - margin, hi + margin)`` (array order k, j, i) clipped to ``shape``."""
    a = np.maximum(lo - margin, 0)
    b = np.minimum(hi + margin, shape)
    return tuple(slice(int(x), int(y)) for x, y in zip(a, b))


def _image(array: np.ndarray, grid: Grid) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(grid.spacing_mm)
    return image


def _lesion_average(values: np.ndarray, mask: np.ndarray, grid: Grid, sigma_mm: float) -> np.ndarray:
    """Gaussian average (HU) of ``values`` over the mask only: blur(values x mask) / blur(mask)."""
    if sigma_mm <= 0:
        return values
    m = mask.astype(np.float32)

    def blur(a: np.ndarray) -> np.ndarray:
        return sitk.GetArrayFromImage(sitk.SmoothingRecursiveGaussian(_image(a, grid), sigma_mm))

    return blur(values * m) / np.maximum(blur(m), 1e-6)


def _reaching_the_edge(seen: np.ndarray, fluid: np.ndarray, radius: list[int], grid: Grid) -> np.ndarray:
    """Necrosis seen in the interior, extended over the partial-volume width into fluid-range voxels next to it.

    A boundary voxel cannot show necrosis on its own (it may be partial volume), but one in the fluid
    range right next to necrotic interior is that necrosis reaching the lesion's edge.
    """
    if not any(radius) or not seen.any():
        return seen
    grown = sitk.GetArrayFromImage(sitk.BinaryDilate(_image(seen.astype(np.uint8), grid), radius, sitk.sitkBox))
    return seen | (grown.astype(bool) & fluid)


def assess_necrosis(
    mask: np.ndarray, hu: np.ndarray, grid: Grid, contrast: Contrast, config: NecrosisConfig = NecrosisConfig()
) -> NecrosisAssessment:
    """The necrotic fraction of the lesion ``mask`` on the CT ``hu`` (both ``[k, j, i]`` on ``grid``).

    Not assessed unless ``contrast.enhanced`` is True (see the module docstring for what counts).
    """
    if contrast.enhanced is not True:
        state = "unknown" if contrast.enhanced is None else "not contrast-enhanced"
        return not_assessed(
            contrast,
            f"the CT is {state} ({contrast.source}); necrosis is non-enhancement and needs a contrast-enhanced CT",
        )
    spacing = np.asarray(grid.spacing_mm, float)  # i, j, k
    width = config.partial_volume_voxels * spacing
    # the average mixes neighbours up to about 2 sigma away: whole voxels within that reach along each axis
    fat_reach = config.partial_volume_voxels + np.floor(2.0 * config.smoothing_mm / spacing).astype(int)
    nz = np.nonzero(mask)
    lo, hi = np.array([a.min() for a in nz]), np.array([a.max() + 1 for a in nz])
    margin = np.maximum(np.ceil(3 * config.smoothing_mm / spacing[::-1]).astype(int), fat_reach[::-1]) + 1
    box = _box(lo, hi, margin, mask.shape)
    m = mask[box]
    average = _lesion_average(hu[box].astype(np.float32), m, grid, config.smoothing_mm)
    radius = [int(config.partial_volume_voxels)] * 3
    interior = (
        m.copy()
        if not any(radius)
        else sitk.GetArrayFromImage(sitk.BinaryErode(_image(m.astype(np.uint8), grid), radius, sitk.sitkBox)).astype(
            bool
        )
    )
    fat_or_air = m & (average <= config.fat_max_hu)
    near = None
    if fat_or_air.any():
        near = sitk.GetArrayFromImage(
            sitk.BinaryDilate(_image(fat_or_air.astype(np.uint8), grid), [int(r) for r in fat_reach], sitk.sitkBall)
        ).astype(bool)
        interior &= ~near
    total = int(m.sum())
    assessable = int(interior.sum())
    contrast_note = f"contrast-enhanced CT ({contrast.source})"
    if assessable == 0:
        return NecrosisAssessment(
            False,
            None,
            "necrosis not assessed: no lesion voxel lies beyond the partial-volume "
            f"width ({', '.join(f'{w:g}' for w in width)} mm) of the boundary and of fat or air",
            contrast,
            0.0,
            tuple(float(w) for w in width),
        )
    fluid = m & (average >= config.fluid_min_hu) & (average <= config.fluid_max_hu)
    necrotic = _reaching_the_edge(interior & fluid, fluid if near is None else fluid & ~near, radius, grid)
    return NecrosisAssessment(
        True,
        float(necrotic.sum()) / total,
        f"voxels in {config.fluid_min_hu:g} to {config.fluid_max_hu:g} HU (non-enhancing fluid) beyond the "
        f"partial-volume width of the boundary and of fat or air, on a {contrast_note}",
        contrast,
        assessable / total,
        tuple(float(w) for w in width),
    )
