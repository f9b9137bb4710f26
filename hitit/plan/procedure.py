"""The procedure card: the numbers set at the CT console for one chosen needle path.

Everything is computed in the CT's patient frame (LPS mm, degrees), not in the voxel frame, so an
oblique or flipped acquisition gives the same card as an axial one:

- the table position of the entry is its patient z (superior positive, the z the scanner writes as
  the slice position) and the slice index is the CT slice (0-based k, as Slicer counts) nearest to it;
- "vertical" is the patient's anterior-posterior axis, which is vertical on the table for a supine or a
  prone patient. The in-plane angle is the angle between the needle's projection on the axial plane and
  that axis, signed positive when the needle tip heads towards the patient's left; the craniocaudal
  angle is the tilt out of the axial plane, positive when the tip heads towards the head;
- the patient lies prone when the needle enters from the back (posterior or posterolateral, within
  60 degrees of vertical), else supine; the table top is the lowest skin point at the entry's level in
  that position;
- the midline at the entry's level is the tip of the spinous process of the vertebra segmented at that
  level (its posterior-most voxels), else the middle of the body's left-right extent there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hitit.anatomy.catalogue import normalise_name
from hitit.geometry import Grid
from hitit.masks import box_crop
from hitit.trajectories.config import GAUGE_OUTER_DIAMETER_MM

#: Structures whose needle-surface distance is at most this are listed on the card. [D] about twice
#: the CT needle placement error (3.3-6.7 mm, Busser et al., Br J Radiol 2013, PMID 23913308): the structures a
#: misplaced needle could meet.
NEARBY_STRUCTURE_MM = 10.0
#: Step (mm) along the needle when looking for the lesion's near edge [D]: a quarter of a 1 mm voxel.
EDGE_STEP_MM = 0.25
#: Depth (mm) below the posterior-most vertebra voxel at the entry's level counted as the spinous
#: process tip [D]: one to two voxels of a typical CT.
SPINOUS_TIP_MM = 3.0
#: Skin points within this many point spacings of the entry's level describe the body there [D].
LEVEL_SPACINGS = 1.0

_LEFT = np.array([1.0, 0.0, 0.0])
_POSTERIOR = np.array([0.0, 1.0, 0.0])
_SUPERIOR = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True)
class Landmarks:
    """What the card measures the entry against: skin points and vertebra voxels (LPS mm).

    Attributes:
        skin_points_lps: (N, 3) points of the body surface.
        skin_spacing_mm: their spacing (sets the thickness of a level).
        vertebrae: name -> (M, 3) voxel centres of each segmented vertebra.
        level_half_height_mm: half the patient-z extent of one CT voxel (a vertebra voxel within it of
            the entry's z is at the entry's level).
    """

    skin_points_lps: np.ndarray
    skin_spacing_mm: float
    vertebrae: dict[str, np.ndarray]
    level_half_height_mm: float

    @classmethod
    def from_case(
        cls, structures: dict[str, np.ndarray], grid: Grid, skin_points_lps: np.ndarray, skin_spacing_mm: float
    ) -> Landmarks:
        """Landmarks of a case: every structure named ``vertebra*`` (TotalSegmentator ``vertebrae_L1`` ...)."""
        vertebrae = {}
        for name, mask in structures.items():
            found = box_crop(mask) if normalise_name(name).startswith("vertebra") else None
            if found is not None:
                crop, lo = found
                k, j, i = (axis + offset for axis, offset in zip(np.nonzero(crop), lo))
                vertebrae[name] = grid.index_to_lps(np.column_stack([i, j, k]).astype(float))
        axes = grid.direction_matrix * np.asarray(grid.spacing_mm)
        return cls(
            np.asarray(skin_points_lps, float), float(skin_spacing_mm), vertebrae, 0.5 * float(np.abs(axes[2]).sum())
        )

    def midline(self, z_mm: float) -> tuple[float | None, str]:
        """Patient x (mm, LPS) of the midline at axial level ``z_mm`` and what it was taken from."""
        best, name = None, ""
        for vertebra, points in self.vertebrae.items():
            level = points[np.abs(points[:, 2] - z_mm) <= self.level_half_height_mm]
            if len(level) and (best is None or len(level) > len(best)):
                best, name = level, vertebra
        if best is not None:
            tip = best[best[:, 1] >= best[:, 1].max() - SPINOUS_TIP_MM]
            return float(tip[:, 0].mean()), f"spinous process of {name}"
        level = self._skin_level(z_mm)
        if len(level) == 0:
            return None, "no body outline at this level"
        return float(0.5 * (level[:, 0].min() + level[:, 0].max())), "middle of the body outline"

    def table_top_y(self, z_mm: float, position: str) -> float | None:
        """Patient y (mm, LPS) of the table top at level ``z_mm``: the lowest skin point in ``position``."""
        level = self._skin_level(z_mm)
        if len(level) == 0:
            return None
        return float(level[:, 1].max() if position == "supine" else level[:, 1].min())

    def _skin_level(self, z_mm: float) -> np.ndarray:
        return self.skin_points_lps[np.abs(self.skin_points_lps[:, 2] - z_mm) <= LEVEL_SPACINGS * self.skin_spacing_mm]


@dataclass
class ProcedureCard:
    """The console parameters of one needle path (LPS mm, degrees, mL); see the module docstring.

    Signed values: ``angle_from_vertical_deg`` and ``midline_offset_mm`` are positive towards the
    patient's left, ``craniocaudal_angle_deg`` positive towards the head; the ``*_towards``/``*_side``
    fields say the same in words. ``height_above_table_mm`` is None when no skin point lies at the
    entry's level, ``depth_to_lesion_edge_mm`` None when the path never enters the lesion mask.
    """

    entry_lps: list[float]
    target_lps: list[float]
    table_position_mm: float
    slice_index: int
    target_table_position_mm: float
    target_slice_index: int
    patient_position: str
    entry_side: str
    angle_from_vertical_deg: float
    angle_towards: str
    craniocaudal_angle_deg: float
    craniocaudal_towards: str
    midline_offset_mm: float | None
    midline_side: str
    midline_reference: str
    height_above_table_mm: float | None
    depth_to_target_mm: float
    depth_to_lesion_edge_mm: float | None
    needle_length_mm: float
    needle_gauge: int
    needle_outer_diameter_mm: float
    depth_mark_mm: float
    needle_outside_skin_mm: float
    deposits: list[dict]
    total_injectate_ml: float
    nearby_structures: list[dict]
    nearby_limit_mm: float = NEARBY_STRUCTURE_MM

    def to_dict(self) -> dict:
        """JSON-ready card (rounded to 0.1 mm / 0.1 degree / 0.01 mL)."""

        def r(value, digits=1):
            return None if value is None else round(float(value), digits)

        return {
            "frame": "LPS",
            "entry_lps": [r(v, 2) for v in self.entry_lps],
            "target_lps": [r(v, 2) for v in self.target_lps],
            "table_position_mm": r(self.table_position_mm),
            "slice_index": self.slice_index,
            "target_table_position_mm": r(self.target_table_position_mm),
            "target_slice_index": self.target_slice_index,
            "patient_position": self.patient_position,
            "entry_side": self.entry_side,
            "angle_from_vertical_deg": r(self.angle_from_vertical_deg),
            "angle_towards": self.angle_towards,
            "craniocaudal_angle_deg": r(self.craniocaudal_angle_deg),
            "craniocaudal_towards": self.craniocaudal_towards,
            "midline_offset_mm": r(self.midline_offset_mm),
            "midline_side": self.midline_side,
            "midline_reference": self.midline_reference,
            "height_above_table_mm": r(self.height_above_table_mm),
            "depth_to_target_mm": r(self.depth_to_target_mm),
            "depth_to_lesion_edge_mm": r(self.depth_to_lesion_edge_mm),
            "needle_length_mm": r(self.needle_length_mm),
            "needle_gauge": self.needle_gauge,
            "needle_outer_diameter_mm": r(self.needle_outer_diameter_mm, 2),
            "depth_mark_mm": r(self.depth_mark_mm),
            "needle_outside_skin_mm": r(self.needle_outside_skin_mm),
            "deposits": [
                {
                    **d,
                    "needle_depth_mm": r(d["needle_depth_mm"]),
                    "volume_ml": r(d["volume_ml"], 3),
                    "tilt_deg": r(d["tilt_deg"]),
                }
                for d in self.deposits
            ],
            "total_injectate_ml": r(self.total_injectate_ml, 2),
            "nearby_limit_mm": self.nearby_limit_mm,
            "nearby_structures": [
                {"name": s["name"], "distance_mm": r(s["distance_mm"])} for s in self.nearby_structures
            ],
        }


def needle_angles_deg(entry_lps, target_lps) -> tuple[float, float]:
    """(in-plane angle from the anterior-posterior axis, + towards the patient's left; craniocaudal tilt,
    + towards the head) of the needle entry -> target, degrees.
    """
    d = np.asarray(target_lps, float) - np.asarray(entry_lps, float)
    lateral, vertical, cranial = d @ _LEFT, d @ _POSTERIOR, d @ _SUPERIOR
    in_plane = float(np.degrees(np.arctan2(abs(lateral), abs(vertical))))
    tilt = float(np.degrees(np.arctan2(cranial, np.hypot(lateral, vertical))))
    return (in_plane if lateral >= 0 else -in_plane), tilt


def entry_side(entry_lps, target_lps) -> str:
    """Where the needle comes from, in words ("anterior", "right anterolateral", "left lateral"...)."""
    back = np.asarray(entry_lps, float) - np.asarray(target_lps, float)
    lateral, vertical = back @ _LEFT, back @ _POSTERIOR
    angle = np.degrees(np.arctan2(abs(lateral), abs(vertical)))
    side = "left" if lateral > 0 else "right"
    if angle < 30.0:
        return "anterior" if vertical < 0 else "posterior"
    if angle <= 60.0:
        return f"{side} {'antero' if vertical < 0 else 'postero'}lateral"
    return f"{side} lateral"


def depth_to_mask_mm(
    mask: np.ndarray, grid: Grid, entry_lps, target_lps, step_mm: float = EDGE_STEP_MM
) -> float | None:
    """Distance (mm) from the entry along the needle to the first point whose nearest voxel is in ``mask``."""
    entry, target = np.asarray(entry_lps, float), np.asarray(target_lps, float)
    length = float(np.linalg.norm(target - entry))
    t = np.arange(0.0, length + step_mm, step_mm)
    t[-1] = min(t[-1], length)
    points = entry + np.outer(t / max(length, 1e-12), target - entry)
    ijk = np.rint(grid.lps_to_index(points)).astype(int)
    inside = np.all((ijk >= 0) & (ijk < np.asarray(grid.size)), axis=1)
    hit = np.zeros(len(t), dtype=bool)
    hit[inside] = mask[ijk[inside, 2], ijk[inside, 1], ijk[inside, 0]]
    return float(t[np.argmax(hit)]) if hit.any() else None


def procedure_card(
    trajectory: dict,
    deposit_paths: list[dict],
    grid: Grid,
    lesion_mask: np.ndarray,
    landmarks: Landmarks,
    needle_length_mm: float,
    gauge: int,
) -> ProcedureCard:
    """The card of one chosen path.

    ``trajectory`` is a plan.json trajectory record (``entry_lps``, ``target_lps``, ``clearance_by_structure_mm``),
    ``deposit_paths`` the plan's deposit paths from that entry (``[]`` when nothing is injected), the
    lesion mask lies on ``grid``; the needle's length (mm) and gauge complete it.
    """
    entry, target = np.asarray(trajectory["entry_lps"], float), np.asarray(trajectory["target_lps"], float)
    angle, tilt = needle_angles_deg(entry, target)
    side = entry_side(entry, target)
    position = "prone" if side.startswith("posterior") or side.endswith("posterolateral") else "supine"
    midline_x, reference = landmarks.midline(float(entry[2]))
    offset = None if midline_x is None else float(entry[0] - midline_x)
    table_y = landmarks.table_top_y(float(entry[2]), position)
    height = None if table_y is None else float(table_y - entry[1] if position == "supine" else entry[1] - table_y)
    depth = float(np.linalg.norm(target - entry))
    deposits = [
        {
            "path": p,
            "tilt_deg": float(path.get("tilt_deg", 0.0)),
            "needle_depth_mm": float(d["needle_depth_mm"]),
            "volume_ml": float(d["volume_ml"]),
        }
        for p, path in enumerate(deposit_paths, start=1)
        for d in sorted(path["deposits"], key=lambda d: -d["needle_depth_mm"])
    ]
    mark = max((d["needle_depth_mm"] for d in deposits if d["path"] == 1), default=depth)
    nearby = sorted(
        (
            {"name": n, "distance_mm": float(v)}
            for n, v in (trajectory.get("clearance_by_structure_mm") or {}).items()
            if v is not None and v <= NEARBY_STRUCTURE_MM
        ),
        key=lambda s: s["distance_mm"],
    )
    k_entry, k_target = (int(np.rint(grid.lps_to_index(p)[2])) for p in (entry, target))
    return ProcedureCard(
        entry.tolist(),
        target.tolist(),
        float(entry[2]),
        k_entry,
        float(target[2]),
        k_target,
        position,
        side,
        angle,
        _towards(angle, "patient left", "patient right"),
        tilt,
        _towards(tilt, "head", "feet"),
        offset,
        "" if offset is None else _towards(offset, "left", "right"),
        reference,
        height,
        depth,
        depth_to_mask_mm(lesion_mask, grid, entry, target),
        float(needle_length_mm),
        int(gauge),
        GAUGE_OUTER_DIAMETER_MM[int(gauge)],
        float(mark),
        float(needle_length_mm - mark),
        deposits,
        float(sum(d["volume_ml"] for d in deposits)),
        nearby,
    )


def _towards(value: float, positive: str, negative: str, dead_band: float = 0.05) -> str:
    """Word for the sign of ``value`` ("" when it is about zero)."""
    if abs(value) < dead_band:
        return ""
    return positive if value > 0 else negative
