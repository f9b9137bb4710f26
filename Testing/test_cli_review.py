"""``hitit review`` end to end on files: teaching case CT with a needle, post-injection CT, logs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hitit.cli.main import main
from hitit.plan.plan_file import plan_from_dict
from hitit.io.markups import Markup, write_markups
from hitit.io.volumes import write_volume
from hitit.phantom import make_teaching_case, write_teaching_case
from plan_documents import deposits_record, lesion_record, plan_document, trajectory_record
from test_review_injectate import INJECTION_CENTRE_LPS, INJECTION_SEMI_AXES_MM, add_injection
from test_review_needle import insert_needle

TILT_DEG = 6.0


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Case files, a plan for L1 and L4, the needle CT (L1 needle tilted by TILT_DEG), post CT and logs."""
    root = tmp_path_factory.mktemp("review")
    teaching = make_teaching_case(spacing_mm=(1.0, 1.0, 2.0), seed=2)
    paths = write_teaching_case(teaching, root / "case")
    path = teaching.truth["L1"].example_paths[0]
    entry, target = np.asarray(path.entry_lps), np.asarray(path.target_lps)
    planned = (target - entry) / np.linalg.norm(target - entry)
    side = np.cross(planned, [0.0, 0.0, 1.0])
    actual = np.cos(np.radians(TILT_DEG)) * planned + np.sin(np.radians(TILT_DEG)) * side / np.linalg.norm(side)
    tip = target + np.array([0.5, 0.5, 0.0])
    hub = tip - actual * (np.linalg.norm(target - entry) + 15.0)
    needle_ct = insert_needle(teaching.case.ct, hub, tip)
    write_volume(needle_ct, root / "needle_ct.nrrd")
    write_volume(add_injection(needle_ct, INJECTION_CENTRE_LPS, INJECTION_SEMI_AXES_MM), root / "post_ct.nrrd")
    l4 = teaching.truth["L4"].example_paths[0]
    plan = plan_document(
        [
            lesion_record(
                "L1",
                [trajectory_record(entry, target, min_clearance_mm=9.0, score=1.0)],
                deposits_record((INJECTION_CENTRE_LPS, 40.0, 1.5)),
            ),
            lesion_record(
                "L4",
                [trajectory_record(l4.entry_lps, l4.target_lps, min_clearance_mm=20.0, score=1.0)],
                deposits_record((l4.target_lps, 15.0, 0.5)),
            ),
        ],
        structures=teaching.case.structures,
        host_organ="liver",
    )
    (root / "plan").mkdir()
    (root / "plan" / "plan.json").write_text(json.dumps(plan))
    (root / "log.csv").write_text(
        "lesion_id,delivered_ml,needle,passes,leakage_seen\nL1,1.5,22G,2,yes\nL4,0.2,22G,1,no\n"
    )
    (root / "samples.json").write_text(
        json.dumps(
            {
                "frame": "LPS",
                "samples": [
                    {"id": "B1", "lesion_id": "L1", "timepoint": "C1D1", "point": list(target + [0.0, 0.0, 4.0])}
                ],
            }
        )
    )
    return {"root": root, "paths": paths, "tip": tip, "hub": hub, "target": target}


def _args(files, out, *extra):
    root, paths = files["root"], files["paths"]
    return [
        "review",
        "--plan",
        str(root / "plan"),
        "--ct",
        str(root / "needle_ct.nrrd"),
        "--structures",
        str(paths["structures"]),
        "--structures",
        str(paths["lesions"]),
        "--out",
        str(out),
        *extra,
    ]


def test_review_end_to_end(files, capsys):
    root = files["root"]
    out = root / "out"
    code = main(
        _args(
            files,
            out,
            "--post-ct",
            str(root / "post_ct.nrrd"),
            "--injection-log",
            str(root / "log.csv"),
            "--sampling-log",
            str(root / "samples.json"),
        )
    )
    assert code == 0, capsys.readouterr().err
    review = json.loads((out / "review.json").read_text(encoding="utf-8"))
    assert review["frame"] == "LPS"
    needles = {n["lesion_id"]: n for n in review["needles"]}
    assert set(needles) == {"L1"} and "L4" in review["needle_notes"]  # no needle was placed in L4
    l1 = needles["L1"]
    assert np.linalg.norm(np.subtract(l1["needle"]["tip_lps"], files["tip"])) <= 1.0
    assert l1["deviation"]["angle_deg"] == pytest.approx(TILT_DEG, abs=1.0)
    assert l1["deviation"]["tip_to_target_mm"] == pytest.approx(np.sqrt(0.5), abs=1.0)
    assert l1["margins"]["kept"] is True
    volumes = {row["lesion_id"]: row for row in review["volumes"]["lesions"]}
    assert volumes["L1"]["technical_success"] is True and volumes["L4"]["technical_success"] is False
    injectate = {r["lesion_id"]: r for r in review["injectate"]}
    assert injectate["L1"]["baseline_used"] is True
    assert injectate["L1"]["injectate_ml"] == pytest.approx(
        4 / 3 * np.pi * np.prod(INJECTION_SEMI_AXES_MM) / 1000, rel=0.05
    )
    assert injectate["L1"]["leaked_by_structure_ml"]["liver"] > 0
    assert review["samples"][0]["nearest_planned_deposit_mm"] == pytest.approx(
        np.linalg.norm(files["target"] + [0, 0, 4.0] - INJECTION_CENTRE_LPS), abs=1e-3
    )
    page = (out / "review.html").read_text(encoding="utf-8")
    for image in ("needle_L1.png", "injectate_L1.png"):
        assert f'src="{image}"' in page and (out / image).stat().st_size > 1000


