"""hitit check-path on a small scene written to files: JSON fields, LPS vs RAS, a path through a vessel."""

import json

import numpy as np
import SimpleITK as sitk

from hitit.cli.main import main
from hitit.geometry import Grid, lps_to_ras


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


def _run(capsys, tmp_path, entry, target, frame="LPS"):
    code = main(["check-path", "--ct", str(tmp_path / "ct.nrrd"), "--structures", str(tmp_path / "seg.nrrd"),
                 "--label-map", str(tmp_path / "labels.json"), "--entry", *map(str, entry), "--target", *map(str, target),
                 "--frame", frame, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_path_through_vessel_is_blocked_and_frames_agree(tmp_path, capsys):
    _write_scene(tmp_path)
    code, through = _run(capsys, tmp_path, (38.0, 0.0, 0.0), (-10.0, 0.0, 0.0))
    assert code == 1 and not through["feasible"] and through["blocking"] == ["aorta"]
    for key in ("frame", "feasible", "length_mm", "min_clearance_mm", "clearance_by_structure_mm", "blocking", "axial_angle_deg"):
        assert key in through
    code, clear = _run(capsys, tmp_path, (0.0, -38.0, 0.0), (-10.0, 0.0, 0.0))
    assert code == 0 and clear["feasible"] and clear["blocking"] == []
    assert clear["clearance_by_structure_mm"]["aorta"] > 5
    ras = _run(capsys, tmp_path, lps_to_ras(np.array([0.0, -38.0, 0.0])), lps_to_ras(np.array([-10.0, 0.0, 0.0])), "RAS")[1]
    assert ras["frame"] == "RAS" and ras["feasible"] == clear["feasible"]
    assert ras["length_mm"] == clear["length_mm"] and ras["clearance_by_structure_mm"] == clear["clearance_by_structure_mm"]
    assert np.allclose(ras["entry"], lps_to_ras(np.array([0.0, -38.0, 0.0])))
