"""Deposit plans along a needle path in analytic spheres."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hitit.dosing.deposits import DepositConfig, plan_deposits
from hitit.errors import InputError
from hitit.geometry import Grid
from hitit.lesions.segment import lesion_from_diameters

GRID = Grid((120, 120, 120), (1.0, 1.0, 1.0), (-60.0, -60.0, -60.0), tuple(np.eye(3).ravel()))


def sphere(diameter):
    return lesion_from_diameters(GRID, (0.0, 0.0, 0.0), (diameter,) * 3).mask


def test_single_line_deposits_keep_margin_and_max_volume():
    entry, target = (0.0, -55.0, 0.0), (0.0, 0.0, 0.0)
    plan = plan_deposits(sphere(20), GRID, entry, target, 1.0, DepositConfig(margin_mm=3.0, max_deposit_ml=0.25))
    assert len(plan.paths) == 1 and len(plan.deposits) == 4
    for d in plan.deposits:
        assert d.volume_ml == pytest.approx(0.25)
        assert d.distance_to_boundary_mm >= 3.0
        assert abs(d.point_lps[0]) < 1e-9 and abs(d.point_lps[2]) < 1e-9
        # depth along the needle from the skin entry = distance from the entry
        assert d.needle_depth_mm == pytest.approx(np.linalg.norm(np.subtract(d.point_lps, entry)))
    ys = sorted(d.point_lps[1] for d in plan.deposits)
    assert ys[0] >= -10 + 3 - 1e-6 and ys[-1] <= 10 - 3 + 1e-6  # inside the sphere minus the margin
    assert ys[-1] > 0  # the needle may advance past the target within the lesion


def test_coverage_matches_analytic_sphere():
    """One 4 mL deposit at the centre of a 30 mm sphere (14.1 mL) covers a sphere of r = 9.85 mm."""
    plan = plan_deposits(
        sphere(30), GRID, (0.0, -55.0, 0.0), (0.0, 0.0, 0.0), 4.0, DepositConfig(max_deposit_ml=4.0, margin_mm=14.0)
    )
    r = (3 * 4000 / (4 * math.pi)) ** (1 / 3)
    assert plan.deposit_radius_mm == pytest.approx(r)
    assert plan.coverage_fraction == pytest.approx((2 * r / 30) ** 3, abs=0.03)


def test_large_lesion_gets_fanned_paths_from_same_entry():
    entry = (0.0, -58.0, 0.0)
    plan = plan_deposits(
        sphere(60),
        GRID,
        entry,
        (0.0, 0.0, 0.0),
        4.0,
        DepositConfig(radial_reach_mm=12.0, max_fan_angle_deg=15.0, max_paths=3),
    )
    assert len(plan.paths) == 3
    assert all(p.entry_lps == entry for p in plan.paths)
    assert all(0 < p.tilt_deg <= 15.0 + 1e-9 for p in plan.paths[1:])
    assert sum(d.volume_ml for d in plan.deposits) == pytest.approx(4.0)
    single = plan_deposits(sphere(60), GRID, entry, (0.0, 0.0, 0.0), 4.0, DepositConfig(max_paths=1))
    assert plan.coverage_fraction > single.coverage_fraction


def test_path_missing_the_lesion():
    with pytest.raises(InputError):
        plan_deposits(sphere(20), GRID, (40.0, -55.0, 0.0), (40.0, 0.0, 0.0), 1.0)


def test_thin_lesion_warns_and_uses_deepest_point():
    plan = plan_deposits(sphere(6), GRID, (0.0, -55.0, 0.0), (0.0, 0.0, 0.0), 0.1, DepositConfig(margin_mm=5.0))
    assert len(plan.deposits) == 1 and plan.warnings
    assert np.linalg.norm(plan.deposits[0].point_lps) <= 1.0
