"""hitit check-path on a small scene written to files: JSON fields, LPS vs RAS, a path through a vessel, the
target's host organ inferred from the target point or its lesion.
"""

import json

import numpy as np
import pytest
import SimpleITK as sitk

from hitit.cli.main import main
from hitit.geometry import Grid, lps_to_ras
from hitit.io.segmentations import write_seg_nrrd
from hitit.phantom import make_teaching_case, write_teaching_case


def _write_scene(tmp_path):
    grid = Grid((60, 60, 40), (1.5, 1.5, 2.0), (-45.0, -45.0, -40.0), np.eye(3).ravel())
    kji = np.stack(np.meshgrid(*[np.arange(n) for n in grid.shape], indexing="ij"), axis=-1)
    lps = grid.index_to_lps(kji[..., ::-1].reshape(-1, 3).astype(float)).reshape(*grid.shape, 3)
    ct = np.where(np.linalg.norm(lps[..., :2], axis=-1) < 40, 40, -1000).astype(np.int16)
    labels = np.zeros(grid.shape, np.uint8)
    labels[np.linalg.norm(lps[..., :2] - [10.0, 0.0], axis=-1) <= 5] = 1  # a vertical vessel tube
    sitk.WriteImage(grid.image_from_array(ct), str(tmp_path / "ct.nrrd"))
    sitk.WriteImage(grid.image_from_array(labels), str(tmp_path / "seg.nrrd"))
    (tmp_path / "labels.json").write_text(json.dumps({"1": "aorta"}))
    return tmp_path


def _run(capsys, tmp_path, entry, target, frame="LPS", extra=()):
    code = main(
        [
            "check-path",
            "--ct",
            str(tmp_path / "ct.nrrd"),
            "--structures",
            str(tmp_path / "seg.nrrd"),
            "--label-map",
            str(tmp_path / "labels.json"),
            "--entry",
            *map(str, entry),
            "--target",
            *map(str, target),
            "--frame",
            frame,
            "--json",
            *extra,
        ]
    )
    return code, json.loads(capsys.readouterr().out)


def test_path_through_vessel_is_blocked_and_frames_agree(tmp_path, capsys):
    _write_scene(tmp_path)
    code, through = _run(capsys, tmp_path, (38.0, 0.0, 0.0), (-10.0, 0.0, 0.0))
    assert code == 1 and not through["feasible"] and through["blocking"] == ["aorta"]
    for key in (
        "entry_lps",
        "target_lps",
        "feasible",
        "length_mm",
        "min_clearance_mm",
        "clearance_by_structure_mm",
        "blocking",
        "axial_angle_deg",
    ):
        assert key in through
    code, clear = _run(capsys, tmp_path, (0.0, -38.0, 0.0), (-10.0, 0.0, 0.0))
    assert code == 0 and clear["feasible"] and clear["blocking"] == []
    assert clear["clearance_by_structure_mm"]["aorta"] > 5
    ras = _run(
        capsys, tmp_path, lps_to_ras(np.array([0.0, -38.0, 0.0])), lps_to_ras(np.array([-10.0, 0.0, 0.0])), "RAS"
    )[1]
    assert ras["feasible"] == clear["feasible"]
    assert (
        ras["length_mm"] == clear["length_mm"]
        and ras["clearance_by_structure_mm"] == clear["clearance_by_structure_mm"]
    )
    # RAS input converts values: the LPS record is the same path, and the RAS points are given under their own keys
    assert np.allclose(ras["entry_ras"], lps_to_ras(np.array([0.0, -38.0, 0.0])))
    assert np.allclose(ras["entry_lps"], [0.0, -38.0, 0.0]) and np.allclose(ras["target_lps"], clear["target_lps"])
    assert "entry_ras" not in clear


def _write_liver_scene(tmp_path):
    """The vessel scene plus a 'liver' block (x -30..0, y -20..20 mm) and a 'T1' lesion ball (radius 6 mm) inside it."""
    grid = Grid((60, 60, 40), (1.5, 1.5, 2.0), (-45.0, -45.0, -40.0), np.eye(3).ravel())
    kji = np.stack(np.meshgrid(*[np.arange(n) for n in grid.shape], indexing="ij"), axis=-1)
    lps = grid.index_to_lps(kji[..., ::-1].reshape(-1, 3).astype(float)).reshape(*grid.shape, 3)
    ct = np.where(np.linalg.norm(lps[..., :2], axis=-1) < 40, 40, -1000).astype(np.int16)
    labels = np.zeros(grid.shape, np.uint8)
    labels[(lps[..., 0] >= -30) & (lps[..., 0] <= 0) & (np.abs(lps[..., 1]) <= 20)] = 2
    labels[np.linalg.norm(lps[..., :2] - [10.0, 0.0], axis=-1) <= 5] = 1
    sitk.WriteImage(grid.image_from_array(ct), str(tmp_path / "ct.nrrd"))
    sitk.WriteImage(grid.image_from_array(labels), str(tmp_path / "seg.nrrd"))
    (tmp_path / "labels.json").write_text(json.dumps({"1": "aorta", "2": "liver"}))
    lesion = np.linalg.norm(lps - [-15.0, 0.0, 0.0], axis=-1) <= 6.0
    write_seg_nrrd(tmp_path / "lesions.seg.nrrd", grid, {"T1": lesion})
    return tmp_path


