"""Structures from real TotalSegmentator outputs, Slicer .seg.nrrd round trips, and bad input."""

import gzip
import json

import nrrd
import numpy as np
import pytest
import SimpleITK as sitk
import slicerio

from hitit.errors import GeometryError, InputError
from hitit.geometry import Grid
from hitit.io.segmentations import (
    empty_masks,
    nifti_label_table,
    read_structures,
    require_nonempty_masks,
    totalsegmentator_total_map,
    write_seg_nrrd,
)
from hitit.io.volumes import read_volume

TS_LIVER, TS_SPLEEN = 5, 1  # TotalSegmentator "total" v2 label values


@pytest.fixture(scope="module")
def ts_ct(ts_dir):
    return read_volume(ts_dir / "example_ct.nii.gz")


@pytest.fixture(scope="module")
def ts_masks(ts_ct, ts_dir):
    return read_structures(ts_dir / "example_seg_fast_force_split.nii.gz", ts_ct.grid)


def _physical_voxels(grid, mask):
    """Set of LPS voxel centres (mm, rounded to 1 µm) where ``mask`` is set."""
    k, j, i = np.nonzero(mask)
    return {tuple(p) for p in np.round(grid.index_to_lps(np.column_stack([i, j, k])), 3)}


def test_totalsegmentator_label_map_volumes(ts_masks, ts_dir):
    image = sitk.ReadImage(str(ts_dir / "example_seg_fast_force_split.nii.gz"))
    raw = sitk.GetArrayFromImage(image)
    voxel_ml = np.prod(image.GetSpacing()) / 1000  # direct count, independent of hitit's Grid
    for name, label, approx_ml in (("liver", TS_LIVER, 1126), ("spleen", TS_SPLEEN, 261)):
        volume_ml = ts_masks[name].sum() * voxel_ml
        assert volume_ml == pytest.approx((raw == label).sum() * voxel_ml)  # same grid: voxel for voxel
        assert volume_ml == pytest.approx(approx_ml, rel=0.02)
    assert len(ts_masks) == len(np.unique(raw)) - 1
    assert set(ts_masks) <= set(totalsegmentator_total_map().values())


def test_label_names_from_file_table_then_builtin_map(tmp_path, ts_ct, ts_dir, ts_masks):
    source = ts_dir / "example_seg_fast_force_split.nii.gz"
    table = nifti_label_table(source)  # TotalSegmentator stores its label table in the NIfTI header
    assert table[TS_LIVER] == "liver" and all(totalsegmentator_total_map()[k] == v for k, v in table.items())
    # the file's own table wins: rename liver in the stored table (same length keeps the offsets)
    data = gzip.decompress(source.read_bytes())
    renamed = tmp_path / "renamed.nii.gz"
    renamed.write_bytes(gzip.compress(data.replace(b"CDATA[liver]", b"CDATA[hepar]", 1)))
    masks = read_structures(renamed, ts_ct.grid)
    assert "liver" not in masks and np.array_equal(masks["hepar"], ts_masks["liver"])
    # without a table (re-saved by SimpleITK) the built-in "total" v2 map names the labels
    plain = tmp_path / "plain.nii.gz"
    sitk.WriteImage(sitk.ReadImage(str(source)), str(plain))
    assert nifti_label_table(plain) == {}
    masks = read_structures(plain, ts_ct.grid)
    assert np.array_equal(masks["spleen"], ts_masks["spleen"])
    # a NRRD label map is never a TotalSegmentator output: its labels need a map
    sitk.WriteImage(sitk.ReadImage(str(source)), str(tmp_path / "labels.nrrd"))
    with pytest.raises(InputError, match="names no labels: pass a label map file"):
        read_structures(tmp_path / "labels.nrrd", ts_ct.grid)


