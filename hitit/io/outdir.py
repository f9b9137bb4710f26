"""Write a set of output files into a folder without ever losing a file HITIT did not write.

Every folder of outputs HITIT writes (a plan, a teaching case, a response or review report) holds a
marker file, :data:`MARKER_NAME`, naming the kind of output, the HITIT version and every file of the
set. :func:`write_output_set` writes the whole set into a staging folder beside the target first and
only then moves it into place:

- target missing: it is created (parents too) with the usual permissions (0777 minus the umask, as
  ``mkdir`` does) and the set is moved in;
- target holds a marker of the same kind: the files the old marker lists are replaced by the new set as
  a whole (an old file the new run does not write disappears); every other file is left alone;
- target exists without a marker: the set is written beside the files already there, unless a name
  would overwrite one of them, in which case nothing is changed and :class:`~hitit.errors.InputError`
  says what to do.

A writer that fails, or a move that fails, leaves the target as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from hitit import __version__
from hitit.errors import InputError
from hitit.io.atomic import write_text_atomic

#: Name of the marker file in every folder of outputs HITIT writes.
MARKER_NAME = ".hitit-output.json"


def write_output_set(
    target: str | os.PathLike, kind: str, write: Callable[[Path], Mapping[str, Path]]
) -> dict[str, Path]:
    """Write one set of outputs of ``kind`` (e.g. ``"plan"``) into the folder ``target``.

    ``write(staging)`` writes every file of the set into the empty folder ``staging`` (sub-folders
    allowed) and returns the written paths by key; the result maps the same keys to the paths the
    files have in ``target`` once the set is in place. Raises InputError (nothing changed) when the
    set would overwrite a file HITIT did not write, or when ``target`` holds another kind of output.
    """
    target = Path(target)
    check_output_set(target, kind, [])
    old_files = _previous_files(target, kind)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.staging-", dir=target.parent))
    try:
        staged = dict(write(staging))
        new_files = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if not p.is_dir())
        if MARKER_NAME in new_files:
            raise ValueError(f"a writer must not write {MARKER_NAME} itself")
        marker = {"kind": kind, "hitit_version": __version__, "files": new_files}
        write_text_atomic(staging / MARKER_NAME, json.dumps(marker, indent=1) + "\n")
        if target.exists():
            _refuse_collisions(target, new_files, old_files)
            _move_set(staging, target, new_files, old_files)
        else:
            _chmod_tree_usual(staging)
            staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return {key: target / Path(path).relative_to(staging) for key, path in staged.items()}


def check_output_set(target: str | os.PathLike, kind: str, names: list[str]) -> None:
    """Raise InputError now if writing files ``names`` (relative paths) of ``kind`` into ``target`` would be refused.

    For commands that compute for a while before writing: they check the names they know they will
    write first, so a refusal comes before the work, not after it.
    """
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise InputError(f"{target} is a file, not a folder: give --out a folder name.")
    if target.is_dir():
        _refuse_collisions(target, list(names), _previous_files(target, kind))


def read_marker(folder: str | os.PathLike) -> dict | None:
    """The marker of a folder HITIT wrote (kind, hitit_version, files), or None when there is none."""
    path = Path(folder) / MARKER_NAME
    if not path.is_file():
        return None
    try:
        marker = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(f"{path} is damaged: remove it only if no file of that folder is yours to keep.") from None
    if not (isinstance(marker, dict) and isinstance(marker.get("kind"), str) and isinstance(marker.get("files"), list)):
        raise InputError(
            f"{path} is not a HITIT output marker: remove it only if no file of that folder is yours to keep."
        )
    return marker


def _previous_files(target: Path, kind: str) -> list[str]:
    """Files of the set HITIT wrote into ``target`` before (from its marker); [] for a folder without one."""
    marker = read_marker(target) if target.is_dir() else None
    if marker is None:
        return []
    if marker["kind"] != kind:
        raise InputError(f"{target} holds a HITIT {marker['kind']} output: write the {kind} into another folder.")
    files = [str(f) for f in marker["files"]]
    for name in files:
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise InputError(f"{target / MARKER_NAME} lists {name!r}, outside the folder: it is not HITIT's marker.")
    return files


def _refuse_collisions(target: Path, new_files: list[str], old_files: list[str]) -> None:
    """Raise InputError if a new file would overwrite something HITIT did not write there."""
    ours = set(old_files) | {MARKER_NAME}
    clashes = [name for name in new_files if name not in ours and _exists(target / name)]
    # a new file inside a sub-folder whose name is taken by a user's file cannot be written either
    clashes += [
        name
        for name in new_files
        if any(
            (target / parent).is_file() and parent.as_posix() not in ours
            for parent in Path(name).parents
            if parent != Path(".")
        )
    ]
    if clashes:
        listed = ", ".join(sorted(set(clashes))[:5]) + (" ..." if len(set(clashes)) > 5 else "")
        raise InputError(
            f"{target} already holds files HITIT did not write ({listed}): "
            "choose an empty or new --out folder, or move those files away."
        )


def _move_set(staging: Path, target: Path, new_files: list[str], old_files: list[str]) -> None:
    """Replace the old set in ``target`` by the staged one; on any failure restore the old set."""
    backup = Path(tempfile.mkdtemp(prefix=f".{target.name}.previous-", dir=target.parent))
    moved_old: list[str] = []
    moved_new: list[str] = []
    try:
        for name in [*old_files, MARKER_NAME]:
            if (target / name).is_file() or (target / name).is_symlink():
                _rename(target / name, backup / name)
                moved_old.append(name)
        for name in [*new_files, MARKER_NAME]:
            _rename(staging / name, target / name)
            moved_new.append(name)
    except BaseException:
        for name in reversed(moved_new):
            _rename(target / name, staging / name)
        _remove_empty_parents(target, moved_new)
        for name in reversed(moved_old):
            _rename(backup / name, target / name)
        raise
    else:
        _remove_empty_parents(target, [name for name in old_files if name not in set(new_files)])
    finally:
        shutil.rmtree(backup, ignore_errors=True)


def _rename(source: Path, destination: Path) -> None:
    """Move one file, creating the destination's parent folders with the usual permissions."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, destination)


def _remove_empty_parents(target: Path, removed: list[str]) -> None:
    """Remove sub-folders that held only removed files of the old set (never a folder with anything left)."""
    for name in removed:
        for parent in Path(name).parents:
            folder = target / parent
            if parent == Path(".") or not folder.is_dir() or any(folder.iterdir()):
                break
            folder.rmdir()


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _chmod_tree_usual(root: Path) -> None:
    """Give ``root`` (made private by mkdtemp) and its sub-folders the permissions ``mkdir`` would."""
    mode = 0o777 & ~_umask()
    for folder in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        os.chmod(folder, mode)


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask
