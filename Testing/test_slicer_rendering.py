"""A plan drawn by Slicer's own displayable managers, off screen: the trajectory appears where plan.json's
points project, the lesion in its segment colour, and the report carries these pictures and says who drew them.

The slice views' geometry is checked against the planes' own definition (axial: the target at the centre;
along the needle: entry and target on the middle row, the needle's length apart), independently of the
slice node's matrices; the pixels are checked for the line's colour there and not beside it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from slicer_core_tier import requires_slicer_core, skip_module, status

pytestmark = requires_slicer_core

if status()[0] is None:
    skip_module(status()[1])
from hitit_slicer import rendering  # noqa: E402

PROBLEM = rendering.offscreenRenderingProblem()
if PROBLEM:
    skip_module(f"off-screen OpenGL cannot run here: {PROBLEM}")

from hitit.phantom import make_teaching_case, write_teaching_case  # noqa: E402
from hitit.plan import PlanConfig, plan_case  # noqa: E402
from hitit.report.figures import trajectory_plane  # noqa: E402
from hitit_slicer import render, storage  # noqa: E402
from hitit_slicer.context import createApplicationContext  # noqa: E402
from plan_command import plan_args  # noqa: E402

#: Coarse grid: the pictures are about geometry and colour, not resolution.
SPACING_MM = (2.0, 2.0, 3.0)


@pytest.fixture(scope="module")
def case_files(tmp_path_factory):
    teaching = make_teaching_case(spacing_mm=SPACING_MM)
    return teaching, write_teaching_case(teaching, tmp_path_factory.mktemp("case"))


@pytest.fixture(scope="module")
def plan_dict(case_files):
    teaching, _ = case_files
    return json.loads(json.dumps(plan_case(teaching.case, PlanConfig(protocol="pv10")).to_dict(), default=float))


@pytest.fixture(scope="module")
def rendered(case_files, plan_dict):
    _, paths = case_files
    context = createApplicationContext()
    ct = storage.loadVolume(context, paths["ct"], "CT")
    structures = storage.loadSegmentation(context, paths["structures"], "structures")
    lesions = storage.loadSegmentation(context, paths["lesions"], "lesions")
    yield rendering.renderPlan(context, plan_dict, ct, [structures, lesions], lesions)
    context.scene.Clear(1)


def first_trajectories(plan):
    """(lesion id, chosen path) of every lesion with a safe path: the views the report shows."""
    chosen = [(lesion["id"], lesion["trajectories"][0]) for lesion in plan["lesions"] if lesion["trajectories"]]
    assert len(chosen) == len(plan["lesions"]) == 4, "the teaching case has a safe path to every lesion"
    return chosen


#: Where along a trajectory (0 entry, 1 target) the line is looked for: in slice views all of it but the
#: ends and the middle, where the line's name is written; in 3D the part outside the (opaque) lesion.
ALONG_SLICE = np.r_[np.linspace(0.08, 0.4, 12), np.linspace(0.6, 0.92, 12)]
ALONG_3D = np.linspace(0.05, 0.3, 12)


def line_fraction(rgb, start, end, test, along, offset=0.0):
    """Share of the points ``along`` start-end, shifted ``offset`` px sideways, with a pixel passing ``test``
    within one pixel.
    """
    start, end = np.asarray(start, float), np.asarray(end, float)
    normal = np.array([-(end - start)[1], (end - start)[0]]) / np.linalg.norm(end - start)
    hits = total = 0
    for t in along:
        column, row = start + t * (end - start) + offset * normal
        c, r = int(round(column)), int(round(row))
        if not (1 <= r < rgb.shape[0] - 1 and 1 <= c < rgb.shape[1] - 1):
            continue
        total += 1
        hits += bool(test(rgb[r - 1 : r + 2, c - 1 : c + 2].reshape(-1, 3).astype(int)).any())
    return hits / max(total, 1)


def is_green(pixels):
    """The safe-trajectory colour as drawn (lighting in 3D changes brightness, not hue)."""
    return (pixels[:, 1] > 120) & (pixels[:, 1] > pixels[:, 0] + 60) & (pixels[:, 1] > pixels[:, 2] + 60)


def test_every_view_is_a_real_picture(rendered, plan_dict):
    for lesion_id, trajectory in first_trajectories(plan_dict):
        for view in ("axial", "oblique", "3d"):
            rgb = rendering.rgbFromPNG(rendered.keyImages.get(lesion_id, trajectory["rank"], view))
            assert rgb.shape[1] == rendering.VIEW_SIZE[0] and rgb.shape[0] > 100
            assert rgb.std() > 20, f"{lesion_id} {view}: the picture is nearly uniform"


def test_axial_view_is_centred_on_the_target(rendered, plan_dict):
    for lesion_id, trajectory in first_trajectories(plan_dict):
        rgb = rendering.rgbFromPNG(rendered.keyImages.get(lesion_id, trajectory["rank"], "axial"))
        centre = ((rgb.shape[1] - 1) / 2, (rgb.shape[0] - 1) / 2)
        assert np.allclose(rendered.pixels[(lesion_id, trajectory["rank"], "axial")]["target"], centre, atol=1.0)


def test_needle_view_puts_entry_and_target_on_the_middle_row(rendered, plan_dict):
    for lesion_id, trajectory in first_trajectories(plan_dict):
        rgb = rendering.rgbFromPNG(rendered.keyImages.get(lesion_id, trajectory["rank"], "oblique"))
        pixels = rendered.pixels[(lesion_id, trajectory["rank"], "oblique")]
        plane = trajectory_plane(np.asarray(trajectory["entry_lps"]), np.asarray(trajectory["target_lps"]), "oblique")
        mm_per_pixel = (plane.size[0] - 1) * plane.pixel_mm / rgb.shape[1]  # the view shows the core's plane, scaled
        length_px = np.linalg.norm(np.subtract(trajectory["target_lps"], trajectory["entry_lps"])) / mm_per_pixel
        assert rgb.shape[0] == pytest.approx(rgb.shape[1] * (plane.size[1] - 1) / (plane.size[0] - 1), abs=1)
        middle = (rgb.shape[0] - 1) / 2
        assert abs(pixels["entry"][1] - middle) < 1.5 and abs(pixels["target"][1] - middle) < 1.5
        assert pixels["target"][0] - pixels["entry"][0] == pytest.approx(length_px, abs=1.5)
        assert pixels["entry"][0] + pixels["target"][0] == pytest.approx(rgb.shape[1] - 1, abs=1.5)  # centred


@pytest.mark.parametrize("view", ["axial", "oblique", "3d"])
def test_trajectory_is_drawn_where_its_points_project(rendered, plan_dict, view):
    for lesion_id, trajectory in first_trajectories(plan_dict):
        rgb = rendering.rgbFromPNG(rendered.keyImages.get(lesion_id, trajectory["rank"], view))
        pixels = rendered.pixels[(lesion_id, trajectory["rank"], view)]
        along = ALONG_3D if view == "3d" else ALONG_SLICE
        on_line = line_fraction(rgb, pixels["entry"], pixels["target"], is_green, along)
        # the line's name is written on one side of it: the other side must be free of its colour
        beside = min(
            line_fraction(rgb, pixels["entry"], pixels["target"], is_green, along, offset=side) for side in (12, -12)
        )
        assert on_line >= 0.8, f"{lesion_id} {view}: the line is missing along its projection ({on_line:.0%})"
        assert beside <= 0.2, f"{lesion_id} {view}: line colour away from the projection ({beside:.0%})"


def test_lesion_is_drawn_in_its_segment_colour(rendered, plan_dict, case_files):
    teaching, _ = case_files
    for lesion_id, trajectory in first_trajectories(plan_dict):
        rgb = rendering.rgbFromPNG(rendered.keyImages.get(lesion_id, trajectory["rank"], "axial"))
        pixels = rendered.pixels[(lesion_id, trajectory["rank"], "axial")]
        along = np.subtract(pixels["target"], pixels["entry"])
        side = np.array([-along[1], along[0]]) / np.linalg.norm(along)
        column, row = (int(round(v)) for v in np.add(pixels["target"], 6 * side))  # in the lesion, off the needle
        patch = rgb[row - 2 : row + 3, column - 2 : column + 3].reshape(-1, 3).astype(int)
        patch = patch[~is_green(patch)].astype(float)  # the line's name may be written there
        colour = np.asarray(teaching.colors[lesion_id])
        grey = patch.mean(1, keepdims=True)
        # a filled segment tints the CT towards its colour: the tint correlates with the segment colour
        tint = (patch - grey).mean(0)
        assert np.corrcoef(tint, colour - colour.mean())[0, 1] > 0.9, (lesion_id, tint, colour)


def test_command_writes_the_report_with_slicer_figures_and_the_screenshot(case_files, tmp_path, capsys):
    _, paths = case_files
    out, shot = tmp_path / "plan", tmp_path / "shot.png"
    code = render.main(plan_args(paths, out, "--screenshot", str(shot)))
    assert code == 0, capsys.readouterr().err
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Chosen-path figures drawn by 3D Slicer&#x27;s displayable managers (slicer-core" in html
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    chosen = [lesion["id"] for lesion in plan["lesions"] if lesion["trajectories"]]
    for lesion_id in chosen:
        for words in ("axial plane through the target", "plane along the needle", "3D view"):
            assert f"{lesion_id} chosen path: {words} (drawn by 3D Slicer" in html
    assert "(green: needle, red +: target" not in html  # no chosen-path figure left to the core
    assert ", axial</figcaption>" in html  # the alternatives' thumbnails stay the core's
    picture = rendering.rgbFromPNG(shot.read_bytes())
    assert picture.shape[1] > 3 * rendering.VIEW_SIZE[0] and picture.std() > 20


def test_command_refuses_a_ct_folder_before_planning(case_files, tmp_path, capsys):
    _, paths = case_files
    code = render.main(
        [
            "plan",
            "--ct",
            str(paths["ct"].parent),
            "--structures",
            str(paths["structures"]),
            "--lesions",
            str(paths["lesions"]),
            "--out",
            str(tmp_path / "plan"),
        ]
    )
    captured = capsys.readouterr()
    error = captured.err.strip().splitlines()
    assert code == 2 and len(error) == 1 and error[0].startswith("python -m hitit_slicer.render: error:")
    assert "reads the CT from one file" in error[0] and "Planning" not in captured.err
    assert not (tmp_path / "plan").exists()