def test_dicom_grid_label_map_with_flipped_y_overlays_by_position(ts_dir):
    ct = read_volume(ts_dir / "dicom_20slices")
    labels = sitk.ReadImage(str(ts_dir / "example_seg_dicom.nii.gz"))
    assert labels.GetDirection()[4] == pytest.approx(-1.0)  # the trap: y flipped
    masks = read_structures(ts_dir / "example_seg_dicom.nii.gz", ct.grid)
    raw = sitk.GetArrayFromImage(labels) == TS_LIVER
    assert raw.sum() > 1000
    # the liver occupies the same physical voxel centres as in the label map's own geometry
    assert _physical_voxels(ct.grid, masks["liver"]) == _physical_voxels(Grid.from_sitk(labels), raw)
    # array indices alone would put the liver upside down: that overlay would differ
    assert not np.array_equal(masks["liver"], raw)
    # and the liver sits in CT soft tissue (liver HU), not in air or fat
    assert 0 < np.median(ct.array[masks["liver"]]) < 300


def test_cropped_label_map_is_placed_by_physical_position(tmp_path, ts_ct, ts_dir, ts_masks):
    labels = sitk.ReadImage(str(ts_dir / "example_seg_fast_force_split.nii.gz"))
    start, size = [50, 30, 60], [60, 55, 52]  # (i, j, k): cuts through the liver (i 37-104, j 25-86, k 69-111)
    cropped = sitk.RegionOfInterest(labels, size, start)  # keeps physical placement, new origin
    assert cropped.GetSize() != labels.GetSize() and cropped.GetOrigin() != labels.GetOrigin()
    sitk.WriteImage(cropped, str(tmp_path / "cropped.nii.gz"))
    masks = read_structures(tmp_path / "cropped.nii.gz", ts_ct.grid)
    expected = np.zeros(ts_ct.grid.shape, bool)
    window = tuple(slice(s, s + n) for s, n in zip(start[::-1], size[::-1]))
    expected[window] = ts_masks["liver"][window]
    assert expected.sum() > 1000
    np.testing.assert_array_equal(masks["liver"], expected)


def test_folder_of_masks_and_json_csv_label_maps(tmp_path, ts_ct, ts_masks):
    folder = tmp_path / "segmentations"
    folder.mkdir()
    for name in ("liver", "spleen"):
        sitk.WriteImage(ts_ct.grid.image_from_array(ts_masks[name]), str(folder / f"{name}.nii.gz"))
    (folder / "notes.txt").write_text("not an image")
    from_folder = read_structures(folder, ts_ct.grid)
    assert sorted(from_folder) == ["liver", "spleen"]
    np.testing.assert_array_equal(from_folder["liver"], ts_masks["liver"])

    labels = ts_masks["liver"].astype(np.uint8) * 7 + ts_masks["spleen"].astype(np.uint8) * 3
    sitk.WriteImage(ts_ct.grid.image_from_array(labels), str(folder / "all.nii.gz"))
    with pytest.raises(InputError, match="all.nii.gz is not a binary mask"):
        read_structures(folder, ts_ct.grid)
    sitk.WriteImage(ts_ct.grid.image_from_array(labels), str(tmp_path / "labels.nrrd"))
    (tmp_path / "map.json").write_text(json.dumps({"7": "liver", "3": "spleen"}))
    (tmp_path / "map.csv").write_text("label,name\n7,liver\n3,spleen\n")
    for label_map in ("map.json", "map.csv"):
        got = read_structures(tmp_path / "labels.nrrd", ts_ct.grid, tmp_path / label_map)
        np.testing.assert_array_equal(got["spleen"], ts_masks["spleen"])
        np.testing.assert_array_equal(got["liver"], ts_masks["liver"])
    with pytest.raises(InputError, match="not in the label map given"):
        read_structures(tmp_path / "labels.nrrd", ts_ct.grid, {7: "liver"})
    (tmp_path / "bad.csv").write_text("value,structure\n7,liver\n")
    with pytest.raises(InputError, match="CSV with columns label,name"):
        read_structures(tmp_path / "labels.nrrd", ts_ct.grid, tmp_path / "bad.csv")


