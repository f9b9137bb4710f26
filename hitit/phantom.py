"""The teaching case: a deterministic synthetic torso CT with known lesions.

Every shape is defined in **physical LPS millimetres** in a patient frame centred on the body
(x to the patient's Left, y Posterior, z Superior) and then sampled at the voxel centres of the
requested grid, so the same anatomy appears on any grid: anisotropic, oblique or flipped.

Layout (axial view, supine patient, body 340 mm wide x 240 mm deep, FOV 200 mm long):

- skin (2 mm, CT only), subcutaneous fat (25 mm), abdominal/thoracic muscle wall (12 mm) around the
  cavity, a diaphragm dome at the top with the lung bases (lower lobes) in the posterolateral recesses;
- liver in the right upper quadrant against the anterior and lateral wall, gallbladder under it,
  stomach (gas over fluid) and spleen on the left, kidneys either side of the spine, transverse colon
  (gas) with ascending/descending limbs, fluid-filled small bowel loops low in the front;
- aorta left-anterior of the spine, IVC to the right running through the liver, portal vein entering
  the liver hilum and splenic vein running to the spleen; vertebrae T11-L3 with spinal canal and cord,
  erector spinae (autochthon) muscles, ribs 10-12 each side in the wall (with intercostal gaps);
- a CT table: a dense slab under the patient's back, separated from the skin by an air gap.

Lesions (axis-aligned ellipsoids, so the ground truth is analytic):

- L1 subcapsular, right anterolateral liver, where the liver lies against the abdominal wall;
- L2 deep in the right lobe, 1 mm from the IVC;
- L3 high in the right lobe with a spherical necrotic core (5 HU, below a +20 HU necrosis threshold);
- L4 subcutaneous deposit in the fat of the left anterior abdominal wall (not nodal).

L1-L3 lie inside the liver and **the liver mask contains them**, as an organ segmentation of a real
CT (e.g. TotalSegmentator) contains the tumours it holds. L4 belongs to no structure.

Each lesion's truth lists example straight needle paths (``LesionTruth.example_paths``): one safe
path that keeps ``SAFE_PATH_CLEARANCE_MM`` from every structure but its host organ and that the
planner accepts under its default rules on the default grid (in the axial plane, at least the
minimum length of normal liver before a liver lesion), and unsafe ones through a rib, the lung
base, the stomach, or the aorta and IVC, naming what they cross. "safe" is the planner's verdict,
checked by the tests with the planner's own exact path check.

The random seed only changes the CT noise: anatomy and masks are identical for every seed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable

import numpy as np

from hitit.case import Case, MaskSet, Volume
from hitit.errors import InputError
from hitit.geometry import Grid
from hitit.io.atomic import write_text_atomic

# --------------------------------------------------------------------------- HU values
# Typical CT numbers of a contrast-enhanced abdominal CT (portal venous phase), as given in
# radiology textbooks and reported in CT attenuation surveys; rounded to simple values.
#: Air outside the patient (by definition of the Hounsfield scale).
AIR_HU = -1000.0
#: Lowest value stored in the CT, as scanners do (12-bit range offset).
CT_MIN_HU = -1024.0
#: Skin (dermis), a soft tissue slightly denser than water.
SKIN_HU = 30.0
#: Subcutaneous and visceral fat (typically -120 to -80 HU).
FAT_HU = -100.0
#: Skeletal muscle (typically +40 to +60 HU).
MUSCLE_HU = 50.0
#: Rib bone, mostly cortical (cortical bone reads several hundred to over +1000 HU).
RIB_HU = 700.0
#: Vertebra, cancellous body inside a cortical shell: an average of a few hundred HU.
VERTEBRA_HU = 400.0
#: Intervertebral disc (fibrocartilage, +70 to +100 HU).
DISC_HU = 80.0
#: Cerebrospinal fluid in the spinal canal (water-like, 0 to +15 HU).
CSF_HU = 10.0
#: Spinal cord (soft tissue, +30 to +40 HU).
SPINAL_CORD_HU = 35.0
#: Contrast-enhanced aorta in the portal venous phase (+150 to +200 HU).
AORTA_HU = 180.0
#: Inferior vena cava in the portal venous phase (mixing of enhanced and unenhanced blood).
IVC_HU = 150.0
#: Portal and splenic veins in the portal venous phase.
PORTAL_VEIN_HU = 160.0
#: Liver parenchyma (unenhanced +55 to +65 HU; the value the issue asks for).
LIVER_HU = 60.0
#: Enhanced spleen in the portal venous phase.
SPLEEN_HU = 100.0
#: Enhanced renal parenchyma (nephrographic/portal venous phase +150 HU and more).
KIDNEY_HU = 150.0
#: Bile in the gallbladder (water-like, 0 to +20 HU).
BILE_HU = 5.0
#: Bowel and stomach wall (enhancing soft tissue).
BOWEL_WALL_HU = 45.0
#: Fluid inside the stomach and small bowel (water-like).
BOWEL_FLUID_HU = 15.0
#: Intraluminal gas (slightly above air because of partial volume with the wall).
GAS_HU = -950.0
#: Aerated lung bases (typically -900 to -800 HU at the bases, dependent atelectasis raises it).
LUNG_HU = -850.0
#: CT table top: carbon fibre over a dense core reads a few hundred HU; being a dense slab outside
#: the body, it tests that skin extraction keeps only the connected body.
TABLE_HU = 400.0
#: Viable tumour: hypodense to liver (colorectal metastases read +20 to +45 HU in portal phase).
LESION_HU = 30.0
#: Necrotic core: fluid-like, clearly below a necrosis threshold of about +20 HU.
NECROSIS_HU = 5.0
#: Image noise (standard deviation) of a routine abdominal CT in soft tissue, 10-15 HU.
NOISE_SD_HU = 12.0
#: The teaching CT is contrast-enhanced by construction (portal venous phase values above): its header
#: says so with the DICOM Contrast/Bolus keywords, which the NRRD file carries and every reader of the
#: case (``hitit plan``, ``hitit lesions``) takes as the CT's contrast state, so necrosis is assessed.
CT_HEADER = {"ContrastBolusAgent": "iodinated contrast (synthetic portal venous phase)", "ContrastBolusRoute": "IV"}

# --------------------------------------------------------------------------- body layout (mm)
#: Field of view covered by the default axis-aligned grid: LPS box (min corner, max corner) in mm.
FOV_MIN_LPS = (-178.0, -128.0, -100.0)
FOV_MAX_LPS = (178.0, 152.0, 100.0)
#: Default voxel spacing (i, j, k) in mm: about 10 M voxels over the field of view.
DEFAULT_SPACING_MM = (1.0, 1.0, 2.0)
#: Largest grid the generator builds (voxels): about 1 GB of working memory.
MAX_VOXELS = 60_000_000
#: Outer body contour: elliptic cylinder semi-axes (L-R, A-P) in mm (340 x 240 mm torso).
BODY_SEMI_AXES_MM = (170.0, 120.0)
#: Skin thickness in mm.
SKIN_THICKNESS_MM = 2.0
#: Subcutaneous fat thickness in mm.
FAT_THICKNESS_MM = 25.0
#: Muscle wall (abdominal wall, intercostal muscles) thickness in mm.
MUSCLE_THICKNESS_MM = 12.0
#: Diaphragm: dome apex height (mm, z), apex L-R offset from the midline (mm), fall of the dome
#: (mm) at the lateral wall and at the posterior wall, and thickness (mm).
DOME_APEX_Z_MM = 95.0
DOME_APEX_X_MM = 60.0
DOME_FALL_LATERAL_MM = 45.0
DOME_HALF_WIDTH_MM = 70.0
DOME_FALL_AP_MM = 40.0
DOME_HALF_DEPTH_MM = 90.0
DIAPHRAGM_THICKNESS_MM = 5.0
#: Half width (mm) of the mediastinum between the two lung bases.
MEDIASTINUM_HALF_WIDTH_MM = 22.0
#: Ribs: centreline on an ellipse in the middle of the muscle wall; thickness and height in mm;
#: angle phi (rad) is measured around the body from the posterior midline (0) to the anterior (pi).
RIB_THICKNESS_MM = 7.0
RIB_HEIGHT_MM = 12.0
RIB_START_PHI_RAD = 0.35
#: Fall of a rib (mm of z per radian of phi): ribs run downwards from the spine to the front.
RIB_FALL_MM_PER_RAD = 30.0
#: Ribs present in the field of view: number -> (z at the spine in mm, phi of the anterior end in rad).
RIBS = {10: (120.0, 2.25), 11: (80.0, 1.75), 12: (40.0, 1.25)}
#: Vertebrae: name -> centre z (mm); bodies 32 mm high, 8 mm discs.
VERTEBRAE = {
    "vertebrae_T11": 80.0,
    "vertebrae_T12": 40.0,
    "vertebrae_L1": 0.0,
    "vertebrae_L2": -40.0,
    "vertebrae_L3": -80.0,
}
VERTEBRA_HALF_HEIGHT_MM = 16.0
VERTEBRAL_BODY_CENTRE_XY_MM = (0.0, 45.0)
VERTEBRAL_BODY_SEMI_AXES_MM = (22.0, 18.0)
SPINAL_CANAL_CENTRE_XY_MM = (0.0, 72.0)
SPINAL_CANAL_RADIUS_MM = 10.0
SPINAL_CORD_RADIUS_MM = 5.0
NEURAL_ARCH_OUTER_RADIUS_MM = 16.0
#: Aorta and IVC: centre (x, y) and radius in mm, running the whole length.
AORTA_CENTRE_XY_MM = (20.0, 10.0)
AORTA_RADIUS_MM = 12.0
IVC_CENTRE_XY_MM = (-25.0, 15.0)
IVC_RADIUS_MM = 11.0
#: Wall thickness (mm) of the stomach and bowel.
BOWEL_WALL_MM = 3.0
#: The stomach's air-fluid level (y in mm): gas rises to the anterior (non-dependent) side.
STOMACH_AIR_FLUID_LEVEL_Y_MM = -48.0

#: Clearance (mm) from every structure other than the target's host organ that the example
#: "safe" needle paths keep; checked by the tests.
SAFE_PATH_CLEARANCE_MM = 5.0

#: Segment colours (RGB 0-1) written to the .seg.nrrd files, chosen to read well in Slicer.
SEGMENT_COLORS = {
    "liver": (0.87, 0.51, 0.40),
    "spleen": (0.62, 0.31, 0.44),
    "kidney_left": (0.73, 0.31, 0.20),
    "kidney_right": (0.73, 0.31, 0.20),
    "gallbladder": (0.55, 0.78, 0.27),
    "stomach": (0.85, 0.73, 0.50),
    "small_bowel": (0.90, 0.75, 0.55),
    "colon": (0.80, 0.62, 0.40),
    "aorta": (0.90, 0.16, 0.16),
    "inferior_vena_cava": (0.20, 0.35, 0.85),
    "portal_vein_and_splenic_vein": (0.40, 0.55, 0.95),
    "lung_lower_lobe_left": (0.70, 0.85, 1.00),
    "lung_lower_lobe_right": (0.70, 0.85, 1.00),
    "spinal_cord": (1.00, 0.95, 0.60),
    "autochthon_left": (0.75, 0.40, 0.35),
    "autochthon_right": (0.75, 0.40, 0.35),
    "L1": (1.00, 1.00, 0.00),
    "L2": (0.00, 1.00, 1.00),
    "L3": (1.00, 0.50, 0.00),
    "L4": (1.00, 0.00, 1.00),
}
BONE_COLOR = (0.95, 0.92, 0.85)

Predicate = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


# --------------------------------------------------------------------------- truth records
@dataclass(frozen=True)
class NeedlePathExample:
    """A straight needle path from a skin entry point to a target, with what it crosses."""

    entry_lps: tuple[float, float, float]
    target_lps: tuple[float, float, float]
    safe: bool
    crosses: tuple[str, ...]
    note: str

    @property
    def length_mm(self) -> float:
        """Distance from the entry to the target in mm."""
        return float(np.linalg.norm(np.subtract(self.target_lps, self.entry_lps)))

    def to_dict(self) -> dict:
        """JSON-ready record (coordinates LPS mm)."""
        return {
            "frame": "LPS",
            "entry_lps": list(self.entry_lps),
            "target_lps": list(self.target_lps),
            "length_mm": round(self.length_mm, 2),
            "safe": self.safe,
            "crosses": list(self.crosses),
            "note": self.note,
        }


@dataclass(frozen=True)
class LesionTruth:
    """Analytic ground truth of one lesion: an LPS axis-aligned ellipsoid, optionally with a necrotic core.

    ``semi_axes_mm`` are along L-R, A-P and S-I. Axial diameters are measured in the axial (x, y)
    plane: longest = 2 max(a, b), short axis = 2 min(a, b); the largest 3D diameter is 2 max(a, b, c).
    """

    lesion_id: str
    organ: str
    description: str
    centre_lps: tuple[float, float, float]
    semi_axes_mm: tuple[float, float, float]
    hu: float
    nodal: bool = False
    necrotic_core_radius_mm: float = 0.0
    necrotic_hu: float | None = None
    abuts: str | None = None
    gap_to_abutting_mm: float | None = None
    example_paths: tuple[NeedlePathExample, ...] = ()

    @property
    def volume_ml(self) -> float:
        """Ellipsoid volume 4/3 pi a b c in mL."""
        a, b, c = self.semi_axes_mm
        return 4.0 / 3.0 * math.pi * a * b * c / 1000.0

    @property
    def necrotic_volume_ml(self) -> float:
        """Volume of the spherical necrotic core in mL (0 without one)."""
        return 4.0 / 3.0 * math.pi * self.necrotic_core_radius_mm**3 / 1000.0

    @property
    def necrotic_fraction(self) -> float:
        """Necrotic core volume over lesion volume (dimensionless)."""
        return self.necrotic_volume_ml / self.volume_ml

    @property
    def longest_axial_diameter_mm(self) -> float:
        """Longest diameter in an axial plane (RECIST long axis) in mm."""
        return 2.0 * max(self.semi_axes_mm[:2])

    @property
    def short_axis_mm(self) -> float:
        """Short axis in the axial plane (perpendicular to the long axis) in mm."""
        return 2.0 * min(self.semi_axes_mm[:2])

    @property
    def max_3d_diameter_mm(self) -> float:
        """Largest diameter in 3D in mm."""
        return 2.0 * max(self.semi_axes_mm)

    def contains(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """True for LPS points (mm) inside the lesion ellipsoid."""
        return _ellipsoid(self.centre_lps, self.semi_axes_mm)(x, y, z)

    def to_dict(self) -> dict:
        """JSON-ready record with every derived size (mm, mL) and the example paths."""
        return {
            "lesion_id": self.lesion_id,
            "organ": self.organ,
            "description": self.description,
            "frame": "LPS",
            "centre_lps": list(self.centre_lps),
            "semi_axes_mm": list(self.semi_axes_mm),
            "volume_ml": round(self.volume_ml, 4),
            "longest_axial_diameter_mm": self.longest_axial_diameter_mm,
            "short_axis_mm": self.short_axis_mm,
            "max_3d_diameter_mm": self.max_3d_diameter_mm,
            "hu": self.hu,
            "nodal": self.nodal,
            "necrotic_core_radius_mm": self.necrotic_core_radius_mm,
            "necrotic_hu": self.necrotic_hu,
            "necrotic_volume_ml": round(self.necrotic_volume_ml, 4),
            "necrotic_fraction": round(self.necrotic_fraction, 4),
            "abuts": self.abuts,
            "gap_to_abutting_mm": self.gap_to_abutting_mm,
            "example_paths": [p.to_dict() for p in self.example_paths],
        }


@dataclass
class TeachingCase:
    """The generated case: CT + masks, analytic lesion truth, and the body and table masks.

    ``body`` is the patient (skin and everything inside it), ``table`` the CT table; both are
    boolean arrays on the CT grid, given so that skin-extraction code can be checked.
    """

    case: Case
    truth: dict[str, LesionTruth]
    body: np.ndarray
    table: np.ndarray
    seed: int
    nominal_hu: dict[str, float] = field(default_factory=dict)

    @property
    def colors(self) -> dict[str, tuple[float, float, float]]:
        """Display colour (RGB 0-1) of every structure and lesion segment."""
        return {name: segment_color(name) for name in {**self.case.structures, **self.case.lesions}}

    def to_dict(self) -> dict:
        """JSON-ready summary: grid, structure sizes, lesion truth with mask sizes, nominal HU (truth.json)."""
        grid = self.case.grid

        def size(mask: np.ndarray) -> dict:
            return {"voxels": int(mask.sum()), "volume_ml": round(float(mask.sum()) * grid.voxel_volume_ml, 3)}

        lesions = {lid: {**truth.to_dict(), "mask": size(self.case.lesions[lid])} for lid, truth in self.truth.items()}
        return {
            "frame": "LPS",
            "generator": "hitit.phantom.make_teaching_case",
            "seed": self.seed,
            "noise_sd_hu": NOISE_SD_HU,
            "grid": grid.to_dict(),
            "structures": {name: size(mask) for name, mask in self.case.structures.items()},
            "lesions": lesions,
            "nominal_hu": self.nominal_hu,
            "safe_path_clearance_mm": SAFE_PATH_CLEARANCE_MM,
            "ct_header": dict(self.case.ct.metadata),
        }


# --------------------------------------------------------------------------- implicit shapes
def _ellipsoid(centre, semi) -> Predicate:
    """Points inside an axis-aligned ellipsoid (LPS mm)."""
    (cx, cy, cz), (a, b, c) = centre, semi
    return lambda x, y, z: ((x - cx) / a) ** 2 + ((y - cy) / b) ** 2 + ((z - cz) / c) ** 2 <= 1.0


def _ellipse_xy(cx: float, cy: float, a: float, b: float) -> Predicate:
    """Points inside an elliptic cylinder along z."""
    return lambda x, y, z: ((x - cx) / a) ** 2 + ((y - cy) / b) ** 2 <= 1.0


def _capsule(p0, p1, radius: float) -> Predicate:
    """Points within ``radius`` of the segment p0-p1 (LPS mm)."""
    p0 = np.asarray(p0, dtype=float)
    axis = np.asarray(p1, dtype=float) - p0
    length2 = float(axis @ axis)

    def inside(x, y, z):
        dx, dy, dz = x - p0[0], y - p0[1], z - p0[2]
        t = np.clip((dx * axis[0] + dy * axis[1] + dz * axis[2]) / length2, 0.0, 1.0)
        return (dx - t * axis[0]) ** 2 + (dy - t * axis[1]) ** 2 + (dz - t * axis[2]) ** 2 <= radius**2

    return inside


def _tube(points, radius: float) -> Predicate:
    """Union of capsules along a polyline."""
    parts = [_capsule(p, q, radius) for p, q in zip(points[:-1], points[1:])]
    return lambda x, y, z: np.logical_or.reduce([part(x, y, z) for part in parts])


def _wall_ellipse(inset_mm: float) -> Predicate:
    """Inside the body contour shrunk by ``inset_mm`` (an elliptic cylinder along z)."""
    a, b = BODY_SEMI_AXES_MM
    return _ellipse_xy(0.0, 0.0, a - inset_mm, b - inset_mm)


def _cavity() -> Predicate:
    """Inside the muscle wall: the abdominal and thoracic cavity."""
    return _wall_ellipse(SKIN_THICKNESS_MM + FAT_THICKNESS_MM + MUSCLE_THICKNESS_MM)


def diaphragm_height_mm(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """z (mm) of the diaphragm's upper surface: a dome over each side, lowest laterally and posteriorly."""
    lateral = ((np.abs(x) - DOME_APEX_X_MM) / DOME_HALF_WIDTH_MM) ** 2
    ap = (y / DOME_HALF_DEPTH_MM) ** 2
    return DOME_APEX_Z_MM - DOME_FALL_LATERAL_MM * lateral - DOME_FALL_AP_MM * ap


