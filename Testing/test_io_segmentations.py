"""Structures from real TotalSegmentator outputs, Slicer .seg.nrrd round trips, and bad input."""

import json

import nrrd
import numpy as np
import pytest
import SimpleITK as sitk
import slicerio

from hitit.errors import GeometryError, InputError
from hitit.geometry import Grid
from hitit.io.segmentations import read_structures, require_nonempty_masks, totalsegmentator_total_map, write_seg_nrrd
from hitit.io.volumes import read_volume


@pytest.fixture(scope="module")
def ts_ct(ts_dir):
    return read_volume(ts_dir / "example_ct.nii.gz")


def test_totalsegmentator_label_map_volumes(ts_ct, ts_dir):
    masks = read_structures(ts_dir / "example_seg_fast_force_split.nii.gz", ts_ct.grid)
    raw = sitk.GetArrayFromImage(sitk.ReadImage(str(ts_dir / "example_seg_fast_force_split.nii.gz")))
    class_map = {v: k for k, v in totalsegmentator_total_map().items()}
    voxel_ml = np.prod(ts_ct.grid.spacing_mm) / 1000
    for name, approx_ml in (("liver", 1126), ("spleen", 261)):
        volume_ml = masks[name].sum() * voxel_ml
        assert volume_ml == pytest.approx((raw == class_map[name]).sum() * voxel_ml)  # same grid: voxel for voxel
        assert volume_ml == pytest.approx(approx_ml, rel=0.02)
    assert set(masks) <= set(class_map)


def test_dicom_grid_label_map_with_flipped_y_overlays_by_position(ts_dir):
    ct = read_volume(ts_dir / "dicom_20slices")
    labels = sitk.ReadImage(str(ts_dir / "example_seg_dicom.nii.gz"))
    assert labels.GetDirection()[4] == pytest.approx(-1.0)  # the trap: y flipped
    masks = read_structures(ts_dir / "example_seg_dicom.nii.gz", ct.grid)
    liver_label = {v: k for k, v in totalsegmentator_total_map().items()}["liver"]
    raw = sitk.GetArrayFromImage(labels) == liver_label
    k, j, i = np.nonzero(raw)
    label_grid = Grid.from_sitk(labels)
    expected = {tuple(np.round(p, 3)) for p in label_grid.index_to_lps(np.column_stack([i, j, k]))}
    k, j, i = np.nonzero(masks["liver"])
    got = {tuple(np.round(p, 3)) for p in ct.grid.index_to_lps(np.column_stack([i, j, k]))}
    assert got == expected
    # array indices alone would put the liver upside down: that overlay would differ
    assert not np.array_equal(masks["liver"], raw)
    # and the liver sits in CT soft tissue, not in air
    assert np.median(ct.array[masks["liver"]]) > 0


def test_folder_of_masks_and_json_csv_label_maps(tmp_path, ts_ct, ts_dir):
    masks = read_structures(ts_dir / "example_seg_fast_force_split.nii.gz", ts_ct.grid)
    folder = tmp_path / "segmentations"
    folder.mkdir()
    for name in ("liver", "spleen"):
        sitk.WriteImage(ts_ct.grid.image_from_array(masks[name]), str(folder / f"{name}.nii.gz"))
    from_folder = read_structures(folder, ts_ct.grid)
    assert sorted(from_folder) == ["liver", "spleen"]
    np.testing.assert_array_equal(from_folder["liver"], masks["liver"])

    labels = masks["liver"].astype(np.uint8) * 7 + masks["spleen"].astype(np.uint8) * 3
    sitk.WriteImage(ts_ct.grid.image_from_array(labels), str(tmp_path / "labels.nrrd"))
    (tmp_path / "map.json").write_text(json.dumps({"7": "liver", "3": "spleen"}))
    (tmp_path / "map.csv").write_text("label,name\n7,liver\n3,spleen\n")
    for label_map in ("map.json", "map.csv"):
        got = read_structures(tmp_path / "labels.nrrd", ts_ct.grid, tmp_path / label_map)
        np.testing.assert_array_equal(got["spleen"], masks["spleen"])
    with pytest.raises(InputError, match="not in the label map given"):
        read_structures(tmp_path / "labels.nrrd", ts_ct.grid, {7: "liver"})


