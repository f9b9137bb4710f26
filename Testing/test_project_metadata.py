"""The version is written once (hitit.__version__) and the project's changelog and citation agree with it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import hitit

ROOT = Path(__file__).resolve().parents[1]


def test_the_version_is_read_from_the_package():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "hitit.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", hitit.__version__)


def test_citation_names_this_version_and_the_seed_paper():
    text = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    assert re.search(r"^cff-version: 1\.2\.0$", text, re.MULTILINE)
    assert re.search(r"^version: (\S+)$", text, re.MULTILINE).group(1) == hitit.__version__
    assert "doi: 10.1158/1078-0432.CCR-19-4073" in text and "family-names: Tselikas" in text


def test_changelog_has_a_section_for_this_version():
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    sections = re.findall(r"^## \[([^\]]+)\]", text, re.MULTILINE)
    assert sections and (sections[0] == "Unreleased" or sections[0] == hitit.__version__), sections
