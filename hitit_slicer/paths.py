"""Folders and files the modules' path parameters name, and the new folders their exports write into."""

from __future__ import annotations

import datetime as dt
from pathlib import Path


def pathParameter(value) -> Path | None:
    """A folder or file parameter, or None when unset (empty, or ``.``: how the parameter node stores an unset path)."""
    text = str(value).strip() if value is not None else ""
    return Path(text) if text not in ("", ".") else None


def existingFolder(value, what: str) -> Path:
    """The folder a parameter names; ValueError saying what to choose when it is unset or missing."""
    folder = pathParameter(value)
    if folder is None:
        raise ValueError(f"Choose the folder to write {what} into.")
    if not folder.is_dir():
        raise ValueError(f"The folder {folder} does not exist: choose an existing folder to write {what} into.")
    return folder


def newOutputFolder(parent: Path, title: str, now: dt.datetime | None = None) -> Path:
    """A folder inside ``parent`` that does not exist yet, ``<title> <date time>`` (numbered if taken).

    Exports write a new folder so that the folder the user chose, and whatever is in it, stays as it was.
    """
    stamp = (now or dt.datetime.now()).strftime("%Y-%m-%d %H%M%S")
    candidate, number = Path(parent) / f"{title} {stamp}", 1
    while candidate.exists():
        number += 1
        candidate = Path(parent) / f"{title} {stamp} ({number})"
    return candidate
