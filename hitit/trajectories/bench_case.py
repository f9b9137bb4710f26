"""A CT-sized synthetic case for the whole-process benchmark, written as a user's files.

512 x 512 x 300 voxels of 0.8 x 0.8 x 1.5 mm (``small=True``: 200 x 160 x 90 of 2 x 2 x 3 mm, for
tests), an elliptic torso (fat under the skin, muscle inside, lungs above the diaphragm), a CT table
under the back separated by an air gap, 36 structures named and numbered as TotalSegmentator's
"total" v2 task (one NIfTI label map, read through the built-in map) and one 25 mm liver lesion
(a binary NIfTI mask). Anatomy comes from :func:`hitit.trajectories.bench.bench_shapes` plus
lungs, vertebrae by level and a few abdominal organs. The CT is int16 HU with Gaussian noise.
Shapes are painted only inside their bounding boxes, so the case is made in seconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hitit.geometry import Grid
from hitit.trajectories.bench import BODY_SEMI_AXES_MM, _ellipsoid, _tube, bench_shapes

#: The CT-sized grid (voxels, mm) and the small one.
FULL_GRID = ((512, 512, 300), (0.8, 0.8, 1.5))
SMALL_GRID = ((200, 160, 90), (2.0, 2.0, 3.0))
#: The lesion: a sphere of 25 mm diameter in the right liver lobe (LPS mm).
LESION_CENTRE_LPS = (-75.0, -5.0, 20.0)
LESION_RADIUS_MM = 12.5
#: Diaphragm height (mm, z): lungs above it.
DIAPHRAGM_Z_MM = 100.0
#: Thickness (mm) of the subcutaneous fat.
FAT_MM = 15.0
#: CT numbers (HU) painted: air, fat, muscle and organs, bone, lung, blood, bowel content, table, lesion.
HU = {
    "air": -1000,
    "fat": -100,
    "soft": 45,
    "bone": 700,
    "lung": -850,
    "vessel": 160,
    "bowel": 10,
    "table": 300,
    "lesion": 25,
    "liver": 60,
}
#: CT noise (HU, standard deviation).
NOISE_SD_HU = 12.0
#: The CT table: a slab under the back (y from the body's back + gap), mm.
TABLE_GAP_MM = 10.0
TABLE_THICKNESS_MM = 20.0


@dataclass(frozen=True)
class BenchCaseFiles:
    """Paths of a written benchmark case."""

    ct: Path
    structures: Path
    lesions: Path


def _extra_shapes() -> dict:
    """Lungs, vertebrae by level and small organs (LPS mm predicates) beside the bench scene's."""
    shapes = {}
    for side, sx in (("left", 1), ("right", -1)):
        centre = (sx * 60.0, 10.0)
        for lobe, (z0, z1) in (("lower", (DIAPHRAGM_Z_MM, 160.0)), ("upper", (160.0, 225.0))):
            shapes[f"lung_{lobe}_lobe_{side}"] = lambda x, y, z, c=centre, lo=z0, hi=z1: (
                (((x - c[0]) / 50.0) ** 2 + ((y - c[1]) / 70.0) ** 2 <= 1.0) & (z > lo) & (z <= hi)
            )
    levels = ("L4", "L3", "L2", "L1", "T12", "T11", "T10", "T9")
    for n, level in enumerate(levels):
        z0 = -220.0 + n * 55.0
        shapes[f"vertebrae_{level}"] = lambda x, y, z, lo=z0: _tube(x, y, z, (0, 65, lo + 2), (0, 65, lo + 53), 20)
    shapes.update(
        {
            "pancreas": lambda x, y, z: _ellipsoid(x, y, z, (20, 5, -5), (45, 10, 10)),
            "adrenal_gland_left": lambda x, y, z: _ellipsoid(x, y, z, (45, 45, 35), (8, 8, 15)),
            "adrenal_gland_right": lambda x, y, z: _ellipsoid(x, y, z, (-45, 45, 30), (8, 8, 15)),
            "esophagus": lambda x, y, z: _tube(x, y, z, (5, 35, 40), (5, 35, 225), 8),
            "duodenum": lambda x, y, z: _tube(x, y, z, (-30, -10, -20), (10, -15, -30), 10),
            "small_bowel": lambda x, y, z: _ellipsoid(x, y, z, (10, -50, -130), (70, 30, 50)),
        }
    )
    return shapes


def bench_case_shapes() -> dict:
    """Structure name -> predicate (LPS mm) of the benchmark case: the bench scene's without its single
    spine tube, plus :func:`_extra_shapes`.
    """
    shapes = {k: v for k, v in bench_shapes().items() if k != "vertebrae_L1"}
    shapes.update(_extra_shapes())
    return shapes


def _grid(small: bool) -> Grid:
    size, spacing = SMALL_GRID if small else FULL_GRID
    origin = tuple(-(np.asarray(size) - 1) * np.asarray(spacing) / 2.0)
    return Grid(size, spacing, origin, np.eye(3).ravel())


def _coordinates(grid: Grid, lo: np.ndarray, hi: np.ndarray):
    """Broadcastable x, y, z (mm) of voxel centres in index box [lo, hi) (i, j, k) of an axis-aligned grid."""
    axes = [grid.origin_lps[d] + np.arange(lo[d], hi[d]) * grid.spacing_mm[d] for d in range(3)]
    return axes[0][None, None, :], axes[1][None, :, None], axes[2][:, None, None]


