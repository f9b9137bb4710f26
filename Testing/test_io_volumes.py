"""Reading CTs: files and DICOM series (spacing from slice positions), round trips, bad input."""

import gzip

import numpy as np
import pydicom
import pytest

from hitit.case import Volume
from hitit.errors import InputError
from hitit.geometry import Grid
from hitit.io.volumes import read_volume, write_volume


def test_dicom_series_spacing_comes_from_positions_not_slice_thickness(ts_dir):
    folder = ts_dir / "dicom_20slices"
    files = sorted(folder.iterdir())
    datasets = [pydicom.dcmread(f, stop_before_pixels=True) for f in files]
    assert float(datasets[0].SliceThickness) == pytest.approx(3.0)
    z = sorted(float(d.ImagePositionPatient[2]) for d in datasets)
    expected_gap = float(np.median(np.diff(z)))
    volume = read_volume(folder)
    assert volume.grid.size == (512, 512, 20)
    assert volume.grid.spacing_mm[2] == pytest.approx(expected_gap) == pytest.approx(2.0)
    # the first slice is the one at the lowest z, whatever the file order on disk
    assert volume.grid.origin_lps[2] == pytest.approx(z[0])
    assert volume.array.min() <= -1000 and volume.array.max() > 500  # HU, rescale applied


@pytest.mark.parametrize("suffix", [".nrrd", ".nii.gz", ".mha"])
def test_round_trip_keeps_geometry_and_values(tmp_path, suffix):
    direction = np.array([[0, 1, 0], [-1, 0, 0], [0, 0, 1]], float).ravel()
    grid = Grid((12, 9, 7), (0.7, 0.8, 5.0), (10.5, -3.25, 99.0), direction)
    array = np.random.default_rng(0).integers(-1000, 2000, grid.shape).astype(np.int16)
    path = write_volume(Volume(grid, array), tmp_path / f"ct{suffix}")
    back = read_volume(path)
    assert back.grid.same_as(grid, 1e-4)
    np.testing.assert_array_equal(back.array, array)


def test_missing_and_corrupt_files_are_clear_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_volume(tmp_path / "nothing.nrrd")
    corrupt = tmp_path / "ct.nii.gz"
    corrupt.write_bytes(gzip.compress(b"not an image at all" * 10)[:40])
    with pytest.raises(InputError, match="Cannot read .*corrupt"):
        read_volume(corrupt)
    with pytest.raises(InputError, match="No DICOM series"):
        read_volume(tmp_path)


def test_failed_write_keeps_previous_file(tmp_path):
    grid = Grid((4, 4, 4), (1, 1, 1), (0, 0, 0), np.eye(3).ravel())
    path = write_volume(Volume(grid, np.ones(grid.shape, np.int16)), tmp_path / "ct.nrrd")
    before = path.read_bytes()
    with pytest.raises(InputError):
        write_volume(Volume(grid, np.zeros(grid.shape, np.int16)), tmp_path / "ct.unknown")
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["ct.nrrd"]
