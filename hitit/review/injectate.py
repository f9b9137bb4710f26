"""Injectate distribution on a post-injection CT when the drug was mixed with iodinated contrast.

Mixing the injectate with contrast documents where it went ([R] Tselikas et al., Clin Cancer Res 2021,
doi:10.1158/1078-0432.CCR-19-4073; [V] off-target leakage is common and invisible on standard imaging
without a tracer, PMC11372101). The injectate is the hyperdense region that:

1. reads at least ``min_hu`` on the post-injection CT, and below the metal threshold (the needle
   and its streaks are not injectate);
2. when a baseline CT on the same grid is given (the pre-injection or intraprocedural scan), is at
   least ``enhancement_hu`` above it, and was not already hyperdense there (``min_hu`` on the
   baseline: bone, enhanced vessels);
3. without a baseline, lies outside every structure named as bone or vessel (pre-existing
   hyperdense anatomy that cannot be told apart from contrast without a baseline);
4. belongs to a 26-connected component that reaches within ``seed_radius_mm`` of a deposit point or
   of the needle track;
5. (half-maximum refinement, on by default) passes the level halfway between the surrounding tissue
   and the deposit's own plateau, so that partially filled edge voxels count by half and the
   volume does not depend on the fixed thresholds above (which then act as floors).

Reported: the lesion volume covered (mL and fraction of the lesion), the volume outside the lesion
(leaked, mL) and where it went, per structure and "unlabelled" (e.g. peritoneum). Volumes are mL,
points LPS mm.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import SimpleITK as sitk

from hitit.case import Volume
from hitit.errors import GeometryError
from hitit.review.needle import METAL_THRESHOLD_HU

#: Lowest HU of contrast-tagged injectate. Iodinated contrast diluted into the injectate raises it by
#: a few hundred HU; +150 HU is above liver, muscle and unenhanced blood (<= +70 HU) and tumour, and
#: below typical contrast-tagged deposits [R: general CT teaching; configurable].
INJECTATE_MIN_HU = 150.0
#: Smallest rise over the baseline CT (HU) that counts as contrast when a baseline is given: half of
#: a +200-300 HU tagged deposit, and > 8 noise SDs of a routine abdominal CT (12 HU) [D; configurable].
ENHANCEMENT_HU = 100.0
#: A hyperdense component is injectate only if it comes this close (mm) to a deposit or the needle track.
SEED_RADIUS_MM = 5.0
#: Name fragments of structures that are hyperdense before any injection (bone; vessels with contrast).
#: Plateau of a deposit: this percentile (%) of its values; background: median of a shell this many
#: voxels thick around it (half-maximum refinement, rule 5).
PLATEAU_PERCENTILE = 90.0
BACKGROUND_SHELL_VOXELS = 2
PREEXISTING_HYPERDENSE = (
    "vertebra",
    "rib",
    "sacrum",
    "hip",
    "femur",
    "humerus",
    "scapula",
    "clavicula",
    "sternum",
    "skull",
    "bone",
    "aorta",
    "vena_cava",
    "vein",
    "artery",
    "iliac",
    "portal",
)


@dataclass
class InjectateConfig:
    """Thresholds of the injectate segmentation (see the module constants)."""

    min_hu: float = INJECTATE_MIN_HU
    enhancement_hu: float = ENHANCEMENT_HU
    metal_threshold_hu: float = METAL_THRESHOLD_HU
    seed_radius_mm: float = SEED_RADIUS_MM
    half_max_refinement: bool = True
    plateau_percentile: float = PLATEAU_PERCENTILE
    background_shell_voxels: int = BACKGROUND_SHELL_VOXELS
    preexisting_hyperdense: tuple[str, ...] = PREEXISTING_HYPERDENSE

    def to_dict(self) -> dict:
        """JSON-ready thresholds with their sources."""
        return {
            **asdict(self),
            "preexisting_hyperdense": list(self.preexisting_hyperdense),
            "sources": {
                "min_hu": "contrast-tagged injectate reads several hundred HU above tissue; [R] configurable",
                "enhancement_hu": "half a +200-300 HU tagged deposit, > 8 noise SD [D], configurable",
                "half_max_refinement": "half-maximum (FWHM-style) edge: partial-volume edge voxels count by half [D]",
            },
        }


@dataclass
class InjectateResult:
    """Where the contrast-tagged injectate of one lesion went (mL)."""

    lesion_id: str
    injectate_ml: float
    lesion_ml: float
    covered_ml: float
    leaked_ml: float
    leaked_by_structure_ml: dict[str, float] = field(default_factory=dict)
    baseline_used: bool = False
    level_hu: float | None = None
    mask: np.ndarray | None = field(default=None, repr=False)

    @property
    def covered_fraction(self) -> float | None:
        """Fraction of the lesion volume reached by injectate (0-1)."""
        return self.covered_ml / self.lesion_ml if self.lesion_ml > 0 else None

    @property
    def leaked_fraction(self) -> float | None:
        """Fraction of the visible injectate that lies outside the lesion (0-1)."""
        return self.leaked_ml / self.injectate_ml if self.injectate_ml > 0 else None

    def to_dict(self) -> dict:
        """JSON-ready record (mL, fractions); the mask is not included."""
        fraction = self.covered_fraction
        leaked_fraction = self.leaked_fraction
        return {
            "lesion_id": self.lesion_id,
            "injectate_ml": round(self.injectate_ml, 4),
            "lesion_ml": round(self.lesion_ml, 4),
            "covered_ml": round(self.covered_ml, 4),
            "covered_fraction": None if fraction is None else round(fraction, 4),
            "leaked_ml": round(self.leaked_ml, 4),
            "leaked_fraction": None if leaked_fraction is None else round(leaked_fraction, 4),
            "leaked_by_structure_ml": {k: round(v, 4) for k, v in self.leaked_by_structure_ml.items()},
            "baseline_used": self.baseline_used,
            "level_hu": None if self.level_hu is None else round(self.level_hu, 1),
            "level_kind": "enhancement over baseline" if self.baseline_used else "post-injection HU",
        }


def contrast_values(post_ct: Volume, baseline: Volume | None) -> np.ndarray:
    """The value the injectate level applies to: enhancement over the baseline (HU) or the post HU."""
    if baseline is None:
        return post_ct.array.astype(np.float32)
    if not baseline.grid.same_as(post_ct.grid):
        raise GeometryError(
            "The baseline CT is not on the post-injection CT's grid: resample it first "
            f"(baseline {baseline.grid.describe()}; post {post_ct.grid.describe()})."
        )
    return post_ct.array.astype(np.float32) - baseline.array.astype(np.float32)


def hyperdense_mask(
    post_ct: Volume,
    baseline: Volume | None,
    structures: dict[str, np.ndarray],
    config: InjectateConfig,
    values: np.ndarray,
    level: float,
) -> np.ndarray:
    """Voxels that may be contrast-tagged injectate (rules 1-3 of the module docstring) at ``level``.

    ``values`` are :func:`contrast_values`; ``level`` is in their unit (enhancement or post HU).
    """
    post = post_ct.array
    mask = (post >= config.min_hu) & (post < config.metal_threshold_hu) & (values >= level)
    if baseline is not None:
        return mask & (baseline.array < config.min_hu)
    for name, structure in structures.items():
        if any(fragment in name.lower() for fragment in config.preexisting_hyperdense):
            mask &= ~structure
    return mask


def half_max_level(values: np.ndarray, region: np.ndarray, config: InjectateConfig) -> float:
    """Level halfway between the background shell around ``region`` and the region's plateau (units of ``values``)."""
    kk, jj, ii = np.nonzero(region)
    pad = config.background_shell_voxels + 1
    lo = np.maximum(np.array([kk.min(), jj.min(), ii.min()]) - pad, 0)
    hi = np.array([kk.max(), jj.max(), ii.max()]) + pad + 1
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    crop = region[box]
    radius = [config.background_shell_voxels] * 3
    grown = sitk.GetArrayFromImage(
        sitk.BinaryDilate(sitk.GetImageFromArray(crop.astype(np.uint8)), radius, sitk.sitkBall)
    ).astype(bool)
    shell = grown & ~crop
    plateau = float(np.percentile(values[box][crop], config.plateau_percentile))
    return 0.5 * (plateau + float(np.median(values[box][shell])))


