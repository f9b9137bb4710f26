"""Protocols: T-VEC table with the label's boundaries, cap and priority, PV-10, fraction, fixed,
user files, bad files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hitit.dosing.allocate import DOSE_KINDS, LesionDoseInput, allocate, injectate_ml
from hitit.dosing.protocols import available_protocols, load_protocol
from hitit.errors import InputError


def lesions(*lds_cm, new=()):
    return [LesionDoseInput(f"L{n}", 10 * ld, new=f"L{n}" in new) for n, ld in enumerate(lds_cm, start=1)]


def test_shipped_protocols():
    assert set(available_protocols()) >= {"tvec", "pv10", "fraction", "fixed"}


@pytest.mark.parametrize(
    "ld_mm, ml",
    [
        (0, 0.1),
        (5.0, 0.1),
        (5.01, 0.5),
        (15.0, 0.5),
        (15.01, 1.0),
        (25.0, 1.0),
        (25.01, 2.0),
        (50.0, 2.0),
        (50.01, 4.0),
        (120, 4.0),
    ],
)
def test_tvec_table_boundaries(ld_mm, ml):
    assert injectate_ml(load_protocol("tvec"), ld_mm) == ml


def test_tvec_first_visit_cap_example():
    """T-VEC label table and 4 mL cap (Imlygic US prescribing information section 2): 6, 3, 2, 1, 0.4 cm -> 7.6 mL
    needed; only the 6 cm lesion (4 mL) at visit 1.
    """
    result = allocate(lesions(6, 3, 2, 1, 0.4), load_protocol("tvec"), visit=1)
    assert sum(a.required_ml for a in result.lesions) == pytest.approx(7.6)
    assert [a.inject for a in result.lesions] == [True, False, False, False, False]
    assert result.total_injectate_ml == 4.0
    assert result.concentration_per_ml == 1e6 and result.total_dose == pytest.approx(4e6)
    assert "deferred" in result.lesions[1].reason and "0 mL remain" in result.lesions[1].reason


def test_tvec_largest_first_and_strict_order():
    result = allocate(lesions(1, 3, 2), load_protocol("tvec"), visit=1)  # 0.5, 2, 1 mL -> all 3.5 mL fit
    assert [a.priority_rank for a in result.lesions] == [3, 1, 2]
    assert all(a.inject for a in result.lesions) and result.total_injectate_ml == 3.5
    result = allocate(lesions(3, 3, 2, 0.4), load_protocol("tvec"), visit=1)  # 2 + 2 = 4, then 1 does not fit
    assert [a.inject for a in result.lesions] == [True, True, False, False]  # 0.1 mL lesion waits too


def test_tvec_later_visit_new_first_then_size():
    result = allocate(lesions(6, 1, 3, new=("L2", "L3")), load_protocol("tvec"), visit=2)
    ranks = {a.lesion_id: a.priority_rank for a in result.lesions}
    assert ranks == {"L3": 1, "L2": 2, "L1": 3}
    assert [a.inject for a in result.lesions] == [False, True, True]  # 2 + 0.5 given; 4 mL lesion deferred
    assert result.concentration_per_ml == 1e8 and result.total_dose == pytest.approx(2.5e8)
    record = result.to_dict()
    assert record["protocol"]["name"] == "tvec" and record["protocol"]["version"] == "1.0"
    assert record["protocol"]["parameters"]["per_visit_cap_ml"] == 4.0


def test_pv10_fraction_fixed():
    one = [LesionDoseInput("A", 30, volume_ml=14.0), LesionDoseInput("B", 10, volume_ml=0.2)]
    assert [a.injectate_ml for a in allocate(one, load_protocol("pv10")).lesions] == [7.0, 0.1]
    assert [a.injectate_ml for a in allocate(one, load_protocol("fraction")).lesions] == [3.5, 0.1]  # 0.05 -> min 0.1
    big = [LesionDoseInput("C", 80, volume_ml=100.0)]
    assert allocate(big, load_protocol("fraction")).lesions[0].injectate_ml == 4.0  # max per lesion
    assert [a.injectate_ml for a in allocate(one, load_protocol("fixed")).lesions] == [1.0, 1.0]
    with pytest.raises(InputError, match="volume_ml"):
        allocate([LesionDoseInput("D", 20)], load_protocol("pv10"))


def test_user_protocol_file(tmp_path):
    data = {
        "name": "rp1-like",
        "version": "0.1",
        "source": "site SOP",
        "description": "test",
        "kind": "size_table",
        "parameters": {
            "table": [{"above_mm": 0, "volume_ml": 0.5}, {"above_mm": 20, "volume_ml": 3}],
            "per_visit_cap_ml": 10,
        },
    }
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(data))
    protocol = load_protocol(str(path))
    result = allocate(lesions(3, 3, 3, 3), protocol)
    assert [a.inject for a in result.lesions] == [True, True, True, False] and result.total_injectate_ml == 9


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda d: d.pop("version"), "version"),
        (lambda d: d.update(kind="magic"), "kind"),
        (lambda d: d["parameters"]["table"][1].update(volume_ml=-1), "parameters/table/1/volume_ml"),
        (lambda d: d["parameters"].update(per_visit_cap_ml="four"), "parameters/per_visit_cap_ml"),
        (lambda d: d["parameters"]["table"].reverse(), "parameters/table"),
        (lambda d: d.update(extra=1), "(top level)".replace("(", "\\(").replace(")", "\\)")),
        (lambda d: d["parameters"].pop("table"), "parameters/table"),
    ],
)
def test_bad_protocol_names_the_field(tmp_path, change, field):
    data = json.loads(json.dumps(load_protocol("tvec").to_dict()))
    data.pop("path")
    change(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=f"field '{field}'"):
        load_protocol(path)


def test_unknown_protocol_and_bad_json(tmp_path):
    with pytest.raises(InputError, match="tvec"):
        load_protocol("nonexistent")
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_protocol(path)


def test_every_declared_protocol_kind_has_a_dose_rule():
    schema = json.loads(
        (Path(__file__).resolve().parents[1] / "hitit" / "dosing" / "protocol.schema.json").read_text(encoding="utf-8")
    )
    assert sorted(schema["properties"]["kind"]["enum"]) == sorted(DOSE_KINDS)
