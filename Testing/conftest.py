"""Shared fixtures: paths to the real test data shipped in Testing/Data."""

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "Data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Folder of the real test data sets (each with its SOURCE.txt)."""
    return DATA


@pytest.fixture(scope="session")
def ts_dir() -> Path:
    """The TotalSegmentator example case (real abdominal CT, model segmentation)."""
    return DATA / "totalsegmentator-example"
