"""The teaching case: a deterministic synthetic torso CT with known lesions.

Every shape is defined in physical LPS millimetres (x to the patient's left, y posterior, z
superior; the origin is the middle of the abdomen) and then sampled at voxel centres, so the same
anatomy appears on any grid: anisotropic, oblique or flipped. Structures carry TotalSegmentator
"total" class names so the planner recognises them as it would a real segmentation.

Layout (axial section, patient supine on a CT table)::

    anterior (y < 0):   subcutaneous fat with lesion L4, colon, stomach (left), gallbladder
    right (x < 0):      liver with L1 (subcapsular, lateral), L2 (abutting the IVC), L3 (necrotic core);
                        right kidney below it; lower ribs 8-10 around it at z = 30, 55, 80 mm
    midline/posterior:  aorta (left of midline), IVC (right), vertebral bodies, spinal cord
    left (x > 0):       spleen, left kidney, ribs
    top slices:         lung bases above the liver dome
    behind the back:    the CT table, not touching the patient

Lesions are axis-aligned ellipsoids, so their RECIST diameters and volumes are known exactly
(see :class:`LesionTruth`). The liver mask contains its lesions, as an organ segmentation does.
HU values are typical portal-venous-phase values (soft tissue +40..+60, contrast-enhanced vessels
+150..+200, fat -100, lung -850, cortical bone +700): teaching values, not measurements.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from hitit.case import Case, Volume
from hitit.geometry import Grid

#: Imaged box in LPS mm (min, max) along x, y, z: the body plus the table, cut at z = +-100 mm.
FIELD_OF_VIEW_LPS = ((-190.0, 190.0), (-150.0, 165.0), (-100.0, 100.0))
#: Default voxel spacing (mm): about 6 M voxels, generated in a few seconds.
DEFAULT_SPACING_MM = (1.25, 1.25, 2.5)
#: Standard deviation of the added CT noise (HU), typical of a standard-dose abdominal CT.
NOISE_SD_HU = 12.0

HU = {
    "air": -1000.0, "fat": -100.0, "skin": 30.0, "muscle": 50.0, "cavity_fat": -80.0, "liver": 60.0,
    "lesion": 35.0, "necrosis": 5.0, "aorta": 180.0, "inferior_vena_cava": 150.0,
    "portal_vein_and_splenic_vein": 160.0, "kidney": 150.0, "spleen": 50.0, "bowel_wall": 40.0,
    "bowel_gas": -900.0, "bowel_fluid": 10.0, "gallbladder": 10.0, "lung": -850.0, "bone": 700.0,
    "spinal_cord": 30.0, "table": 300.0,
}

# Body outline: elliptic cylinder (semi-axes in mm); fat layer and muscle wall inside it.
_BODY = (170.0, 130.0)
_FAT_INNER = (145.0, 105.0)
_CAVITY = (135.0, 95.0)
_SKIN_MM = 2.0


@dataclass(frozen=True)
class LesionTruth:
    """Analytic ground truth of a teaching-case lesion (an axis-aligned ellipsoid in LPS)."""

    id: str
    organ: str
    nodal: bool
    centre_lps: tuple[float, float, float]
    semi_axes_mm: tuple[float, float, float]
    necrotic_core_radius_mm: float = 0.0
    description: str = ""

    @property
    def volume_ml(self) -> float:
        """4/3 pi a b c, in mL."""
        a, b, c = self.semi_axes_mm
        return 4.0 / 3.0 * np.pi * a * b * c / 1000.0

    @property
    def longest_diameter_mm(self) -> float:
        """Longest axial (x-y plane) diameter."""
        return 2.0 * max(self.semi_axes_mm[:2])

    @property
    def short_axis_mm(self) -> float:
        """Axial diameter perpendicular to the longest one."""
        return 2.0 * min(self.semi_axes_mm[:2])

    @property
    def max_3d_diameter_mm(self) -> float:
        """Longest diameter in any direction."""
        return 2.0 * max(self.semi_axes_mm)

    @property
    def necrosis_fraction(self) -> float:
        """Volume fraction of the spherical necrotic core."""
        return self.necrotic_core_radius_mm**3 / float(np.prod(self.semi_axes_mm))

    def to_dict(self) -> dict:
        """JSON-ready truth, derived values included."""
        return {**asdict(self), "volume_ml": self.volume_ml, "longest_diameter_mm": self.longest_diameter_mm,
                "short_axis_mm": self.short_axis_mm, "max_3d_diameter_mm": self.max_3d_diameter_mm,
                "necrosis_fraction": self.necrosis_fraction}


LESIONS = (
    LesionTruth("L1", "liver", False, (-115.0, -15.0, 10.0), (12.0, 11.0, 10.0),
                description="subcapsular, lateral segment of the right lobe, about 6 mm under the capsule"),
    LesionTruth("L2", "liver", False, (-47.0, 35.0, 15.0), (10.0, 10.0, 9.0),
                description="abutting the inferior vena cava (1 mm gap)"),
    LesionTruth("L3", "liver", False, (-80.0, -40.0, 45.0), (18.0, 16.0, 15.0), necrotic_core_radius_mm=8.0,
                description="with a non-enhancing necrotic core"),
    LesionTruth("L4", "subcutaneous", False, (30.0, -115.0, -40.0), (8.0, 6.0, 7.0),
                description="superficial nodule in the anterior abdominal wall fat"),
)


@dataclass
class TeachingCase:
    """The generated case and its analytic truth."""

    case: Case
    truth: dict[str, LesionTruth]
    seed: int
    colors: dict[str, tuple[float, float, float]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Truth and provenance as JSON-ready data (coordinates LPS mm)."""
        return {"frame": "LPS", "seed": self.seed, "grid": self.case.grid.to_dict(),
                "lesions": {k: v.to_dict() for k, v in self.truth.items()}}


