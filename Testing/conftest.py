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
    version, reason = slicer_core_tier.status()
    if version is None and slicer_core_tier.required():
        raise pytest.UsageError(
            f"{slicer_core_tier.REQUIRED_VARIABLE}=1 but the real Slicer core tier cannot run: {reason}"
        )


def pytest_report_header(config):
    version, reason = slicer_core_tier.status()
    return f"real Slicer core tier: {version}" if version else f"real Slicer core tier: SKIPPED, {reason}"


def pytest_terminal_summary(terminalreporter):
    version, reason = slicer_core_tier.status()
    counts = {}
    for outcome in ("passed", "failed", "error", "skipped"):
        counts[outcome] = sum(
            1
            for report in terminalreporter.stats.get(outcome, [])
            if slicer_core_tier.MARKER in getattr(report, "keywords", {}) and report.when in ("call", "setup")
        )
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


# --------------------------------------------------------------------- DICOM made at test time
@pytest.fixture(scope="session")
def ts_dicom_dir(tmp_path_factory, ts_dir) -> Path:
    """The TotalSegmentator DICOM CT series with UIDs filled in and uncompressed pixels (a copy)."""
    from dicom_data import ct_series_with_uids

    return ct_series_with_uids(ts_dir / "dicom_20slices", tmp_path_factory.mktemp("dicom") / "ct")


@pytest.fixture(scope="session")
def ts_dicom_truth(ts_dicom_dir, ts_dir):
    """(CT volume read from the DICOM copy, TotalSegmentator label-map masks on its grid)."""
    from hitit.io.segmentations import read_structures
    from hitit.io.volumes import read_volume

    ct = read_volume(ts_dicom_dir)
    return ct, read_structures(ts_dir / "example_seg_dicom.nii.gz", ct.grid)


@pytest.fixture(scope="session")
def ts_dcmqi_seg(tmp_path_factory, ts_dicom_dir, ts_dir) -> Path:
    """DICOM SEG of the TotalSegmentator label map, written by dcmqi (an independent writer)."""
    from dicom_data import dcmqi_seg, flipped_label_image

    from hitit.io.segmentations import nifti_label_table, totalsegmentator_total_map

    tmp = tmp_path_factory.mktemp("dcmqi")
    source = ts_dir / "example_seg_dicom.nii.gz"
    names = nifti_label_table(source) or totalsegmentator_total_map()  # as read_structures names them
    labels = flipped_label_image(source, ts_dicom_dir, tmp / "labels.nrrd")
    return dcmqi_seg(labels, names, ts_dicom_dir, tmp / "ts.seg.dcm", tmp)


@pytest.fixture(scope="session")
def ts_rtstruct(tmp_path_factory, ts_dicom_dir, ts_dicom_truth) -> Path:
    """RTSTRUCT of the TotalSegmentator masks plus an analytic ring (a hole), written by rt-utils."""
    from dicom_data import rtutils_rtstruct

    ct, truth = ts_dicom_truth
    return rtutils_rtstruct(
        ts_dicom_dir, {**truth, "ring": ring_mask(ct.grid)}, tmp_path_factory.mktemp("rtutils") / "ts.rtstruct.dcm"
    )


def ring_mask(grid):
    """An annulus (radii 20 and 40 voxels, centre of the slice) on slices 5-14 of ``grid``, with a
    one-voxel-wide spoke across the hole: holes, a thin part and a ring in one ROI.
    """
    import numpy as np

    k, j, i = np.indices(grid.shape)
    ci, cj = grid.size[0] / 2, grid.size[1] / 2
    r2 = (i - ci) ** 2 + (j - cj) ** 2
    ring = (r2 >= 20**2) & (r2 <= 40**2)
    spoke = (j == int(cj)) & (i >= ci) & (i <= ci + 30)
    return (ring | spoke) & (k >= 5) & (k < 15)
