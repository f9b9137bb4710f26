"""Grid transforms on oblique, flipped and anisotropic grids; masks placed by physical position."""

import numpy as np
import pytest
import SimpleITK as sitk

from hitit.errors import GeometryError
from hitit.geometry import Grid, lps_to_ras, mask_onto_grid, ras_to_lps, to_lps


def rotation(axis, angle_deg):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    a = np.radians(angle_deg)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * k @ k


GRIDS = [
    Grid((40, 30, 20), (1.0, 1.0, 1.0), (0, 0, 0), np.eye(3).ravel()),
    Grid((40, 30, 20), (0.7, 0.7, 5.0), (-12.5, 30.0, 100.0), np.eye(3).ravel()),
    Grid((40, 30, 20), (0.9, 1.1, 2.5), (5, -7, 3), np.diag([1, -1, 1]).ravel()),
    Grid((40, 30, 20), (0.8, 0.8, 1.5), (5, -7, 3), rotation([1, 2, 3], 27).ravel()),
    Grid((40, 30, 20), (0.8, 0.8, 1.5), (5, -7, 3), (rotation([0, 0, 1], 90) @ np.diag([-1, 1, -1])).ravel()),
]


@pytest.mark.parametrize("grid", GRIDS)
def test_index_physical_round_trip_matches_simpleitk(grid):
    image = grid.image_from_array(np.zeros(grid.shape, np.uint8))
    rng = np.random.default_rng(1)
    ijk = rng.uniform(-1, 40, size=(50, 3))
    lps = grid.index_to_lps(ijk)
    expected = np.array([image.TransformContinuousIndexToPhysicalPoint(tuple(p)) for p in ijk])
    np.testing.assert_allclose(lps, expected, atol=1e-9)
    np.testing.assert_allclose(grid.lps_to_index(lps), ijk, atol=1e-9)
    assert Grid.from_sitk(image).same_as(grid)


@pytest.mark.parametrize("grid", GRIDS)
def test_ijk_to_ras_matrix_is_lps_with_x_y_negated(grid):
    ras = grid.ijk_to_ras_matrix()
    point = np.array([3.0, 4.0, 5.0, 1.0])
    np.testing.assert_allclose((ras @ point)[:3], lps_to_ras(grid.index_to_lps(point[:3])), atol=1e-9)
    assert Grid.from_ijk_to_ras(ras, grid.size).same_as(grid)


def test_frames():
    p = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(lps_to_ras(p), [[-1, -2, 3]])
    np.testing.assert_allclose(ras_to_lps(lps_to_ras(p)), p)
    np.testing.assert_allclose(to_lps(p, "ras"), [[-1, -2, 3]])
    with pytest.raises(GeometryError):
        to_lps(p, "XYZ")


def _sphere_image(grid, centre_lps, radius_mm):
    ijk = np.stack(np.meshgrid(*[np.arange(n) for n in grid.size], indexing="ij"), -1).reshape(-1, 3)
    inside = np.linalg.norm(grid.index_to_lps(ijk) - centre_lps, axis=1) <= radius_mm
    return grid.image_from_array(inside.reshape(grid.size).transpose(2, 1, 0).astype(np.uint8))


@pytest.mark.parametrize("mask_grid", GRIDS[2:])
def test_mask_on_other_grid_lands_by_physical_position(mask_grid):
    ct = Grid((60, 60, 40), (1.0, 1.0, 1.0), (-20, -25, -15), np.eye(3).ravel())
    centre = np.array([10.0, 5.0, 5.0])
    # move the mask grid so that the sphere sits in its middle, whatever its orientation
    shift = centre - mask_grid.index_to_lps(np.array([20.0, 15.0, 10.0]))
    mask_grid = Grid(mask_grid.size, mask_grid.spacing_mm, np.add(mask_grid.origin_lps, shift), mask_grid.direction)
    mask = mask_onto_grid(_sphere_image(mask_grid, centre, 8.0), ct)
    k, j, i = np.nonzero(mask)
    centroid = ct.index_to_lps(np.column_stack([i, j, k])).mean(axis=0)
    assert np.linalg.norm(centroid - centre) < 1.0
    assert abs(mask.sum() * ct.voxel_volume_ml * 1000 - 4 / 3 * np.pi * 8**3) / (4 / 3 * np.pi * 8**3) < 0.1


def test_cropped_mask_is_placed_by_position():
    ct = GRIDS[0]
    full = _sphere_image(ct, ct.index_to_lps(np.array([25.0, 12.0, 9.0])), 4.0)
    cropped = sitk.RegionOfInterest(full, [14, 12, 12], [18, 6, 3])
    assert cropped.GetSize() != full.GetSize()
    np.testing.assert_array_equal(mask_onto_grid(cropped, ct), sitk.GetArrayFromImage(full).astype(bool))


def test_mask_outside_ct_is_a_clear_error():
    ct = GRIDS[0]
    far = Grid((10, 10, 10), (1, 1, 1), (500, 500, 500), np.eye(3).ravel())
    with pytest.raises(GeometryError, match="does not overlap the CT.*mask grid is size.*CT grid is size"):
        mask_onto_grid(far.image_from_array(np.ones(far.shape, np.uint8)), ct, name="liver")


def test_bad_grids_are_refused():
    with pytest.raises(GeometryError):
        Grid((10, 10, 10), (1, 0, 1), (0, 0, 0), np.eye(3).ravel())
    with pytest.raises(GeometryError):
        Grid((10, 10, 10), (1, 1, 1), (0, 0, 0), (np.eye(3) * 2).ravel())


def _physical_voxels(grid, mask):
    k, j, i = np.nonzero(mask)
    return {tuple(p) for p in np.round(grid.index_to_lps(np.column_stack([i, j, k])), 3)}


@pytest.mark.parametrize("kind", ["flip_j", "flip_ik", "permute_ij"])
def test_mask_on_reoriented_grid_lands_on_exactly_the_same_physical_voxels(kind):
    """Same voxel centres, different array order: the result must match voxel for voxel in space."""
    ct = Grid((16, 12, 8), (0.8, 1.1, 2.5), (-5.0, 7.0, 30.0), rotation([1, 1, 0], 20).ravel())
    ijk_map = {  # mask index -> CT index, and the mask grid's axes in CT index units
        "flip_j": (np.array([0, 11, 0]), np.array([[1, 0, 0], [0, -1, 0], [0, 0, 1]])),
        "flip_ik": (np.array([15, 0, 7]), np.array([[-1, 0, 0], [0, 1, 0], [0, 0, -1]])),
        "permute_ij": (np.array([0, 0, 0]), np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1]])),
    }
    start, axes = ijk_map[kind]  # columns of ``axes``: CT index step of one mask step along i, j, k
    size = np.abs(axes) @ np.array(ct.size)
    spacing = np.abs(axes).T @ np.array(ct.spacing_mm)
    direction = ct.direction_matrix @ axes
    mask_grid = Grid(
        tuple(int(v) for v in size), tuple(spacing), tuple(ct.index_to_lps(start.astype(float))), direction.ravel()
    )
    rng = np.random.default_rng(3)
    mask = rng.random(mask_grid.shape) < 0.2
    placed = mask_onto_grid(mask_grid.image_from_array(mask), ct)
    assert placed.sum() == mask.sum()
    assert _physical_voxels(ct, placed) == _physical_voxels(mask_grid, mask)
    if kind != "permute_ij":
        assert not np.array_equal(placed, mask)  # array order alone would misplace it