def _below_diaphragm(x, y, z):
    """Abdominal cavity under the diaphragm muscle."""
    return _cavity()(x, y, z) & (z <= diaphragm_height_mm(x, y) - DIAPHRAGM_THICKNESS_MM)


def _rib(side: int, z_spine_mm: float, phi_end_rad: float) -> Predicate:
    """A rib of one side (+1 left, -1 right) in the muscle wall, falling from the spine to the front."""
    a, b = BODY_SEMI_AXES_MM
    inset = SKIN_THICKNESS_MM + FAT_THICKNESS_MM + MUSCLE_THICKNESS_MM / 2.0
    outer = _ellipse_xy(0.0, 0.0, a - inset + RIB_THICKNESS_MM / 2, b - inset + RIB_THICKNESS_MM / 2)
    inner = _ellipse_xy(0.0, 0.0, a - inset - RIB_THICKNESS_MM / 2, b - inset - RIB_THICKNESS_MM / 2)

    def inside(x, y, z):
        phi = np.arctan2(side * x, y)
        z_centre = z_spine_mm - RIB_FALL_MM_PER_RAD * (phi - RIB_START_PHI_RAD)
        return (
            (phi >= RIB_START_PHI_RAD)
            & (phi <= phi_end_rad)
            & (np.abs(z - z_centre) <= RIB_HEIGHT_MM / 2)
            & outer(x, y, z)
            & ~inner(x, y, z)
        )

    return inside


