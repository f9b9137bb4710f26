"""Shared fixtures: paths to the real test data shipped in Testing/Data, and the real-Slicer-core tier."""

from pathlib import Path

import pytest

import slicer_core_tier

DATA = Path(__file__).parent / "Data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Folder of the real test data sets (each with its SOURCE.txt)."""
    return DATA


@pytest.fixture(scope="session")
def ts_dir() -> Path:
    """The TotalSegmentator example case (real abdominal CT, model segmentation)."""
    return DATA / "totalsegmentator-example"


# --------------------------------------------------------------------- real Slicer core tier
def pytest_configure(config):
    config.addinivalue_line("markers", f"{slicer_core_tier.MARKER}: runs hitit_slicer on Slicer's real core libraries")


def pytest_report_header(config):
    version, reason = slicer_core_tier.status()
    return f"real Slicer core tier: {version}" if version else f"real Slicer core tier: SKIPPED, {reason}"


def pytest_terminal_summary(terminalreporter):
    version, reason = slicer_core_tier.status()
    counts = {}
    for outcome in ("passed", "failed", "error", "skipped"):
        counts[outcome] = sum(1 for report in terminalreporter.stats.get(outcome, [])
                              if slicer_core_tier.MARKER in getattr(report, "keywords", {}) and report.when in ("call", "setup"))
    if not any(counts.values()):
        return
    ran = ", ".join(f"{count} {outcome}" for outcome, count in counts.items() if count)
    where = f"on the real Slicer core, {version}" if version else f"without Slicer's core: {reason}"
    terminalreporter.write_sep("-", f"real Slicer core tier: {ran} {where}")


@pytest.fixture
def slicer_context():
    """A new scene with Slicer's application logic and module logics (``hitit_slicer.context``); closed afterwards."""
    from hitit_slicer.context import createApplicationContext

    context = createApplicationContext()
    yield context
    context.scene.Clear(1)


@pytest.fixture(scope="session")
def teaching_case_files(tmp_path_factory) -> dict:
    """The teaching case written once by the core (ct.nrrd, structures/lesions .seg.nrrd, truth.json)."""
    from hitit_slicer.teaching_case import writeTeachingCase

    return writeTeachingCase(tmp_path_factory.mktemp("teaching-case"))
