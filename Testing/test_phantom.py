"""The teaching case: deterministic, realistic HU, analytic lesion truth, same anatomy on any grid."""

import json
import math
import time

import numpy as np
import pytest
import SimpleITK as sitk

from hitit.anatomy.body import body_mask, skin_surface
from hitit.lesions.measure import measure_lesion
from hitit.lesions.segment import lesions_from_masks
from hitit.phantom import (
    DEFAULT_SPACING_MM,
    FAT_HU,
    NOISE_SD_HU,
    SAFE_PATH_CLEARANCE_MM,
    make_teaching_case,
    write_teaching_case,
)
from hitit.plan import PlanConfig
from hitit.trajectories import check_path, prepare

#: Necrosis threshold (HU) the issue names: the core must read below it, the viable rim above it.
NECROSIS_THRESHOLD_HU = 20.0
#: Coarse spacing for tests that do not depend on fine detail (mm).
COARSE_SPACING_MM = (2.0, 2.0, 4.0)
#: Spacing of the axis-aligned / oblique comparison (mm).
COMPARE_SPACING_MM = (1.5, 1.5, 2.0)


@pytest.fixture(scope="module")
def timed_case():
    start = time.perf_counter()
    teaching_case = make_teaching_case()
    return teaching_case, time.perf_counter() - start


@pytest.fixture(scope="module")
def tc(timed_case):
    return timed_case[0]


def oblique_direction(angle_deg: float = 20.0) -> np.ndarray:
    """Rotation about z by ``angle_deg`` with the j axis flipped (columns = grid axes in LPS)."""
    a = math.radians(angle_deg)
    rotation = np.array([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]])
    return rotation @ np.diag([1.0, -1.0, 1.0])


def centroid_lps(grid, mask):
    k, j, i = np.nonzero(mask)
    return grid.index_to_lps(np.stack([i, j, k], axis=1).astype(float)).mean(axis=0)


def distance_to(grid, mask):
    """Distance (mm) of every voxel centre outside ``mask`` to the mask (SimpleITK, image spacing)."""
    image = grid.image_from_array(mask)
    return sitk.GetArrayFromImage(
        sitk.SignedMaurerDistanceMap(image, insideIsPositive=False, squaredDistance=False, useImageSpacing=True)
    )


def test_default_grid_is_modest_and_fast(timed_case):
    teaching_case, seconds = timed_case
    grid = teaching_case.case.grid
    assert grid.spacing_mm == DEFAULT_SPACING_MM
    assert np.prod(grid.size) <= 10.5e6
    assert seconds < 5.0
    assert teaching_case.case.ct.array.dtype == np.int16
    lo, hi = grid.bounds_lps()
    assert hi[0] - lo[0] >= 340 and hi[1] - lo[1] >= 240 + 20 and hi[2] - lo[2] >= 200  # body + table


def test_same_seed_same_case_other_seed_other_noise_only():
    a = make_teaching_case(COARSE_SPACING_MM, seed=3)
    b = make_teaching_case(COARSE_SPACING_MM, seed=3)
    c = make_teaching_case(COARSE_SPACING_MM, seed=4)
    assert np.array_equal(a.case.ct.array, b.case.ct.array)
    for other in (b, c):
        assert other.case.structures.keys() == a.case.structures.keys()
        for kind in ("structures", "lesions"):
            for name, mask in getattr(a.case, kind).items():
                assert np.array_equal(mask, getattr(other.case, kind)[name]), name
    diff = c.case.ct.array.astype(float) - a.case.ct.array.astype(float)
    inside = a.body  # outside the body air noise is clipped at -1024 HU
    assert np.count_nonzero(diff) > 0.9 * diff.size
    assert abs(diff[inside].mean()) < 0.5
    assert diff[inside].std() == pytest.approx(math.sqrt(2.0) * NOISE_SD_HU, rel=0.05)


def test_median_hu_of_each_structure_is_its_nominal_value(tc):
    ct = tc.case.ct.array
    assert set(tc.nominal_hu) <= set(tc.case.structures)
    for name, nominal in tc.nominal_hu.items():
        assert abs(np.median(ct[tc.case.structures[name]]) - nominal) <= 30, name
    assert abs(np.median(ct[~tc.body & ~tc.table]) + 1000) <= 30  # air
    noise = ct[tc.case.structures["liver"] & ~np.logical_or.reduce(list(tc.case.lesions.values()))].std()
    assert 10 <= noise <= 15


