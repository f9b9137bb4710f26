"""The plan computed where a needle can reach equals the plan computed on the whole CT (the teaching case).

``plan_case`` builds the body, the skin, its normals and the distance maps on the slab a needle reaches at
the axial-angle limit; ``crop=False`` computes all of them on the whole CT. Same feasible entries (same
points, normals, clearances and scores), same proposed paths with the same exact checks.
"""

import numpy as np
import pytest

from hitit.phantom import make_teaching_case
from hitit.plan import PlanConfig, plan_case


def _feasible(lesion) -> dict:
    """Feasible entry point (rounded LPS) -> (normal, clearance, score) of one lesion's map."""
    skin, arrays = lesion.target.skin, lesion.target.arrays
    rows = np.flatnonzero(arrays["feasible"])
    return {
        tuple(np.round(skin.points_lps[n], 6)): (
            np.round(skin.normals_lps[n], 6),
            arrays["margin_slack_mm"][n],
            arrays["score"][n],
        )
        for n in rows
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    "settings",
    [PlanConfig(protocol="pv10"), PlanConfig(protocol="pv10").with_overrides(max_axial_angle_deg=20.0)],
    ids=["in-plane", "tilt-20deg"],
)
def test_cropped_plan_equals_the_whole_ct_plan(settings):
    case = make_teaching_case().case
    cropped, whole = plan_case(case, settings), plan_case(case, settings, crop=False)
    assert [p.lesion_id for p in cropped.lesions] == [p.lesion_id for p in whole.lesions]
    some_feasible = False
    for a, b in zip(cropped.lesions, whole.lesions):
        assert a.target.status == b.target.status, a.lesion_id
        fa, fb = _feasible(a), _feasible(b)
        assert fa.keys() == fb.keys(), a.lesion_id
        some_feasible |= bool(fa)
        for point, (normal, clearance, score) in fa.items():
            np.testing.assert_allclose(normal, fb[point][0], atol=1e-6)
            # the search computes float32 indices from each crop's origin: its bounds differ by rounding
            assert clearance == pytest.approx(fb[point][1], abs=1e-3) and score == pytest.approx(fb[point][2], rel=1e-4)
        assert [t.to_dict() for t in a.target.trajectories] == [t.to_dict() for t in b.target.trajectories]
        assert a.measurement.depth_mm == pytest.approx(b.measurement.depth_mm, abs=1e-9)
        assert a.injectability.to_dict() == b.injectability.to_dict()
    assert some_feasible
    # the same entries, made where a needle reaches (the in-plane plan's lie within a thin slab of the CT)
    for a, b in zip(cropped.lesions, whole.lesions):
        np.testing.assert_array_equal(a.target.skin.points_lps, b.target.skin.points_lps)
        np.testing.assert_array_equal(a.target.skin.normals_lps, b.target.skin.normals_lps)
    if settings.planning.max_axial_angle_deg == 0.0:
        # the lesions' levels, widened by the rise of a 150 mm needle at the 3 deg in-plane tolerance, and a slice
        levels = np.concatenate(
            [case.grid.index_to_lps(np.argwhere(m)[:, ::-1].astype(float))[:, 2] for m in case.lesions.values()]
        )
        rise = settings.planning.needle_length_mm * np.sin(np.radians(settings.planning.axial_limit_deg))
        z = cropped.lesions[0].target.skin.points_lps[:, 2]
        assert levels.min() - rise - 2.0 <= z.min() and z.max() <= levels.max() + rise + 2.0


@pytest.mark.slow
def test_axial_limited_distance_maps_equal_the_needle_reach_ones_along_every_allowed_path():
    """The S-I-limited crop of the distance maps holds every obstacle within margin + clearance cap of a path
    within the axial-angle limit: on the slab such paths run through, its capped maps are the wide crop's.
    """
    from hitit.anatomy.catalogue import rules_for_target
    from hitit.trajectories.config import TrajectoryConfig
    from hitit.trajectories.distance import axial_reach_mm, prepare

    teaching = make_teaching_case()
    case, target = teaching.case, np.asarray(teaching.truth["L2"].centre_lps)
    config = TrajectoryConfig(max_axial_angle_deg=10.0)
    rules = rules_for_target(list(case.structures), "liver")
    thin = prepare(case, rules, config, target, axial_limited=True)
    wide = prepare(case, rules, config, target)
    assert thin.crop_grid.size[2] < wide.crop_grid.size[2]
    rise = axial_reach_mm(config, config.needle_length_mm)[2]  # highest a path within the limit goes
    k_lo, k_hi = (int(np.floor(case.grid.lps_to_index(target + [0, 0, s * rise])[2])) for s in (-1, 1))
    wide_groups = {g.margin_mm: g for g in wide.groups}
    assert thin.groups
    for a in thin.groups:  # the thin crop's groups lack only the structures that do not reach it
        b = wide_groups[a.margin_mm]
        assert set(a.names) <= set(b.names)
        offset = np.subtract(thin.crop_lo, wide.crop_lo)  # (i, j, k) of the thin crop in the wide one
        ks = slice(k_lo - thin.crop_lo[2], k_hi + 2 - thin.crop_lo[2])
        ni, nj = thin.crop_grid.size[:2]
        inner = b.distance_mm[
            ks.start + offset[2] : ks.stop + offset[2], offset[1] : offset[1] + nj, offset[0] : offset[0] + ni
        ]
        np.testing.assert_allclose(a.distance_mm[ks], inner, atol=1e-4)
