"""``hitit plan`` on the teaching case: every proposed path is checked independently against the masks,
the plan folder holds what Slicer and a reader need, and bad input never destroys an earlier plan.
"""

import base64
import csv
import json
import math
import re

import jsonschema
import numpy as np
import pytest

from hitit.anatomy.catalogue import Catalogue
from hitit.case import Case
from hitit.cli.main import main
from hitit.errors import InputError
from hitit.io.markups import markups_schema, read_markups
from hitit.phantom import make_teaching_case, write_teaching_case
from hitit.plan import PlanConfig, plan_case, write_plan
from hitit.plan.report import KEY_IMAGE_LEGEND, build_report, plan_notices
from hitit.report.key_images import KeyImages
from plan_command import plan_args

#: Coarse grid: the test is about the plan's safety and contents, not about resolution.
SPACING_MM = (2.0, 2.0, 3.0)


@pytest.fixture(scope="module")
def teaching():
    return make_teaching_case(spacing_mm=SPACING_MM)


@pytest.fixture(scope="module")
def plan(teaching):
    return plan_case(teaching.case, PlanConfig(protocol="pv10"))


def exact_clearance_mm(grid, mask, entry, target, step_mm=0.1):
    """Independent check: distance from dense points along the needle to the nearest mask voxel centre."""
    k, j, i = np.nonzero(mask)
    centres = grid.index_to_lps(np.column_stack([i, j, k]))
    length = np.linalg.norm(np.subtract(target, entry))
    samples = np.asarray(entry) + np.linspace(0, 1, int(length / step_mm) + 2)[:, None] * np.subtract(target, entry)
    lo, hi = samples.min(0) - 40, samples.max(0) + 40
    near = centres[np.all((centres >= lo) & (centres <= hi), axis=1)]
    if len(near) == 0:
        return np.inf
    best = np.inf
    for chunk in np.array_split(samples, max(1, len(samples) // 200)):
        d = np.sqrt(((chunk[:, None, :] - near[None, :, :]) ** 2).sum(-1)).min()
        best = min(best, d)
    return best


def test_every_feasible_path_keeps_its_margins(teaching, plan):
    grid = teaching.case.grid
    catalogue = Catalogue.default()
    tolerance = plan.settings.planning.tolerance_for(grid.min_spacing_mm)
    assert tolerance <= grid.min_spacing_mm / 2
    radius = plan.settings.planning.needle_radius_mm
    checked = 0
    for lesion in plan.lesions:
        rules = catalogue.rules_for_target(teaching.case.structures, lesion.measurement.organ)
        for t in lesion.target.trajectories:
            assert t.feasible
            for name, rule in rules.items():
                if rule.kind != "hard":
                    continue
                clearance = exact_clearance_mm(grid, teaching.case.structures[name], t.entry_lps, t.target_lps)
                assert clearance >= rule.margin_mm + radius - tolerance, (lesion.lesion_id, t.rank, name, clearance)
                checked += 1
    assert checked > 0


def test_plan_finds_safe_paths_and_follows_the_protocol(teaching, plan):
    by_id = {lesion.lesion_id: lesion for lesion in plan.lesions}
    assert set(by_id) == set(teaching.truth)
    for lesion_id, lesion in by_id.items():
        assert lesion.feasible, f"{lesion_id}: the teaching case has a safe approach to every lesion"
        top = lesion.target.trajectories
        assert len(top) == plan.settings.planning.top_k, lesion_id
        assert top[0].feasible and top[0].length_mm <= plan.settings.planning.needle_length_mm
        # every proposed path, not only the best, is feasible and within the needle's reach
        for t in top:
            assert t.feasible and t.length_mm <= plan.settings.planning.needle_length_mm, (lesion_id, t.rank)
        truth = teaching.truth[lesion_id]
        assert lesion.measurement.volume_ml == pytest.approx(truth.volume_ml, rel=0.1)
    # pv10: 0.5 mL per mL of lesion, no cap; no teaching lesion is refused (L2 abutting the IVC is a caution)
    assert {lesion.lesion_id: lesion.injectability.verdict for lesion in plan.lesions} == {
        "L1": "yes",
        "L2": "caution",
        "L3": "yes",
        "L4": "yes",
    }
    max_deposit_ml = plan.settings.deposits.max_deposit_ml
    for lesion in plan.lesions:
        assert lesion.injectate_ml == pytest.approx(0.5 * lesion.measurement.volume_ml, rel=0.02)
        assert lesion.injectate_ml == pytest.approx(0.5 * teaching.truth[lesion.lesion_id].volume_ml, rel=0.1)
        assert lesion.deposits is not None and lesion.deposits.deposits
        # an independent count: the injectate in deposits of at most max_deposit_ml, at least one per needle path
        paths = lesion.deposits.paths
        expected = max(math.ceil(lesion.injectate_ml / max_deposit_ml - 1e-9), len(paths))
        assert sum(len(path.deposits) for path in paths) == expected, lesion.lesion_id
        assert sum(d.volume_ml for path in paths for d in path.deposits) == pytest.approx(lesion.injectate_ml)
        assert all(d.volume_ml <= max_deposit_ml + 1e-9 for path in paths for d in path.deposits)
        # every deposit lies inside its lesion
        mask = teaching.case.lesions[lesion.lesion_id]
        points = np.array([d.point_lps for path in paths for d in path.deposits])
        index = np.rint(teaching.case.grid.lps_to_index(points)).astype(int)
        assert mask[index[:, 2], index[:, 1], index[:, 0]].all(), lesion.lesion_id


def test_tvec_refuses_liver_lesions(teaching):
    plan = plan_case(teaching.case, PlanConfig(protocol="tvec"))
    # the teaching case's truth puts L1-L3 in the liver and L4 in the abdominal wall: the plan must find that
    liver = {lesion.lesion_id for lesion in plan.lesions if lesion.measurement.organ == "liver"}
    assert liver == {lesion_id for lesion_id, truth in teaching.truth.items() if truth.organ == "liver"}
    assert liver == {"L1", "L2", "L3"}
    for lesion in plan.lesions:
        if lesion.measurement.organ == "liver":
            assert lesion.injectability.verdict == "no" and lesion.injectate_ml == 0
            assert any(r.code == "TVEC_LIVER" for r in lesion.injectability.reasons)
    # the lesion outside the liver is injected: its known 20 mm LD takes 1 mL (Imlygic US prescribing information
    # section 2 table: longest dimension > 1.5 to 2.5 cm -> up to 1 mL)
    l4 = plan.lesion("L4")
    assert teaching.truth["L4"].longest_axial_diameter_mm == 20.0
    assert l4.injectability.verdict == "yes" and not any(r.code == "TVEC_LIVER" for r in l4.injectability.reasons)
    assert l4.injectate_ml == pytest.approx(1.0)
    assert plan.allocation.total_injectate_ml <= 4.0
    assert plan.allocation.total_injectate_ml == pytest.approx(l4.injectate_ml)


def test_plan_folder_contents(tmp_path, teaching, plan):
    files = write_plan(plan, teaching.case, tmp_path / "plan")
    document = json.loads(files["plan"].read_text(encoding="utf-8"))
    assert document["frame"] == "LPS" and "planning" in document["config"]
    for lesion in document["lesions"]:
        assert {"id", "status", "allocation", "trajectories", "target_lps", "scene_index"} <= set(lesion)
        assert "injectate_ml" in lesion["allocation"] and "injectate_ml" not in lesion  # each value once
        assert {"centroid_lps", "ld_endpoints_lps"} <= set(lesion["measurement"])
        for t in lesion["trajectories"]:
            assert {
                "rank",
                "entry_lps",
                "target_lps",
                "length_mm",
                "min_clearance_mm",
                "clearance_by_structure_mm",
                "feasible",
                "score",
            } <= set(t)
        assert None not in lesion["measurement"]["distance_to_structures_mm"].values()
        # the chosen path carries its procedure card, consistent with the path it describes
        card = lesion["trajectories"][0]["procedure"]
        chosen = lesion["trajectories"][0]
        assert card["entry_lps"] == pytest.approx(chosen["entry_lps"], abs=0.01)
        assert card["depth_to_target_mm"] == pytest.approx(chosen["length_mm"], abs=0.06)
        assert card["depth_to_lesion_edge_mm"] < card["depth_to_target_mm"] <= card["depth_mark_mm"] + 0.06
        assert card["total_injectate_ml"] == pytest.approx(lesion["allocation"]["injectate_ml"], abs=0.01)
        assert all("procedure" not in t for t in lesion["trajectories"][1:])
    # L4 lies in the anterior abdominal wall left of the midline: entered from the front, patient supine
    l4 = next(lesion for lesion in document["lesions"] if lesion["id"] == "L4")["trajectories"][0]["procedure"]
    assert (l4["entry_side"], l4["patient_position"], l4["midline_side"]) == ("anterior", "supine", "left")
    jsonschema.validate(json.loads(files["trajectories"].read_text(encoding="utf-8")), markups_schema())
    lines = read_markups(files["trajectories"])
    assert all(line.kind == "line" for line in lines) and lines[0].name.endswith("-T1")
    rows = list(csv.DictReader(files["lesions_csv"].open(encoding="utf-8")))
    assert [r["id"] for r in rows] == [lesion.lesion_id for lesion in plan.lesions]
    for lesion in plan.lesions:
        # compressed: the raw arrays would take about 80 bytes per skin point
        size = files[f"accessibility_{lesion.lesion_id}"].stat().st_size
        assert 1000 < size < min(1_000_000, 30 * len(lesion.target.skin.points_lps))
    html = files["report"].read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") >= 2 * len(plan.lesions)
    assert "Chosen-path figures drawn by the HITIT core (matplotlib" in html


def test_report_embeds_key_images_of_another_renderer(tmp_path, teaching, plan):
    """Pictures handed in (as the Slicer-side renderer does)
    replace the core's chosen-path figures of those views only.
    """
    lesion = next(lesion for lesion in plan.to_dict()["lesions"] if lesion["trajectories"])
    rank = lesion["trajectories"][0]["rank"]
    pictures = {view: base64.b64decode(PNG_1X1) for view in ("axial", "3d")}
    key_images = KeyImages("a test renderer", {(lesion["id"], rank, view): png for view, png in pictures.items()})
    html = write_plan(plan, teaching.case, tmp_path / "plan", key_images=key_images)["report"].read_text(
        encoding="utf-8"
    )
    assert "Chosen-path figures drawn by a test renderer." in html
    assert html.count(PNG_1X1) == 2
    assert html.count(f"chosen path: 3D view (drawn by {KEY_IMAGE_LEGEND})</figcaption>") == 1  # the core draws none
    assert f"{lesion['id']} chosen path: axial plane through the target (drawn by 3D Slicer" in html
    # not handed in: drawn by the core
    assert f"{lesion['id']} chosen path: plane along the needle (green: needle, red +: target" in html
    with pytest.raises(ValueError, match="Unknown key image view"):
        key_images.get(lesion["id"], rank, "sagittal")


#: The smallest PNG (one black pixel), base64.
PNG_1X1 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg=="


def test_cli_plan_and_bad_input_keep_the_previous_plan(tmp_path, teaching, capsys):
    paths = write_teaching_case(teaching, tmp_path / "case")
    out = tmp_path / "plan"
    args = plan_args(paths, out)
    assert main(args) == 0
    before = (out / "plan.json").read_bytes()
    # the teaching CT's header says it is contrast-enhanced, so the plan assesses necrosis (L3's known 0.25)
    document = json.loads(before)
    assert document["contrast"]["enhanced"] is True and "ContrastBolusAgent" in document["contrast"]["source"]
    l3 = next(lesion for lesion in document["lesions"] if lesion["id"] == "L3")["measurement"]
    assert l3["necrosis"]["status"] == "assessed"
    assert l3["necrosis_fraction"] == pytest.approx(teaching.truth["L3"].necrotic_fraction, abs=0.03)
    bad = [*args[:-2], "--protocol", "no-such-protocol", "--out", str(out)]
    assert main(bad) == 2
    assert "protocol" in capsys.readouterr().err
    assert (out / "plan.json").read_bytes() == before


def test_necrosis_not_assessed_neither_passes_nor_fails_and_says_so(tmp_path, teaching):
    """Stated unenhanced: L3's necrosis is 'not assessed' in plan.json, the lesions table and the report, and the
    necrosis rule neither refuses nor clears it.
    """
    case = Case(teaching.case.ct, teaching.case.structures, {"L3": teaching.case.lesions["L3"]})
    plan = plan_case(case, PlanConfig(protocol="pv10", contrast="no"))
    files = write_plan(plan, case, tmp_path / "plan")
    document = json.loads(files["plan"].read_text(encoding="utf-8"))
    assert document["config"]["contrast"] == "no" and document["contrast"]["enhanced"] is False
    assert any("stated" in w and "ContrastBolusAgent" in w for w in document["warnings"])  # the header disagrees
    (lesion,) = document["lesions"]
    necrosis = lesion["measurement"]["necrosis"]
    assert necrosis["status"] == "not assessed" and lesion["measurement"]["necrosis_fraction"] is None
    assert "not contrast-enhanced" in necrosis["reason"]
    assert "fluid_min_hu" in document["config"]["measurement"]["necrosis"]["sources"]
    reasons = {r["code"]: r for r in lesion["injectability"]["reasons"]}
    assert reasons["NECROSIS_UNKNOWN"]["severity"] == "info" and "MOSTLY_NECROTIC" not in reasons
    assert "neither passes nor fails" in reasons["NECROSIS_UNKNOWN"]["message"]
    (row,) = list(csv.DictReader(files["lesions_csv"].open(encoding="utf-8")))
    assert row["necrosis"].startswith("not assessed") and row["necrosis_fraction"] == ""
    assert "necrosis not assessed" in files["report"].read_text(encoding="utf-8")


def test_lesion_outside_body_is_refused(teaching):
    case = teaching.case
    outside = np.zeros(case.grid.shape, bool)
    outside[:3, :3, :3] = True
    with pytest.raises(InputError, match="outside the body"):
        plan_case(Case(case.ct, case.structures, {"X1": outside}), PlanConfig(protocol="pv10"))


def test_no_safe_path_is_explained_never_silent(teaching):
    # L4 lies in the anterior wall: from the back every skin point is beyond the needle's reach
    plan = plan_case(teaching.case, PlanConfig(protocol="pv10", entry_sides=("posterior",)))
    l4 = plan.lesion("L4")
    assert l4.target.status == "no_safe_path" and not l4.target.trajectories
    assert "needle length" in l4.target.message
    assert l4.injectability.verdict == "no" and l4.injectate_ml == 0
    assert "NO_SAFE_TRAJECTORY" in [r.code for r in l4.injectability.reasons]
    # margins so large that every path to L2 (1 mm from the IVC) is blocked: the blockers are named
    # and the least-bad paths are offered with their violations
    plan = plan_case(teaching.case, PlanConfig(protocol="pv10", margins_mm={"vessel": 40.0}))
    l2 = plan.lesion("L2")
    assert l2.target.status == "no_safe_path"
    assert "inferior_vena_cava" in l2.target.blocking_structures
    assert l2.target.least_bad and all(not p.feasible and p.violations for p in l2.target.least_bad)
    assert "inferior_vena_cava" in l2.target.message


def test_best_aim_is_inside_the_lesion_and_never_worse(teaching, plan):
    best = plan_case(teaching.case, PlanConfig(protocol="pv10", aim="best"))
    grid = teaching.case.grid
    for lesion in best.lesions:
        centre_plan = plan.lesion(lesion.lesion_id)
        aim = np.rint(grid.lps_to_index(lesion.target.target_lps)).astype(int)
        assert teaching.case.lesions[lesion.lesion_id][aim[2], aim[1], aim[0]], "the aim point lies in the lesion"
        assert lesion.target.trajectories[0].score >= centre_plan.target.trajectories[0].score - 1e-9
    with pytest.raises(InputError, match="aim"):
        PlanConfig(aim="anywhere")


def _visible_text(html: str) -> str:
    """The page without its embedded images."""
    return re.sub(r'src="data:image/png;base64,[^"]*"', 'src=""', html)


def test_report_leads_with_the_decision_and_has_a_card_per_lesion(teaching, plan):
    document = plan.to_dict()
    html = _visible_text(build_report(document, teaching.case))
    decision = html.index("<h2>Decision</h2>")
    assert decision < html.index('<section id="lesion-L1"')
    for lesion in document["lesions"]:
        start = html.index(f'<section id="lesion-{lesion["id"]}" class="page">')
        section = html[start : html.index("</section>", start)]
        assert f'href="#lesion-{lesion["id"]}"' in html[decision:start]
        assert "Procedure card" in section and "Patient position" in section and "Depth marks" in section
        assert section.count("<img") >= 3  # two reformats of the chosen path and the thumbnails
    assert "Longest diameter (mm)" in html and "Injectate this visit (mL)" in html
    for leftover in (
        ">True<",
        ">False<",
        ">None<",
        "nan",
        "cap None",
        "longest_diameter_mm",
        "recist_category",
        "outside the needle's reach",
    ):
        assert leftover not in html, leftover


def test_report_warns_only_about_what_matters(teaching, plan):
    document = plan.to_dict()
    grid = teaching.case.grid
    # the teaching case: nothing missing, no path near the edge of the scan
    assert plan_notices(document, teaching.case) == {}
    structures = dict(teaching.case.structures)
    structures["gallbladder"] = np.zeros(grid.shape, bool)
    # an aorta cut by the first slice of the scan, next to a path laid along that slice
    cut = np.zeros(grid.shape, bool)
    cut[0:3, 60:64, 80:84] = True
    structures["aorta"] = cut
    near = json.loads(json.dumps(document))
    lesion = near["lesions"][0]
    lesion["trajectories"][0]["entry_lps"] = grid.index_to_lps(np.array([60.0, 62.0, 1.0])).tolist()
    lesion["trajectories"][0]["target_lps"] = grid.index_to_lps(np.array([100.0, 62.0, 1.0])).tolist()
    notices = plan_notices(near, Case(teaching.case.ct, structures, teaching.case.lesions))
    assert [n for n in notices["Critical structures missing"] if "gallbladder" in n]
    [cut_notice] = [n for n in notices["Cut by the field of view"] if n.startswith("aorta ")]
    assert cut_notice.startswith("aorta is cut by the edge of the scan") and lesion["id"] in cut_notice
    assert f"{1.5 * grid.spacing_mm[2]:.0f} mm" in cut_notice
    # the same path ten slices up: the edge is too far to hide anything near the needle
    for key in ("entry_lps", "target_lps"):
        point = grid.lps_to_index(np.array(lesion["trajectories"][0][key]))
        point[2] = 10
        lesion["trajectories"][0][key] = grid.index_to_lps(point).tolist()
    assert "Cut by the field of view" not in plan_notices(
        near, Case(teaching.case.ct, structures, teaching.case.lesions)
    )
