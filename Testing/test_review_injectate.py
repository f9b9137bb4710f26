"""Injectate coverage and leakage on a synthetic contrast-tagged injection of known volume in the teaching case."""

from __future__ import annotations

import numpy as np
import pytest

from hitit.case import Volume
from hitit.phantom import make_teaching_case
from hitit.review.injectate import InjectateConfig, injectate_distribution

#: Rise of the tagged injectate over the tissue it fills (HU), as the issue's check specifies.
TAG_HU = 300.0
#: The injection: an ellipsoid centred off the centre of L1 so that it leaks into the liver (LPS mm).
INJECTION_CENTRE_LPS = np.array([-84.0, -42.0, 0.0])
INJECTION_SEMI_AXES_MM = np.array([9.0, 6.0, 7.0])


def _inside_ellipsoid(points: np.ndarray, centre, semi) -> np.ndarray:
    return np.sum(((points - np.asarray(centre)) / np.asarray(semi)) ** 2, axis=-1) <= 1.0


def add_injection(ct: Volume, centre, semi, tag_hu: float = TAG_HU, supersample: int = 4) -> Volume:
    """A copy of ``ct`` with ``tag_hu`` added in proportion to each voxel's overlap with the ellipsoid."""
    grid = ct.grid
    lo = np.floor(grid.lps_to_index(np.asarray(centre) - semi - 3)).astype(int)
    hi = np.ceil(grid.lps_to_index(np.asarray(centre) + semi + 3)).astype(int)
    ii, jj, kk = np.meshgrid(*(np.arange(lo[a], hi[a] + 1) for a in range(3)), indexing="ij")
    ijk = np.column_stack([ii.ravel(), jj.ravel(), kk.ravel()])
    offsets = (np.arange(supersample) + 0.5) / supersample - 0.5
    sub = np.stack(np.meshgrid(offsets, offsets, offsets, indexing="ij"), -1).reshape(-1, 3)
    fraction = _inside_ellipsoid(grid.index_to_lps(ijk[:, None, :] + sub[None]), centre, semi).mean(axis=1)
    array = ct.array.astype(np.float32)
    array[ijk[:, 2], ijk[:, 1], ijk[:, 0]] += tag_hu * fraction
    return Volume(grid, np.rint(array).astype(np.int16))


def analytic_split(truth_lesion, centre, semi, samples: int = 400_000, seed: int = 0) -> tuple[float, float]:
    """Monte Carlo (mL): injectate volume inside the lesion ellipsoid and outside it."""
    rng = np.random.default_rng(seed)
    points = centre + rng.uniform(-1, 1, (samples, 3)) * semi
    points = points[_inside_ellipsoid(points, centre, semi)]
    total_ml = 4 / 3 * np.pi * np.prod(semi) / 1000
    inside = _inside_ellipsoid(points, truth_lesion.centre_lps, truth_lesion.semi_axes_mm).mean()
    return total_ml * inside, total_ml * (1 - inside)


@pytest.fixture(scope="module")
def teaching():
    return make_teaching_case(spacing_mm=(1.0, 1.0, 2.0), seed=3)


@pytest.mark.parametrize("with_baseline", [True, False])
def test_coverage_and_leak_within_5_percent(teaching, with_baseline):
    case = teaching.case
    post = add_injection(case.ct, INJECTION_CENTRE_LPS, INJECTION_SEMI_AXES_MM)
    truth = teaching.truth["L1"]
    covered_true, leaked_true = analytic_split(truth, INJECTION_CENTRE_LPS, INJECTION_SEMI_AXES_MM)
    result = injectate_distribution(
        "L1",
        post,
        case.lesions["L1"],
        INJECTION_CENTRE_LPS[None],
        {**case.structures, **case.lesions},
        case.ct if with_baseline else None,
    )
    lesion_ml = case.lesions["L1"].sum() * case.ct.grid.voxel_volume_ml
    print(
        f"covered {result.covered_ml:.3f} vs {covered_true:.3f} mL, leaked {result.leaked_ml:.3f} vs {leaked_true:.3f} "
        "mL"
    )
    assert result.covered_ml == pytest.approx(covered_true, rel=0.05)
    assert result.leaked_ml == pytest.approx(leaked_true, rel=0.05)
    assert result.covered_fraction == pytest.approx(covered_true / lesion_ml, rel=0.05)
    # the leak went into liver parenchyma (the liver mask contains L1) and nowhere else
    assert result.leaked_by_structure_ml["liver"] == pytest.approx(result.leaked_ml, rel=0.02)
    assert result.leaked_by_structure_ml["unlabelled"] < 0.02 * result.leaked_ml
    assert result.baseline_used is with_baseline


def test_unseeded_hyperdense_region_and_vessels_are_not_injectate(teaching):
    case = teaching.case
    post = add_injection(case.ct, INJECTION_CENTRE_LPS, INJECTION_SEMI_AXES_MM)
    far = add_injection(
        post, np.array([-60.0, -20.0, -40.0]), np.array([5.0, 5.0, 5.0])
    )  # unrelated, far from any seed
    result = injectate_distribution(
        "L1", far, case.lesions["L1"], INJECTION_CENTRE_LPS[None], {**case.structures, **case.lesions}, case.ct
    )
    assert result.injectate_ml < 4 / 3 * np.pi * np.prod(INJECTION_SEMI_AXES_MM) / 1000 * 1.05
    assert not result.mask[case.structures["aorta"]].any()
    assert not result.mask[case.structures["vertebrae_L1"]].any()


def test_no_contrast_gives_zero(teaching):
    case = teaching.case
    result = injectate_distribution(
        "L1", case.ct, case.lesions["L1"], INJECTION_CENTRE_LPS[None], case.structures, case.ct, InjectateConfig()
    )
    assert result.injectate_ml == 0.0 and result.covered_fraction == 0.0 and result.leaked_fraction is None