# --------------------------------------------------------------------------- grid sampling
def default_grid(spacing_mm=DEFAULT_SPACING_MM, direction=None) -> Grid:
    """The smallest grid with ``spacing_mm`` and ``direction`` whose voxels cover the field of view.

    ``direction`` is a 3x3 matrix (columns = i, j, k axes in LPS) or 9 row-major values; default identity.
    The grid is centred on the field of view.
    """
    axes = np.eye(3) if direction is None else np.asarray(direction, dtype=float).reshape(3, 3)
    spacing = np.asarray(spacing_mm, dtype=float)
    if spacing.shape != (3,) or not np.all(spacing > 0):
        raise InputError(f"Teaching case spacing {tuple(spacing_mm)} mm: give three positive spacings (i, j, k).")
    lo, hi = np.asarray(FOV_MIN_LPS), np.asarray(FOV_MAX_LPS)
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    along = corners @ axes  # coordinates of the corners along each grid axis
    extent = along.max(axis=0) - along.min(axis=0)
    size = np.ceil(extent / spacing - 1e-9).astype(int)
    if np.prod(size.astype(float)) > MAX_VOXELS:
        raise InputError(
            f"Teaching case spacing {tuple(spacing_mm)} mm needs {np.prod(size.astype(float)):.3g} voxels "
            f"(more than {MAX_VOXELS:.0f}): use a coarser spacing, e.g. {DEFAULT_SPACING_MM}."
        )
    start = (along.max(axis=0) + along.min(axis=0)) / 2.0 - (size - 1) / 2.0 * spacing
    return Grid(tuple(size), tuple(spacing), tuple(axes @ start), tuple(axes.ravel()))


