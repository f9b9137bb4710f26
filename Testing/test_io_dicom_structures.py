"""DICOM SEG and RTSTRUCT as structures and lesions: independent writers, real files, bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from conftest import ring_mask

from hitit.anatomy.catalogue import Catalogue
from hitit.cli.main import main
from hitit.errors import GeometryError, InputError
from hitit.geometry import Grid
from hitit.io.dicom_files import DicomSeriesRef
from hitit.io.rtstruct import rasterise_slice
from hitit.io.segmentations import read_structures

DICOMPYLER = Path(__file__).parent / "Data" / "dicompyler-breast-rtss"


def _assert_same_masks(expected: dict, got: dict) -> None:
    assert set(got) == set(expected)
    for name, mask in expected.items():
        assert got[name].shape == mask.shape
        assert np.array_equal(got[name], mask), (
            f"{name}: {int(mask.sum())} voxels expected, {int(got[name].sum())} read"
        )


# --------------------------------------------------------------------- SEG
def test_dcmqi_seg_reads_voxel_for_voxel(ts_dicom_truth, ts_dcmqi_seg):
    ct, truth = ts_dicom_truth
    masks = read_structures(ts_dcmqi_seg, ct.grid, reference=ct.dicom)
    _assert_same_masks(truth, masks)
    # dcmqi writes the label map's flipped rows as they are: the frames are placed by position
    assert (
        pydicom.dcmread(ts_dcmqi_seg)
        .SharedFunctionalGroupsSequence[0]
        .PlaneOrientationSequence[0]
        .ImageOrientationPatient[4]
        == -1
    )
    catalogue = Catalogue.default()
    assert all(catalogue.category_of(name) for name in masks), "TotalSegmentator labels map through the catalogue"


def test_seg_frames_in_any_order(tmp_path, ts_dicom_truth, ts_dcmqi_seg):
    ct, truth = ts_dicom_truth
    dataset = pydicom.dcmread(ts_dcmqi_seg)
    frames = dataset.pixel_array  # (frames, rows, columns)
    order = np.random.default_rng(7).permutation(len(frames))
    dataset.PerFrameFunctionalGroupsSequence = pydicom.Sequence(
        [dataset.PerFrameFunctionalGroupsSequence[i] for i in order]
    )
    dataset.PixelData = pydicom.pixels.pack_bits(frames[order])
    shuffled = tmp_path / "shuffled.dcm"
    dataset.save_as(shuffled)
    _assert_same_masks(truth, read_structures(shuffled, ct.grid, reference=ct.dicom))


def test_fractional_seg_thresholded_at_half(tmp_path, ts_dicom_dir, ts_dicom_truth):
    import highdicom as hd
    from pydicom.sr.codedict import codes

    ct, truth = ts_dicom_truth
    names = ["liver", "spleen"]
    fractions = np.zeros(ct.grid.shape + (2,), dtype=np.float32)
    for n, name in enumerate(names):
        fractions[..., n] = np.where(truth[name], 0.8, 0.0)
        fractions[..., n][np.roll(truth[name], 3, axis=2) & ~truth[name]] = 0.3  # below the threshold: outside
    sources = sorted(
        (pydicom.dcmread(p) for p in ts_dicom_dir.iterdir()), key=lambda d: float(d.ImagePositionPatient[2])
    )
    descriptions = [
        hd.seg.SegmentDescription(
            n + 1, name, codes.SCT.Organ, codes.SCT.Organ, hd.seg.SegmentAlgorithmTypeValues.MANUAL
        )
        for n, name in enumerate(names)
    ]
    seg = hd.seg.Segmentation(
        sources,
        fractions,
        hd.seg.SegmentationTypeValues.FRACTIONAL,
        descriptions,
        hd.UID(),
        5,
        hd.UID(),
        1,
        "test",
        "test",
        "1",
        "1",
        fractional_type="PROBABILITY",
    )
    seg.save_as(tmp_path / "fractional.dcm")
    _assert_same_masks({name: truth[name] for name in names}, read_structures(tmp_path / "fractional.dcm", ct.grid))


def test_label_map_seg(tmp_path, ts_dicom_dir, ts_dicom_truth):
    import highdicom as hd
    from pydicom.sr.codedict import codes

    ct, truth = ts_dicom_truth
    labels = np.zeros(ct.grid.shape, dtype=np.uint8)
    labels[truth["liver"]], labels[truth["spleen"]] = 1, 2
    sources = sorted(
        (pydicom.dcmread(p) for p in ts_dicom_dir.iterdir()), key=lambda d: float(d.ImagePositionPatient[2])
    )
    descriptions = [
        hd.seg.SegmentDescription(
            n + 1, name, codes.SCT.Organ, codes.SCT.Organ, hd.seg.SegmentAlgorithmTypeValues.MANUAL
        )
        for n, name in enumerate(["liver", "spleen"])
    ]
    seg = hd.seg.Segmentation(
        sources,
        labels,
        hd.seg.SegmentationTypeValues.LABELMAP,
        descriptions,
        hd.UID(),
        5,
        hd.UID(),
        1,
        "test",
        "test",
        "1",
        "1",
    )
    assert seg.SOPClassUID == "1.2.840.10008.5.1.4.1.1.66.7"
    seg.save_as(tmp_path / "labelmap.dcm")
    _assert_same_masks(
        {n: truth[n] for n in ("liver", "spleen")},
        read_structures(tmp_path / "labelmap.dcm", ct.grid, reference=ct.dicom),
    )


# --------------------------------------------------------------------- RTSTRUCT
def test_rtutils_rtstruct_reads_back_its_masks(ts_dicom_truth, ts_rtstruct):
    ct, truth = ts_dicom_truth
    masks = read_structures(ts_rtstruct, ct.grid, reference=ct.dicom)
    # the documented rule (centres inside by even-odd, or on the contour) gives traced masks back exactly
    _assert_same_masks({**truth, "ring": ring_mask(ct.grid)}, masks)


def test_even_odd_hole_and_boundary_rule():
    square = np.array([[2, 2], [12, 2], [12, 12], [2, 12]], dtype=float)  # through voxel centres
    hole = np.array([[5.5, 5.5], [8.5, 5.5], [8.5, 8.5], [5.5, 8.5]])  # between centres
    inside = rasterise_slice([square, hole], 16, 16)
    expected = np.zeros((16, 16), dtype=bool)
    expected[2:13, 2:13] = True  # boundary centres count as inside
    expected[6:9, 6:9] = False  # the hole's centres are outside (even-odd)
    assert np.array_equal(inside, expected)


def test_real_rt_structure_set(data_dir):
    ct = pydicom.dcmread(DICOMPYLER / "ct.0.dcm", stop_before_pixels=True)
    rtss = pydicom.dcmread(DICOMPYLER / "rtss.dcm")
    z = sorted({float(c.ContourData[2]) for r in rtss.ROIContourSequence for c in r.get("ContourSequence", [])})
    spacing = [float(v) for v in ct.PixelSpacing]  # (row spacing, column spacing)
    grid = Grid(
        (ct.Columns, ct.Rows, len(z)),
        (spacing[1], spacing[0], 3.0),
        (float(ct.ImagePositionPatient[0]), float(ct.ImagePositionPatient[1]), z[0]),
        np.eye(3).ravel(),
    )
    reference = DicomSeriesRef(ct.StudyInstanceUID, ct.SeriesInstanceUID, ct.FrameOfReferenceUID)
    masks = read_structures(DICOMPYLER / "rtss.dcm", grid, reference=reference)
    assert list(masks) == [str(r.ROIName) for r in rtss.StructureSetROISequence]
    assert not masks["Areola"].any()  # an ROI without contours is an empty structure
    assert all(masks[name].any() for name in masks if name != "Areola")
    assert masks["Heart"].sum() * grid.voxel_volume_ml == pytest.approx(440, rel=0.05)
    # independent check of the rasterisation: matplotlib's polygon test on every Heart contour
    from matplotlib.path import Path as PolygonPath

    heart = next(c for c, r in zip(rtss.ROIContourSequence, rtss.StructureSetROISequence) if r.ROIName == "Heart")
    i, j = np.meshgrid(np.arange(grid.size[0]), np.arange(grid.size[1]))
    centres = np.column_stack([i.ravel(), j.ravel()])
    expected = np.zeros(grid.shape, dtype=bool)
    for contour in heart.ContourSequence:
        ijk = grid.lps_to_index(np.asarray(contour.ContourData, dtype=float).reshape(-1, 3))
        near = np.all((centres >= ijk[:, :2].min(axis=0) - 1) & (centres <= ijk[:, :2].max(axis=0) + 1), axis=1)
        inside = np.zeros(len(centres), dtype=bool)
        inside[near] = PolygonPath(ijk[:, :2]).contains_points(centres[near])
        expected[int(round(ijk[0, 2]))] ^= inside.reshape(grid.shape[1:])
    differ = int((expected != masks["Heart"]).sum())
    assert differ <= 0.01 * expected.sum()  # only centres on the contour lines may differ


# --------------------------------------------------------------------- bad input: one line, exit 2, nothing written
def _run_plan(tmp_path, ct, structures, lesions, capsys) -> str:
    out = tmp_path / "plan"
    code = main(
        ["plan", "--ct", str(ct), "--structures", str(structures), "--lesions", str(lesions), "--out", str(out)]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert not out.exists()
    return err


def test_seg_of_another_study_is_refused(tmp_path, ts_dicom_dir, ts_dcmqi_seg, capsys):
    dataset = pydicom.dcmread(ts_dcmqi_seg)
    dataset.StudyInstanceUID = "2.25.1"
    dataset.save_as(tmp_path / "other.seg.dcm")
    err = _run_plan(tmp_path, ts_dicom_dir, tmp_path / "other.seg.dcm", ts_dcmqi_seg, capsys)
    assert "another study" in err


def test_truncated_file_is_refused(tmp_path, ts_dicom_dir, ts_dcmqi_seg, ts_rtstruct, capsys):
    for source in (ts_dcmqi_seg, ts_rtstruct):
        data = source.read_bytes()
        cut = tmp_path / f"cut-{source.name}"
        cut.write_bytes(data[: len(data) * 2 // 3])
        assert "truncated" in _run_plan(tmp_path, ts_dicom_dir, cut, ts_dcmqi_seg, capsys)


def test_open_contour_is_refused(tmp_path, ts_dicom_dir, ts_dcmqi_seg, ts_rtstruct, capsys):
    dataset = pydicom.dcmread(ts_rtstruct)
    dataset.ROIContourSequence[0].ContourSequence[0].ContourGeometricType = "OPEN_PLANAR"
    dataset.save_as(tmp_path / "open.dcm")
    err = _run_plan(tmp_path, ts_dicom_dir, tmp_path / "open.dcm", ts_dcmqi_seg, capsys)
    assert "OPEN_PLANAR" in err and "closed" in err


def test_ct_image_as_structures_is_refused(tmp_path, ts_dicom_dir, ts_dcmqi_seg, capsys):
    image = sorted(ts_dicom_dir.iterdir())[0]
    err = _run_plan(tmp_path, ts_dicom_dir, image, ts_dcmqi_seg, capsys)
    assert "CT Image Storage" in err and "not a segmentation" in err
    folder = tmp_path / "series"
    shutil.copytree(ts_dicom_dir, folder)
    assert "no segmentation" in _run_plan(tmp_path, ts_dicom_dir, folder, ts_dcmqi_seg, capsys)


def test_structure_set_not_on_the_ct_is_refused(tmp_path, ts_dicom_truth, ts_rtstruct):
    ct, _ = ts_dicom_truth
    dataset = pydicom.dcmread(ts_rtstruct)
    for roi in dataset.ROIContourSequence:
        for contour in roi.ContourSequence:
            points = np.asarray(contour.ContourData, dtype=float).reshape(-1, 3) + [0, 0, 500]
            contour.ContourData = [f"{v:.6g}" for v in points.ravel()]
    dataset.save_as(tmp_path / "elsewhere.dcm")
    with pytest.raises(GeometryError, match="does not overlap the CT"):
        read_structures(tmp_path / "elsewhere.dcm", ct.grid, reference=ct.dicom)


def test_empty_roi_is_refused_as_a_lesion(tmp_path, ts_dicom_dir, ts_rtstruct, capsys):
    dataset = pydicom.dcmread(ts_rtstruct)
    del dataset.ROIContourSequence[0].ContourSequence
    dataset.save_as(tmp_path / "empty-roi.dcm")
    name = str(dataset.StructureSetROISequence[0].ROIName)
    code = main(
        ["plan", "--ct", str(ts_dicom_dir), "--lesions", str(tmp_path / "empty-roi.dcm"), "--out", str(tmp_path / "p")]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and f"'{name}'" in err and "empty" in err
    assert not (tmp_path / "p").exists()


def test_inspect_and_lesions_take_dicom(tmp_path, ts_dicom_dir, ts_dicom_truth, ts_dcmqi_seg, ts_rtstruct, capsys):
    import json

    ct, truth = ts_dicom_truth
    assert (
        main(
            [
                "inspect",
                "--ct",
                str(ts_dicom_dir),
                "--structures",
                str(ts_dcmqi_seg),
                "--structures",
                str(ts_rtstruct),
                "--json",
            ]
        )
        == 0
    )
    rows = json.loads(capsys.readouterr().out)["structures"]
    assert {r["name"]: r["voxels"] for r in rows if r["source"] == str(ts_dcmqi_seg)} == {
        n: int(m.sum()) for n, m in truth.items()
    }
    only_ring = pydicom.dcmread(ts_rtstruct)
    keep = [n for n, roi in enumerate(only_ring.StructureSetROISequence) if roi.ROIName == "ring"]
    for sequence in ("StructureSetROISequence", "ROIContourSequence", "RTROIObservationsSequence"):
        setattr(only_ring, sequence, pydicom.Sequence([only_ring[sequence].value[n] for n in keep]))
    only_ring.save_as(tmp_path / "ring.dcm")
    assert main(["lesions", "--ct", str(ts_dicom_dir), "--lesions", str(tmp_path / "ring.dcm"), "--json"]) == 0
    lesions = {m["id"]: m for m in json.loads(capsys.readouterr().out)["lesions"]}
    assert lesions["ring"]["volume_ml"] == pytest.approx(ring_mask(ct.grid).sum() * ct.grid.voxel_volume_ml, abs=1e-3)


def test_not_dicom_and_unknown_reference_are_input_errors(tmp_path, ts_dicom_truth):
    ct, _ = ts_dicom_truth
    (tmp_path / "x.dcm").write_bytes(b"not dicom at all" * 20)
    with pytest.raises(InputError, match="not a DICOM file"):
        read_structures(tmp_path / "x.dcm", ct.grid)
