"""The actual needle on an intraprocedural CT, and how far it is from the planned trajectory.

Frames and units: every point is LPS mm; angles are degrees; CT values are HU.

The needle is found as a thin straight object of metal density: voxels at or above
``metal_threshold_hu`` are grouped into 26-connected components, each component's axis is the
principal direction of its voxel centres (PCA, weighted by HU), and a component is kept as a needle
only when it is long, thin and straight (length, RMS radius about the axis and elongation limits).
Bone is rejected twice: by HU (cortical bone stays well under the metal threshold) and by shape
(vertebrae and ribs are thick or curved, so their RMS radius and elongation fail the limits).
The two ends are the extreme projections of the component's voxel centres on the axis; the tip is
the end nearer the planned target (or, without a plan, the end with less air around it).

A reviewer-placed line markup can replace the detection (:func:`needle_from_line`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
import SimpleITK as sitk

from hitit.anatomy.catalogue import StructureRule
from hitit.case import Volume
from hitit.errors import InputError
from hitit.trajectories.check import check_path
from hitit.trajectories.config import TrajectoryConfig
from hitit.trajectories.distance import prepare

#: Metal threshold (HU). Steel needles read far above any tissue (their true CT number is over
#: +10,000 HU, stored clipped at +3071 HU by 12-bit scanners), while cortical bone stays under about
#: +1,500-1,900 HU, so >= +2000 HU keeps the needle and drops bone. Standard CT physics teaching
#: [R]: a configurable default, not a published cut-off.
METAL_THRESHOLD_HU = 2000.0
#: Shortest needle segment accepted (mm): shorter metal is a clip, a coil or a marker, not a needle.
MIN_NEEDLE_LENGTH_MM = 15.0
#: Largest RMS distance of the component's voxels from its axis (mm). A 17-22 G needle
#: (0.7-1.5 mm outer diameter, ISO 9626 gauge table) blooms to 2-3 mm on CT; bone is far thicker.
MAX_NEEDLE_RMS_RADIUS_MM = 2.5
#: Smallest elongation sqrt(lambda1 / lambda2) of the voxel-centre covariance (dimensionless).
MIN_NEEDLE_ELONGATION = 8.0
#: Radius (mm) of the ball around each needle end in which air is counted to tell the hub (outside the
#: skin, in air) from the tip, when there is no planned target to compare with.
END_AIR_RADIUS_MM = 8.0
#: Metal voxels up to this many voxels apart belong to one object (bridges a needle broken into
#: fragments by partial volume across a slice boundary).
BRIDGE_GAP_VOXELS = 1
#: Ends: the fitted needle is followed past its last metal voxel through voxels within
#: ``END_RADIUS_MM`` of the axis reading at least ``END_THRESHOLD_HU`` (half the metal threshold),
#: for at most ``END_SEARCH_MM``: the last, partially filled voxels of a thin needle read under the
#: metal threshold but far above bone-free soft tissue [D].
END_THRESHOLD_HU = 1000.0
END_RADIUS_MM = 1.0
END_SEARCH_MM = 3.0
#: Air threshold (HU): voxels below it are air (outside the body or in the lung).
AIR_HU = -500.0


@dataclass
class NeedleDetectionConfig:
    """Configurable thresholds of the automatic needle detection (see the module constants)."""

    metal_threshold_hu: float = METAL_THRESHOLD_HU
    min_length_mm: float = MIN_NEEDLE_LENGTH_MM
    max_rms_radius_mm: float = MAX_NEEDLE_RMS_RADIUS_MM
    min_elongation: float = MIN_NEEDLE_ELONGATION
    end_air_radius_mm: float = END_AIR_RADIUS_MM
    bridge_gap_voxels: int = BRIDGE_GAP_VOXELS
    end_threshold_hu: float = END_THRESHOLD_HU
    end_radius_mm: float = END_RADIUS_MM
    end_search_mm: float = END_SEARCH_MM
    air_hu: float = AIR_HU

    def to_dict(self) -> dict:
        """JSON-ready thresholds with their sources."""
        return {
            **asdict(self),
            "sources": {
                "metal_threshold_hu": "steel reads > +3000 HU (clipped), cortical bone < ~+1900 HU: CT physics "
                "teaching [R], configurable",
                "max_rms_radius_mm": "17-22 G needle 0.7-1.5 mm OD (ISO 9626 gauge table) plus CT blooming [D]",
            },
        }


@dataclass
class NeedleLine:
    """The actual needle: ``tip_lps`` (inside the patient) and ``hub_lps`` (the outer visible end), LPS mm.

    ``source`` is ``"detected"`` or ``"markup"``; detected needles also carry their shape measures.
    """

    tip_lps: np.ndarray
    hub_lps: np.ndarray
    source: str
    voxels: int = 0
    rms_radius_mm: float | None = None
    elongation: float | None = None

    @property
    def axis(self) -> np.ndarray:
        """Unit vector from the hub towards the tip (LPS)."""
        d = np.asarray(self.tip_lps, float) - np.asarray(self.hub_lps, float)
        return d / np.linalg.norm(d)

    @property
    def length_mm(self) -> float:
        """Visible needle length from hub to tip (mm)."""
        return float(np.linalg.norm(np.asarray(self.tip_lps) - np.asarray(self.hub_lps)))

    def to_dict(self) -> dict:
        """JSON-ready record (LPS mm)."""
        return {
            "frame": "LPS",
            "source": self.source,
            "tip_lps": _r(self.tip_lps),
            "hub_lps": _r(self.hub_lps),
            "length_mm": round(self.length_mm, 2),
            "voxels": self.voxels,
            "rms_radius_mm": _opt(self.rms_radius_mm),
            "elongation": _opt(self.elongation),
        }


@dataclass
class _Candidate:
    """One elongated metal component: its axis, ends (LPS mm) and shape."""

    centre: np.ndarray
    axis: np.ndarray
    end_a: np.ndarray
    end_b: np.ndarray
    voxels: int
    rms_radius_mm: float
    elongation: float


def _r(point) -> list[float]:
    return [round(float(v), 3) for v in np.asarray(point, float)]


def _opt(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


# --------------------------------------------------------------------------- detection
def metal_components(ct: Volume, config: NeedleDetectionConfig) -> list[_Candidate]:
    """All metal objects of ``ct`` that pass the needle shape tests (any order).

    Metal voxels less than ``bridge_gap_voxels`` apart are grouped (a thin needle lying across a
    slice boundary reads partly under the threshold and breaks into collinear fragments); the fit
    uses the metal voxels only.
    """
    metal = ct.array >= config.metal_threshold_hu
    if not metal.any():
        return []
    groups = _bridged_labels(metal, config.bridge_gap_voxels)
    flat = np.flatnonzero(metal)
    labels = groups.ravel()[flat]
    order = np.argsort(labels, kind="stable")
    flat, labels = flat[order], labels[order]
    bounds = np.flatnonzero(np.diff(labels)) + 1
    hu = ct.array.ravel()
    candidates = []
    for indices in np.split(flat, bounds):
        candidate = _fit_component(indices, hu[indices].astype(float), ct, config)
        if candidate is not None:
            candidates.append(candidate)
    return candidates


def _bridged_labels(metal: np.ndarray, gap_voxels: int) -> np.ndarray:
    """Component labels of ``metal`` dilated by ``gap_voxels`` (26-connected), computed in its bounding box."""
    kk, jj, ii = np.nonzero(metal)
    lo = np.maximum(np.array([kk.min(), jj.min(), ii.min()]) - gap_voxels, 0)
    hi = np.array([kk.max(), jj.max(), ii.max()]) + gap_voxels + 1
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    image = sitk.GetImageFromArray(metal[box].astype(np.uint8))
    if gap_voxels > 0:
        image = sitk.BinaryDilate(image, [gap_voxels] * 3, sitk.sitkBox)
    labels = np.zeros(metal.shape, dtype=np.int32)
    labels[box] = sitk.GetArrayFromImage(sitk.ConnectedComponent(image, True))
    return labels


def _fit_component(
    flat_indices: np.ndarray, hu: np.ndarray, ct: Volume, config: NeedleDetectionConfig
) -> _Candidate | None:
    """PCA line fit of one component (flat array indices); None when it is not needle-shaped."""
    if len(flat_indices) < 3:
        return None
    k, j, i = np.unravel_index(flat_indices, ct.grid.shape)
    points = ct.grid.index_to_lps(np.column_stack([i, j, k]))
    weights = hu / hu.sum()
    centre = weights @ points
    rel = points - centre
    covariance = (rel * weights[:, None]).T @ rel
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    axis = eigenvectors[:, 2]
    t = rel @ axis
    radial = rel - np.outer(t, axis)
    rms_radius = float(np.sqrt(weights @ np.einsum("ij,ij->i", radial, radial)))
    elongation = float(np.sqrt(eigenvalues[2] / max(eigenvalues[1], 1e-12)))
    length = float(t.max() - t.min())
    if length < config.min_length_mm or rms_radius > config.max_rms_radius_mm or elongation < config.min_elongation:
        return None
    end_a = _extend_end(ct, centre, -axis, -t.min(), config)
    end_b = _extend_end(ct, centre, axis, t.max(), config)
    return _Candidate(centre, axis, end_a, end_b, len(flat_indices), rms_radius, elongation)


def _extend_end(
    ct: Volume, centre: np.ndarray, direction: np.ndarray, reach_mm: float, config: NeedleDetectionConfig
) -> np.ndarray:
    """The needle end (LPS mm) along ``direction`` from ``centre``: the last metal voxel at ``reach_mm``,
    followed on through partially filled voxels (``end_threshold_hu`` within ``end_radius_mm`` of the axis).
    """
    end = centre + reach_mm * direction
    lo = np.floor(
        ct.grid.lps_to_index(end) - (config.end_search_mm + config.end_radius_mm) / np.asarray(ct.grid.spacing_mm)
    )
    hi = np.ceil(
        ct.grid.lps_to_index(end) + (config.end_search_mm + config.end_radius_mm) / np.asarray(ct.grid.spacing_mm)
    )
    corners = np.array([lo, hi])
    lo = np.clip(corners.min(0), 0, np.asarray(ct.grid.size) - 1).astype(int)
    hi = np.clip(corners.max(0), 0, np.asarray(ct.grid.size) - 1).astype(int)
    ii, jj, kk = np.meshgrid(*(np.arange(lo[a], hi[a] + 1) for a in range(3)), indexing="ij")
    ijk = np.column_stack([ii.ravel(), jj.ravel(), kk.ravel()])
    rel = ct.grid.index_to_lps(ijk) - centre
    t = rel @ direction
    radial = np.linalg.norm(rel - np.outer(t, direction), axis=1)
    hu = ct.array[ijk[:, 2], ijk[:, 1], ijk[:, 0]]
    keep = (radial <= config.end_radius_mm) & (hu >= config.end_threshold_hu) & (t <= reach_mm + config.end_search_mm)
    return centre + max(reach_mm, float(t[keep].max()) if keep.any() else reach_mm) * direction


def _segment_distance_mm(point: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Distance (mm) from ``point`` to the segment a-b."""
    ab = b - a
    s = np.clip((point - a) @ ab / (ab @ ab), 0.0, 1.0)
    return float(np.linalg.norm(point - (a + s * ab)))