class _Canvas:
    """Paints implicit shapes into a HU array and a structure label map, one bounding box at a time."""

    def __init__(self, grid: Grid):
        self.grid = grid
        self.hu = np.full(grid.shape, AIR_HU, dtype=np.float32)
        self.labels = np.zeros(grid.shape, dtype=np.uint8)
        self.names: list[str] = []

    def _block(self, lo_lps, hi_lps):
        """Array slices of the voxels whose centres may lie in the LPS box, and their LPS coordinates.

        Coordinates are broadcastable float32 arrays (x, y, z); an axis-aligned grid keeps them 1D-like.
        """
        lo, hi = np.asarray(lo_lps, float), np.asarray(hi_lps, float)
        corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
        ijk = self.grid.lps_to_index(corners)
        first = np.clip(np.floor(ijk.min(axis=0)).astype(int), 0, np.asarray(self.grid.size))
        last = np.clip(np.ceil(ijk.max(axis=0)).astype(int) + 1, 0, np.asarray(self.grid.size))
        slices = tuple(slice(first[a], last[a]) for a in (2, 1, 0))
        index = [np.arange(first[a], last[a], dtype=np.float32) for a in range(3)]
        shaped = (index[0][None, None, :], index[1][None, :, None], index[2][:, None, None])
        axes = self.grid.direction_matrix * np.asarray(self.grid.spacing_mm)
        coords = []
        for row in range(3):
            value = np.float32(self.grid.origin_lps[row])
            for col in range(3):
                if abs(axes[row, col]) > 1e-12:
                    value = value + np.float32(axes[row, col]) * shaped[col]
            coords.append(value)
        return slices, coords

    def sample(self, inside: Predicate, lo_lps, hi_lps) -> np.ndarray:
        """A full-grid boolean mask of the shape (evaluated only inside its LPS bounding box)."""
        mask = np.zeros(self.grid.shape, dtype=bool)
        slices, (x, y, z) = self._block(lo_lps, hi_lps)
        block = mask[slices]
        if block.size:
            block[...] = np.broadcast_to(inside(x, y, z), block.shape)
        return mask

    def paint(
        self,
        inside: Predicate,
        lo_lps,
        hi_lps,
        hu: float | None = None,
        structure: str | None = None,
        erase_structure: bool = False,
    ) -> None:
        """Set HU and/or the structure label where the shape is (later shapes overwrite earlier ones)."""
        slices, (x, y, z) = self._block(lo_lps, hi_lps)
        if not self.hu[slices].size:
            return
        where = np.broadcast_to(inside(x, y, z), self.hu[slices].shape)
        if hu is not None:
            self.hu[slices][where] = hu
        if structure is not None:
            if structure not in self.names:
                self.names.append(structure)
            self.labels[slices][where] = self.names.index(structure) + 1
        elif erase_structure:
            self.labels[slices][where] = 0

    def structures(self) -> MaskSet:
        """One boolean mask per painted structure, in painting order (empty ones dropped)."""
        masks = {name: self.labels == index + 1 for index, name in enumerate(self.names)}
        return {name: mask for name, mask in masks.items() if mask.any()}


