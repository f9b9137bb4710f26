"""Marking a lesion: from a segment, from a click point grown on the CT, or from three diameters.

All masks are boolean arrays ``[k, j, i]`` on the CT grid; points are LPS mm.

Click-and-grow (:func:`grow_lesion_from_seed`) works on a crop of the CT around the click:

1. the crop is smoothed (recursive Gaussian, ``smoothing_mm``) to suppress CT noise;
2. the lesion's intensity range is estimated in a small ball around the click (mean +/- ``multiplier``
   standard deviations of the smoothed HU, at least +/- ``min_tolerance_hu``) and the voxels connected
   to the click within that range are kept (SimpleITK ConnectedThreshold);
3. a morphological opening (``opening_mm``) cuts thin bridges to a touching vessel or organ of
   similar intensity, and only the component containing the click survives;
4. holes are filled (a darker necrotic core belongs to the lesion) and everything farther than
   ``max_radius_mm`` from the click is removed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from hitit.case import MaskSet, Volume
from hitit.errors import InputError
from hitit.geometry import Grid


@dataclass
class Lesion:
    """A lesion mask on the CT grid.

    Attributes:
        lesion_id: short identifier used in tables ("L1").
        mask: boolean array ``[k, j, i]`` on the CT grid.
        name: display name (defaults to the id).
        organ: organ it lies in, when known from the user (else measured from the structures).
        nodal: True for a lymph node (RECIST measures nodes by their short axis).
    """

    lesion_id: str
    mask: np.ndarray
    name: str = ""
    organ: str | None = None
    nodal: bool = False

    def __post_init__(self) -> None:
        self.mask = np.asarray(self.mask, dtype=bool)
        self.name = self.name or self.lesion_id
        if not self.mask.any():
            raise InputError(f"Lesion '{self.lesion_id}' is empty (no voxel set): segment it or remove it.")

    def to_dict(self) -> dict:
        """JSON-ready description (without the mask)."""
        return {"id": self.lesion_id, "name": self.name, "organ": self.organ, "nodal": self.nodal,
                "voxels": int(self.mask.sum())}


@dataclass(frozen=True)
class GrowConfig:
    """Parameters of click-and-grow segmentation (all lengths in mm, intensities in HU).

    Defaults were chosen on the teaching case and synthetic lesions (noise SD 12 HU, 30 HU contrast
    to liver); they are image-processing settings, not clinical thresholds.
    """

    max_radius_mm: float = 40.0
    smoothing_mm: float = 1.0
    seed_radius_mm: float = 3.0
    multiplier: float = 3.0
    min_tolerance_hu: float = 15.0
    opening_mm: float = 2.0

    def to_dict(self) -> dict:
        """The parameters as a dict."""
        return dict(self.__dict__)


def lesions_from_masks(masks: MaskSet, nodal: set[str] | frozenset[str] = frozenset(),
                       organs: dict[str, str] | None = None) -> list[Lesion]:
    """One :class:`Lesion` per non-empty mask, named by its segment name (``nodal``: names of nodes)."""
    organs = organs or {}
    return [Lesion(name, mask, name, organs.get(name), name in nodal) for name, mask in masks.items() if mask.any()]


def _ball_index_radius(grid: Grid, radius_mm: float) -> np.ndarray:
    """Half-size in voxels (i, j, k) of a box holding a ball of ``radius_mm``."""
    return np.ceil(radius_mm / np.asarray(grid.spacing_mm)).astype(int) + 1


def _crop_box(grid: Grid, centre_ijk: np.ndarray, half: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clipped box ``[lo, hi)`` in (i, j, k) around a voxel index."""
    lo = np.maximum(np.round(centre_ijk).astype(int) - half, 0)
    hi = np.minimum(np.round(centre_ijk).astype(int) + half + 1, np.asarray(grid.size))
    return lo, hi


def _distance_mm_from(grid: Grid, lo: np.ndarray, hi: np.ndarray, point_lps: np.ndarray) -> np.ndarray:
    """Distance (mm) from every voxel centre of box ``[lo, hi)`` to an LPS point, array ``[k, j, i]``."""
    kk, jj, ii = np.meshgrid(*(np.arange(lo[a], hi[a]) for a in (2, 1, 0)), indexing="ij")
    pts = grid.index_to_lps(np.stack([ii, jj, kk], axis=-1))
    return np.linalg.norm(pts - np.asarray(point_lps, dtype=float), axis=-1)


