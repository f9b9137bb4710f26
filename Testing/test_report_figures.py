"""Report reformats sample the right physical points and keep the radiological orientation."""

import numpy as np

from hitit.case import Volume
from hitit.geometry import Grid
import math

import pytest
import SimpleITK as sitk

from hitit.report.figures import (
    edge_letters,
    orientation_letters,
    outline,
    render_skin_map,
    render_trajectory,
    sample_mask,
    sample_plane,
    surface_view,
    to_plane_pixels,
    trajectory_plane,
)
from hitit.report.html import MISSING, Column, HtmlReport, format_value


def _marker_volume(direction=(1, 0, 0, 0, 1, 0, 0, 0, 1)):
    # choose the origin so that the grid covers x, y in [-30, 29] mm whatever the axis flips
    origin = tuple(-30.0 * d for d in np.diag(np.reshape(direction, (3, 3))))
    grid = Grid((60, 60, 30), (1.0, 1.0, 2.0), origin, direction)
    ijk = np.stack(np.meshgrid(np.arange(60), np.arange(60), np.arange(30), indexing="ij"), axis=-1)
    lps = grid.index_to_lps(ijk.reshape(-1, 3)).reshape(60, 60, 30, 3).transpose(2, 1, 0, 3)
    hu = np.full(grid.shape, -1000.0)
    # a bright block on the patient's left (x > 0), anterior (y < 0), at z = 0
    hu[
        (lps[..., 0] > 10) & (lps[..., 0] < 20) & (lps[..., 1] < -5) & (lps[..., 1] > -15) & (np.abs(lps[..., 2]) < 3)
    ] = 500.0
    return Volume(grid, hu)


def test_axial_plane_is_radiological_and_samples_physical_points():
    for direction in [(1, 0, 0, 0, 1, 0, 0, 0, 1), (-1, 0, 0, 0, -1, 0, 0, 0, 1)]:
        volume = _marker_volume(direction)
        plane = trajectory_plane(np.array([0.0, -25.0, 0.0]), np.array([0.0, 0.0, 0.0]), "axial")
        image = sample_plane(volume, plane)
        rows, cols = np.nonzero(image > 0)
        centre_pixel = to_plane_pixels(plane, np.array([[15.0, -10.0, 0.0]]))[0]
        # the block centre lands where its LPS position projects, whatever the acquisition direction
        assert abs(cols.mean() - centre_pixel[0]) < 2 and abs(rows.mean() - centre_pixel[1]) < 2
        # patient left is on the image right, anterior at the top
        assert cols.mean() > image.shape[1] / 2 and rows.mean() < image.shape[0] / 2


def test_oblique_plane_contains_the_whole_needle():
    entry, target = np.array([-20.0, -25.0, 10.0]), np.array([10.0, 0.0, -8.0])
    plane = trajectory_plane(entry, target, "oblique")
    pixels = to_plane_pixels(plane, np.vstack([entry, target]))
    assert np.all(pixels >= 0) and np.all(pixels[:, 0] < plane.size[0]) and np.all(pixels[:, 1] < plane.size[1])
    # the needle lies in the plane: projecting back reproduces the 3D points
    back = (
        plane.origin_lps
        + np.outer(pixels[:, 0], plane.u) * plane.pixel_mm
        + np.outer(pixels[:, 1], plane.v) * plane.pixel_mm
    )
    np.testing.assert_allclose(back, np.vstack([entry, target]), atol=1e-6)


def test_render_and_html_page(tmp_path):
    volume = _marker_volume()
    mask = volume.array > 0
    png = render_trajectory(volume, {"block": mask}, None, [0, -25, 0], [15, -10, 0], "axial", [[10.0, -13.0, 0.0]])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    report = HtmlReport("Plan")
    report.table(
        [{"id": "L1", "volume_ml": 1.234, "inject": True, "dose": None}],
        [
            Column("id", "Lesion"),
            Column("volume_ml", "Volume (mL)", 2),
            Column("inject", "Inject"),
            Column("dose", "Dose"),
        ],
    )
    report.image(png, "axial")
    path = report.write(tmp_path / "report.html")
    text = path.read_text(encoding="utf-8")
    assert "data:image/png;base64," in text and ">1.23</td>" in text and "<td>L1</td>" in text
    assert "<th>Volume (mL)</th>" in text and "<td>yes</td>" in text and f"<td>{MISSING}</td>" in text
    assert "True" not in text and "None" not in text


def test_values_are_written_for_a_reader():
    assert format_value(True) == "yes" and format_value(False) == "no"
    assert format_value(None) == format_value(float("nan")) == format_value(float("inf")) == format_value("") == MISSING
    assert format_value(123.456) == "123" and format_value(12.345) == "12.3" and format_value(0.4567) == "0.46"
    assert format_value(0.4567, 1) == "0.5" and format_value([1.0, None]) == f"1.0, {MISSING}"