def _box_of(grid: Grid, shape, inside_body) -> tuple[np.ndarray, np.ndarray] | None:
    """Index box (i, j, k) holding ``shape``, found on a coarse lattice (4 voxels) and widened by it."""
    step = 4
    hi = np.asarray(grid.size)
    x, y, z = _coordinates(grid, np.zeros(3, int), hi)
    x, y, z = x[..., ::step], y[:, ::step, :], z[::step]
    hit = shape(x, y, z) & inside_body(x, y)
    if not hit.any():
        return None
    k, j, i = np.nonzero(hit)
    found_lo = np.array([i.min(), j.min(), k.min()]) * step - step
    found_hi = np.array([i.max(), j.max(), k.max()]) * step + 2 * step
    return np.clip(found_lo, 0, hi), np.clip(found_hi, 0, hi)


def make_bench_case(small: bool = False, seed: int = 0):
    """``(grid, ct int16 [k, j, i], labels uint8 [k, j, i] with TotalSegmentator v2 values, lesion bool)``."""
    from hitit.io.segmentations import totalsegmentator_total_map

    grid = _grid(small)
    value_of = {name: value for value, name in totalsegmentator_total_map().items()}
    a, b = BODY_SEMI_AXES_MM
    inside_body = lambda x, y: (x / a) ** 2 + (y / b) ** 2 < 1.0  # noqa: E731 - a predicate
    x, y, z = _coordinates(grid, np.zeros(3, int), np.asarray(grid.size))
    radius = np.sqrt((x / a) ** 2 + (y / b) ** 2)  # (1, J, I)
    hu = np.full(grid.shape, HU["air"], dtype=np.int16)
    slice_hu = np.where(radius < 1.0, np.where(radius > 1.0 - FAT_MM / b, HU["fat"], HU["soft"]), HU["air"])
    table = (y > b + TABLE_GAP_MM) & (y < b + TABLE_GAP_MM + TABLE_THICKNESS_MM) & (np.abs(x) < 0.9 * a)
    slice_hu = np.where(table, HU["table"], slice_hu).astype(np.int16)
    hu[:] = slice_hu
    labels = np.zeros(grid.shape, dtype=np.uint8)
    for name, shape in bench_case_shapes().items():
        box = _box_of(grid, shape, inside_body)
        if box is None:
            continue
        lo, hi = box
        bx, by, bz = _coordinates(grid, lo, hi)
        hit = shape(bx, by, bz) & inside_body(bx, by)
        window = (slice(lo[2], hi[2]), slice(lo[1], hi[1]), slice(lo[0], hi[0]))
        labels[window][hit] = value_of[name]
        hu[window][hit] = _structure_hu(name)
    lesion = (
        (x - LESION_CENTRE_LPS[0]) ** 2 + (y - LESION_CENTRE_LPS[1]) ** 2 + (z - LESION_CENTRE_LPS[2]) ** 2
    ) <= LESION_RADIUS_MM**2
    hu[lesion] = HU["lesion"]
    noise = np.random.default_rng(seed).standard_normal(grid.shape, dtype=np.float32) * np.float32(NOISE_SD_HU)
    hu = np.clip(hu + np.rint(noise), -1024, 3071).astype(np.int16)
    return grid, hu, labels, lesion


def _structure_hu(name: str) -> int:
    """HU a structure is painted with."""
    if name.startswith(("rib_", "vertebrae_")):
        return HU["bone"]
    if name.startswith("lung_"):
        return HU["lung"]
    if name in ("aorta", "inferior_vena_cava", "portal_vein_and_splenic_vein", "heart"):
        return HU["vessel"]
    if name in ("colon", "small_bowel", "duodenum", "stomach", "esophagus"):
        return HU["bowel"]
    return HU["liver"] if name == "liver" else HU["soft"]


def write_bench_case(out_dir: str | Path, small: bool = False, seed: int = 0) -> BenchCaseFiles:
    """Write ``ct.nii.gz``, ``structures.nii.gz`` (label map) and ``lesion.nii.gz`` (binary) into ``out_dir``.

    A case already written there with the same settings is reused (``case.json`` records them).
    """
    import SimpleITK as sitk

    out = Path(out_dir)
    files = BenchCaseFiles(out / "ct.nii.gz", out / "structures.nii.gz", out / "lesion.nii.gz")
    stamp = {"small": small, "seed": seed, "grid": list(SMALL_GRID if small else FULL_GRID)}
    record = out / "case.json"
    if (
        record.exists()
        and json.loads(record.read_text()) == json.loads(json.dumps(stamp))
        and all(p.exists() for p in (files.ct, files.structures, files.lesions))
    ):
        return files
    out.mkdir(parents=True, exist_ok=True)
    grid, hu, labels, lesion = make_bench_case(small, seed)
    for array, path in ((hu, files.ct), (labels, files.structures), (lesion.astype(np.uint8), files.lesions)):
        image = sitk.GetImageFromArray(array)
        image.SetSpacing(grid.spacing_mm)
        image.SetOrigin(grid.origin_lps)
        image.SetDirection(tuple(float(v) for v in np.asarray(grid.direction).ravel()))
        sitk.WriteImage(image, str(path), useCompression=True)
    record.write_text(json.dumps(stamp) + "\n")
    return files