def grow_lesion_from_seed(ct: Volume, seed_lps, lesion_id: str = "L1", config: GrowConfig = GrowConfig(),
                          name: str = "", organ: str | None = None, nodal: bool = False) -> Lesion:
    """Segment the lesion under a click point ``seed_lps`` (LPS mm) by region growing on the CT (HU)."""
    grid = ct.grid
    seed_ijk = grid.lps_to_index(np.asarray(seed_lps, dtype=float))
    if not grid.contains_index(seed_ijk, margin_voxels=0.0):
        raise InputError(f"Click point {tuple(np.round(seed_lps, 1))} (LPS mm) lies outside the CT ({grid.describe()}).")
    lo, hi = _crop_box(grid, seed_ijk, _ball_index_radius(grid, config.max_radius_mm))
    crop = ct.array[lo[2]:hi[2], lo[1]:hi[1], lo[0]:hi[0]].astype(np.float32)
    image = sitk.GetImageFromArray(crop)
    image.SetSpacing(grid.spacing_mm)
    smooth = sitk.SmoothingRecursiveGaussian(image, config.smoothing_mm) if config.smoothing_mm > 0 else image
    smooth_arr = sitk.GetArrayViewFromImage(smooth)
    distance = _distance_mm_from(grid, lo, hi, seed_lps)
    seed_region = smooth_arr[distance <= max(config.seed_radius_mm, grid.min_spacing_mm)]
    tolerance = max(config.multiplier * float(seed_region.std()), config.min_tolerance_hu)
    mean = float(seed_region.mean())
    seed_local = tuple(int(v) for v in np.round(seed_ijk).astype(int) - lo)
    grown = sitk.ConnectedThreshold(smooth, seedList=[seed_local], lower=mean - tolerance, upper=mean + tolerance)
    mask = _open_keep_seed_component(grown, config.opening_mm, grid.spacing_mm, seed_local)
    mask = sitk.GetArrayFromImage(sitk.BinaryFillhole(mask)).astype(bool) & (distance <= config.max_radius_mm)
    full = np.zeros(grid.shape, dtype=bool)
    full[lo[2]:hi[2], lo[1]:hi[1], lo[0]:hi[0]] = mask
    return Lesion(lesion_id, full, name, organ, nodal)


def _open_keep_seed_component(grown: sitk.Image, opening_mm: float, spacing_mm, seed_local) -> sitk.Image:
    """Open the grown region (radius ``opening_mm``) and keep the connected component holding the seed.

    When the opening removes the seed voxel itself (a lesion thinner than the opening), the region
    before opening is used so that a small lesion is not lost.
    """
    radius = [max(int(round(opening_mm / s)), 0) for s in spacing_mm]
    opened = sitk.BinaryMorphologicalOpening(grown, radius) if any(radius) else grown
    if not opened[seed_local]:
        opened = grown
    labels = sitk.ConnectedComponent(opened)
    return sitk.Cast(labels == labels[seed_local], sitk.sitkUInt8)


def lesion_from_diameters(grid: Grid, centre_lps, diameters_mm, axes_lps=None, lesion_id: str = "L1",
                          name: str = "", organ: str | None = None, nodal: bool = False) -> Lesion:
    """An ellipsoid lesion from three orthogonal diameters (mm) around ``centre_lps``.

    ``axes_lps`` is a 3x3 array whose rows are the unit LPS directions of the three diameters;
    by default L-R, A-P and S-I. A voxel belongs to the lesion when its centre is inside the ellipsoid.
    """
    semi = np.asarray(diameters_mm, dtype=float) / 2.0
    if semi.shape != (3,) or np.any(semi <= 0):
        raise InputError(f"Give three positive diameters in mm, got {diameters_mm}.")
    axes = np.eye(3) if axes_lps is None else np.asarray(axes_lps, dtype=float)
    if axes.shape != (3, 3) or not np.allclose(axes @ axes.T, np.eye(3), atol=1e-6):
        raise InputError("axes_lps must be three orthonormal row vectors (LPS).")
    centre = np.asarray(centre_lps, dtype=float)
    lo, hi = _crop_box(grid, grid.lps_to_index(centre), _ball_index_radius(grid, float(semi.max())))
    mask = np.zeros(grid.shape, dtype=bool)
    if np.all(hi > lo):
        kk, jj, ii = np.meshgrid(*(np.arange(lo[a], hi[a]) for a in (2, 1, 0)), indexing="ij")
        local = (grid.index_to_lps(np.stack([ii, jj, kk], axis=-1)) - centre) @ axes.T
        mask[lo[2]:hi[2], lo[1]:hi[1], lo[0]:hi[0]] = np.sum((local / semi) ** 2, axis=-1) <= 1.0
    if not mask.any():
        raise InputError(f"The ellipsoid at {tuple(np.round(centre, 1))} (LPS mm) with diameters {tuple(diameters_mm)} mm "
                         "covers no voxel centre of the CT: check the centre and the diameters.")
    return Lesion(lesion_id, mask, name, organ, nodal)
