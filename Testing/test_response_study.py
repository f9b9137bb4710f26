"""Study files: schema, semantic checks with actionable errors, and building a study from measurements/markups."""

import copy
import json

import jsonschema
import pytest

from hitit.errors import InputError
from hitit.response.measurements import read_line_markups, study_from_markups, study_from_measurements
from hitit.response.study import load_study, study_from_dict, study_schema

EXAMPLE = {
    "patient": "anonymised id",
    "timepoints": [{"id": "BL", "date": "2026-01-05"}, {"id": "W8", "date": "2026-03-02"}],
    "lesions": [
        {
            "id": "L1",
            "organ": "liver",
            "nodal": False,
            "role": "target",
            "injected_from": "BL",
            "measurements": {"BL": 40.0, "W8": 28.0},
        },
        {
            "id": "N1",
            "organ": "lymph node",
            "nodal": True,
            "role": "target",
            "injected_from": None,
            "measurements": {"BL": 17.0, "W8": "too-small"},
        },
        {
            "id": "P1",
            "organ": "peritoneum",
            "role": "non-target",
            "injected_from": None,
            "status": {"BL": "present", "W8": "present"},
        },
    ],
    "new_lesions": [{"id": "X1", "timepoint": "W8", "organ": "lung", "measurable": True, "measurements": {"W8": 12.0}}],
}


def edited(change):
    data = copy.deepcopy(EXAMPLE)
    change(data)
    return data


def test_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(study_schema())


def test_issue_example_loads_and_round_trips(tmp_path):
    path = tmp_path / "study.json"
    path.write_text(json.dumps(EXAMPLE))
    study = load_study(path)
    assert [t.id for t in study.timepoints] == ["BL", "W8"]
    assert study.lesions[1].diameter_mm("W8") == 5.0
    assert study.is_injected(study.lesions[0], 0) and not study.is_injected(study.lesions[1], 1)
    assert study_from_dict(study.to_dict()) == study


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda d: d["lesions"][0]["measurements"].update(W9=30.0),
            r"lesion L1, field measurements: unknown time point 'W9'",
        ),
        (lambda d: d["lesions"][0]["measurements"].update(W8=-3.0), r"lesion L1, field measurements, time point W8"),
        (lambda d: d["lesions"][0]["measurements"].update(W8="small"), r"lesion L1, field measurements, time point W8"),
        (lambda d: d["lesions"][2]["status"].update(W8="bigger"), r"lesion P1, field status, time point W8"),
        (
            lambda d: d["lesions"][0].update(injected_from="W4"),
            r"lesion L1, field injected_from: unknown time point 'W4'",
        ),
        (lambda d: d["lesions"][0].update(role="index"), r"lesion L1, field role"),
        (lambda d: d["timepoints"][1].update(date="2026-01-01"), r"time point W8, field date: .* not after BL"),
        (lambda d: d["timepoints"][1].update(date="02/03/2026"), r"time point W8, field date: .* not an ISO date"),
        (lambda d: d["timepoints"][1].update(id="BL"), r"time point BL: id used twice"),
        (lambda d: d["lesions"][1].update(id="L1"), r"lesion L1: id used twice"),
        (
            lambda d: d["lesions"][0]["measurements"].pop("BL"),
            r"lesion L1, field measurements, time point BL: .*baseline",
        ),
        (lambda d: d["lesions"][2].update(measurements={"BL": 12.0}), r"lesion P1, field measurements: non-target"),
        (lambda d: d["new_lesions"][0].update(timepoint="BL"), r"new lesion X1, field timepoint: .*not new"),
        (
            lambda d: d["new_lesions"][0].update(measurements={"BL": 3.0, "W8": 12.0}),
            r"new lesion X1, field measurements, time point BL: before",
        ),
        (
            lambda d: d["new_lesions"][0].update(measurements={}),
            r"new lesion X1, field measurements, time point W8: a measurable",
        ),
        (
            lambda d: d["lesions"][0]["measurements"].update(W8=float("nan")),
            r"lesion L1, field measurements, time point W8: nan",
        ),
        (lambda d: d.update(extra=1), r"top level"),
    ],
)
def test_bad_studies_are_refused_naming_lesion_time_point_and_field(change, message):
    with pytest.raises(InputError, match=message):
        study_from_dict(edited(change))


