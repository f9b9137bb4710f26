"""Body mask, skin entry points and CT-derived bone/lung, on analytic scenes and on the teaching case."""

import time

import numpy as np
import pytest

from hitit.anatomy.body import BodyConfig, SkinConfig, auto_structures, body_mask, skin_surface
from hitit.case import Volume
from hitit.errors import InputError
from hitit.geometry import Grid
from hitit.phantom import make_teaching_case

RADIUS_MM = 45.0  # body: a cylinder along z (LPS), axis through x = y = 0
SPACING = (1.5, 1.5, 2.5)
SIZE = (140, 140, 40)


def rotation(z_deg: float, x_deg: float) -> np.ndarray:
    """Rotation about z then about x (columns = rotated axes)."""
    a, b = np.radians(z_deg), np.radians(x_deg)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    return rx @ rz


def scene_grid(direction=None) -> Grid:
    """A grid of SIZE/SPACING centred on the LPS origin, with the given direction (default: the identity)."""
    d = np.eye(3) if direction is None else np.asarray(direction, float)
    half = (np.asarray(SIZE) - 1) / 2 * np.asarray(SPACING)
    return Grid(SIZE, SPACING, tuple(-(d @ half)), tuple(d.ravel()))


def scene(direction=None) -> tuple[Volume, dict[str, np.ndarray]]:
    """CT of a cylinder body (40 HU) with enclosed gas, an air channel open at the top slice,
    a separate table slab behind it and a slab touching its left side through a thin bridge.
    """
    grid = scene_grid(direction)
    k, j, i = np.meshgrid(*[np.arange(n) for n in grid.shape], indexing="ij")
    x, y, z = np.moveaxis(grid.index_to_lps(np.stack([i, j, k], axis=-1)), -1, 0)
    r = np.hypot(x, y)
    truth = {
        "body": r <= RADIUS_MM,
        "gas": (x - 10) ** 2 / 12**2 + (y + 5) ** 2 / 10**2 + z**2 / 15**2 <= 1,
        "channel": (np.hypot(x + 15, y - 10) <= 6) & (z > 0),
        "table": (y >= 55) & (y <= 65) & (np.abs(x) <= 90),
        "contact_slab": (x >= 52) & (x <= 62) & (np.abs(y) <= 40),
        "bridge": (x > 40) & (x < 52) & (np.abs(y) <= 1.0),
    }
    hu = np.full(grid.shape, -1000.0)
    hu[truth["body"]] = 40.0
    hu[truth["gas"] | truth["channel"]] = -1000.0
    hu[truth["table"] | truth["contact_slab"] | (truth["bridge"] & ~truth["body"])] = 400.0
    hu += np.random.default_rng(0).normal(0, 10, grid.shape)
    return Volume(grid, hu.astype(np.int16)), truth


@pytest.fixture(scope="module")
def axis_scene():
    ct, truth = scene()
    return ct, truth, body_mask(ct)


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * (a & b).sum() / (a.sum() + b.sum())


def nearest_neighbour_mm(points: np.ndarray) -> np.ndarray:
    """Distance from each point to its nearest other point (brute force in chunks, small sets)."""
    nearest = np.empty(len(points))
    for start in range(0, len(points), 256):
        d = np.linalg.norm(points[start : start + 256, None, :] - points[None, :, :], axis=2)
        d[np.arange(len(d)), np.arange(start, start + len(d))] = np.inf
        nearest[start : start + 256] = d.min(axis=1)
    return nearest


# --------------------------------------------------------------------------- body
def test_body_excludes_table_and_thin_contact_and_fills_internal_air(axis_scene):
    ct, truth, body = axis_scene
    assert not (body & truth["table"]).any()
    assert not (body & truth["contact_slab"]).any()
    assert body[truth["gas"]].all(), "enclosed gas is inside the body"
    assert body[truth["channel"] & truth["body"]].all(), "air open at the scan end is filled slice by slice"
    assert dice(body, truth["body"]) > 0.98


def test_body_mask_rejects_a_ct_with_nothing_above_threshold():
    grid = scene_grid()
    with pytest.raises(InputError):
        body_mask(Volume(grid, np.full(grid.shape, -1000, np.int16)))