def _box(centre, half) -> tuple[tuple, tuple]:
    """LPS bounding box (lo, hi) around ``centre`` with half sizes ``half``."""
    return tuple(np.subtract(centre, half)), tuple(np.add(centre, half))


_WHOLE = ((-1e4, -1e4, -1e4), (1e4, 1e4, 1e4))


# --------------------------------------------------------------------------- anatomy
def _paint_wall(canvas: _Canvas) -> None:
    """Skin, subcutaneous fat, muscle wall and the fat-filled cavity."""
    canvas.paint(_wall_ellipse(0.0), *_WHOLE, hu=SKIN_HU)
    canvas.paint(_wall_ellipse(SKIN_THICKNESS_MM), *_WHOLE, hu=FAT_HU)
    canvas.paint(_wall_ellipse(SKIN_THICKNESS_MM + FAT_THICKNESS_MM), *_WHOLE, hu=MUSCLE_HU)
    canvas.paint(_cavity(), *_WHOLE, hu=FAT_HU)


def _paint_chest_base(canvas: _Canvas) -> None:
    """Lung bases above the diaphragm dome (posterolateral recesses) and the diaphragm muscle."""
    for side, name in ((1, "lung_lower_lobe_left"), (-1, "lung_lower_lobe_right")):

        def lung(x, y, z, side=side):
            return _cavity()(x, y, z) & (z > diaphragm_height_mm(x, y)) & (side * x >= MEDIASTINUM_HALF_WIDTH_MM)

        lo = (0.0 if side > 0 else -200.0, -200.0, 0.0)
        canvas.paint(lung, lo, (lo[0] + 200.0, 200.0, 1e4), hu=LUNG_HU, structure=name)

    def diaphragm(x, y, z):
        height = diaphragm_height_mm(x, y)
        return _cavity()(x, y, z) & (z <= height) & (z > height - DIAPHRAGM_THICKNESS_MM)

    canvas.paint(diaphragm, (-200, -200, -10.0), (200, 200, 1e4), hu=MUSCLE_HU)


def _clipped(shape: Predicate) -> Predicate:
    """An organ shape clipped to the abdominal cavity under the diaphragm."""
    return lambda x, y, z: shape(x, y, z) & _below_diaphragm(x, y, z)


#: Solid abdominal organs: name -> (centre LPS mm, semi-axes mm, HU).
LIVER_ELLIPSOID = ((-65.0, -10.0, 25.0), (72.0, 68.0, 75.0))
SPLEEN_ELLIPSOID = ((100.0, 35.0, 50.0), (27.0, 45.0, 45.0))
KIDNEY_ELLIPSOIDS = {
    "kidney_right": ((-70.0, 45.0, -30.0), (28.0, 20.0, 55.0)),
    "kidney_left": ((70.0, 45.0, -20.0), (28.0, 20.0, 55.0)),
}
GALLBLADDER_ELLIPSOID = ((-35.0, -45.0, -10.0), (13.0, 13.0, 25.0))
STOMACH_ELLIPSOID = ((55.0, -40.0, 40.0), (40.0, 30.0, 40.0))
#: Bowel centrelines (LPS mm) and radii (mm).
COLON_PATH = (
    (-100.0, -15.0, -110.0),
    (-100.0, -15.0, -65.0),
    (-80.0, -55.0, -50.0),
    (80.0, -55.0, -50.0),
    (100.0, -15.0, -65.0),
    (100.0, -15.0, -110.0),
)
COLON_RADIUS_MM = 15.0
SMALL_BOWEL_PATH = ((-60.0, -40.0, -78.0), (55.0, -40.0, -78.0), (55.0, -15.0, -98.0), (-60.0, -15.0, -98.0))
SMALL_BOWEL_RADIUS_MM = 9.0
#: Portal vein (confluence to hilum, then right and left branches) and splenic vein, LPS mm.
PORTAL_VEIN_SEGMENTS = (
    (((0.0, -15.0, -15.0), (-40.0, -5.0, 20.0)), 7.0),
    (((-40.0, -5.0, 20.0), (-85.0, 5.0, 22.0)), 5.0),
    (((-40.0, -5.0, 20.0), (-15.0, -35.0, 40.0)), 4.0),
    (((0.0, -15.0, -15.0), (35.0, -12.0, 0.0)), 5.0),
    (((35.0, -12.0, 0.0), (85.0, 25.0, 30.0)), 5.0),
)


