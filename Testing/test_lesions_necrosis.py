"""Necrosis only where it means necrosis: a contrast-enhanced CT, the fluid range (not air, not fat), away from the
boundary by the partial-volume width; the contrast state read from the DICOM header or stated by the user.
"""

from __future__ import annotations

import json

import numpy as np
import pydicom
import pytest

from hitit.case import Volume
from hitit.cli.main import main
from hitit.geometry import Grid
from hitit.io.segmentations import write_seg_nrrd
from hitit.io.volumes import read_volume, write_volume
from hitit.lesions.contrast import Contrast, contrast_from_header, resolve_contrast
from hitit.lesions.injectability import assess_injectability
from hitit.lesions.measure import measure_lesions
from hitit.lesions.necrosis import NecrosisConfig, assess_necrosis
from hitit.lesions.segment import Lesion

ENHANCED = Contrast(True, "stated by the test")


@pytest.fixture(scope="module")
def lung(data_dir, tmp_path_factory):
    """The real pyradiomics lung tumour (non-contrast chest CT, 0.57 x 0.57 x 5 mm) with its mask as a .seg.nrrd."""
    folder = data_dir / "pyradiomics-lung"
    ct = read_volume(folder / "lung1_image_crop.nrrd")
    mask = read_volume(folder / "lung1_label_crop.nrrd").array == 1
    seg = write_seg_nrrd(tmp_path_factory.mktemp("lung") / "tumour.seg.nrrd", ct.grid, {"T1": mask})
    return folder / "lung1_image_crop.nrrd", seg, ct, mask


