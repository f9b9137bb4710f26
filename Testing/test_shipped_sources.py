"""Nothing the project ships names a development path, the development notes or an internal task number;
every rule cites its published source (see docs/evidence.md).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Folders that are not shipped: local environments, caches and outputs of a run.
NOT_SHIPPED = {".git", ".venv", "__pycache__", ".pytest_cache", ".hypothesis", ".ruff_cache", "demo-output", "build"}
# The patterns are assembled from pieces so that this file does not match itself.
FORBIDDEN = {
    "development path": re.compile("/" + "work/"),
    "development notes": re.compile("HITIT" + "-domain", re.IGNORECASE),
    "shared development folder": re.compile(r"(\.\./|\b)" + "shared" + r"/(domain|slicer|data)\b"),
    "internal issue or task number": re.compile(r"\b(issue|task)\s*#?\d+", re.IGNORECASE),
    # a bare section sign pointed into the notes; a standard's own sections (DICOM "PS3.5 \u00a77.5") are fine
    "section of the development notes": re.compile(r"(?<!PS3\.\d )(?<!PS3\.\d\d )" + "\u00a7" + r"\s*\d"),
}


def shipped_files() -> list[Path]:
    """Every text file of the repository: the files git tracks, or a walk of the tree without git."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
        candidates = [ROOT / name for name in listed.decode().split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        candidates = []
        for folder, dirs, names in os.walk(ROOT):
            dirs[:] = [d for d in dirs if d not in NOT_SHIPPED]
            candidates += [Path(folder) / name for name in names]
    files = []
    for path in candidates:
        if path.is_file() and not NOT_SHIPPED & set(path.relative_to(ROOT).parts):
            data = path.read_bytes()
            if b"\0" not in data[:8192]:
                files.append(path)
    return files


def test_no_shipped_file_cites_development_paths_notes_or_task_numbers():
    files = shipped_files()
    assert len(files) > 50 and ROOT / "README.md" in files
    found = []
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        for what, pattern in FORBIDDEN.items():
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(ROOT)}:{line}: {what} ({match.group(0)!r})")
    assert not found, "\n".join(found)


def test_the_scan_catches_what_it_forbids():
    samples = {
        "development path": "see /" + "work/shared/x",
        "development notes": "HITIT" + "-domain.md",
        "shared development folder": "../" + "shared" + "/domain",
        "internal issue or task number": "as in " + "issue" + " 4",
        "section of the development notes": "\u00a7" + "4.1",
    }
    for what, text in samples.items():
        assert FORBIDDEN[what].search(text), what
    assert not FORBIDDEN["internal issue or task number"].search("a known issue with the reader")
    assert not FORBIDDEN["section of the development notes"].search("DICOM PS3.5 " + "\u00a7" + "7.5")


@pytest.mark.parametrize("path", sorted((ROOT / "hitit" / "dosing" / "protocols").glob("*.json")), ids=lambda p: p.name)
def test_every_protocol_names_its_published_source_or_says_it_has_none(path):
    source = json.loads(path.read_text(encoding="utf-8"))["source"]
    assert re.search(r"\[(V|R|D)\]", source)
    assert re.search(r"PMID \d+|PMC\d+|doi:10\.|prescribing information", source) or "not verified" in source


def test_the_evidence_document_is_shipped_and_grades_every_claim():
    text = (ROOT / "docs" / "evidence.md").read_text(encoding="utf-8")
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("| ") and not line.startswith("|---")
    ]
    claims = [row for row in rows if len(row) == 3 and row[0] != "claim"]
    assert len(claims) >= 40
    ungraded = [row[0] for row in claims if not re.fullmatch(r"(\[(V|R|D)\][ /a-z]*)+", row[1])]
    assert not ungraded, ungraded
