"""Every ``--out`` keeps the user's files: ``hitit plan``, ``demo``, ``response`` and the core plan writer."""

from __future__ import annotations

import json
import os
import stat

import pytest

from hitit.cli.main import main
from hitit.io.outdir import MARKER_NAME, read_marker
from hitit.io.segmentations import write_seg_nrrd
from hitit.phantom import make_teaching_case, write_teaching_case
from hitit.plan import folder as plan_folder
from test_response_outputs import STUDY
from plan_command import plan_args

SPACING_MM = (2.0, 2.0, 3.0)


@pytest.fixture(scope="module")
def case_files(tmp_path_factory):
    """The coarse teaching case on disk, plus a lesion file holding L1 only."""
    root = tmp_path_factory.mktemp("outdirs")
    teaching = make_teaching_case(spacing_mm=SPACING_MM)
    paths = write_teaching_case(teaching, root / "case")
    paths["lesion_L1"] = root / "L1.seg.nrrd"
    write_seg_nrrd(paths["lesion_L1"], teaching.case.grid, {"L1": teaching.case.lesions["L1"]}, teaching.colors)
    return paths


def _snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_plan_keeps_user_notes_and_replaces_its_own_set_as_a_whole(case_files, tmp_path):
    out = tmp_path / "patient7"
    out.mkdir()
    (out / "notes.txt").write_text("call the patient on Monday")
    assert main(plan_args(case_files, out)) == 0
    assert (out / "notes.txt").read_text() == "call the patient on Monday"
    assert {"plan.json", "accessibility_L2.vtp", "report.html"} <= set(read_marker(out)["files"])
    # a re-run that plans L1 only: the old set goes as a whole (L2's map with it), the notes stay
    assert main(plan_args(case_files, out, lesions="lesion_L1")) == 0
    assert not (out / "accessibility_L2.vtp").exists()
    assert [lesion["id"] for lesion in json.loads((out / "plan.json").read_text())["lesions"]] == ["L1"]
    assert (out / "notes.txt").read_text() == "call the patient on Monday"
    assert sorted(p.name for p in out.iterdir()) == sorted(["notes.txt", MARKER_NAME, *read_marker(out)["files"]])


def test_plan_refuses_to_overwrite_a_user_file(case_files, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "report.html").write_text("<p>my own report</p>")
    assert main(plan_args(case_files, out)) == 2
    err = capsys.readouterr().err.strip()
    # refused before any planning work, in one line
    assert len(err.splitlines()) == 1 and "report.html" in err and "HITIT did not write" in err
    assert _snapshot(out) == {"report.html": b"<p>my own report</p>"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


def test_a_plan_writer_failing_mid_write_leaves_the_previous_plan(case_files, tmp_path, monkeypatch):
    out = tmp_path / "plan"
    assert main(plan_args(case_files, out)) == 0
    (out / "notes.txt").write_text("mine")
    before = _snapshot(out)

    def broken(polydata, path):
        raise OSError("disk full")

    monkeypatch.setattr(plan_folder, "write_polydata", broken)
    with pytest.raises(OSError, match="disk full"):
        main(plan_args(case_files, out, lesions="lesion_L1"))
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan"]


def test_demo_folders_get_the_usual_permissions_and_keep_user_files(tmp_path):
    out = tmp_path / "demo-output"
    old_umask = os.umask(0o022)
    try:
        assert main(["demo", "--out", str(out), "--spacing", "3", "3", "4"]) == 0
        (out / "plan" / "my-notes.txt").write_text("mine")
        (out / "case" / "my-notes.txt").write_text("mine")
        assert main(["demo", "--out", str(out), "--spacing", "3", "3", "4"]) == 0
    finally:
        os.umask(old_umask)
    for folder in (out, out / "case", out / "plan"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o755, folder
    assert (out / "plan" / "my-notes.txt").read_text() == "mine" and (
        out / "case" / "my-notes.txt"
    ).read_text() == "mine"
    assert read_marker(out / "plan")["kind"] == "plan" and read_marker(out / "case")["kind"] == "teaching-case"


def test_response_keeps_user_files_and_refuses_collisions(tmp_path, capsys):
    study = tmp_path / "study.json"
    study.write_text(json.dumps(STUDY))
    out = tmp_path / "response"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["response", str(study), "--out", str(out)]) == 0
    assert (out / "notes.txt").read_text() == "mine" and (out / "response.json").is_file()
    assert main(["response", str(study), "--out", str(out)]) == 0
    capsys.readouterr()
    clash = tmp_path / "clash"
    clash.mkdir()
    (clash / "response.csv").write_text("my spreadsheet")
    assert main(["response", str(study), "--out", str(clash)]) == 2
    assert "response.csv" in capsys.readouterr().err
    assert _snapshot(clash) == {"response.csv": b"my spreadsheet"}
