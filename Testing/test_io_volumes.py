"""Reading CTs: files and DICOM series (spacing from slice positions), round trips, bad input."""

import gzip
import shutil

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from hitit.case import Volume
from hitit.errors import InputError
from hitit.geometry import Grid
from hitit.io.volumes import header_of_file, read_volume, write_volume


def _dicom_copy(ts_dir, tmp_path, keep=None):
    """A copy of the real 20-slice series in tmp_path (optionally only the files at ``keep`` positions)."""
    files = sorted((ts_dir / "dicom_20slices").iterdir())
    folder = tmp_path / "series"
    folder.mkdir()
    for index, file in enumerate(files):
        if keep is None or index in keep:
            shutil.copy(file, folder / file.name)
    return folder


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
    # each slice of the volume is the file at that position (compare one slice's pixels in HU)
    by_z = {float(d.ImagePositionPatient[2]): f for d, f in zip(datasets, files)}
    ds = pydicom.dcmread(by_z[z[7]])
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    np.testing.assert_array_equal(volume.array[7], hu)
    assert volume.array.min() <= -1000 and volume.array.max() > 500  # HU, rescale applied


def test_dicom_series_with_a_missing_slice_is_refused(ts_dir, tmp_path):
    folder = _dicom_copy(ts_dir, tmp_path)
    by_z = sorted(
        folder.iterdir(), key=lambda f: float(pydicom.dcmread(f, stop_before_pixels=True).ImagePositionPatient[2])
    )
    by_z[9].unlink()
    with pytest.raises(InputError, match=r"unequal slice gaps \(2\.000 to 4\.000 mm"):
        read_volume(folder)


def test_folder_with_two_series_names_them_and_one_can_be_chosen(ts_dir, tmp_path):
    folder = _dicom_copy(ts_dir, tmp_path)
    files = sorted(
        folder.iterdir(), key=lambda f: float(pydicom.dcmread(f, stop_before_pixels=True).ImagePositionPatient[2])
    )
    for index, file in enumerate(files):
        ds = pydicom.dcmread(file)
        ds.SeriesInstanceUID = "1.2.826.0.1.3680043.2.1125.1" if index < 12 else "1.2.826.0.1.3680043.2.1125.2"
        ds.save_as(file)
    ids = sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder))
    assert len(ids) == 2
    with pytest.raises(InputError, match="holds 2 DICOM series.*12 files.*8 files.*series_id") as error:
        read_volume(folder)
    assert all(series in str(error.value) for series in ids)
    first = next(s for s in ids if s.endswith("1125.1"))
    volume = read_volume(folder, series_id=first)
    assert volume.grid.size == (512, 512, 12) and volume.grid.spacing_mm[2] == pytest.approx(2.0)
    with pytest.raises(InputError, match="is not in"):
        read_volume(folder, series_id="9.9.9")


@pytest.mark.parametrize("suffix", [".nrrd", ".nii.gz", ".nii", ".mha"])
def test_round_trip_keeps_geometry_and_values(tmp_path, suffix):
    direction = np.array([[0, 1, 0], [-1, 0, 0], [0, 0, 1]], float).ravel()
    grid = Grid((12, 9, 7), (0.7, 0.8, 5.0), (10.5, -3.25, 99.0), direction)
    array = np.random.default_rng(0).integers(-1000, 2000, grid.shape).astype(np.int16)
    path = write_volume(Volume(grid, array), tmp_path / f"ct{suffix}")
    back = read_volume(path)
    assert back.grid.same_as(grid, 1e-4)
    np.testing.assert_array_equal(back.array, array)


def test_missing_and_corrupt_files_are_clear_errors(tmp_path, ts_dir):
    with pytest.raises(InputError, match="not found"):
        read_volume(tmp_path / "nothing.nrrd")
    corrupt = tmp_path / "ct.nii.gz"
    corrupt.write_bytes(gzip.compress(b"not an image at all" * 10)[:40])  # truncated gzip
    with pytest.raises(InputError, match="Cannot read .*corrupt"):
        read_volume(corrupt)
    real = (ts_dir / "example_ct.nii.gz").read_bytes()
    (tmp_path / "cut_ct.nii.gz").write_bytes(real[: len(real) - 1000])  # a real CT cut short in transfer
    with pytest.raises(InputError, match="corrupt or truncated"):
        read_volume(tmp_path / "cut_ct.nii.gz")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="No DICOM series"):
        read_volume(empty)


def test_2d_and_4d_images_are_refused(tmp_path):
    sitk.WriteImage(sitk.Image([8, 8], sitk.sitkInt16), str(tmp_path / "slice.nrrd"))
    with pytest.raises(InputError, match="2D image.*single-component 3D"):
        read_volume(tmp_path / "slice.nrrd")
    sitk.WriteImage(sitk.Image([6, 5, 4, 3], sitk.sitkInt16), str(tmp_path / "series.nii.gz"))  # 3 time points
    with pytest.raises(InputError, match="4D image"):
        read_volume(tmp_path / "series.nii.gz")
    sitk.WriteImage(sitk.Image([4, 4, 4], sitk.sitkVectorFloat32, 3), str(tmp_path / "vectors.nrrd"))
    with pytest.raises(InputError, match="3 component"):
        read_volume(tmp_path / "vectors.nrrd")


def test_failed_write_keeps_previous_file(tmp_path):
    grid = Grid((4, 4, 4), (1, 1, 1), (0, 0, 0), np.eye(3).ravel())
    path = write_volume(Volume(grid, np.ones(grid.shape, np.int16)), tmp_path / "ct.nrrd")
    before = path.read_bytes()
    for bad in ("ct.unknown", "ct.nhdr"):  # .nhdr keeps voxels in a second file: not atomic, refused
        with pytest.raises(InputError, match="use one of"):
            write_volume(Volume(grid, np.zeros(grid.shape, np.int16)), tmp_path / bad)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["ct.nrrd"]


def test_header_of_a_file_is_read_without_its_voxels(tmp_path, ts_dir):
    """What another program loaded from a file: the contrast keywords of a NRRD header, a DICOM slice's format."""
    image = sitk.Image(4, 4, 4, sitk.sitkInt16)
    image.SetMetaData("ContrastBolusAgent", "iohexol")
    sitk.WriteImage(image, str(tmp_path / "ct.nrrd"))
    assert header_of_file(tmp_path / "ct.nrrd") == {"HeaderFormat": "NRRD", "ContrastBolusAgent": "iohexol"}
    slice_file = sorted((ts_dir / "dicom_20slices").iterdir())[0]
    assert header_of_file(slice_file)["HeaderFormat"] == "DICOM"
    assert header_of_file(tmp_path / "gone.nrrd") == {}