def default_grid(spacing_mm=DEFAULT_SPACING_MM, direction=None) -> Grid:
    """A grid covering :data:`FIELD_OF_VIEW_LPS` at ``spacing_mm`` with any ``direction`` (3x3)."""
    direction = np.eye(3) if direction is None else np.asarray(direction, dtype=float).reshape(3, 3)
    lo = np.array([r[0] for r in FIELD_OF_VIEW_LPS])
    hi = np.array([r[1] for r in FIELD_OF_VIEW_LPS])
    centre = (lo + hi) / 2.0
    # the extent along each grid axis that covers the box, whatever the orientation
    half_extent = np.abs(direction.T) @ ((hi - lo) / 2.0)
    size = np.ceil(2 * half_extent / np.asarray(spacing_mm)).astype(int) + 1
    origin = centre - direction @ ((size - 1) / 2.0 * np.asarray(spacing_mm))
    return Grid(tuple(size), tuple(spacing_mm), tuple(origin), direction.ravel())


class _Coordinates:
    """LPS coordinates of every voxel centre as three float32 arrays shaped like the image."""

    def __init__(self, grid: Grid):
        k, j, i = (np.arange(n, dtype=np.float32) for n in grid.shape)
        m = grid.ijk_to_lps_matrix().astype(np.float32)
        ii, jj, kk = i[None, None, :], j[None, :, None], k[:, None, None]
        self.x, self.y, self.z = (m[r, 0] * ii + m[r, 1] * jj + m[r, 2] * kk + m[r, 3] for r in range(3))

    def ellipsoid(self, centre, semi) -> np.ndarray:
        return ((self.x - centre[0]) / semi[0]) ** 2 + ((self.y - centre[1]) / semi[1]) ** 2 + ((self.z - centre[2]) / semi[2]) ** 2 <= 1.0

    def ellipse(self, semi, centre=(0.0, 0.0)) -> np.ndarray:
        """Elliptic cylinder along z."""
        return ((self.x - centre[0]) / semi[0]) ** 2 + ((self.y - centre[1]) / semi[1]) ** 2 <= 1.0

    def tube(self, start, end, radius) -> np.ndarray:
        """Points within ``radius`` of the segment start-end."""
        a = np.asarray(start, np.float32)
        axis = np.asarray(end, np.float32) - a
        length2 = float(axis @ axis)
        t = ((self.x - a[0]) * axis[0] + (self.y - a[1]) * axis[1] + (self.z - a[2]) * axis[2]) / length2
        t = np.clip(t, 0.0, 1.0)
        d2 = (self.x - a[0] - t * axis[0]) ** 2 + (self.y - a[1] - t * axis[1]) ** 2 + (self.z - a[2] - t * axis[2]) ** 2
        return d2 <= radius**2


def _ribs(c: _Coordinates, cavity: np.ndarray) -> dict[str, np.ndarray]:
    """Lower ribs 8-10 on both sides: elliptic arcs just outside the cavity, open anteriorly."""
    rho = np.sqrt((c.x / 140.0) ** 2 + (c.y / 100.0) ** 2)
    ring = (np.abs(rho - 1.0) * 100.0 <= 4.0) & ~cavity & (c.y > -45.0)
    ribs = {}
    for number, z in ((10, 30.0), (9, 55.0), (8, 80.0)):
        level = ring & (np.abs(c.z - z) <= 5.0)
        ribs[f"rib_right_{number}"] = level & (c.x < -20.0)
        ribs[f"rib_left_{number}"] = level & (c.x > 20.0)
    return ribs