def test_hollow_organs_hold_gas_and_fluid(tc):
    ct = tc.case.ct.array
    s = tc.case.structures
    assert np.median(ct[s["colon"]]) < -800
    stomach = ct[s["stomach"]]
    assert np.mean(stomach < -800) > 0.1 and np.mean(np.abs(stomach - 15) < 30) > 0.3  # gas over fluid
    assert np.mean(np.abs(ct[s["small_bowel"]] - 15) < 30) > 0.3


def test_structures_are_disjoint_and_named_like_totalsegmentator(tc):
    from hitit.io.segmentations import totalsegmentator_total_map

    names = set(totalsegmentator_total_map().values())
    assert set(tc.case.structures) <= names
    for required in (
        "liver",
        "aorta",
        "inferior_vena_cava",
        "portal_vein_and_splenic_vein",
        "kidney_left",
        "kidney_right",
        "spleen",
        "stomach",
        "colon",
        "small_bowel",
        "lung_lower_lobe_left",
        "lung_lower_lobe_right",
        "spinal_cord",
        "vertebrae_L1",
        "rib_right_10",
        "rib_left_11",
    ):
        assert tc.case.structures[required].any(), required
    count = np.zeros(tc.case.grid.shape, np.uint8)
    for mask in tc.case.structures.values():
        count += mask
    assert count.max() == 1


def test_lesion_masks_match_the_analytic_truth(tc):
    grid = tc.case.grid
    for lesion_id, truth in tc.truth.items():
        mask = tc.case.lesions[lesion_id]
        assert mask.sum() * grid.voxel_volume_ml == pytest.approx(truth.volume_ml, rel=0.03), lesion_id
        assert np.allclose(centroid_lps(grid, mask), truth.centre_lps, atol=0.5)
        k, j, i = np.nonzero(mask)
        extent = np.ptp(grid.index_to_lps(np.stack([i, j, k], 1).astype(float)), axis=0) + np.asarray(grid.spacing_mm)
        assert np.allclose(extent, 2 * np.asarray(truth.semi_axes_mm), atol=np.asarray(grid.spacing_mm))
        a, b, c = truth.semi_axes_mm
        assert truth.longest_axial_diameter_mm == 2 * max(a, b) and truth.short_axis_mm == 2 * min(a, b)
        assert 15 <= truth.short_axis_mm and truth.max_3d_diameter_mm <= 50


def test_lesions_lie_where_the_issue_puts_them(tc):
    grid, s, les = tc.case.grid, tc.case.structures, tc.case.lesions
    for lesion_id, mask in les.items():
        assert not (mask & ~tc.body).any(), lesion_id
        hosts = {name for name, m in s.items() if (m & mask).any()}
        assert hosts == ({"liver"} if lesion_id != "L4" else set()), lesion_id
    for lesion_id in ("L1", "L2", "L3"):
        assert not (les[lesion_id] & ~s["liver"]).any()
    depth_in_liver = distance_to(grid, ~s["liver"])  # distance of liver voxels to the outside of the liver
    assert depth_in_liver[les["L1"]].min() <= 3.0  # subcapsular
    ivc_distance = distance_to(grid, s["inferior_vena_cava"])[les["L2"]].min()
    assert 0 < ivc_distance <= 2.0 + 1e-6
    assert tc.truth["L2"].abuts == "inferior_vena_cava"
    shell = (distance_to(grid, les["L4"]) > 0) & (distance_to(grid, les["L4"]) <= 3.0)
    assert abs(np.median(tc.case.ct.array[shell]) - FAT_HU) <= 30  # L4 sits in subcutaneous fat


def test_necrotic_core_reads_below_the_threshold_and_rim_above(tc):
    truth = tc.truth["L3"]
    grid, mask, ct = tc.case.grid, tc.case.lesions["L3"], tc.case.ct.array
    k, j, i = np.nonzero(mask)
    radius = np.linalg.norm(grid.index_to_lps(np.stack([i, j, k], 1).astype(float)) - truth.centre_lps, axis=1)
    core = radius <= truth.necrotic_core_radius_mm
    assert core.mean() == pytest.approx(truth.necrotic_fraction, rel=0.05)
    assert np.median(ct[k[core], j[core], i[core]]) < NECROSIS_THRESHOLD_HU - 10
    assert np.median(ct[k[~core], j[~core], i[~core]]) > NECROSIS_THRESHOLD_HU + 5
    assert 0.1 < truth.necrotic_fraction < 0.5