# --------------------------------------------------------------------------- skin
def check_cylinder_skin(skin, grid: Grid, spacing_mm: float) -> None:
    """Points on the analytic surface, outward normals, spacing, nothing valid on the scan's cut edges."""
    p, n = skin.points_lps[skin.valid], skin.normals_lps[skin.valid]
    assert len(p) > 100
    radial = p.copy()
    radial[:, 2] = 0.0
    r = np.linalg.norm(radial, axis=1)
    assert np.abs(r - RADIUS_MM).max() <= max(grid.spacing_mm), "on the body surface within a voxel"
    assert np.allclose(np.linalg.norm(n, axis=1), 1.0)
    assert np.all(np.einsum("ij,ij->i", n, radial) > 0), "normals point outward"
    assert np.percentile(np.einsum("ij,ij->i", n, radial / r[:, None]), 5) > np.cos(np.radians(15))
    nn = nearest_neighbour_mm(skin.points_lps)
    # points are mesh vertices, which sit on voxel planes: when the spacing nears twice the slice
    # spacing a gap can be two slices wide
    assert nn.min() >= 0.5 * spacing_mm - 1e-6 and nn.max() <= max(1.5 * spacing_mm, 2 * max(grid.spacing_mm))
    # cut edges of the field of view: no valid point within one voxel + spacing of the first/last slice
    ijk = grid.lps_to_index(p)
    reach = 1.0 + spacing_mm / np.asarray(grid.spacing_mm)
    assert np.all(ijk >= reach - 1e-6) and np.all(ijk <= np.asarray(grid.size) - 1 - reach + 1e-6)
    assert skin.excluded["fov_edge"].any()


def test_skin_points_on_axis_aligned_grid(axis_scene):
    ct, truth, body = axis_scene
    skin = skin_surface(ct, spacing_mm=2.0, body=body)
    check_cylinder_skin(skin, ct.grid, 2.0)
    # the number of points matches the valid skin area at the requested spacing
    z = skin.points_lps[skin.valid, 2]
    area = 2 * np.pi * RADIUS_MM * (z.max() - z.min())
    assert 0.6 < skin.valid.sum() * 2.0**2 / area < 1.6


def test_skin_from_mask_and_grid_matches_skin_from_ct(axis_scene):
    ct, _, body = axis_scene
    a = skin_surface(ct, spacing_mm=3.0, body=body)
    b = skin_surface(body, ct.grid, spacing_mm=3.0)
    assert np.allclose(a.points_lps, b.points_lps) and np.array_equal(a.valid, b.valid)
    check_cylinder_skin(b, ct.grid, 3.0)
    with pytest.raises(InputError):
        skin_surface(body, None)


def test_oblique_grid_gives_the_same_physical_surface():
    ct, _ = scene(rotation(30.0, 12.0))
    skin = skin_surface(ct, spacing_mm=2.0)
    check_cylinder_skin(skin, ct.grid, 2.0)


