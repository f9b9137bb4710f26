"""``hitit inspect`` on the real TotalSegmentator case; errors are one line and exit code 2."""

import json

import pytest

from hitit.cli.main import main


def test_inspect_json(ts_dir, capsys):
    code = main(["inspect", "--ct", str(ts_dir / "example_ct.nii.gz"),
                 "--structures", str(ts_dir / "example_seg_fast_force_split.nii.gz"), "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["ct"]["size"] == [122, 101, 112] and len(result["ct"]["direction"]) == 9
    by_name = {s["name"]: s for s in result["structures"]}
    assert by_name["liver"]["volume_ml"] == pytest.approx(1126, rel=0.01)
    assert by_name["spleen"]["voxels"] * 27 / 1000 == pytest.approx(by_name["spleen"]["volume_ml"], abs=1e-3)


def test_inspect_errors_are_one_line(tmp_path, capsys):
    code = main(["inspect", "--ct", str(tmp_path / "missing.nrrd")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "not found" in err and "Traceback" not in err