def _spine(c: _Coordinates) -> dict[str, np.ndarray]:
    """Vertebral bodies (separated by discs), the spinous processes and the spinal cord."""
    body = c.ellipse((17.0, 17.0), (0.0, 70.0))
    posterior = (np.abs(c.x) <= 6.0) & (c.y >= 104.0) & (c.y <= 118.0)
    bone = body | posterior
    levels = {"vertebrae_T12": (52.0, 100.0), "vertebrae_L1": (17.0, 47.0), "vertebrae_L2": (-18.0, 12.0),
              "vertebrae_L3": (-53.0, -23.0), "vertebrae_L4": (-100.0, -58.0)}
    spine = {name: bone & (c.z >= lo) & (c.z <= hi) for name, (lo, hi) in levels.items()}
    spine["spinal_cord"] = c.ellipse((5.0, 5.0), (0.0, 96.0))
    return spine


def _bowel(c: _Coordinates) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Transverse colon (gas-filled) and small-bowel loops (fluid-filled); returns masks and lumen."""
    colon = c.tube((-100.0, -60.0, -15.0), (100.0, -60.0, -15.0), 16.0)
    colon_lumen = c.tube((-100.0, -60.0, -15.0), (100.0, -60.0, -15.0), 13.0)
    loops = np.zeros_like(colon)
    lumen = np.zeros_like(colon)
    path = [(-70.0, -50.0, -90.0), (-20.0, -20.0, -75.0), (30.0, -55.0, -80.0), (70.0, -20.0, -60.0),
            (20.0, -10.0, -45.0), (-40.0, -45.0, -55.0)]
    for start, end in zip(path[:-1], path[1:]):
        loops |= c.tube(start, end, 12.0)
        lumen |= c.tube(start, end, 9.0)
    loops &= ~colon
    return {"colon": colon, "small_bowel": loops}, {"gas": colon_lumen, "fluid": lumen & loops}


def make_teaching_case(spacing_mm=DEFAULT_SPACING_MM, seed: int = 0, direction=None) -> TeachingCase:
    """Generate the teaching case on a grid of ``spacing_mm`` (mm) and ``direction`` (3x3, LPS)."""
    grid = default_grid(spacing_mm, direction)
    c = _Coordinates(grid)
    body = c.ellipse(_BODY)
    cavity = c.ellipse(_CAVITY)
    structures: dict[str, np.ndarray] = {}

    vessels = {
        "aorta": c.ellipse((12.0, 12.0), (20.0, 38.0)),
        "inferior_vena_cava": c.ellipse((11.0, 11.0), (-25.0, 35.0)),
        "portal_vein_and_splenic_vein": c.tube((-20.0, 5.0, 5.0), (-75.0, -5.0, 25.0), 7.0)
        | c.tube((-20.0, 5.0, 5.0), (70.0, 22.0, 15.0), 5.0),
    }
    kidneys = {"kidney_right": c.ellipsoid((-68.0, 60.0, -30.0), (28.0, 22.0, 50.0)),
               "kidney_left": c.ellipsoid((68.0, 60.0, -35.0), (28.0, 22.0, 50.0))}
    spleen = c.ellipsoid((95.0, 45.0, 35.0), (30.0, 40.0, 50.0)) & cavity
    stomach = c.ellipsoid((48.0, -35.0, 55.0), (35.0, 28.0, 30.0)) & cavity
    gallbladder = c.ellipsoid((-30.0, -40.0, 25.0), (12.0, 14.0, 20.0))
    bowel, lumen = _bowel(c)
    spine = _spine(c)
    ribs = _ribs(c, cavity)
    others = np.zeros(grid.shape, bool)
    for mask in (*vessels.values(), *kidneys.values(), spleen, stomach, gallbladder, *bowel.values()):
        others |= mask
    liver = c.ellipsoid((-70.0, -5.0, 20.0), (65.0, 75.0, 70.0)) & cavity & ~others
    lungs = {name: c.ellipsoid(centre, (55.0, 65.0, 65.0)) & cavity & ~liver & ~spleen & ~stomach
             for name, centre in (("lung_lower_lobe_right", (-75.0, 25.0, 140.0)), ("lung_lower_lobe_left", (75.0, 25.0, 140.0)))}

    lesions = {t.id: c.ellipsoid(t.centre_lps, t.semi_axes_mm) for t in LESIONS}
    core = c.ellipsoid(LESIONS[2].centre_lps, (LESIONS[2].necrotic_core_radius_mm,) * 3)

    hu = np.full(grid.shape, HU["air"], np.float32)
    layers = [
        (body, HU["skin"]), (c.ellipse((_BODY[0] - _SKIN_MM, _BODY[1] - _SKIN_MM)), HU["fat"]),
        (c.ellipse(_FAT_INNER), HU["muscle"]), (cavity, HU["cavity_fat"]), (liver, HU["liver"]),
        (kidneys["kidney_right"] | kidneys["kidney_left"], HU["kidney"]), (spleen, HU["spleen"]),
        (stomach, HU["bowel_wall"]), (stomach & (c.y < -40.0), HU["bowel_gas"]), (gallbladder, HU["gallbladder"]),
        (bowel["colon"] | bowel["small_bowel"], HU["bowel_wall"]), (lumen["gas"], HU["bowel_gas"]),
        (lumen["fluid"], HU["bowel_fluid"]),
        (lungs["lung_lower_lobe_right"] | lungs["lung_lower_lobe_left"], HU["lung"]),
    ]
    layers += [(mask, HU[name]) for name, mask in vessels.items()]
    layers += [(np.logical_or.reduce(list(ribs.values()) + [m for n, m in spine.items() if n != "spinal_cord"]), HU["bone"]),
               (spine["spinal_cord"], HU["spinal_cord"])]
    lesion_union = np.logical_or.reduce(list(lesions.values()))
    layers += [(lesion_union, HU["lesion"]), (core, HU["necrosis"])]
    table = (np.abs(c.x) <= 185.0) & (c.y >= 145.0) & (c.y <= 160.0)
    layers.append((table, HU["table"]))
    for mask, value in layers:
        hu[mask] = value
    rng = np.random.default_rng(seed)
    hu += rng.normal(0.0, NOISE_SD_HU, size=hu.shape).astype(np.float32)

    structures.update(vessels)
    structures["liver"] = liver  # L1-L3 lie inside the liver ellipsoid, so the organ mask holds them
    structures.update(kidneys)
    structures.update({"spleen": spleen, "stomach": stomach, "gallbladder": gallbladder, **bowel, **lungs, **spine, **ribs})
    structures = {name: mask & body for name, mask in structures.items()}
    return TeachingCase(Case(Volume(grid, np.round(hu).astype(np.int16)), structures, lesions), {t.id: t for t in LESIONS}, seed,
                        colors=_colors(structures, lesions))


def _colors(structures, lesions) -> dict[str, tuple[float, float, float]]:
    """Display colours: red vessels, brown liver, yellow lesions, bone white, lung pink, bowel orange."""
    palette = {"aorta": (0.85, 0.1, 0.1), "inferior_vena_cava": (0.2, 0.3, 0.85), "portal_vein_and_splenic_vein": (0.55, 0.3, 0.9),
               "liver": (0.72, 0.45, 0.3), "spleen": (0.6, 0.25, 0.35), "stomach": (0.95, 0.7, 0.45), "gallbladder": (0.3, 0.7, 0.3),
               "colon": (0.95, 0.6, 0.25), "small_bowel": (0.95, 0.75, 0.35), "spinal_cord": (1.0, 0.95, 0.5)}
    colors = {}
    for name in structures:
        if name in palette:
            colors[name] = palette[name]
        elif name.startswith(("rib_", "vertebrae_")):
            colors[name] = (0.95, 0.93, 0.85)
        elif name.startswith("kidney"):
            colors[name] = (0.75, 0.4, 0.4)
        elif name.startswith("lung"):
            colors[name] = (0.95, 0.7, 0.75)
    colors.update({name: (1.0, 0.9, 0.0) for name in lesions})
    return colors


def write_teaching_case(teaching_case: TeachingCase, out_dir: str | Path) -> dict[str, Path]:
    """Write ``ct.nrrd``, ``structures.seg.nrrd``, ``lesions.seg.nrrd`` and ``truth.json`` into ``out_dir``."""
    import json

    from hitit.io.atomic import write_text_atomic
    from hitit.io.segmentations import write_seg_nrrd
    from hitit.io.volumes import write_volume

    out = Path(out_dir)
    case = teaching_case.case
    return {
        "ct": write_volume(case.ct, out / "ct.nrrd"),
        "structures": write_seg_nrrd(out / "structures.seg.nrrd", case.grid, case.structures, teaching_case.colors),
        "lesions": write_seg_nrrd(out / "lesions.seg.nrrd", case.grid, case.lesions, teaching_case.colors),
        "truth": write_text_atomic(out / "truth.json", json.dumps(teaching_case.to_dict(), indent=2)),
    }