def _ellipsoid_box(centre, semi):
    """LPS bounding box of an ellipsoid, with a 1 mm margin."""
    return _box(centre, np.asarray(semi) + 1.0)


def _paint_organs(canvas: _Canvas) -> None:
    """Liver, gallbladder, spleen, stomach (gas over fluid), kidneys."""
    canvas.paint(
        _clipped(_ellipsoid(*LIVER_ELLIPSOID)), *_ellipsoid_box(*LIVER_ELLIPSOID), hu=LIVER_HU, structure="liver"
    )
    canvas.paint(
        _ellipsoid(*GALLBLADDER_ELLIPSOID), *_ellipsoid_box(*GALLBLADDER_ELLIPSOID), hu=BILE_HU, structure="gallbladder"
    )
    canvas.paint(
        _clipped(_ellipsoid(*SPLEEN_ELLIPSOID)), *_ellipsoid_box(*SPLEEN_ELLIPSOID), hu=SPLEEN_HU, structure="spleen"
    )
    _paint_hollow(
        canvas,
        _clipped(_ellipsoid(*STOMACH_ELLIPSOID)),
        _ellipsoid(STOMACH_ELLIPSOID[0], np.asarray(STOMACH_ELLIPSOID[1]) - BOWEL_WALL_MM),
        _ellipsoid_box(*STOMACH_ELLIPSOID),
        "stomach",
        gas=lambda x, y, z: y < STOMACH_AIR_FLUID_LEVEL_Y_MM,
    )
    for name, ellipsoid in KIDNEY_ELLIPSOIDS.items():
        canvas.paint(_ellipsoid(*ellipsoid), *_ellipsoid_box(*ellipsoid), hu=KIDNEY_HU, structure=name)


def _paint_hollow(
    canvas: _Canvas,
    outer: Predicate,
    lumen: Predicate,
    box,
    name: str,
    gas: Predicate | None = None,
    content_hu: float = BOWEL_FLUID_HU,
) -> None:
    """A hollow viscus: wall HU on the whole organ, ``content_hu`` in the lumen, gas where ``gas`` holds."""
    canvas.paint(outer, *box, hu=BOWEL_WALL_HU, structure=name)
    canvas.paint(lambda x, y, z: outer(x, y, z) & lumen(x, y, z), *box, hu=content_hu)
    if gas is not None:
        canvas.paint(lambda x, y, z: outer(x, y, z) & lumen(x, y, z) & gas(x, y, z), *box, hu=GAS_HU)


def _path_box(points, radius):
    """LPS bounding box of a tube of ``radius`` along ``points``, with a 1 mm margin."""
    pts = np.asarray(points)
    return tuple(pts.min(axis=0) - radius - 1.0), tuple(pts.max(axis=0) + radius + 1.0)


def _paint_bowel(canvas: _Canvas) -> None:
    """Colon (gas-filled) and small bowel loops (fluid-filled)."""
    _paint_hollow(
        canvas,
        _tube(COLON_PATH, COLON_RADIUS_MM),
        _tube(COLON_PATH, COLON_RADIUS_MM - BOWEL_WALL_MM),
        _path_box(COLON_PATH, COLON_RADIUS_MM),
        "colon",
        content_hu=GAS_HU,
    )
    _paint_hollow(
        canvas,
        _tube(SMALL_BOWEL_PATH, SMALL_BOWEL_RADIUS_MM),
        _tube(SMALL_BOWEL_PATH, SMALL_BOWEL_RADIUS_MM - BOWEL_WALL_MM),
        _path_box(SMALL_BOWEL_PATH, SMALL_BOWEL_RADIUS_MM),
        "small_bowel",
    )


def _paint_vessels(canvas: _Canvas) -> None:
    """Portal/splenic veins, IVC and aorta."""
    for (p0, p1), radius in PORTAL_VEIN_SEGMENTS:
        canvas.paint(
            _capsule(p0, p1, radius),
            *_path_box((p0, p1), radius),
            hu=PORTAL_VEIN_HU,
            structure="portal_vein_and_splenic_vein",
        )
    for name, (cx, cy), radius, hu in (
        ("inferior_vena_cava", IVC_CENTRE_XY_MM, IVC_RADIUS_MM, IVC_HU),
        ("aorta", AORTA_CENTRE_XY_MM, AORTA_RADIUS_MM, AORTA_HU),
    ):
        canvas.paint(
            _ellipse_xy(cx, cy, radius, radius),
            (cx - radius - 1, cy - radius - 1, -1e4),
            (cx + radius + 1, cy + radius + 1, 1e4),
            hu=hu,
            structure=name,
        )


def _paint_spine(canvas: _Canvas) -> None:
    """Erector spinae muscles, discs, vertebrae T11-L3 (body, arch, processes), canal and cord."""
    for side, name in ((1, "autochthon_left"), (-1, "autochthon_right")):
        centre = (side * 30.0, 88.0)
        canvas.paint(
            _ellipse_xy(*centre, 22.0, 18.0),
            (centre[0] - 23, 69, -1e4),
            (centre[0] + 23, 107, 1e4),
            hu=MUSCLE_HU,
            structure=name,
        )
    bx, by = VERTEBRAL_BODY_CENTRE_XY_MM
    ba, bb = VERTEBRAL_BODY_SEMI_AXES_MM
    body = _ellipse_xy(bx, by, ba, bb)
    canvas.paint(
        body, (bx - ba - 1, by - bb - 1, -1e4), (bx + ba + 1, by + bb + 1, 1e4), hu=DISC_HU, erase_structure=True
    )
    cx, cy = SPINAL_CANAL_CENTRE_XY_MM
    arch = _ellipse_xy(cx, cy, NEURAL_ARCH_OUTER_RADIUS_MM, NEURAL_ARCH_OUTER_RADIUS_MM)

    def vertebra(x, y, z):
        spinous = (np.abs(x - cx) <= 4.0) & (y >= cy) & (y <= cy + 33.0)
        transverse = (np.abs(x - cx) <= 40.0) & (np.abs(y - (cy - 4.0)) <= 4.0)
        return body(x, y, z) | (arch(x, y, z) & (y >= by)) | spinous | transverse

    for name, z_centre in VERTEBRAE.items():
        canvas.paint(
            lambda x, y, z, zc=z_centre: vertebra(x, y, z) & (np.abs(z - zc) <= VERTEBRA_HALF_HEIGHT_MM),
            (cx - 41, by - bb - 1, z_centre - 17),
            (cx + 41, cy + 34, z_centre + 17),
            hu=VERTEBRA_HU,
            structure=name,
        )
    for radius, hu, structure in (
        (SPINAL_CANAL_RADIUS_MM, CSF_HU, None),
        (SPINAL_CORD_RADIUS_MM, SPINAL_CORD_HU, "spinal_cord"),
    ):
        canvas.paint(
            _ellipse_xy(cx, cy, radius, radius),
            (cx - radius - 1, cy - radius - 1, -1e4),
            (cx + radius + 1, cy + radius + 1, 1e4),
            hu=hu,
            structure=structure,
            erase_structure=True,
        )