def _air_fraction(ct: Volume, point_lps: np.ndarray, config: NeedleDetectionConfig) -> float:
    """Fraction of voxels below ``air_hu`` in a ball of ``end_air_radius_mm`` around a point (LPS mm)."""
    spacing = np.asarray(ct.grid.spacing_mm)
    centre = np.rint(ct.grid.lps_to_index(point_lps)).astype(int)
    reach = np.ceil(config.end_air_radius_mm / spacing).astype(int)
    lo = np.clip(centre - reach, 0, np.asarray(ct.grid.size) - 1)
    hi = np.clip(centre + reach, 0, np.asarray(ct.grid.size) - 1) + 1
    ii, jj, kk = np.meshgrid(*(np.arange(lo[a], hi[a]) for a in range(3)), indexing="ij")
    ijk = np.column_stack([ii.ravel(), jj.ravel(), kk.ravel()])
    inside = np.linalg.norm(ct.grid.index_to_lps(ijk) - point_lps, axis=1) <= config.end_air_radius_mm
    values = ct.array[ijk[inside, 2], ijk[inside, 1], ijk[inside, 0]]
    return float(np.mean(values < config.air_hu)) if values.size else 0.0


def detect_needle(ct: Volume, target_lps=None, config: NeedleDetectionConfig | None = None) -> NeedleLine:
    """Find the needle on ``ct``; with ``target_lps`` (the planned target, LPS mm) pick the needle nearest to it.

    Among several needle-shaped components, the one whose segment passes closest to the target is
    taken (one needle per lesion); without a target, the longest. The tip is the end nearer the
    target, or without a target the end with less air around it. Raises :class:`InputError` when no
    metal object passes the shape tests.
    """
    config = config or NeedleDetectionConfig()
    candidates = metal_components(ct, config)
    if not candidates:
        raise InputError(
            f"No needle found on the CT: no straight metal object (>= {config.metal_threshold_hu:g} HU, "
            f">= {config.min_length_mm:g} mm long) was detected. Place a line markup on the needle instead (--needle)."
        )
    if target_lps is not None:
        target = np.asarray(target_lps, float)
        best = min(candidates, key=lambda c: _segment_distance_mm(target, c.end_a, c.end_b))
        a_is_tip = np.linalg.norm(best.end_a - target) < np.linalg.norm(best.end_b - target)
    else:
        best = max(candidates, key=lambda c: np.linalg.norm(c.end_b - c.end_a))
        a_is_tip = _air_fraction(ct, best.end_a, config) < _air_fraction(ct, best.end_b, config)
    tip, hub = (best.end_a, best.end_b) if a_is_tip else (best.end_b, best.end_a)
    return NeedleLine(tip, hub, "detected", best.voxels, best.rms_radius_mm, best.elongation)


