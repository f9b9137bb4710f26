"""``hitit inspect`` on the real TotalSegmentator case; errors are one line and exit code 2."""

import json

import numpy as np
import pytest
import SimpleITK as sitk

from hitit.cli.main import main
from hitit.geometry import Grid
from hitit.io.segmentations import write_seg_nrrd


def test_inspect_json(ts_dir, capsys):
    code = main(
        [
            "inspect",
            "--ct",
            str(ts_dir / "example_ct.nii.gz"),
            "--structures",
            str(ts_dir / "example_seg_fast_force_split.nii.gz"),
            "--json",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["frame"] == "LPS"
    ct = sitk.ReadImage(str(ts_dir / "example_ct.nii.gz"))
    assert result["ct"]["size"] == list(ct.GetSize()) == [122, 101, 112]
    np.testing.assert_allclose(result["ct"]["spacing"], ct.GetSpacing())
    np.testing.assert_allclose(result["ct"]["origin"], ct.GetOrigin())
    np.testing.assert_allclose(result["ct"]["direction"], ct.GetDirection())
    by_name = {s["name"]: s for s in result["structures"]}
    labels = sitk.GetArrayFromImage(sitk.ReadImage(str(ts_dir / "example_seg_fast_force_split.nii.gz")))
    assert by_name["liver"]["voxels"] == int((labels == 5).sum())
    assert by_name["liver"]["volume_ml"] == pytest.approx(1126, rel=0.01)
    assert by_name["spleen"]["volume_ml"] == pytest.approx(261, rel=0.02)
    voxel_ml = np.prod(ct.GetSpacing()) / 1000
    assert by_name["spleen"]["voxels"] * voxel_ml == pytest.approx(by_name["spleen"]["volume_ml"], abs=1e-3)


def test_inspect_text_with_several_sources_and_label_map(tmp_path, capsys):
    grid = Grid((20, 20, 10), (1.0, 1.0, 2.0), (0, 0, 0), np.eye(3).ravel())
    sitk.WriteImage(grid.image_from_array(np.zeros(grid.shape, np.int16)), str(tmp_path / "ct.nrrd"))
    lesion = np.zeros(grid.shape, bool)
    lesion[2:4, 5:10, 5:10] = True
    write_seg_nrrd(tmp_path / "lesions.seg.nrrd", grid, {"L1": lesion, "L2": np.zeros(grid.shape, bool)})
    sitk.WriteImage(grid.image_from_array(lesion.astype(np.uint8) * 4), str(tmp_path / "labels.nrrd"))
    (tmp_path / "map.csv").write_text("label,name\n4,tumour\n")
    code = main(
        [
            "inspect",
            "--ct",
            str(tmp_path / "ct.nrrd"),
            "--structures",
            str(tmp_path / "lesions.seg.nrrd"),
            "--structures",
            str(tmp_path / "labels.nrrd"),
            "--label-map",
            str(tmp_path / "map.csv"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "size [20, 20, 10]" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ") and "voxels" in line}
    assert "50 voxels" in lines["L1"] and "0.1 mL" in lines["L1"]  # 50 voxels of 2 mm^3
    assert "(empty)" in lines["L2"] and "50 voxels" in lines["tumour"]


def test_inspect_errors_are_one_line(tmp_path, ts_dir, capsys):
    code = main(["inspect", "--ct", str(tmp_path / "missing.nrrd")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "not found" in err and "Traceback" not in err
    code = main(["inspect", "--ct", str(ts_dir / "example_ct.nii.gz"), "--structures", str(tmp_path / "none.seg.nrrd")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("hitit inspect: error: Segmentation not found")
    far = Grid((5, 5, 5), (1, 1, 1), (9000, 9000, 9000), np.eye(3).ravel())
    write_seg_nrrd(tmp_path / "far.seg.nrrd", far, {"liver": np.ones(far.shape, bool)})
    code = main(["inspect", "--ct", str(ts_dir / "example_ct.nii.gz"), "--structures", str(tmp_path / "far.seg.nrrd")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "does not overlap the CT" in err
