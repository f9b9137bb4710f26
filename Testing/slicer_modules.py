"""Where the Slicer module folders of this repository are, for the Slicer-facing tests."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: Top-level module folders (each holds <Name>.py, <Name>Lib/, Resources/, CMakeLists.txt).
MODULE_FOLDERS = ("HITITPlanner", "HITITResponse")


def module_files() -> list[Path]:
    """The module files ``<Folder>/<Name>.py`` (capitalised .py directly in a module folder) that exist."""
    files = []
    for folder in MODULE_FOLDERS:
        files += sorted(p for p in (REPO / folder).glob("[A-Z]*.py"))
    return files