def test_region_and_side_restrict_entries(axis_scene):
    ct, _, body = axis_scene
    box = ((-100.0, -100.0, -10.0), (0.0, 100.0, 10.0))  # patient's right half, 20 mm long
    skin = skin_surface(ct, spacing_mm=2.0, body=body, region=box, side="anterior")
    p, n = skin.points_lps[skin.valid], skin.normals_lps[skin.valid]
    assert len(p) > 10
    assert np.all(p[:, 0] <= 0.0) and np.all(np.abs(p[:, 2]) <= 10.0)
    assert np.all(n[:, 1] <= -np.cos(np.radians(SkinConfig().side_max_angle_deg)) + 1e-9)
    both = skin_surface(ct, spacing_mm=2.0, body=body, side=("left", "right"))
    assert np.all(np.abs(both.normals_lps[both.valid, 0]) >= 0.5 - 1e-9)
    mask_region = np.zeros(ct.grid.shape, bool)
    mask_region[:, :, : ct.grid.size[0] // 2] = True  # i < half: x < 0 on this grid
    by_mask = skin_surface(ct, spacing_mm=2.0, body=body, region=mask_region)
    assert np.all(by_mask.points_lps[by_mask.valid, 0] <= 1.5)
    assert by_mask.parameters["region"] == "mask" and skin.parameters["side"] == "anterior"
    with pytest.raises(InputError):
        skin_surface(ct, body=body, side="upwards")


def test_points_next_to_scanner_padding_are_invalid():
    """A reconstruction circle cutting the body: the cut is padding (-3024 HU), not skin."""
    ct, _ = scene()
    grid = ct.grid
    k, j, i = np.meshgrid(*[np.arange(n) for n in grid.shape], indexing="ij")
    x, y, _ = np.moveaxis(grid.index_to_lps(np.stack([i, j, k], axis=-1)), -1, 0)
    hu = ct.array.copy()
    hu[x > 35.0] = -3024
    skin = skin_surface(Volume(grid, hu), spacing_mm=2.0)
    p = skin.points_lps[skin.valid]
    assert np.all(p[:, 0] < 35.0 - 2.0 - 1.0)


def test_to_polydata_and_to_dict(axis_scene):
    ct, _, body = axis_scene
    skin = skin_surface(ct, spacing_mm=3.0, body=body)
    poly = skin.to_polydata()
    assert poly.GetNumberOfPoints() == len(skin.points_lps) and poly.GetNumberOfPolys() == len(skin.triangles) > 0
    assert poly.GetPointData().GetNormals().GetNumberOfTuples() == len(skin.points_lps)
    assert poly.GetPointData().GetArray("valid").GetNumberOfTuples() == len(skin.points_lps)
    record = skin.to_dict()
    assert record["frame"] == "LPS" and record["parameters"]["skin"]["spacing_mm"] == 3.0
    assert record["valid"] == int(skin.valid.sum())
    assert BodyConfig().to_dict() == {"threshold_hu": -300.0, "opening_radius_mm": 3.0}


# --------------------------------------------------------------------------- auto structures
def test_auto_bone_and_lung_on_a_synthetic_scene(axis_scene):
    ct, truth, body = axis_scene
    grid = ct.grid
    k, j, i = np.meshgrid(*[np.arange(n) for n in grid.shape], indexing="ij")
    x, y, z = np.moveaxis(grid.index_to_lps(np.stack([i, j, k], axis=-1)), -1, 0)
    bone = np.hypot(x, y - 30) <= 8
    speck = (np.abs(x + 25) <= 1) & (np.abs(y + 25) <= 1) & (np.abs(z) <= 1)
    lung = (np.hypot(x + 20, y - 10) <= 12) & (z < -10)
    vessel = (np.hypot(x + 20, y - 10) <= 2) & (z < -10)
    rng = np.random.default_rng(1)
    hu = ct.array.astype(float)
    hu[bone | speck] = 700
    hu[lung] = -850 + rng.normal(0, 15, lung.sum())
    hu[vessel] = 40
    auto = auto_structures(Volume(grid, hu.astype(np.int16)), body)
    assert set(auto) == {"auto_bone", "auto_lung"}
    assert dice(auto["auto_bone"], bone) > 0.95 and not auto["auto_bone"][speck].any()
    assert dice(auto["auto_lung"], lung) > 0.9 and auto["auto_lung"][vessel].all(), "vessels inside lung are filled"
    assert not (auto["auto_lung"] & (truth["gas"] | truth["channel"])).any(), "bowel gas is not lung"
    assert set(auto_structures(ct, body, kinds=("bone",))) == {"auto_bone"}
    with pytest.raises(InputError):
        auto_structures(ct, body, kinds=("liver",))


# --------------------------------------------------------------------------- teaching case
@pytest.fixture(scope="module")
def teaching():
    tc = make_teaching_case()
    start = time.perf_counter()
    body = body_mask(tc.case.ct)
    skin = skin_surface(tc.case.ct, body=body)
    print(
        f"teaching case {tc.case.grid.size}: body + skin {time.perf_counter() - start:.2f} s, {skin.valid.sum()} "
        "entries"
    )
    return tc, body, skin


def test_teaching_case_body_and_skin_exclude_the_table(teaching):
    tc, body, skin = teaching
    assert not (body & tc.table).any()
    assert dice(body, tc.body) > 0.99
    grid = tc.case.grid
    p = skin.points_lps[skin.valid]
    ijk = np.rint(grid.lps_to_index(p)).astype(int)
    table_near = tc.table.copy()
    table_near[:, 1:] |= tc.table[:, :-1]
    table_near[:, :-1] |= tc.table[:, 1:]
    assert not table_near[ijk[:, 2], ijk[:, 1], ijk[:, 0]].any(), "no skin point on or next to the table"
    assert p[:, 1].max() < 128.0, "nothing behind the back of the patient (the table starts at y = 128 mm)"
    z = grid.index_to_lps(np.array([[0, 0, 0], [0, 0, grid.size[2] - 1]]))[:, 2]
    assert np.all((p[:, 2] > z.min() + 2.0) & (p[:, 2] < z.max() - 2.0)), "no entry on the first or last slice"


def test_teaching_case_auto_bone_and_lung_match_the_masks(teaching):
    tc, body, _ = teaching
    structures = tc.case.structures
    bone = np.any([m for n, m in structures.items() if n.startswith(("rib_", "vertebrae_"))], axis=0)
    lung = np.any([m for n, m in structures.items() if n.startswith("lung_")], axis=0)
    auto = auto_structures(tc.case.ct, body)
    assert dice(auto["auto_bone"], bone) >= 0.8
    assert dice(auto["auto_lung"], lung) >= 0.8
    for gas in ("stomach", "colon"):
        assert not (auto["auto_lung"] & structures[gas]).any(), f"{gas} gas is not lung"
