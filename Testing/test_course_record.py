"""The course record: building it from plans and reviews, its validation, the schedule and the response study."""

import copy
import datetime as dt
import json

import pytest

from hitit.cli.main import main
from hitit.course.build import make_visit, new_course, record_injections, add_new_lesion
from hitit.course.record import Imaging, course_from_dict, load_course, save_course
from hitit.course.response import course_study
from hitit.course.schedule import course_status
from hitit.errors import InputError
from hitit.response import evaluate_study

BASELINE = dt.date(2026, 1, 5)


def _plan_lesion(lesion_id, ld_mm, sa_mm, injectate_ml, organ="liver", verdict="yes"):
    return {
        "id": lesion_id,
        "measurement": {
            "organ": organ,
            "nodal": False,
            "longest_diameter_mm": ld_mm,
            "short_axis_mm": sa_mm,
            "volume_ml": 1.0,
            "measurable": ld_mm >= 10,
        },
        "injectability": {"verdict": verdict},
        "allocation": {"injectate_ml": injectate_ml},
        "trajectories": [{"rank": 1, "entry_lps": [0.0, -100.0, 0.0], "target_lps": [0.0, 0.0, 0.0]}],
    }


def _plan(lesions):
    return {"protocol": {"name": "tvec", "path": "shipped protocol 'tvec'"}, "lesions": lesions}


def _review(rows):
    """A review.json with needles, volumes and injectate for (lesion, tip error, delivered, leaked) rows."""
    return {
        "needles": [
            {"lesion_id": lid, "deviation": {"tip_to_target_mm": e, "angle_deg": 2.0}, "margins": {"kept": True}}
            for lid, e, _, _ in rows
        ],
        "volumes": {
            "technical_success": True,
            "lesions": [{"lesion_id": lid, "delivered_ml": d, "technical_success": True} for lid, _, d, _ in rows],
        },
        "injectate": [{"lesion_id": lid, "injectate_ml": d, "leaked_ml": k} for lid, _, d, k in rows],
    }


@pytest.fixture()
def course():
    """T-VEC course: L1 60 mm and L2 30 mm targets, L3 8 mm non-target; visit 1 injects L1 only (4 mL cap)."""
    plan = _plan(
        [_plan_lesion("L1", 60.0, 40.0, 4.0), _plan_lesion("L2", 30.0, 20.0, 0.0), _plan_lesion("L3", 8.0, 6.0, 0.0)]
    )
    course = new_course("P1", plan, BASELINE, "baseline-plan")
    visit = make_visit(course, 1, BASELINE + dt.timedelta(days=7), plan, _review([("L1", 2.5, 3.8, 0.2)]))
    course.add(visit)
    assert record_injections(course, visit) == ["L1"]
    return course


def test_baseline_categories_and_visit_one_figures(course):
    assert [item.category_history[0]["category"] for item in course.lesions] == ["T-NI", "T-NI", "NT-NI"]
    assert course.lesion("L1").category_history[-1] == {"category": "T-I", "from_visit": 1}
    visit = course.visit(1)
    assert visit.concentration_per_ml == 1e6 and visit.per_visit_cap_ml == 4.0 and visit.technical_success is True
    l1 = visit.lesion("L1")
    assert (l1["planned_volume_ml"], l1["delivered_ml"], l1["tip_to_target_mm"], l1["leaked_ml"]) == (
        4.0,
        3.8,
        2.5,
        0.2,
    )
    assert course.baseline.measurements["L1"]["diameter_mm"] == 60.0
    # through the file and back, unchanged
    assert course_from_dict(json.loads(json.dumps(course.to_dict()))).to_dict() == course.to_dict()


def test_status_follows_the_tvec_schedule_and_puts_new_lesions_first(course):
    status = course_status(course)
    assert status.next_visit == 2 and status.next_visit_date == BASELINE + dt.timedelta(days=7 + 21)
    assert status.allocation.concentration_per_ml == 1e8
    # no new lesion: largest first, 4 mL for L1 fills the cap, L2 (2 mL) waits
    rows = {a.lesion_id: a for a in status.allocation.lesions}
    assert rows["L1"].injectate_ml == 4.0 and not rows["L2"].inject
    # a new 20 mm lesion at week 3 comes first at visit 2 (1 mL), then L1 no longer fits
    course.add(Imaging("W3", BASELINE + dt.timedelta(days=25), {"L4": {"diameter_mm": 20.0}}))
    add_new_lesion(course, "L4", "liver", "W3", True)
    rows = {a.lesion_id: a for a in course_status(course).allocation.lesions}
    assert rows["L4"].priority_rank == 1 and rows["L4"].injectate_ml == 1.0 and rows["L4"].new
    assert rows["L1"].injectate_ml == 0.0
    assert not any("overdue" in note for note in course_status(course).notes)
    course.add(Imaging("W6", BASELINE + dt.timedelta(days=45), {}))
    assert (
        "visit 2 was due on 2026-02-02, before the course's latest entry (time point W6"
        in course_status(course).notes[-1]
    )
    course.add(make_visit(course, 2, BASELINE + dt.timedelta(days=28)))
    assert course_status(course).next_visit_date == BASELINE + dt.timedelta(days=28 + 14)


