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
   ``max_radius_mm`` from the click is removed;
5. a click in a necrotic core grows only the core, so the tissue around the grown region is probed
   (:func:`_with_enhancing_rim`): when a shell ``rim_probe_mm`` wide around it reads brighter than the
   core by more than the tolerance, the region of that brighter intensity connected to the shell is
   the lesion's enhancing rim, taken in when it is bounded (it stays inside ``max_radius_mm``, and is
   at most ``max_rim_to_core`` times the core's volume) and encloses the core (covers at least
   ``min_rim_cover`` of the shell). A homogeneous lesion fails the test (what surrounds it is the
   organ, which reaches far beyond the lesion), so its region is kept as grown.
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
        return {
            "id": self.lesion_id,
            "name": self.name,
            "organ": self.organ,
            "nodal": self.nodal,
            "voxels": int(self.mask.sum()),
        }


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
    rim_probe_mm: float = 3.0
    min_rim_cover: float = 0.8
    max_rim_to_core: float = 8.0

    def to_dict(self) -> dict:
        """The parameters as a dict."""
        return dict(self.__dict__)


def lesions_from_masks(
    masks: MaskSet, nodal: set[str] | frozenset[str] = frozenset(), organs: dict[str, str] | None = None
) -> list[Lesion]:
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


def grow_lesion_from_seed(
    ct: Volume,
    seed_lps,
    lesion_id: str = "L1",
    config: GrowConfig = GrowConfig(),
    name: str = "",
    organ: str | None = None,
    nodal: bool = False,
) -> Lesion:
    """Segment the lesion under a click point ``seed_lps`` (LPS mm) by region growing on the CT (HU)."""
    grid = ct.grid
    seed_ijk = grid.lps_to_index(np.asarray(seed_lps, dtype=float))
    if not grid.contains_index(seed_ijk, margin_voxels=0.0):
        raise InputError(
            f"Click point {tuple(np.round(seed_lps, 1))} (LPS mm) lies outside the CT ({grid.describe()})."
        )
    lo, hi = _crop_box(grid, seed_ijk, _ball_index_radius(grid, config.max_radius_mm))
    crop = ct.array[lo[2] : hi[2], lo[1] : hi[1], lo[0] : hi[0]].astype(np.float32)
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
    mask = _with_enhancing_rim(mask, smooth, distance, mean, tolerance, config, grid.spacing_mm, seed_local)
    full = np.zeros(grid.shape, dtype=bool)
    full[lo[2] : hi[2], lo[1] : hi[1], lo[0] : hi[0]] = mask
    return Lesion(lesion_id, full, name, organ, nodal)


def _ball(spacing_mm, radius_mm: float) -> list[int]:
    """Per-axis voxel radius (i, j, k) of a structuring element ``radius_mm`` wide (at least one voxel)."""
    return [max(int(round(radius_mm / s)), 1) for s in spacing_mm]


def _with_enhancing_rim(
    core: np.ndarray,
    smooth: sitk.Image,
    distance: np.ndarray,
    core_mean: float,
    tolerance: float,
    config: GrowConfig,
    spacing_mm,
    seed_local,
) -> np.ndarray:
    """``core`` (crop ``[k, j, i]``) with the enhancing rim around it when there is one (module docstring, step 5).

    ``smooth`` is the smoothed crop (HU), ``distance`` each voxel's distance (mm) from the click,
    ``core_mean`` and ``tolerance`` the intensity model of the grown core (HU).
    """
    image = sitk.GetImageFromArray(core.astype(np.uint8))
    image.CopyInformation(smooth)
    outer = sitk.GetArrayFromImage(sitk.BinaryDilate(image, _ball(spacing_mm, config.rim_probe_mm))).astype(bool)
    inner = sitk.GetArrayFromImage(sitk.BinaryDilate(image, _ball(spacing_mm, min(spacing_mm)))).astype(bool)
    shell = outer & ~inner & (distance <= config.max_radius_mm)
    values = sitk.GetArrayViewFromImage(smooth)
    if not shell.any():
        return core
    rim_mean = float(np.median(values[shell]))
    if rim_mean - core_mean <= tolerance:
        return core  # no brighter tissue around the grown region: nothing to add
    rim_tolerance = max(
        config.multiplier * 1.4826 * float(np.median(np.abs(values[shell] - rim_mean))), config.min_tolerance_hu
    )
    in_range = (np.abs(values - rim_mean) <= rim_tolerance) & ~core
    labels = sitk.GetArrayFromImage(sitk.ConnectedComponent(sitk.GetImageFromArray(in_range.astype(np.uint8))))
    touching = np.unique(labels[shell & in_range])
    rim = np.isin(labels, touching[touching > 0])
    bounded = not (rim & (distance > config.max_radius_mm - max(spacing_mm))).any()
    bounded = bounded and rim.sum() <= config.max_rim_to_core * core.sum()
    encloses = np.count_nonzero(rim[shell]) >= config.min_rim_cover * np.count_nonzero(shell)
    if not (bounded and encloses):
        return core
    union = sitk.GetImageFromArray((core | rim).astype(np.uint8))
    union.CopyInformation(smooth)
    lesion = _open_keep_seed_component(union, config.opening_mm, spacing_mm, seed_local)
    return sitk.GetArrayFromImage(sitk.BinaryFillhole(lesion)).astype(bool) & (distance <= config.max_radius_mm)


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


def lesion_from_diameters(
    grid: Grid,
    centre_lps,
    diameters_mm,
    axes_lps=None,
    lesion_id: str = "L1",
    name: str = "",
    organ: str | None = None,
    nodal: bool = False,
) -> Lesion:
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
        mask[lo[2] : hi[2], lo[1] : hi[1], lo[0] : hi[0]] = np.sum((local / semi) ** 2, axis=-1) <= 1.0
    if not mask.any():
        raise InputError(
            f"The ellipsoid at {tuple(np.round(centre, 1))} (LPS mm) with diameters {tuple(diameters_mm)} mm "
            "covers no voxel centre of the CT: check the centre and the diameters."
        )
    return Lesion(lesion_id, mask, name, organ, nodal)