def _lesions_json(capsys, ct, seg, *extra):
    assert main(["lesions", "--ct", str(ct), "--lesions", str(seg), "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_real_lung_tumour_on_a_non_contrast_ct_is_not_assessed(lung, capsys):
    ct_path, seg, ct, mask = lung
    out = _lesions_json(capsys, ct_path, seg)
    (row,) = out["lesions"]
    assert out["contrast"]["enhanced"] is None  # a NRRD file without contrast keywords
    assert row["necrosis_fraction"] is None and row["necrosis"]["status"] == "not assessed"
    assert "contrast" in row["necrosis"]["reason"]
    (m,) = measure_lesions([Lesion("T1", mask)], ct.grid, ct.array)
    verdict = assess_injectability(m, trajectory_feasible=True)
    reason = next(r for r in verdict.reasons if r.code == "NECROSIS_UNKNOWN")
    assert reason.severity == "info" and "neither passes nor fails" in reason.message
    assert verdict.verdict == "yes"


def test_real_lung_tumour_stated_enhanced_is_not_predominantly_necrotic(lung, capsys):
    """Half the mask is aerated lung or its partial volume (median -31 HU): none of it may count as necrosis."""
    ct_path, seg, ct, mask = lung
    assert np.median(ct.array[mask]) < 0 and np.percentile(ct.array[mask], 25) < -100
    (row,) = _lesions_json(capsys, ct_path, seg, "--contrast", "yes")["lesions"]
    assert row["necrosis"]["contrast"]["enhanced"] is True
    assert row["necrosis"]["partial_volume_width_mm"] == pytest.approx([0.5703125, 0.5703125, 5.0], abs=1e-3)
    assert row["necrosis_fraction"] is None or row["necrosis_fraction"] < 0.5
    # which of the two: every voxel of this thin, air-bordered tumour lies within the partial-volume width of its
    # boundary or of air (5 mm slices), so nothing is left to assess
    assert row["necrosis_fraction"] is None and row["necrosis"]["status"] == "not assessed"
    assert row["necrosis"]["assessable_fraction"] == 0.0 and "partial-volume width" in row["necrosis"]["reason"]
    (m,) = measure_lesions([Lesion("T1", mask)], ct.grid, ct.array, contrast=ENHANCED)
    assert not any(r.code == "MOSTLY_NECROTIC" for r in assess_injectability(m, trajectory_feasible=True).reasons)


def _ball_lesion(regions, shape=(40, 60, 60), spacing=(1.0, 1.0, 2.0), seed=0):
    """A 15 mm-radius 40 HU lesion in 60 HU tissue with ``regions`` [(centre mm, radius mm, HU)], noise 12 HU."""
    grid = Grid(shape[::-1], spacing, (-30.0, -30.0, -40.0), tuple(np.eye(3).ravel()))
    k, j, i = np.indices(grid.shape)
    p = grid.index_to_lps(np.stack([i, j, k], axis=-1))
    lesion = np.linalg.norm(p, axis=-1) <= 15.0
    hu = np.where(lesion, 40.0, 60.0)
    inside = {}
    for centre, radius, value in regions:
        inside[value] = np.linalg.norm(p - centre, axis=-1) <= radius
        hu[inside[value]] = value
    hu += np.random.default_rng(seed).normal(0.0, 12.0, grid.shape)
    return grid, lesion, hu.astype(np.int16), inside


def test_fat_inside_a_lesion_is_not_necrosis():
    """Analytic: a fat core (-100 HU, 7 mm) counts nothing; a fluid core (5 HU, 5 mm) beside it counts as necrosis."""
    grid, lesion, hu, _ = _ball_lesion([((0.0, 0.0, 0.0), 7.0, -100.0)])
    fat_only = assess_necrosis(lesion, hu, grid, ENHANCED)
    assert fat_only.assessed and fat_only.fraction <= 0.005
    assert (hu[lesion] < 20).mean() > 0.1  # what a bare "below 20 HU" count would have called necrotic
    grid, lesion, hu, inside = _ball_lesion([((-7.0, 0.0, 0.0), 5.0, -100.0), ((7.0, 0.0, 0.0), 5.0, 5.0)], seed=1)
    both = assess_necrosis(lesion, hu, grid, ENHANCED)
    known = inside[5.0].sum() / lesion.sum()
    # the fluid core's side facing the fat lies within the fat's partial-volume reach and is not counted
    assert 0.6 * known <= both.fraction <= known + 0.01


def test_partial_volume_width_follows_the_spacing():
    grid, lesion, hu, _ = _ball_lesion([((0.0, 0.0, 0.0), 6.0, 5.0)])
    result = assess_necrosis(lesion, hu, grid, ENHANCED, NecrosisConfig(partial_volume_voxels=2))
    assert result.partial_volume_width_mm == (2.0, 2.0, 4.0)
    assert result.to_dict()["status"] == "assessed" and 0 < result.assessable_fraction < 1
    assert not assess_necrosis(lesion, hu, grid, Contrast(False, "header")).assessed


def test_contrast_from_the_real_dicom_header_and_without_it(ts_dir, tmp_path):
    """The real TotalSegmentator series says ContrastBolusAgent APPLIED; the same series stripped of its
    Contrast/Bolus attributes is taken as unenhanced (the CT IOD requires them when contrast was given).
    """
    ct = read_volume(ts_dir / "dicom_20slices")
    assert ct.metadata["HeaderFormat"] == "DICOM" and ct.metadata["ContrastBolusAgent"] == "APPLIED"
    state = contrast_from_header(ct.metadata)
    assert state.enhanced is True and "ContrastBolusAgent = 'APPLIED'" in state.source
    stripped = tmp_path / "series"
    stripped.mkdir()
    for file in (ts_dir / "dicom_20slices").iterdir():
        ds = pydicom.dcmread(file)
        for element in list(ds):
            if element.keyword.startswith("Contrast"):
                del ds[element.tag]
        ds.save_as(stripped / file.name)
    plain = read_volume(stripped)
    assert "ContrastBolusAgent" not in plain.metadata
    assert contrast_from_header(plain.metadata).enhanced is False
    assert contrast_from_header(read_volume(ts_dir / "example_ct.nii.gz").metadata).enhanced is None
    # the user's statement wins, with a warning when the header disagrees
    stated, warnings = resolve_contrast("no", ct.metadata)
    assert stated.enhanced is False and "stated" in stated.source and warnings


def test_contrast_keywords_survive_a_nrrd_round_trip(tmp_path):
    grid = Grid((4, 4, 4), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), tuple(np.eye(3).ravel()))
    path = write_volume(
        Volume(grid, np.zeros(grid.shape, np.int16), metadata={"ContrastBolusAgent": "NONE"}), tmp_path / "ct.nrrd"
    )
    read = read_volume(path)
    assert read.metadata == {"HeaderFormat": "NRRD", "ContrastBolusAgent": "NONE"}
    assert contrast_from_header(read.metadata).enhanced is False