def needle_from_line(points_lps, target_lps=None) -> NeedleLine:
    """A needle from a reviewer's line markup (2 points, LPS mm); the tip is the point nearer the target.

    Without a target the second point is the tip (Slicer's line is drawn from the entry to the tip).
    """
    points = np.asarray(points_lps, float).reshape(-1, 3)
    if len(points) != 2 or np.linalg.norm(points[1] - points[0]) == 0:
        raise InputError("A needle markup must be a line with two distinct points (hub and tip).")
    first_is_tip = target_lps is not None and (
        np.linalg.norm(points[0] - target_lps) < np.linalg.norm(points[1] - target_lps)
    )
    tip, hub = (points[0], points[1]) if first_is_tip else (points[1], points[0])
    return NeedleLine(tip, hub, "markup")


# --------------------------------------------------------------------------- comparison
@dataclass
class NeedleDeviation:
    """Actual needle versus planned trajectory (LPS mm, degrees).

    - ``tip_to_target_mm``: distance from the actual tip to the planned target.
    - ``angle_deg``: angle between the planned axis (entry -> target) and the needle axis (hub -> tip).
    - ``depth_error_mm``: (tip - target) projected on the planned axis; positive = too deep (beyond the target).
    - ``lateral_at_target_depth_mm``: in the plane through the planned target perpendicular to the
      planned axis, the distance from the target to where the actual needle line crosses that plane
      (the needle line extended when the tip stops short). ``None`` when the needle is parallel to the plane.
    - ``tip_lateral_mm``: the tip's offset from the planned axis, perpendicular to it.
    """

    tip_to_target_mm: float
    angle_deg: float
    depth_error_mm: float
    lateral_at_target_depth_mm: float | None
    tip_lateral_mm: float

    def to_dict(self) -> dict:
        """JSON-ready record (mm, degrees)."""
        return {k: (None if v is None else round(float(v), 3)) for k, v in asdict(self).items()}