def test_response_study_uses_the_course_ids_and_injection_time_points(course):
    course.add(
        Imaging(
            "W6",
            BASELINE + dt.timedelta(days=42),
            {"L1": {"diameter_mm": 40.0}, "L2": {"diameter_mm": 20.0}, "L3": {"diameter_mm": "absent"}},
        )
    )
    # L2 first injected at visit 2, after W6: it counts as injected from the next imaging, W12
    visit2 = make_visit(course, 2, BASELINE + dt.timedelta(days=45), _plan([_plan_lesion("L2", 20.0, 15.0, 1.0)]))
    course.add(visit2)
    record_injections(course, visit2)
    course.add(
        Imaging("W12", BASELINE + dt.timedelta(days=84), {"L1": {"diameter_mm": 30.0}, "L2": {"diameter_mm": 10.0}})
    )
    study = course_study(course)
    lesions = {item.id: item for item in study.lesions}
    assert lesions["L1"].injected_from == "BL" and lesions["L2"].injected_from == "W12"
    assert lesions["L3"].role == "non-target" and lesions["L3"].status == {"BL": "present", "W6": "absent"}
    itrecist = evaluate_study(study, warn_baseline=True).itrecist
    # W6: injected stream L1 60 -> 40 (-33 %: PR); non-injected L2 30 -> 20 (-33 %: PR)
    assert itrecist.timepoints[1].injected == "iPR" and itrecist.timepoints[1].non_injected == "iPR"


def _broken(course, change):
    data = copy.deepcopy(course.to_dict())
    change(data)
    with pytest.raises(InputError) as error:
        course_from_dict(data, "course.json")
    return str(error.value)


def test_validation_names_lesion_visit_and_field(course):
    def back_to_non_injected(d):
        d["timeline"].append({**d["timeline"][1], "number": 2, "date": "2026-02-02", "lesions": []})
        d["lesions"][0]["category_history"].append({"category": "T-NI", "from_visit": 2})

    message = _broken(course, back_to_non_injected)
    assert "lesion L1" in message and "category_history/2" in message and "injected to non-injected" in message

    message = _broken(
        course, lambda d: d["lesions"][1]["category_history"].append({"category": "NT-I", "from_visit": 1})
    )
    assert "lesion L2" in message and "target/non-target role" in message

    def visit_before_baseline(d):
        d["timeline"][1]["date"] = "2026-01-01"

    message = _broken(course, visit_before_baseline)
    assert "visit 1, field date" in message and "precede" in message

    message = _broken(course, lambda d: d["timeline"][0]["measurements"].update({"L9": {"diameter_mm": 5.0}}))
    assert "time point BL, field measurements/L9" in message and "unknown lesion" in message

    message = _broken(course, lambda d: d["timeline"][1]["lesions"].append({"lesion_id": "L7"}))
    assert "visit 1, field lesions/3/lesion_id" in message and "unknown lesion" in message

    message = _broken(course, lambda d: d["timeline"][1]["lesions"][0].update(delivered_ml=-1))
    assert "visit 1, field lesions/0/delivered_ml" in message

    message = _broken(course, lambda d: d["lesions"][0]["category_history"].pop())
    assert "lesion L1, field category_history" in message and "injected at visit 1" in message


