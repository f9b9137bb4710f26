"""Slicer markups: written files validate against Slicer's schema; LPS/RAS round trips; Slicer's quirks."""

import json
import re

import jsonschema
import numpy as np
import pytest

from hitit.errors import InputError
from hitit.io.markups import (
    MARKUPS_SCHEMA_URL,
    Markup,
    markups_schema,
    read_markups,
    write_line,
    write_lines,
    write_markups,
    write_points,
)

SCHEMA_PATTERN = (
    r".*markups-schema-v1\.[0-9]+\.[0-9]+\.json#*$"  # the check Slicer's markups reader applies to the schema URL
)


def test_schema_is_slicers_file_and_url_is_what_slicer_writes():
    schema = markups_schema()
    assert schema["$id"].endswith("markups-v1.0.3-schema.json#")  # the $id would fail Slicer's check...
    assert not re.match(SCHEMA_PATTERN, schema["$id"].lower())
    assert re.match(SCHEMA_PATTERN, MARKUPS_SCHEMA_URL.lower())  # ...the URL Slicer writes passes it
    assert MARKUPS_SCHEMA_URL.startswith("https://raw.githubusercontent.com/slicer/slicer/master/")


@pytest.mark.parametrize("frame", ["LPS", "RAS"])
def test_points_and_lines_round_trip_and_validate(tmp_path, frame):
    line = Markup("line", "L1-T1", [[10.0, -20.0, 30.0], [1.5, 2.5, -3.5]], color=(0.1, 0.8, 0.1))
    points = Markup(
        "points",
        "deposits",
        [[0, 0, 0], [1, 2, 3], [-4, 5, -6]],
        labels=["d1", "d2", "d3"],
        descriptions=["", "second", ""],
    )
    path = write_markups(tmp_path / "plan.mrk.json", [line, points], frame=frame)
    document = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.validate(document, markups_schema())
    assert document["@schema"] == MARKUPS_SCHEMA_URL
    first = document["markups"][0]
    assert first["type"] == "Line" and document["markups"][1]["type"] == "Fiducial"
    assert first["coordinateSystem"] == frame and first["name"] == "L1-T1"
    assert first["display"]["color"] == [0.1, 0.8, 0.1]
    # LPS (10, -20, 30) is RAS (-10, 20, 30)
    assert first["controlPoints"][0]["position"] == ([10.0, -20.0, 30.0] if frame == "LPS" else [-10.0, 20.0, 30.0])
    assert first["measurements"][0]["value"] == pytest.approx(np.hypot(8.5, np.hypot(22.5, 33.5)))
    back = read_markups(path)
    np.testing.assert_allclose(back[0].points_lps, line.points_lps)
    np.testing.assert_allclose(back[1].points_lps, points.points_lps)
    assert back[1].labels == ["d1", "d2", "d3"] and back[1].descriptions == ["", "second", ""]
    assert back[0].kind == "line" and back[0].name == "L1-T1" and back[0].color == (0.1, 0.8, 0.1)


def test_convenience_writers(tmp_path):
    p = write_points(tmp_path / "targets.mrk.json", "targets", [[1, 2, 3], [4, 5, 6]], labels=["T1", "T2"], frame="RAS")
    (targets,) = read_markups(p)
    assert targets.kind == "points" and targets.labels == ["T1", "T2"]
    np.testing.assert_allclose(targets.points_lps, [[1, 2, 3], [4, 5, 6]])
    assert json.loads(p.read_text(encoding="utf-8"))["markups"][0]["controlPoints"][1]["position"] == [-4.0, -5.0, 6.0]
    line = read_markups(write_line(tmp_path / "n.mrk.json", "needle", [0, 0, 0], [0, 0, 50], color=(1, 0, 0)))[0]
    assert line.length_mm == pytest.approx(50.0) and line.color == (1.0, 0.0, 0.0)
    lines = read_markups(write_lines(tmp_path / "all.mrk.json", {"T1": np.eye(3)[:2], "T2": np.eye(3)[1:]}))
    assert [m.name for m in lines] == ["T1", "T2"]
    for path in tmp_path.iterdir():
        jsonschema.validate(json.loads(path.read_text(encoding="utf-8")), markups_schema())


def test_slicer_quirks_are_read(tmp_path):
    path = tmp_path / "Needle.mrk.json"
    path.write_text(
        json.dumps(
            {
                "@schema": MARKUPS_SCHEMA_URL,
                "markups": [
                    {
                        "type": "Fiducial",
                        "controlPoints": [
                            {"label": "F-1", "position": [1, 2, 3]},
                            {"label": "F-2", "position": ""},  # Slicer writes "" for an undefined point
                            {"label": "F-3", "position": [7, 8, 9], "positionStatus": "undefined"},
                        ],
                    },
                    {
                        "type": "Line",
                        "coordinateSystem": "RAS",
                        "controlPoints": [{"label": "a", "position": [1, 2, 3]}, {"label": "b", "position": [4, 5, 6]}],
                    },
                ],
            }
        )
    )
    markup, line = read_markups(path)
    assert markup.name == "Needle" and markup.labels == ["F-1"]  # Slicer names a node after its file
    np.testing.assert_allclose(markup.points_lps, [[1, 2, 3]])  # missing coordinateSystem means LPS
    np.testing.assert_allclose(line.points_lps, [[-1, -2, 3], [-4, -5, 6]])  # RAS file -> LPS inside


def test_bad_markups_are_refused(tmp_path):
    with pytest.raises(InputError, match="exactly 2"):
        Markup("line", "x", [[0, 0, 0]])
    with pytest.raises(InputError, match="finite"):
        Markup("points", "p", [[np.nan, 0, 0]])
    with pytest.raises(InputError, match="1 labels for 2 points"):
        Markup("points", "p", [[0, 0, 0], [1, 1, 1]], labels=["only one"])
    with pytest.raises(InputError, match="not found"):
        read_markups(tmp_path / "missing.mrk.json")
    bad = tmp_path / "bad.mrk.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not a Slicer markups file"):
        read_markups(bad)
    bad.write_text(json.dumps({"markups": [{"type": "Plane", "controlPoints": []}]}))
    with pytest.raises(InputError, match="not supported"):
        read_markups(bad)
    bad.write_text(
        json.dumps({"markups": [{"type": "Line", "controlPoints": [{"position": [0, 0, 0]}, {"position": ""}]}]})
    )
    with pytest.raises(InputError, match="1 defined points; a line needs exactly 2"):
        read_markups(bad)
    # the writer validates against the schema before writing: a colour outside 0-1 never reaches the disk
    with pytest.raises(InputError, match="do not fit Slicer's schema at 'markups/0/display/color/0'"):
        write_markups(tmp_path / "x.mrk.json", [Markup("points", "p", [[0, 0, 0]], color=(2.0, 0, 0))])
    with pytest.raises(InputError, match="frame"):
        write_markups(tmp_path / "x.mrk.json", [Markup("points", "p", [[0, 0, 0]])], frame="XYZ")
    assert not (tmp_path / "x.mrk.json").exists()