def compare_with_plan(needle: NeedleLine, entry_lps, target_lps) -> NeedleDeviation:
    """Deviation of ``needle`` from the planned trajectory ``entry_lps`` -> ``target_lps`` (LPS mm)."""
    entry, target = np.asarray(entry_lps, float), np.asarray(target_lps, float)
    planned = (target - entry) / np.linalg.norm(target - entry)
    actual = needle.axis
    offset = np.asarray(needle.tip_lps, float) - target
    depth = float(offset @ planned)
    angle = float(np.degrees(np.arccos(np.clip(planned @ actual, -1.0, 1.0))))
    along = float(actual @ planned)
    lateral = None
    if abs(along) > 1e-6:
        crossing = needle.tip_lps - (depth / along) * actual
        lateral = float(np.linalg.norm(crossing - target))
    tip_lateral = float(np.linalg.norm(offset - depth * planned))
    return NeedleDeviation(float(np.linalg.norm(offset)), angle, depth, lateral, tip_lateral)


@dataclass
class NeedleReview:
    """One lesion's needle review: the needle, its deviation and the margins of the actual path."""

    lesion_id: str
    needle: NeedleLine
    deviation: NeedleDeviation
    margins: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready record (LPS mm, degrees)."""
        return {
            "lesion_id": self.lesion_id,
            "needle": self.needle.to_dict(),
            "deviation": self.deviation.to_dict(),
            "margins": self.margins,
        }


# --------------------------------------------------------------------------- margins of the actual path
def actual_path_margins(
    grid, structures: dict, entry_lps, tip_lps, rules: Mapping[str, StructureRule], planning: TrajectoryConfig
) -> dict:
    """Whether the actual path entry -> tip (LPS mm) kept the plan's margins, judged exactly as the planner
    judged its own paths: the plan's structure rules (``rules``, of the lesion's scene) and needle
    (``planning``), the trajectory engine's exact check of the needle surface against the voxel centres.

    Only the structures of ``rules`` given on the intraprocedural CT (``structures``, masks on ``grid``) are
    judged. Returns ``{"kept", "blocking", "method", "structures": {name: {"actual_mm", "required_mm", "kept"}}}``.
    """
    judged = {name: rule for name, rule in rules.items() if name in structures}
    if not judged:
        return {
            "kept": True,
            "blocking": [],
            "structures": {},
            "method": "no structure of the plan's rules was given on the intraprocedural CT: no margin to judge",
        }
    scene = prepare((grid, {name: structures[name] for name in judged}), judged, planning, np.asarray(tip_lps, float))
    check = check_path(scene, entry_lps, tip_lps)
    rows = {
        name: {
            "actual_mm": round(clearance, 2),
            "required_mm": judged[name].margin_mm,
            "kept": name not in check.blocking,
        }
        for name, clearance in check.clearance_by_structure_mm.items()
    }
    return {
        "kept": not check.blocking,
        "blocking": list(check.blocking),
        "method": "the planner's exact clearance check (needle surface to structure voxel centres) with the plan's "
        f"rules and a {scene.needle_radius_mm * 2:.2f} mm needle, tolerance {scene.tolerance_mm:.2f} mm",
        "structures": rows,
    }