def test_cli_new_visit_timepoint_status(tmp_path, capsys, course):
    path = tmp_path / "course.json"
    save_course(course, path, new=True)
    with pytest.raises(InputError):
        save_course(course, path, new=True)
    study = {
        "timepoints": [{"id": "BL", "date": "2026-01-05"}, {"id": "W6", "date": "2026-02-16"}],
        "lesions": [{"id": "L1", "organ": "liver", "role": "target", "measurements": {"BL": 60, "W6": 42}}],
        "new_lesions": [
            {"id": "L5", "timepoint": "W6", "organ": "lung", "measurable": True, "measurements": {"W6": 12}}
        ],
    }
    (tmp_path / "study.json").write_text(json.dumps(study))
    assert (
        main(
            [
                "course",
                "add-timepoint",
                str(path),
                "--id",
                "W6",
                "--date",
                "2026-02-16",
                "--study",
                str(tmp_path / "study.json"),
                "--new",
                "L5=lung",
                "--status",
                "L3=present",
            ]
        )
        == 0
    )
    saved = load_course(path)
    assert saved.imaging[-1].measurements == {"L1": {"diameter_mm": 42}, "L5": {"diameter_mm": 12}}
    assert saved.lesion("L5").category_history == [{"category": "NL-NI", "from_visit": None}]
    capsys.readouterr()
    assert main(["course", "status", str(path)]) == 0
    out = capsys.readouterr().out
    assert "next: visit 2 2026-02-02" in out and "1. L5 (new)" in out
    assert main(["course", "add-visit", str(path), "--number", "1", "--tick", "consent"]) == 0
    assert load_course(path).visit(1).checklist == {"consent": True}
    # a measurement of a lesion the course does not know is refused, and the file is left as it was
    study["new_lesions"][0]["id"] = "L9"
    (tmp_path / "study.json").write_text(json.dumps(study))
    before = path.read_text()
    assert (
        main(
            [
                "course",
                "add-timepoint",
                str(path),
                "--id",
                "W12",
                "--date",
                "2026-03-30",
                "--study",
                str(tmp_path / "study.json"),
                "--study-timepoint",
                "W6",
            ]
        )
        == 2
    )
    assert "field measurements/L9: unknown lesion 'L9'" in capsys.readouterr().err
    assert path.read_text() == before


def test_shipped_schema_is_a_valid_json_schema():
    import jsonschema
    from hitit.course.record import course_schema

    jsonschema.Draft202012Validator.check_schema(course_schema())


def test_planning_a_visit_from_the_course(course):
    from hitit.course.planning import check_course_lesions, course_visit_settings

    course.add(Imaging("W3", BASELINE + dt.timedelta(days=25), {"L4": {"diameter_mm": 20.0}}))
    add_new_lesion(course, "L4", "liver", "W3", True)
    assert course_visit_settings(course, None, None, ()) == ("tvec", 2, ("L4",))
    with pytest.raises(InputError, match="--visit 4"):
        course_visit_settings(course, None, 4, ())
    lines = check_course_lesions(course, ["L1", "L4"])
    assert lines == ["course: L1 (T-I): visit 1 3.8 mL", "course: L4 (NL-NI): never injected"]
    with pytest.raises(InputError, match="L8 are not in the course"):
        check_course_lesions(course, ["L8"])


def test_response_and_report_read_the_course_file(tmp_path, capsys, course):
    course.add(
        Imaging(
            "W6",
            BASELINE + dt.timedelta(days=42),
            {"L1": {"diameter_mm": 30.0}, "L2": {"diameter_mm": 36.0}, "L3": {"diameter_mm": 8.0}},
        )
    )
    path = tmp_path / "course.json"
    save_course(course, path, new=True)
    assert main(["response", str(path), "--out", str(tmp_path / "response"), "--warn-baseline"]) == 0
    # injected L1 60 -> 30 mm (-50 %: iPR); non-injected L2 30 -> 36 mm (+20 %, +6 mm: iUPD)
    assert "itRECIST overall iSD / injected iPR / non-injected iUPD" in capsys.readouterr().out
    assert main(["course", "report", str(path), "--out", str(tmp_path / "report")]) == 0
    figures = json.loads((tmp_path / "report" / "course_report.json").read_text())
    assert figures["itrecist"] == [
        {"timepoint": "W6", "date": "2026-02-16", "overall": "iSD", "injected": "iPR", "non_injected": "iUPD"}
    ]
    (l1,) = [lesion for lesion in figures["lesions"] if lesion["id"] == "L1"]
    assert l1["injections"][0]["delivered_ml"] == 3.8 and [d["diameter_mm"] for d in l1["diameters"]] == [60.0, 30.0]
    assert "OPEN" in (tmp_path / "report" / "course_report.html").read_text()


def test_measurements_from_line_markups():
    import numpy as np

    from hitit.course.timepoint import measurements_from_lines
    from hitit.io.markups import Markup

    lines = [
        Markup("line", "L1", np.array([[0.0, 0.0, 0.0], [30.0, 40.0, 0.0]])),
        Markup("points", "F", np.array([[1.0, 2.0, 3.0]])),
    ]
    assert measurements_from_lines(lines) == {"L1": {"diameter_mm": 50.0, "longest_diameter_mm": 50.0}}
    with pytest.raises(InputError, match="no line"):
        measurements_from_lines(lines[1:])
