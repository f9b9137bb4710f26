"""Report reformats sample the right physical points and keep the radiological orientation."""

import numpy as np

from hitit.case import Volume
from hitit.geometry import Grid
from hitit.report.figures import render_trajectory, sample_plane, to_plane_pixels, trajectory_plane
from hitit.report.html import HtmlReport


def _marker_volume(direction=(1, 0, 0, 0, 1, 0, 0, 0, 1)):
    # choose the origin so that the grid covers x, y in [-30, 29] mm whatever the axis flips
    origin = tuple(-30.0 * d for d in np.diag(np.reshape(direction, (3, 3))))
    grid = Grid((60, 60, 30), (1.0, 1.0, 2.0), origin, direction)
    ijk = np.stack(np.meshgrid(np.arange(60), np.arange(60), np.arange(30), indexing="ij"), axis=-1)
    lps = grid.index_to_lps(ijk.reshape(-1, 3)).reshape(60, 60, 30, 3).transpose(2, 1, 0, 3)
    hu = np.full(grid.shape, -1000.0)
    # a bright block on the patient's left (x > 0), anterior (y < 0), at z = 0
    hu[(lps[..., 0] > 10) & (lps[..., 0] < 20) & (lps[..., 1] < -5) & (lps[..., 1] > -15) & (np.abs(lps[..., 2]) < 3)] = 500.0
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
    back = plane.origin_lps + np.outer(pixels[:, 0], plane.u) * plane.pixel_mm + np.outer(pixels[:, 1], plane.v) * plane.pixel_mm
    np.testing.assert_allclose(back, np.vstack([entry, target]), atol=1e-6)


def test_render_and_html_page(tmp_path):
    volume = _marker_volume()
    mask = volume.array > 0
    png = render_trajectory(volume, {"block": mask}, None, [0, -25, 0], [15, -10, 0], "axial", "test")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    report = HtmlReport("Plan")
    report.table([{"id": "L1", "volume_ml": 1.234}])
    report.image(png, "axial")
    path = report.write(tmp_path / "report.html")
    text = path.read_text(encoding="utf-8")
    assert "data:image/png;base64," in text and "<td>1.2</td>" in text and "<td>L1</td>" in text