def test_unknown_labels_without_a_map_are_refused(tmp_path, ts_ct):
    labels = np.zeros(ts_ct.grid.shape, np.uint16)
    labels[50:60, 40:50, 40:50] = 999
    sitk.WriteImage(ts_ct.grid.image_from_array(labels), str(tmp_path / "labels.nii.gz"))
    with pytest.raises(InputError, match=r"\[999\].*pass a label map file"):
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
    assert [s["layer"] for s in seg["segments"]] == [0, 1, 0]
    assert seg["segments"][0]["color"] == [1.0, 0.0, 0.0]
    np.testing.assert_allclose(seg["ijkToLPS"], grid.ijk_to_lps_matrix(), atol=1e-9)
    voxels, header = nrrd.read(str(path))
    assert header["space"] == "left-posterior-superior" and header["dimension"] == 4
    assert header["kinds"] == ["list", "domain", "domain", "domain"]
    assert list(header["sizes"]) == [2, *grid.size]
    np.testing.assert_allclose(header["space origin"], grid.origin_lps)
    np.testing.assert_allclose(header["space directions"][1:], grid.ijk_to_lps_matrix()[:3, :3].T, atol=1e-9)
    # the header keys Slicer's segmentation storage node writes
    parameters = header["Segmentation_ConversionParameters"]
    assert parameters.startswith("Reference image geometry|") and parameters.endswith(
        "&"
    )  # Slicer parses "&"-ended items
    reference = parameters.split("|")[1].split(";")
    np.testing.assert_allclose(np.array(reference[:16], float).reshape(4, 4), grid.ijk_to_ras_matrix(), atol=1e-9)
    assert [int(v) for v in reference[16:22]] == [0, 29, 0, 24, 0, 11]
    assert header["Segmentation_MasterRepresentation"] == "Binary labelmap"
    assert header["Segmentation_ContainedRepresentationNames"] == "Binary labelmap|"
    assert header["Segmentation_ReferenceImageExtentOffset"] == "0 0 0"
    assert [header[f"Segment{n}_ID"] for n in range(3)] == ["Segment_1", "Segment_2", "Segment_3"]
    assert header["Segment0_Color"] == "1.0 0.0 0.0" and header["Segment1_LabelValue"] == "1"
    assert header["Segment0_Extent"] == "5 19 5 14 2 7"  # i0 i1 j0 j1 k0 k1 of a
    assert "Segment3_ID" not in header
    np.testing.assert_array_equal(voxels[1].transpose(2, 1, 0) == 1, b)


def test_seg_nrrd_extent_offset_and_segment_extents_as_slicer_reads_them(tmp_path):
    """A Slicer-style file on a cropped grid: placed by its space origin; voxels outside a segment's extent ignored."""
    ct = _grid()
    offset = np.array([4, 6, 3])  # stored grid starts at CT voxel (4, 6, 3)
    stored_size = (10, 8, 5)
    voxels = np.zeros(stored_size, np.uint8)  # (i, j, k), as pynrrd writes by default
    voxels[1:4, 2:5, 1:3] = 1  # segment "tumor" (label 1)
    voxels[9, 7, 4] = 2  # a stray voxel of label 2 outside the extent of segment "vessel"
    voxels[5:7, 0:2, 0:2] = 2
    header = {
        "type": "uint8",
        "dimension": 3,
        "space": "left-posterior-superior",
        "kinds": ["domain"] * 3,
        "space directions": ct.ijk_to_lps_matrix()[:3, :3].T,
        "space origin": ct.index_to_lps(offset.astype(float)),
        "encoding": "gzip",
        "Segmentation_ReferenceImageExtentOffset": " ".join(str(v) for v in offset),
        "Segment0_ID": "Segment_1",
        "Segment0_Name": "tumor",
        "Segment0_LabelValue": "1",
        "Segment0_Layer": "0",
        "Segment0_Extent": "1 3 2 4 1 2",
        "Segment1_ID": "Segment_2",
        "Segment1_Name": "vessel",
        "Segment1_LabelValue": "2",
        "Segment1_Layer": "0",
        "Segment1_Extent": "5 6 0 1 0 1",
        "Segment2_ID": "Segment_3",
        "Segment2_Name": "empty",
        "Segment2_LabelValue": "3",
        "Segment2_Layer": "0",
        "Segment2_Extent": "0 -1 0 -1 0 -1",
    }
    nrrd.write(str(tmp_path / "slicer.seg.nrrd"), voxels, header)
    masks = read_structures(tmp_path / "slicer.seg.nrrd", ct)
    expected_tumor = np.zeros(ct.shape, bool)
    expected_tumor[4:6, 8:11, 5:8] = True  # (k, j, i) = stored + offset
    np.testing.assert_array_equal(masks["tumor"], expected_tumor)
    assert masks["vessel"].sum() == 8 and not masks["vessel"][3 + 4, 6 + 7, 4 + 9]
    assert empty_masks(masks) == ["empty"]