def seeded_components(mask: np.ndarray, grid, seeds_lps: np.ndarray, radius_mm: float) -> np.ndarray:
    """The 26-connected components of ``mask`` that have a voxel within ``radius_mm`` of a seed (LPS mm)."""
    if not mask.any() or len(seeds_lps) == 0:
        return np.zeros_like(mask, dtype=bool)
    labels = sitk.GetArrayFromImage(sitk.ConnectedComponent(sitk.GetImageFromArray(mask.astype(np.uint8)), True))
    reach = np.ceil(radius_mm / np.asarray(grid.spacing_mm)).astype(int)
    offsets = np.stack(np.meshgrid(*(np.arange(-r, r + 1) for r in reach), indexing="ij"), -1).reshape(-1, 3)
    spacing_offsets = offsets * np.asarray(grid.spacing_mm)
    offsets = offsets[np.linalg.norm(spacing_offsets, axis=1) <= radius_mm + 0.5 * grid.min_spacing_mm]
    centres = np.rint(grid.lps_to_index(np.asarray(seeds_lps, float).reshape(-1, 3))).astype(int)
    voxels = (centres[:, None, :] + offsets[None, :, :]).reshape(-1, 3)
    voxels = voxels[np.all((voxels >= 0) & (voxels < np.asarray(grid.size)), axis=1)]
    touched = np.unique(labels[voxels[:, 2], voxels[:, 1], voxels[:, 0]])
    touched = touched[touched > 0]
    return np.isin(labels, touched)