def _paint_ribs(canvas: _Canvas) -> None:
    """Ribs 10-12 on each side, in the muscle wall."""
    for number, (z_spine, phi_end) in RIBS.items():
        z_end = z_spine - RIB_FALL_MM_PER_RAD * (phi_end - RIB_START_PHI_RAD)
        for side, label in ((1, "left"), (-1, "right")):
            x_lo, x_hi = (0.0, 200.0) if side > 0 else (-200.0, 0.0)
            canvas.paint(
                _rib(side, z_spine, phi_end),
                (x_lo, -200, z_end - RIB_HEIGHT_MM),
                (x_hi, 200, z_spine + RIB_HEIGHT_MM),
                hu=RIB_HU,
                structure=f"rib_{label}_{number}",
            )


#: CT table: a slab under the back (y range in mm, half width in mm), separated from the skin by air.
TABLE_Y_RANGE_MM = (128.0, 143.0)
TABLE_HALF_WIDTH_MM = 175.0


def _table(x, y, z):
    """Points inside the CT table slab (it runs the whole length of the scan)."""
    return (np.abs(x) <= TABLE_HALF_WIDTH_MM) & (y >= TABLE_Y_RANGE_MM[0]) & (y <= TABLE_Y_RANGE_MM[1])


# --------------------------------------------------------------------------- lesions
def _skin_entry(target, direction) -> tuple[float, float, float]:
    """Where the ray from ``target`` along ``direction`` leaves the body contour (LPS mm, 0.1 mm)."""
    t0 = np.asarray(target, float)
    d = np.asarray(direction, float) / np.linalg.norm(direction)
    a, b = BODY_SEMI_AXES_MM
    qa = (d[0] / a) ** 2 + (d[1] / b) ** 2
    qb = 2 * (t0[0] * d[0] / a**2 + t0[1] * d[1] / b**2)
    qc = (t0[0] / a) ** 2 + (t0[1] / b) ** 2 - 1.0
    t = (-qb + math.sqrt(qb * qb - 4 * qa * qc)) / (2 * qa)
    return tuple(round(float(v), 1) for v in t0 + t * d)


def _path(target, direction, safe: bool, crosses: tuple[str, ...], note: str) -> NeedlePathExample:
    """A path to ``target`` entering the skin along ``direction`` (from the target outwards)."""
    return NeedlePathExample(_skin_entry(target, direction), tuple(target), safe, crosses, note)


def _path_via(target, via, crosses: tuple[str, ...], note: str) -> NeedlePathExample:
    """An unsafe path to ``target`` aimed through the point ``via`` (LPS mm) inside a structure."""
    return _path(target, np.subtract(via, target), False, crosses, note)


def rib_centre_lps(side: int, number: int, phi_rad: float) -> tuple[float, float, float]:
    """A point on the centreline of rib ``number`` of ``side`` (+1 left, -1 right) at angle ``phi_rad``."""
    a, b = BODY_SEMI_AXES_MM
    inset = SKIN_THICKNESS_MM + FAT_THICKNESS_MM + MUSCLE_THICKNESS_MM / 2.0
    # the point of the rib ellipse whose polar angle from the posterior midline is phi
    ratio = math.tan(phi_rad)
    y = math.copysign(1.0, math.cos(phi_rad)) / math.sqrt((ratio / (a - inset)) ** 2 + (1.0 / (b - inset)) ** 2)
    z = RIBS[number][0] - RIB_FALL_MM_PER_RAD * (phi_rad - RIB_START_PHI_RAD)
    return (side * abs(ratio * y), y, z)


def teaching_lesions() -> dict[str, LesionTruth]:
    """The four lesions with their analytic truth and example needle paths (independent of the grid)."""
    l1c, l2c, l3c, l4c = (-92.0, -42.0, 0.0), (-50.0, 15.0, 40.0), (-90.0, -15.0, 52.0), (60.0, -97.0, -30.0)
    return {
        "L1": LesionTruth(
            "L1",
            "liver",
            "subcapsular lesion of the right anterolateral liver, against the abdominal wall",
            l1c,
            (12.0, 10.0, 11.0),
            LESION_HU,
            example_paths=(
                _path(
                    l1c,
                    (-0.95, 0.3, 0.0),
                    True,
                    (),
                    "lateral approach in the axial plane, about 17 mm of normal liver before the lesion",
                ),
                _path_via(l1c, rib_centre_lps(-1, 12, 1.0), ("rib_right_12",), "posterolateral approach hits rib 12"),
            ),
        ),
        "L2": LesionTruth(
            "L2",
            "liver",
            "deep right-lobe lesion abutting the inferior vena cava (1 mm gap)",
            l2c,
            (13.0, 12.0, 14.0),
            LESION_HU,
            abuts="inferior_vena_cava",
            gap_to_abutting_mm=1.0,
            example_paths=(
                _path(
                    l2c,
                    (-0.6, -0.75, 0.0),
                    True,
                    (),
                    "anterolateral subcostal approach in the axial plane through the right lobe",
                ),
                _path_via(l2c, rib_centre_lps(-1, 11, 1.45), ("rib_right_11",), "lateral approach hits rib 11"),
                _path_via(
                    l2c,
                    (AORTA_CENTRE_XY_MM[0], AORTA_CENTRE_XY_MM[1], 40.0),
                    ("aorta", "inferior_vena_cava", "rib_left_11", "spleen"),
                    "approach from the left flank crosses the spleen, a rib, the aorta and the IVC",
                ),
            ),
        ),
        "L3": LesionTruth(
            "L3",
            "liver",
            "right-lobe lesion with a necrotic core",
            l3c,
            (20.0, 18.0, 19.0),
            LESION_HU,
            necrotic_core_radius_mm=12.0,
            necrotic_hu=NECROSIS_HU,
            example_paths=(
                _path(
                    l3c,
                    (-0.5, -0.85, 0.0),
                    True,
                    (),
                    "anterolateral approach in the axial plane below the costal margin",
                ),
                _path(
                    l3c,
                    (-1.0, 0.0, 0.0),
                    False,
                    ("lung_lower_lobe_right",),
                    "lateral approach crosses the costophrenic recess of the lung",
                ),
                _path_via(l3c, STOMACH_ELLIPSOID[0], ("stomach",), "approach from the left crosses the stomach"),
            ),
        ),
        "L4": LesionTruth(
            "L4",
            "subcutaneous_fat",
            "subcutaneous deposit in the fat of the left anterior abdominal wall",
            l4c,
            (10.0, 8.0, 12.0),
            LESION_HU,
            example_paths=(
                _path(l4c, (0.0, -1.0, 0.0), True, (), "direct anterior approach through skin and fat only"),
            ),
        ),
    }


