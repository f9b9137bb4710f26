"""``hitit demo``: writes the teaching case under OUT/case and prints its summary."""

import json

import numpy as np

from hitit.cli.main import main
from hitit.io.segmentations import read_structures
from hitit.io.volumes import read_volume


def test_demo_writes_a_case_that_reads_back(tmp_path, capsys):
    out = tmp_path / "demo-output"
    assert main(["demo", "--out", str(out), "--spacing", "3", "3", "4", "--seed", "7"]) == 0
    printed = capsys.readouterr().out
    case_dir = out / "case"
    for name in ("ct.nrrd", "structures.seg.nrrd", "lesions.seg.nrrd", "truth.json"):
        assert (case_dir / name).is_file(), name
    ct = read_volume(case_dir / "ct.nrrd")
    assert ct.grid.spacing_mm == (3.0, 3.0, 4.0)
    structures = read_structures(case_dir / "structures.seg.nrrd", ct.grid)
    lesions = read_structures(case_dir / "lesions.seg.nrrd", ct.grid)
    assert set(lesions) == {"L1", "L2", "L3", "L4"}
    assert all(mask.any() for mask in lesions.values())
    assert not (lesions["L2"] & ~structures["liver"]).any()  # the liver mask holds its lesions
    truth = json.loads((case_dir / "truth.json").read_text(encoding="utf-8"))
    assert truth["frame"] == "LPS" and truth["seed"] == 7
    assert truth["grid"]["size"] == list(ct.grid.size)
    for name, size in truth["structures"].items():
        assert int(structures[name].sum()) == size["voxels"], name
    l3 = truth["lesions"]["L3"]
    assert l3["mask"]["volume_ml"] == np.count_nonzero(lesions["L3"]) * ct.grid.voxel_volume_ml
    assert "L3" in printed and "liver" in printed and str(case_dir) in printed
    # the demo also plans the case: a plan folder whose lesions are the teaching case's
    plan = json.loads((out / "plan" / "plan.json").read_text(encoding="utf-8"))
    assert [lesion["id"] for lesion in plan["lesions"]] == ["L1", "L2", "L3", "L4"]
    assert all(lesion["status"] == "ok" and lesion["trajectories"][0]["feasible"] for lesion in plan["lesions"])
    # every proposed path, not only the chosen one, is feasible (refused paths go to least_bad, never here)
    for lesion in plan["lesions"]:
        assert len(lesion["trajectories"]) == plan["config"]["planning"]["top_k"], lesion["id"]
        assert all(t["feasible"] and not t["violations"] for t in lesion["trajectories"]), lesion["id"]
    for name in ("trajectories.mrk.json", "lesions.csv", "report.html", "accessibility_L1.vtp"):
        assert (out / "plan" / name).is_file(), name
    assert "Plan (pv10" in printed


def test_demo_refuses_a_bad_spacing(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--spacing", "0", "1", "1"]) == 2
    assert "spacing" in capsys.readouterr().err
