"""Slicer markups: written files validate against Slicer's schema; LPS/RAS round trips."""

import json

import jsonschema
import numpy as np
import pytest

from hitit.errors import InputError
from hitit.io.markups import Markup, markups_schema, read_markups, write_markups

SCHEMA_PATTERN = r".*markups-schema-v1\.[0-9]+\.[0-9]+\.json#*$"  # Slicer's reader check (NOTES §2.1)


@pytest.mark.parametrize("frame", ["LPS", "RAS"])
def test_points_and_lines_round_trip_and_validate(tmp_path, frame):
    line = Markup("line", "L1-T1", [[10.0, -20.0, 30.0], [1.5, 2.5, -3.5]], color=(0.1, 0.8, 0.1))
    points = Markup("points", "deposits", [[0, 0, 0], [1, 2, 3], [-4, 5, -6]], labels=["d1", "d2", "d3"])
    path = write_markups(tmp_path / "plan.mrk.json", [line, points], frame=frame)
    document = json.loads(path.read_text())
    jsonschema.validate(document, markups_schema())
    import re

    assert re.match(SCHEMA_PATTERN, document["@schema"].lower())
    assert document["markups"][0]["coordinateSystem"] == frame
    first = document["markups"][0]["controlPoints"][0]["position"]
    assert first == ([10.0, -20.0, 30.0] if frame == "LPS" else [-10.0, 20.0, 30.0])
    back = read_markups(path)
    np.testing.assert_allclose(back[0].points_lps, line.points_lps)
    np.testing.assert_allclose(back[1].points_lps, points.points_lps)
    assert back[1].labels == ["d1", "d2", "d3"] and back[0].kind == "line"
    assert document["markups"][0]["measurements"][0]["value"] == pytest.approx(line.length_mm)


def test_slicer_quirks_are_read(tmp_path):
    path = tmp_path / "Needle.mrk.json"
    path.write_text(json.dumps({
        "@schema": "https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/Markups/Resources/Schema/markups-schema-v1.0.3.json#",
        "markups": [{"type": "Fiducial", "controlPoints": [{"label": "F-1", "position": [1, 2, 3]}, {"label": "F-2", "position": ""}]}],
    }))
    (markup,) = read_markups(path)
    assert markup.name == "Needle"  # Slicer names a node after its file
    np.testing.assert_allclose(markup.points_lps, [[1, 2, 3]])  # missing coordinateSystem means LPS


def test_bad_markups_are_refused(tmp_path):
    with pytest.raises(InputError):
        Markup("line", "x", [[0, 0, 0]])
    bad = tmp_path / "bad.mrk.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not a Slicer markups file"):
        read_markups(bad)
    bad.write_text(json.dumps({"markups": [{"type": "Plane", "controlPoints": []}]}))
    with pytest.raises(InputError, match="not supported"):
        read_markups(bad)
    with pytest.raises(jsonschema.ValidationError):  # the writer validates before writing
        write_markups(tmp_path / "x.mrk.json", [Markup("points", "p", [[np.nan, 0, 0]], color=(2.0, 0, 0))])
    assert not (tmp_path / "x.mrk.json").exists()
