"""A lesion mask is a lesion whatever its label values: real binary NRRD and NIfTI masks, several
values, a name table, and the structures' own rule kept (TotalSegmentator map for structures only).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

from hitit.cli.main import main
from hitit.errors import InputError
from hitit.io.segmentations import read_lesions, read_structures
from hitit.io.volumes import read_volume

LUNG = "pyradiomics-lung"


@pytest.fixture(scope="module")
def lung(data_dir):
    """The real cropped lung CT, its binary tumour label (NRRD, no label table) and the raw label voxels."""
    ct = read_volume(data_dir / LUNG / "lung1_image_crop.nrrd")
    label_path = data_dir / LUNG / "lung1_label_crop.nrrd"
    raw = sitk.GetArrayFromImage(sitk.ReadImage(str(label_path)))
    return ct, label_path, raw


def test_binary_nrrd_lesion_mask_without_label_table_is_one_lesion_named_after_the_file(lung):
    ct, label_path, raw = lung
    assert set(np.unique(raw)) == {0, 1}
    lesions = read_lesions(label_path, ct.grid)
    assert list(lesions) == ["lung1_label_crop"]
    assert int(lesions["lung1_label_crop"].sum()) == int((raw == 1).sum()) > 100
    # structures keep their rule: a NRRD label map needs names
    with pytest.raises(InputError, match="names no labels"):
        read_structures(label_path, ct.grid)


def test_binary_nifti_lesion_mask_is_not_named_by_the_totalsegmentator_map(lung, tmp_path):
    ct, label_path, raw = lung
    nifti = tmp_path / "tumour.nii.gz"
    sitk.WriteImage(sitk.Cast(sitk.ReadImage(str(label_path)), sitk.sitkUInt8), str(nifti))
    lesions = read_lesions(nifti, ct.grid)
    assert list(lesions) == ["tumour"]  # not "spleen" (TotalSegmentator label 1)
    assert int(lesions["tumour"].sum()) == int((raw == 1).sum())
    # the same file as a structure still gets the built-in TotalSegmentator map
    assert list(read_structures(nifti, ct.grid)) == ["spleen"]


def test_several_label_values_give_one_lesion_each_or_names_from_a_table(lung, tmp_path):
    ct, label_path, raw = lung
    image = sitk.ReadImage(str(label_path))
    split = raw.astype(np.uint8)
    k_mid = int(np.median(np.nonzero(raw)[0]))
    split[k_mid:][split[k_mid:] == 1] = 3  # upper slices of the tumour become label 3
    labelled = sitk.GetImageFromArray(split)
    labelled.CopyInformation(image)
    path = tmp_path / "lesions.nrrd"
    sitk.WriteImage(labelled, str(path))
    lesions = read_lesions(path, ct.grid)
    assert sorted(lesions) == ["lesions-1", "lesions-3"]
    assert int(lesions["lesions-1"].sum()) == int((split == 1).sum())
    assert int(lesions["lesions-3"].sum()) == int((split == 3).sum())
    table = tmp_path / "names.json"
    table.write_text(json.dumps({"1": "L1", "3": "L2"}))
    assert sorted(read_lesions(path, ct.grid, table)) == ["L1", "L2"]
    table.write_text(json.dumps({"1": "L1"}))
    with pytest.raises(InputError, match=r"Label values \[3\]"):
        read_lesions(path, ct.grid, table)


def test_cli_lesions_measures_a_binary_nrrd_mask(lung, data_dir, capsys):
    ct, label_path, raw = lung
    assert (
        main(
            ["lesions", "--ct", str(data_dir / LUNG / "lung1_image_crop.nrrd"), "--lesions", str(label_path), "--json"]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    [lesion] = result["lesions"]
    assert lesion["id"] == "lung1_label_crop"
    spacing = sitk.ReadImage(str(label_path)).GetSpacing()
    assert lesion["volume_ml"] == pytest.approx(
        (raw == 1).sum() * np.prod(spacing) / 1000, abs=0.001
    )  # JSON rounds to 1 µL


def test_a_slicer_segmentation_saved_as_plain_nrrd_keeps_its_segment_names(lung, tmp_path):
    ct, label_path, raw = lung
    from hitit.io.segmentations import write_seg_nrrd

    mask = read_lesions(label_path, ct.grid)["lung1_label_crop"]
    write_seg_nrrd(tmp_path / "tumour.seg.nrrd", ct.grid, {"T1": mask})
    (tmp_path / "tumour.seg.nrrd").rename(tmp_path / "Segmentation.nrrd")
    for read in (read_lesions, read_structures):
        masks = read(tmp_path / "Segmentation.nrrd", ct.grid)
        assert list(masks) == ["T1"] and np.array_equal(masks["T1"], mask)