def test_unknown_labels_without_a_map_are_refused(tmp_path, ts_ct):
    labels = np.zeros(ts_ct.grid.shape, np.uint16)
    labels[50:60, 40:50, 40:50] = 999
    sitk.WriteImage(ts_ct.grid.image_from_array(labels), str(tmp_path / "labels.nii.gz"))
    with pytest.raises(InputError, match="pass a label map file"):
        read_structures(tmp_path / "labels.nii.gz", ts_ct.grid)


def _grid():
    direction = np.array([[0.8660254, -0.5, 0], [0.5, 0.8660254, 0], [0, 0, 1]]).ravel()
    return Grid((30, 25, 12), (0.8, 0.9, 2.5), (-10.0, 20.0, -50.0), direction)


def test_seg_nrrd_round_trip_with_overlaps_in_layers(tmp_path):
    grid = _grid()
    a = np.zeros(grid.shape, bool)
    a[2:8, 5:15, 5:20] = True
    b = np.zeros(grid.shape, bool)
    b[5:10, 10:20, 10:25] = True  # overlaps a
    c = np.zeros(grid.shape, bool)
    c[0:2, 0:3, 0:3] = True
    path = write_seg_nrrd(tmp_path / "lesions.seg.nrrd", grid, {"L1": a, "vessel": b, "L3": c}, {"L1": (1, 0, 0)})
    back = read_structures(path, grid)
    for name, mask in {"L1": a, "vessel": b, "L3": c}.items():
        np.testing.assert_array_equal(back[name], mask)
    # independent readers agree on layers, names, colours and geometry (LPS)
    seg = slicerio.read_segmentation(str(path))
    assert seg["voxels"].ndim == 4
    assert [s["name"] for s in seg["segments"]] == ["L1", "vessel", "L3"]
    assert seg["segments"][0]["color"] == [1.0, 0.0, 0.0]
    _, header = nrrd.read(str(path))
    assert header["space"] == "left-posterior-superior"
    np.testing.assert_allclose(header["space origin"], grid.origin_lps)
    reference = header["Segmentation_ConversionParameters"].split("Reference image geometry|")[1].split("|")[0]
    ijk_to_ras = np.array([float(v) for v in reference.split(";")[:16]]).reshape(4, 4)
    np.testing.assert_allclose(ijk_to_ras, grid.ijk_to_ras_matrix(), atol=1e-9)
    assert header["Segmentation_MasterRepresentation"] == "Binary labelmap"


def test_bad_segmentations_are_clear_errors(tmp_path):
    grid = _grid()
    with pytest.raises(InputError, match="not found"):
        read_structures(tmp_path / "missing.seg.nrrd", grid)
    (tmp_path / "broken.seg.nrrd").write_bytes(b"NRRD0004\ntype: garbage\n")
    with pytest.raises(InputError, match="corrupt"):
        read_structures(tmp_path / "broken.seg.nrrd", grid)
    far = Grid((5, 5, 5), (1, 1, 1), (900, 900, 900), np.eye(3).ravel())
    write_seg_nrrd(tmp_path / "far.seg.nrrd", far, {"liver": np.ones(far.shape, bool)})
    with pytest.raises(GeometryError, match="does not overlap the CT"):
        read_structures(tmp_path / "far.seg.nrrd", grid)
    empty = write_seg_nrrd(tmp_path / "empty.seg.nrrd", grid, {"L1": np.zeros(grid.shape, bool), "L2": np.ones(grid.shape, bool)})
    with pytest.raises(InputError, match="L1 are empty"):
        require_nonempty_masks(read_structures(empty, grid), "lesion")
