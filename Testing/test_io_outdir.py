"""Output folders never lose a user's file: marker, whole-set replacement, refusal, permissions, failures."""

from __future__ import annotations

import json
import os
import stat

import pytest

from hitit.errors import InputError
from hitit.io.outdir import MARKER_NAME, read_marker, write_output_set


def _writer(files: dict[str, str]):
    """A writer that writes ``files`` (relative name -> text) into the staging folder."""

    def write(staging):
        paths = {}
        for name, text in files.items():
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            paths[name] = path
        return paths

    return write


def _tree(folder) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_missing_target_is_created_with_usual_permissions_and_marker(tmp_path):
    old_umask = os.umask(0o022)
    try:
        paths = write_output_set(tmp_path / "a" / "out", "plan", _writer({"plan.json": "{}", "sub/x.txt": "x"}))
    finally:
        os.umask(old_umask)
    out = tmp_path / "a" / "out"
    assert paths == {"plan.json": out / "plan.json", "sub/x.txt": out / "sub" / "x.txt"}
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "sub").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o755
    marker = read_marker(out)
    assert marker["kind"] == "plan" and marker["files"] == ["plan.json", "sub/x.txt"]
    # nothing left beside the target (no staging folder)
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["out"]


def test_user_files_survive_and_set_is_written_beside_them(tmp_path):
    out = tmp_path / "patient7"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    write_output_set(out, "plan", _writer({"plan.json": "1"}))
    assert _tree(out) == {"notes.txt": "my notes", "plan.json": "1", MARKER_NAME: (out / MARKER_NAME).read_text()}


def test_rerun_replaces_the_old_set_as_a_whole_and_keeps_user_files(tmp_path):
    out = tmp_path / "out"
    write_output_set(out, "plan", _writer({"plan.json": "old", "accessibility_L1.vtk": "old", "d/old.txt": "o"}))
    (out / "notes.txt").write_text("mine")
    (out / "d" / "mine.txt").write_text("mine too")
    write_output_set(out, "plan", _writer({"plan.json": "new", "accessibility_L2.vtk": "new"}))
    tree = _tree(out)
    assert tree.pop(MARKER_NAME)
    assert tree == {"plan.json": "new", "accessibility_L2.vtk": "new", "notes.txt": "mine", "d/mine.txt": "mine too"}
    assert read_marker(out)["files"] == ["accessibility_L2.vtk", "plan.json"]
    # a sub-folder of the old set that held only HITIT's files is gone with them
    write_output_set(tmp_path / "o2", "plan", _writer({"e/a.txt": "a"}))
    write_output_set(tmp_path / "o2", "plan", _writer({"b.txt": "b"}))
    assert not (tmp_path / "o2" / "e").exists()


def test_collision_with_a_user_file_refuses_and_changes_nothing(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "plan.json").write_text("the user's own plan")
    before = _tree(out)
    with pytest.raises(InputError, match=r"HITIT did not write \(plan\.json\)") as error:
        write_output_set(out, "plan", _writer({"plan.json": "new", "report.html": "r"}))
    assert "\n" not in str(error.value)
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_collision_after_a_hitit_run_refuses_for_a_user_file_of_a_new_name(tmp_path):
    out = tmp_path / "out"
    write_output_set(out, "plan", _writer({"plan.json": "1"}))
    (out / "deposits.mrk.json").write_text("user's")
    before = _tree(out)
    with pytest.raises(InputError, match="deposits.mrk.json"):
        write_output_set(out, "plan", _writer({"plan.json": "2", "deposits.mrk.json": "2"}))
    assert _tree(out) == before


def test_another_kind_of_hitit_output_is_not_replaced(tmp_path):
    out = tmp_path / "out"
    write_output_set(out, "plan", _writer({"plan.json": "1"}))
    with pytest.raises(InputError, match="holds a HITIT plan output"):
        write_output_set(out, "review", _writer({"review.json": "1"}))
    assert read_marker(out)["kind"] == "plan" and (out / "plan.json").read_text() == "1"


def test_a_failing_writer_leaves_the_previous_content(tmp_path):
    out = tmp_path / "out"
    write_output_set(out, "plan", _writer({"plan.json": "old", "report.html": "old"}))
    (out / "notes.txt").write_text("mine")
    before = _tree(out)

    def failing(staging):
        (staging / "plan.json").write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_output_set(out, "plan", failing)
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    with pytest.raises(RuntimeError):
        write_output_set(tmp_path / "new", "plan", failing)
    assert not (tmp_path / "new").exists()


def test_a_failing_move_restores_the_previous_set(tmp_path, monkeypatch):
    out = tmp_path / "out"
    write_output_set(out, "plan", _writer({"a.txt": "old a", "b.txt": "old b"}))
    before = _tree(out)
    import hitit.io.outdir as outdir

    real_replace = os.replace
    calls = []

    def flaky(source, destination):
        calls.append(destination)
        if str(destination).endswith("b.txt") and "staging" in str(source):
            raise OSError("device gone")
        return real_replace(source, destination)

    monkeypatch.setattr(outdir.os, "replace", flaky)
    with pytest.raises(OSError, match="device gone"):
        write_output_set(out, "plan", _writer({"a.txt": "new a", "b.txt": "new b"}))
    monkeypatch.setattr(outdir.os, "replace", real_replace)
    assert calls, "the move was exercised"
    assert _tree(out) == before


def test_a_file_as_target_and_a_damaged_marker_are_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        write_output_set(tmp_path / "f", "plan", _writer({"a": "a"}))
    out = tmp_path / "out"
    out.mkdir()
    (out / MARKER_NAME).write_text(json.dumps({"kind": "plan", "files": ["../../etc/passwd"]}))
    with pytest.raises(InputError, match="outside the folder"):
        write_output_set(out, "plan", _writer({"a": "a"}))