def _oblique_volume():
    rotation = sitk.VersorTransform((0.3, 1.0, 0.2), math.radians(25)).GetMatrix()
    direction = np.array(rotation).reshape(3, 3) @ np.diag([-1.0, 1.0, 1.0])  # oblique and flipped
    grid = Grid(
        (70, 64, 40), (1.1, 0.9, 2.5), tuple(-direction @ np.array([38.0, 29.0, 48.0])), tuple(direction.ravel())
    )
    rng = np.random.default_rng(1)
    return Volume(grid, rng.normal(0, 300, grid.shape).astype(np.float32))


def test_reformat_from_the_cut_volume_equals_the_whole_volume():
    """Sampling only the voxels around the plane gives the very values of resampling the whole CT."""
    volume = _oblique_volume()
    for kind in ("axial", "oblique"):
        plane = trajectory_plane(np.array([-12.0, -20.0, 4.0]), np.array([6.0, 3.0, -2.0]), kind, margin_mm=15.0)
        w = np.cross(plane.u, plane.v)
        reference = sitk.Image([plane.size[0], plane.size[1], 1], sitk.sitkFloat32)
        reference.SetSpacing((plane.pixel_mm, plane.pixel_mm, 1.0))
        reference.SetOrigin(tuple(plane.origin_lps))
        reference.SetDirection(tuple(np.column_stack([plane.u, plane.v, w]).ravel()))
        whole = sitk.GetArrayFromImage(
            sitk.Resample(volume.to_sitk(), reference, sitk.Transform(), sitk.sitkLinear, -1000.0, sitk.sitkFloat32)
        )[0]
        np.testing.assert_allclose(sample_plane(volume, plane), whole, atol=1e-3)
        mask = volume.array > 250
        whole_mask = (
            sitk.GetArrayFromImage(
                sitk.Resample(
                    volume.grid.image_from_array(mask),
                    reference,
                    sitk.Transform(),
                    sitk.sitkNearestNeighbor,
                    0,
                    sitk.sitkUInt8,
                )
            )[0]
            > 0
        )
        cut = sample_mask(volume.grid, mask, plane)
        assert cut.any() and np.array_equal(cut, whole_mask)


def test_orientation_letters_as_radiologists_read_them():
    axial = trajectory_plane(np.array([-80.0, 0.0, 0.0]), np.zeros(3), "axial")
    assert edge_letters(axial) == {"left": "R", "right": "L", "top": "A", "bottom": "P"}
    # a needle from the patient's right towards the left, seen along its length: head up
    along = trajectory_plane(np.array([-80.0, 0.0, 0.0]), np.zeros(3), "oblique")
    assert edge_letters(along) == {"left": "R", "right": "L", "top": "S", "bottom": "I"}
    assert orientation_letters(np.array([0.7, -0.7, 0.1])) in ("LA", "AL") and orientation_letters([0, 0, -1.0]) == "I"


def test_outline_is_the_boundary():
    square = np.zeros((7, 7), bool)
    square[1:6, 1:6] = True
    ring = outline(square)
    assert ring.sum() == 16 and not ring[3, 3] and ring[1, 3]


def _sphere_points(radius=100.0, n=6000):
    """Fibonacci points on a sphere (LPS mm) and their outward normals."""
    k = np.arange(n) + 0.5
    phi, theta = np.arccos(1 - 2 * k / n), math.pi * (1 + 5**0.5) * k
    normals = np.column_stack([np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)])
    return radius * normals, normals


def test_surface_view_shows_the_side_facing_the_viewer():
    points, normals = _sphere_points()
    image, right, up = surface_view(points, normals, (0.0, -1.0, 0.0), pixel_mm=5.0)  # from the front
    np.testing.assert_allclose(right, [1.0, 0.0, 0.0])  # the patient's left on the image right
    visible = image >= 0
    assert visible.mean() == pytest.approx(math.pi / 4, abs=0.06)  # a disc in its square
    assert np.all(normals[image[visible], 1] < 0.05)  # only the anterior half
    row, col = image.shape[0] // 2, image.shape[1] // 2
    np.testing.assert_allclose(points[image[row, col]], [0.0, -100.0, 0.0], atol=8.0)
    # a point on the patient's left lies on the image right, the head at the top
    left = image[row, image.shape[1] - 3]
    top = image[2, col]
    assert points[left, 0] > 80 and points[top, 2] > 80


def test_skin_map_png():
    points, normals = _sphere_points(n=3000)
    score = np.clip(normals[:, 0], 0, 1)
    reason = np.where(normals[:, 2] > 0.5, 4, np.where(normals[:, 0] > 0, 0, 2))
    png = render_skin_map(points, normals, score, reason, [("1", points[np.argmax(score)])], "test")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