def test_invalid_json_names_the_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"timepoints": [\n}')
    with pytest.raises(InputError, match=r"not valid JSON \(line 2"):
        load_study(path)


LESIONS = {
    "L1": {"organ": "liver", "role": "target", "injected_from": "BL"},
    "N1": {"organ": "lymph node", "nodal": True, "role": "target"},
    "P1": {"organ": "peritoneum", "role": "non-target", "status": {"BL": "present", "W8": "present"}},
}
DATES = {"BL": "2026-01-05", "W8": "2026-03-02"}


def test_study_from_measurements_uses_short_axis_for_nodes():
    study = study_from_measurements(
        DATES,
        LESIONS,
        {
            "L1": {"BL": {"longest_diameter_mm": 40.0, "short_axis_mm": 30.0}, "W8": 28.0},
            "N1": {"BL": {"longest_diameter_mm": 25.0, "short_axis_mm": 17.0}, "W8": "too-small"},
        },
    )
    assert study.lesions[0].measurements == {"BL": 40.0, "W8": 28.0}
    assert study.lesions[1].measurements == {"BL": 17.0, "W8": "too-small"}
    assert study.lesions[2].status["W8"] == "present"


def test_study_from_measurements_errors():
    with pytest.raises(InputError, match=r"lesion N1, time point BL, field short_axis_mm"):
        study_from_measurements(DATES, LESIONS, {"L1": {"BL": 40.0}, "N1": {"BL": {"longest_diameter_mm": 25.0}}})
    with pytest.raises(InputError, match=r"lesion Z9, field measurements: not described"):
        study_from_measurements(DATES, LESIONS, {"Z9": {"BL": 40.0}})


def write_markups(path, lines, coordinate_system="LPS"):
    markups = []
    for name, label, p0, p1 in lines:
        markup = {
            "type": "Line",
            "coordinateSystem": coordinate_system,
            "controlPoints": [{"label": f"{label}-1", "position": p0}, {"label": f"{label}-2", "position": p1}],
        }
        if name:
            markup["name"] = name
        markups.append(markup)
    path.write_text(json.dumps({"markups": markups}))
    return path


def test_read_line_markups_by_name_file_name_and_label(tmp_path):
    named = write_markups(
        tmp_path / "bl.mrk.json", [("L1", "x", [0, 0, 0], [30, 40, 0]), ("N1", "y", [1, 1, 1], [1, 1, 18])]
    )
    assert read_line_markups(named) == {"L1": 50.0, "N1": 17.0}
    unnamed = write_markups(tmp_path / "L1.mrk.json", [(None, "L1", [0, 0, 0], [0, 28, 0])], "RAS")
    assert read_line_markups(unnamed) == {"L1": 28.0}
    assert read_line_markups(named, id_from="label") == {"x": 50.0, "y": 17.0}


def test_read_line_markups_errors(tmp_path):
    path = write_markups(
        tmp_path / "two.mrk.json", [("L1", "a", [0, 0, 0], [1, 0, 0]), ("L1", "a", [0, 0, 0], [2, 0, 0])]
    )
    with pytest.raises(InputError, match=r"lesion L1: two lines"):
        read_line_markups(path)
    empty = tmp_path / "empty.mrk.json"
    empty.write_text(json.dumps({"markups": [{"type": "Fiducial", "controlPoints": []}]}))
    with pytest.raises(InputError, match=r"no line markup"):
        read_line_markups(empty)


def test_study_from_markups(tmp_path):
    bl = write_markups(tmp_path / "bl.mrk.json", [("L1", "", [0, 0, 0], [40, 0, 0]), ("N1", "", [0, 0, 0], [0, 17, 0])])
    w8 = write_markups(
        tmp_path / "w8.mrk.json",
        [("L1", "", [0, 0, 0], [28, 0, 0]), ("N1", "", [0, 0, 0], [0, 9, 0]), ("X1", "", [0, 0, 0], [0, 0, 12])],
    )
    new = [{"id": "X1", "timepoint": "W8", "organ": "lung", "measurable": True}]
    study = study_from_markups(DATES, LESIONS, {"BL": [bl], "W8": [w8]}, new_lesions=new)
    assert study.lesions[0].measurements == {"BL": 40.0, "W8": 28.0}
    assert study.lesions[1].measurements == {"BL": 17.0, "W8": 9.0}
    assert study.new_lesions[0].measurements == {"W8": 12.0}