def needle_track_points(start_lps, end_lps, step_mm: float) -> np.ndarray:
    """Points (N, 3 LPS mm) every ``step_mm`` along a needle segment, ends included."""
    start, end = np.asarray(start_lps, float), np.asarray(end_lps, float)
    steps = max(int(np.ceil(np.linalg.norm(end - start) / step_mm)), 1)
    return start + np.linspace(0.0, 1.0, steps + 1)[:, None] * (end - start)


def injectate_distribution(
    lesion_id: str,
    post_ct: Volume,
    lesion: np.ndarray,
    seeds_lps: np.ndarray,
    structures: dict[str, np.ndarray] | None = None,
    baseline: Volume | None = None,
    config: InjectateConfig | None = None,
) -> InjectateResult:
    """Segment the injectate seeded at ``seeds_lps`` (deposits and needle track, LPS mm) and split it by the lesion.

    ``lesion`` and ``structures`` are boolean masks on the post CT grid. Leakage per structure
    counts the injectate outside the lesion inside each structure; overlapping structures each count
    it, and ``unlabelled`` is what lies in none of them.
    """
    config = config or InjectateConfig()
    structures = structures or {}
    values = contrast_values(post_ct, baseline)
    level = config.enhancement_hu if baseline is not None else config.min_hu
    injectate = seeded_components(
        hyperdense_mask(post_ct, baseline, structures, config, values, level),
        post_ct.grid,
        seeds_lps,
        config.seed_radius_mm,
    )
    if config.half_max_refinement and injectate.any():
        level = max(level, half_max_level(values, injectate, config))
        injectate = seeded_components(
            hyperdense_mask(post_ct, baseline, structures, config, values, level),
            post_ct.grid,
            seeds_lps,
            config.seed_radius_mm,
        )
    voxel_ml = post_ct.grid.voxel_volume_ml
    outside = injectate & ~lesion
    by_structure = {
        name: float(np.count_nonzero(outside & mask)) * voxel_ml
        for name, mask in structures.items()
        if name != lesion_id
    }
    labelled = np.zeros_like(outside)
    for name, mask in structures.items():
        if name != lesion_id:
            labelled |= mask
    leaked = {name: ml for name, ml in by_structure.items() if ml > 0}
    leaked["unlabelled"] = float(np.count_nonzero(outside & ~labelled)) * voxel_ml
    return InjectateResult(
        lesion_id,
        float(np.count_nonzero(injectate)) * voxel_ml,
        float(np.count_nonzero(lesion)) * voxel_ml,
        float(np.count_nonzero(injectate & lesion)) * voxel_ml,
        float(np.count_nonzero(outside)) * voxel_ml,
        leaked,
        baseline is not None,
        float(level),
        injectate,
    )