def _paint_lesions(canvas: _Canvas, truth: dict[str, LesionTruth]) -> MaskSet:
    """Lesion HU (with necrotic cores) into the CT; return one mask per lesion."""
    masks: MaskSet = {}
    for lesion_id, lesion in truth.items():
        box = _ellipsoid_box(lesion.centre_lps, lesion.semi_axes_mm)
        masks[lesion_id] = canvas.sample(lesion.contains, *box)
        canvas.hu[masks[lesion_id]] = lesion.hu
        if lesion.necrotic_core_radius_mm > 0:
            r = lesion.necrotic_core_radius_mm
            core = canvas.sample(_ellipsoid(lesion.centre_lps, (r, r, r)), *box)
            canvas.hu[core] = lesion.necrotic_hu
    return masks


# --------------------------------------------------------------------------- public API
def nominal_structure_hu() -> dict[str, float]:
    """HU each homogeneous structure is painted with (hollow organs, whose content varies, are left out)."""
    nominal = {
        "liver": LIVER_HU,
        "gallbladder": BILE_HU,
        "spleen": SPLEEN_HU,
        "kidney_left": KIDNEY_HU,
        "kidney_right": KIDNEY_HU,
        "aorta": AORTA_HU,
        "inferior_vena_cava": IVC_HU,
        "portal_vein_and_splenic_vein": PORTAL_VEIN_HU,
        "lung_lower_lobe_left": LUNG_HU,
        "lung_lower_lobe_right": LUNG_HU,
        "spinal_cord": SPINAL_CORD_HU,
        "autochthon_left": MUSCLE_HU,
        "autochthon_right": MUSCLE_HU,
    }
    nominal.update({name: VERTEBRA_HU for name in VERTEBRAE})
    nominal.update({f"rib_{side}_{n}": RIB_HU for n in RIBS for side in ("left", "right")})
    return nominal


def make_teaching_case(spacing_mm=DEFAULT_SPACING_MM, seed: int = 0, direction=None) -> TeachingCase:
    """Generate the teaching case on a grid of ``spacing_mm`` (i, j, k) and ``direction`` covering the FOV.

    The anatomy is the same for every grid and seed; ``seed`` drives only the Gaussian CT noise
    (``NOISE_SD_HU``). The CT is int16 HU; masks are noise-free.
    """
    grid = default_grid(spacing_mm, direction)
    canvas = _Canvas(grid)
    _paint_wall(canvas)
    _paint_chest_base(canvas)
    _paint_organs(canvas)
    _paint_bowel(canvas)
    _paint_vessels(canvas)
    _paint_spine(canvas)
    _paint_ribs(canvas)
    truth = teaching_lesions()
    lesions = _paint_lesions(canvas, truth)  # HU only: the liver mask keeps the voxels of L1-L3
    body = canvas.sample(_wall_ellipse(0.0), *_WHOLE)
    table = canvas.sample(_table, *_WHOLE)
    canvas.hu[table] = TABLE_HU
    noise = np.random.default_rng(seed).standard_normal(grid.shape, dtype=np.float32)
    canvas.hu += noise * np.float32(NOISE_SD_HU)
    ct = np.clip(np.rint(canvas.hu), CT_MIN_HU, np.iinfo(np.int16).max).astype(np.int16)
    case = Case(Volume(grid, ct, metadata=dict(CT_HEADER)), canvas.structures(), lesions)
    return TeachingCase(case, truth, body, table, seed, nominal_structure_hu())


def segment_color(name: str) -> tuple[float, float, float]:
    """Display colour (RGB 0-1) of a structure or lesion segment."""
    if name.startswith(("rib_", "vertebrae_")):
        return BONE_COLOR
    return SEGMENT_COLORS.get(name, (0.5, 0.5, 0.5))


def write_teaching_case(teaching_case: TeachingCase, out_dir: str | Path) -> dict[str, Path]:
    """Write ``ct.nrrd``, ``structures.seg.nrrd``, ``lesions.seg.nrrd`` and ``truth.json`` into ``out_dir``
    as one output set (a previous teaching case there is replaced as a whole, the user's files are kept).
    """
    from hitit.io.outdir import write_output_set
    from hitit.io.segmentations import write_seg_nrrd
    from hitit.io.volumes import write_volume

    def write(out: Path) -> dict[str, Path]:
        case = teaching_case.case
        paths = {
            "ct": out / "ct.nrrd",
            "structures": out / "structures.seg.nrrd",
            "lesions": out / "lesions.seg.nrrd",
            "truth": out / "truth.json",
        }
        write_volume(case.ct, paths["ct"])
        for kind in ("structures", "lesions"):
            write_seg_nrrd(paths[kind], case.grid, getattr(case, kind), teaching_case.colors)
        write_text_atomic(paths["truth"], json.dumps(teaching_case.to_dict(), indent=2) + "\n")
        return paths

    return write_output_set(out_dir, "teaching-case", write)