def test_a_target_inside_an_organ_makes_it_the_host(tmp_path, capsys):
    """No --target-organ: the liver holding the target is allowed, and the output says it was inferred and how."""
    _write_liver_scene(tmp_path)
    code, result = _run(capsys, tmp_path, (0.0, -38.0, 0.0), (-15.0, 0.0, 0.0))
    assert code == 0 and result["feasible"] and result["blocking"] == []
    assert result["target_organ"]["names"] == ["liver"] and result["target_organ"]["how"] == "point"
    assert "liver" in result["target_organ"]["detail"]
    assert result["host_organ"] == "liver" and result["organ_path_mm"] >= 10  # the normal-liver rule is applied
    assert (
        main(
            [
                "check-path",
                "--ct",
                str(tmp_path / "ct.nrrd"),
                "--structures",
                str(tmp_path / "seg.nrrd"),
                "--label-map",
                str(tmp_path / "labels.json"),
                "--entry",
                "0",
                "-38",
                "0",
                "--target",
                "-15",
                "0",
                "0",
            ]
        )
        == 0
    )
    assert "target organ: liver (inferred: the target point lies inside 'liver')" in capsys.readouterr().out
    # named by the user: the same verdict, said to be given
    code, given = _run(capsys, tmp_path, (0.0, -38.0, 0.0), (-15.0, 0.0, 0.0), extra=["--target-organ", "liver"])
    assert code == 0 and given["target_organ"]["how"] == "given"


def test_a_target_inside_a_vessel_or_outside_every_structure_keeps_the_rules(tmp_path, capsys):
    _write_liver_scene(tmp_path)
    code, vessel = _run(capsys, tmp_path, (38.0, 0.0, 0.0), (10.0, 0.0, 0.0))
    assert code == 1 and vessel["blocking"] == ["aorta"]
    assert vessel["target_organ"]["names"] == [] and "'aorta' (vessel)" in vessel["target_organ"]["detail"]
    code, outside = _run(capsys, tmp_path, (0.0, -38.0, 0.0), (15.0, -25.0, 0.0))
    assert outside["target_organ"] == {
        "names": [],
        "how": "none",
        "lesion_id": None,
        "detail": "nothing inferred: the target point lies in no structure, every structure keeps its rule",
    }
    # a path to a point outside the liver that crosses it is still blocked by it
    code, across = _run(capsys, tmp_path, (-38.0, 0.0, 0.0), (-5.0, 25.0, 0.0))
    assert code == 1 and "liver" in across["blocking"]


def test_with_a_lesion_file_the_lesion_sets_the_host_organ(tmp_path, capsys):
    _write_liver_scene(tmp_path)
    lesions = ["--lesions", str(tmp_path / "lesions.seg.nrrd")]
    code, result = _run(capsys, tmp_path, (0.0, -38.0, 0.0), (-15.0, 0.0, 0.0), extra=lesions)
    assert code == 0 and result["feasible"]
    assert result["target_organ"]["how"] == "lesion" and result["target_organ"]["lesion_id"] == "T1"
    assert result["target_organ"]["names"] == ["liver"] and "100 %" in result["target_organ"]["detail"]
    # normal liver is counted up to the lesion's edge, not the target: 14 mm of liver, then 6 mm of lesion
    assert result["organ_path_mm"] == pytest.approx(14.0, abs=2.0)
    assert (
        main(
            [
                "check-path",
                "--ct",
                str(tmp_path / "ct.nrrd"),
                "--structures",
                str(tmp_path / "seg.nrrd"),
                "--label-map",
                str(tmp_path / "labels.json"),
                "--entry",
                "0",
                "-38",
                "0",
                "--target",
                "-15",
                "0",
                "0",
                *lesions,
                "--lesion",
                "T2",
            ]
        )
        == 2
    )
    assert "No lesion 'T2'" in capsys.readouterr().err


def test_teaching_case_liver_target_without_target_organ(tmp_path, capsys):
    """The teaching case's safe path to L1 is feasible with the liver inferred, from the point or from the lesion;
    a path with too little normal liver before L1 is refused once the lesion is known.
    """
    teaching = make_teaching_case(spacing_mm=(2.0, 2.0, 3.0))
    paths = write_teaching_case(teaching, tmp_path)
    safe = next(p for p in teaching.truth["L1"].example_paths if p.safe)
    base = ["check-path", "--ct", str(paths["ct"]), "--structures", str(paths["structures"]), "--json"]

    def run(entry, target, *extra):
        code = main([*base, "--entry", *map(str, entry), "--target", *map(str, target), *extra])
        return code, json.loads(capsys.readouterr().out)

    code, by_point = run(safe.entry_lps, safe.target_lps)
    assert code == 0 and by_point["target_organ"]["names"] == ["liver"] and by_point["target_organ"]["how"] == "point"
    code, by_lesion = run(safe.entry_lps, safe.target_lps, "--lesions", str(paths["lesions"]))
    assert code == 0 and by_lesion["target_organ"]["how"] == "lesion" and by_lesion["target_organ"]["lesion_id"] == "L1"
    target = np.asarray(safe.target_lps)
    short = target + 60.0 * np.array([-0.6, -0.8, 0.0])  # anterolateral: about 3 mm of liver before L1
    code, refused = run(short, target, "--lesions", str(paths["lesions"]))
    assert code == 1 and any("normal liver before the lesion" in v for v in refused["violations"])