def test_table_is_dense_but_not_connected_to_the_body(tc):
    ct = tc.case.ct.array
    assert not (tc.table & tc.body).any()
    assert np.median(ct[tc.table]) > 200
    dense = tc.case.grid.image_from_array((ct > -500).astype(np.uint8))  # what a naive skin threshold keeps
    components = sitk.GetArrayFromImage(sitk.ConnectedComponent(dense, True))
    table_labels = set(np.unique(components[tc.table])) - {0}
    body_labels = set(np.unique(components[tc.body & (ct > -500)])) - {0}
    assert table_labels and not (table_labels & body_labels)


def _structure_labels(case):
    names = list(case.structures)
    labels = np.zeros(case.grid.shape, np.int16)
    for index, name in enumerate(names):
        labels[case.structures[name]] = index + 1
    return names, labels


def _structures_near_path(case, names, labels, entry, target, radius_mm):
    """Names of the structures with a voxel within ``radius_mm`` of the segment entry-target."""
    entry, target = np.asarray(entry), np.asarray(target)
    steps = int(np.linalg.norm(target - entry) / 0.5) + 2
    points = entry + (target - entry) * np.linspace(0.0, 1.0, steps)[:, None]
    r = np.arange(-math.ceil(radius_mm), math.ceil(radius_mm) + 1, 1.0)
    ball = np.stack(np.meshgrid(r, r, r, indexing="ij"), -1).reshape(-1, 3)
    ball = ball[np.linalg.norm(ball, axis=1) <= radius_mm]
    ijk = np.rint(case.grid.lps_to_index((points[:, None, :] + ball[None]).reshape(-1, 3))).astype(int)
    ijk = ijk[case.grid.contains_index(ijk, 0.0)]
    found = np.unique(labels[ijk[:, 2], ijk[:, 1], ijk[:, 0]])
    return {names[v - 1] for v in found if v}


def test_example_paths_safe_and_unsafe(tc):
    names, labels = _structure_labels(tc.case)
    safe_count = 0
    for lesion_id, truth in tc.truth.items():
        host = {truth.organ} & set(names)
        assert truth.example_paths, lesion_id
        for path in truth.example_paths:
            assert np.allclose(path.target_lps, truth.centre_lps)
            assert 10 <= path.length_mm <= 260
            crossed = _structures_near_path(tc.case, names, labels, path.entry_lps, path.target_lps, 0.0) - host
            if path.safe:
                safe_count += 1
                near = (
                    _structures_near_path(
                        tc.case, names, labels, path.entry_lps, path.target_lps, SAFE_PATH_CLEARANCE_MM
                    )
                    - host
                )
                assert not crossed and not near, (lesion_id, path.note, near)
            else:
                assert crossed == set(path.crosses), (lesion_id, path.note, crossed)
    assert safe_count == len(tc.truth)
    assert {"aorta", "stomach", "rib_right_11", "lung_lower_lobe_right"} <= {
        name for t in tc.truth.values() for p in t.example_paths for name in p.crosses
    }


def test_example_paths_are_what_the_planner_says(tc):
    """Every example path of the truth gets the planner's own verdict: the exact check the planner re-checks its
    proposals with, on the scene it prepares for the lesion's host organ (lesion mask, skin normal, all rules).
    """
    case, settings = tc.case, PlanConfig(protocol="pv10")
    body = body_mask(case.ct, settings.body.threshold_hu, settings.body.opening_radius_mm)
    skin = skin_surface(case.ct, spacing_mm=settings.planning.entry_spacing_mm, body=body, params=settings.skin)
    catalogue = settings.catalogue()
    checked, refused_by = 0, {"a hard structure": 0, "another rule": 0}
    for truth in tc.truth.values():
        mask = case.lesions[truth.lesion_id]
        organ = measure_lesion(
            lesions_from_masks({truth.lesion_id: mask})[0], case.grid, None, None, case.structures
        ).organ
        scene = prepare(
            (case.grid, case.structures),
            catalogue.rules_for_target(list(case.structures), organ),
            settings.planning,
            np.asarray([truth.centre_lps]),
        )
        for path in truth.example_paths:
            entry = np.asarray(path.entry_lps)
            nearest = int(np.argmin(np.linalg.norm(skin.points_lps - entry, axis=1)))
            check = check_path(scene, entry, path.target_lps, skin.normals_lps[nearest], mask)
            assert check.feasible == path.safe, (truth.lesion_id, path.note, check.violations)
            if not path.safe:
                hard = {n for n in path.crosses if n in scene.rules and scene.rules[n].kind == "hard"}
                if hard:  # a path through a named hard structure is blocked by (one of) them
                    assert set(check.blocking) & hard, (truth.lesion_id, path.note, check.blocking)
                    refused_by["a hard structure"] += 1
                else:  # through no hard structure (the lung): refused by a rule its violations name, nothing blocks
                    assert not check.blocking and check.violations, (truth.lesion_id, path.note, check.violations)
                    refused_by["another rule"] += 1
            checked += 1
    assert checked == sum(len(t.example_paths) for t in tc.truth.values())
    assert all(refused_by.values()), refused_by  # the truth's unsafe paths exercise both