def test_review_with_a_reviewer_line(files):
    root = files["root"]
    line = write_markups(
        root / "needle.mrk.json", [Markup("line", "L1", np.vstack([files["hub"], files["tip"]]))], "RAS"
    )
    out = root / "out_markup"
    assert main(_args(files, out, "--needle", str(line))) == 0
    review = json.loads((out / "review.json").read_text(encoding="utf-8"))
    assert {n["lesion_id"] for n in review["needles"]} == {"L1"}  # the line named L1 is L1's needle only
    assert [r["lesion_id"] for r in review["not_reviewed"]] == ["L4"]
    l1 = next(n for n in review["needles"] if n["lesion_id"] == "L1")
    assert l1["needle"]["source"] == "markup"
    np.testing.assert_allclose(l1["needle"]["tip_lps"], files["tip"], atol=1e-3)


def test_lines_for_some_lesions_only(files, capsys):
    """An unnamed line along L1's needle is L1's; L4, never needled, is "not reviewed" (no tip error made up),
    and a stray unnamed line far from every planned path is matched to nothing.
    """
    root = files["root"]
    stray = np.array([[150.0, -60.0, -90.0], [120.0, -40.0, -90.0]])
    line = write_markups(
        root / "unnamed.mrk.json",
        [Markup("line", "L_1", np.vstack([files["hub"], files["tip"]])), Markup("line", "needle", stray)],
        "LPS",
    )
    out = root / "out_unnamed"
    assert main(_args(files, out, "--needle", str(line))) == 0
    printed = capsys.readouterr().out
    review = json.loads((out / "review.json").read_text(encoding="utf-8"))
    assert [n["lesion_id"] for n in review["needles"]] == ["L1"]
    l1 = review["needles"][0]
    assert l1["deviation"]["tip_to_target_mm"] == pytest.approx(np.sqrt(0.5), abs=1.0)
    assert "unnamed" in review["needle_notes"]["L1"]
    assert review["not_reviewed"] == [{"lesion_id": "L4", "reason": review["needle_notes"]["L4"]}]
    assert review["needle_notes"]["L4"].startswith("not reviewed") and "15 mm" in review["needle_notes"]["L4"]
    assert "L4: not reviewed" in printed
    page = (out / "review.html").read_text(encoding="utf-8")
    assert "Not reviewed" in page and "needle_L4.png" not in page


def test_missing_plan_is_a_clear_error(files, tmp_path, capsys):
    args = _args(files, tmp_path / "o")
    args[2] = str(tmp_path)
    assert main(args) == 2
    assert "plan.json" in capsys.readouterr().err


def _valid():
    return plan_document(
        [lesion_record("L1", [trajectory_record([0, 0, 0], [0, 50, 0])], deposits_record(([0, 50, 0], 50, 1.0)))],
        structures=["aorta"],
    )


def _broken(change):
    """A valid plan document with one field broken by ``change`` (a change returning a list replaces the document)."""
    document = _valid()
    replaced = change(document)
    return replaced if isinstance(replaced, list) else document


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: [{"id": "L1"}], "top level"),
        (lambda d: d.update(lesions={"L1": {}}), "lesions"),
        (lambda d: d.update(lesions=["L1"]), "lesions[0]"),
        (lambda d: d["lesions"][0].pop("id"), "lesions[0].id"),
        (lambda d: d["lesions"][0]["trajectories"][0].update(entry_lps=[0, 0]), "lesions[0].trajectories[0].entry_lps"),
        (
            lambda d: d["lesions"][0]["deposits"]["paths"][0]["deposits"][0].update(
                point=d["lesions"][0]["deposits"]["paths"][0]["deposits"][0].pop("point_lps")
            ),
            "lesions[0].deposits.paths[0].deposits[0].point_lps",
        ),
        (lambda d: d["scenes"][0].update(rules={"aorta": {"margin": 5}}), "scenes[0].rules.aorta"),
        (lambda d: d.update(scenes=[]), "lesions[0].scene_index"),
        (lambda d: d["config"].update(planning=[]), "config.planning"),
        (lambda d: d.update(frame="RAS"), "frame"),
        (lambda d: d.pop("format_version"), "format_version"),
        (lambda d: d.update(format_version=2), "format_version 2"),
        (lambda d: d["config"]["planning"].update(margin_mm=5.0), "config.planning.margin_mm"),
    ],
)
def test_a_plan_json_of_another_shape_is_a_one_line_error(files, tmp_path, capsys, change, field):
    (tmp_path / "plan.json").write_text(json.dumps(_broken(change)))
    args = _args(files, tmp_path / "o")
    args[2] = str(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert field in err and "hitit plan" in err
    assert not (tmp_path / "o").exists()


def test_the_hand_built_plan_of_these_tests_is_a_valid_plan():
    """The broken plans above differ from a plan every reader accepts by the one field named."""
    assert plan_from_dict(_valid()).lesion("L1").injectate_ml == 1.0