def test_bad_segmentations_are_clear_errors(tmp_path):
    grid = _grid()
    with pytest.raises(InputError, match="not found"):
        read_structures(tmp_path / "missing.seg.nrrd", grid)
    (tmp_path / "broken.seg.nrrd").write_bytes(b"NRRD0004\ntype: garbage\n")
    with pytest.raises(InputError, match="corrupt"):
        read_structures(tmp_path / "broken.seg.nrrd", grid)
    good = write_seg_nrrd(tmp_path / "good.seg.nrrd", grid, {"L1": np.ones(grid.shape, bool)})
    (tmp_path / "cut.seg.nrrd").write_bytes(good.read_bytes()[:-20])  # truncated gzip data
    with pytest.raises(InputError, match="corrupt"):
        read_structures(tmp_path / "cut.seg.nrrd", grid)
    noise = np.random.default_rng(0).integers(0, 2, grid.shape).astype(np.uint8)
    for suffix in (".nii.gz", ".nii"):  # SimpleITK alone would read these truncated files as zeros
        sitk.WriteImage(grid.image_from_array(noise), str(tmp_path / f"labels{suffix}"))
        data = (tmp_path / f"labels{suffix}").read_bytes()
        (tmp_path / f"cut{suffix}").write_bytes(data[: len(data) * 2 // 3])
        with pytest.raises(InputError, match="corrupt"):
            read_structures(tmp_path / f"cut{suffix}", grid, {1: "liver"})
    far = Grid((5, 5, 5), (1, 1, 1), (900, 900, 900), np.eye(3).ravel())
    write_seg_nrrd(tmp_path / "far.seg.nrrd", far, {"liver": np.ones(far.shape, bool)})
    with pytest.raises(
        GeometryError, match="far.seg.nrrd:liver' does not overlap the CT.*size \\(5, 5, 5\\).*size \\(30, 25, 12\\)"
    ):
        read_structures(tmp_path / "far.seg.nrrd", grid)
    empty = write_seg_nrrd(
        tmp_path / "empty.seg.nrrd", grid, {"L1": np.zeros(grid.shape, bool), "L2": np.ones(grid.shape, bool)}
    )
    masks = read_structures(empty, grid)  # empty segments are kept, the caller decides
    assert empty_masks(masks) == ["L1"] and masks["L2"].all()
    with pytest.raises(InputError, match="segment 'L1' is empty"):
        require_nonempty_masks(masks)
    with pytest.raises(InputError, match="colour"):
        write_seg_nrrd(tmp_path / "x.seg.nrrd", grid, {"L1": np.ones(grid.shape, bool)}, {"L1": (255, 0, 0)})
    with pytest.raises(InputError, match="shape"):
        write_seg_nrrd(tmp_path / "x.seg.nrrd", grid, {"L1": np.ones((2, 2, 2), bool)})
    assert not (tmp_path / "x.seg.nrrd").exists()