def test_example_path_entries_are_on_the_skin(tc):
    grid = tc.case.grid
    for truth in tc.truth.values():
        for path in truth.example_paths:
            direction = np.subtract(path.entry_lps, path.target_lps)
            direction /= np.linalg.norm(direction)
            inside = grid.lps_to_index(np.asarray(path.entry_lps) - 1.5 * direction)
            outside = grid.lps_to_index(np.asarray(path.entry_lps) + 1.5 * direction)
            i_in, i_out = np.rint(inside).astype(int), np.rint(outside).astype(int)
            assert tc.body[i_in[2], i_in[1], i_in[0]] and not tc.body[i_out[2], i_out[1], i_out[0]]


def test_same_anatomy_on_an_oblique_flipped_grid():
    straight = make_teaching_case(COMPARE_SPACING_MM)
    oblique = make_teaching_case(COMPARE_SPACING_MM, direction=oblique_direction())
    assert not oblique.case.grid.same_as(straight.case.grid)
    voxel = max(COMPARE_SPACING_MM)
    for lesion_id, truth in straight.truth.items():
        for tc in (straight, oblique):
            mask = tc.case.lesions[lesion_id]
            assert mask.sum() * tc.case.grid.voxel_volume_ml == pytest.approx(truth.volume_ml, rel=0.03)
        a = centroid_lps(straight.case.grid, straight.case.lesions[lesion_id])
        b = centroid_lps(oblique.case.grid, oblique.case.lesions[lesion_id])
        assert np.linalg.norm(a - b) < voxel
    for name in ("liver", "aorta", "kidney_left", "rib_right_11"):
        volumes = [tc.case.structures[name].sum() * tc.case.grid.voxel_volume_ml for tc in (straight, oblique)]
        assert volumes[1] == pytest.approx(volumes[0], rel=0.03), name
        a = centroid_lps(straight.case.grid, straight.case.structures[name])
        b = centroid_lps(oblique.case.grid, oblique.case.structures[name])
        assert np.linalg.norm(a - b) < voxel, name
    # the CT itself agrees: at the L3 core the oblique image reads necrosis too
    core = np.rint(oblique.case.grid.lps_to_index(oblique.truth["L3"].centre_lps)).astype(int)
    patch = oblique.case.ct.array[core[2], core[1] - 2 : core[1] + 3, core[0] - 2 : core[0] + 3]
    assert np.median(patch) < NECROSIS_THRESHOLD_HU


def test_written_files_reread_with_the_same_geometry_and_masks(tmp_path):
    from hitit.io.segmentations import read_structures
    from hitit.io.volumes import read_volume

    tc = make_teaching_case(COARSE_SPACING_MM, direction=oblique_direction(), seed=5)
    paths = write_teaching_case(tc, tmp_path / "case")
    assert {p.name for p in paths.values()} == {"ct.nrrd", "structures.seg.nrrd", "lesions.seg.nrrd", "truth.json"}
    ct = read_volume(paths["ct"])
    assert ct.grid.same_as(tc.case.grid)
    assert np.array_equal(ct.array, tc.case.ct.array)
    for kind in ("structures", "lesions"):
        masks = read_structures(paths[kind], ct.grid)
        expected = getattr(tc.case, kind)
        assert masks.keys() == expected.keys()
        for name, mask in expected.items():
            assert np.array_equal(masks[name], mask), name
    truth = json.loads(paths["truth"].read_text(encoding="utf-8"))
    assert truth["frame"] == "LPS" and truth["seed"] == 5
    assert truth["lesions"]["L3"]["necrotic_fraction"] == pytest.approx(tc.truth["L3"].necrotic_fraction, abs=1e-4)
    assert truth["lesions"]["L2"]["volume_ml"] == pytest.approx(tc.truth["L2"].volume_ml, abs=1e-4)
