"""Delivered vs prescribed volume and technical success (Sheth 2020: full prescribed volume delivered)."""

from __future__ import annotations

import json

import pytest

from hitit.errors import InputError
from hitit.plan.plan_file import plan_from_dict
from hitit.review.volumes import TECHNICAL_SUCCESS_TOLERANCE_ML, read_injection_log, review_volumes
from plan_documents import deposits_record, lesion_record, plan_document, trajectory_record

PLAN = plan_from_dict(
    plan_document(
        [
            lesion_record("L1", [trajectory_record([0, -50, 0], [0, 0, 0])], injectate_ml=2.0),
            lesion_record(
                "L2",
                [trajectory_record([0, -50, 0], [0, 0, 0])],
                deposits_record(([0, 0, 0], 50, 0.5), ([0, 0, 5], 55, 1.0)),
            ),
            lesion_record("L3", injectate_ml=0.0),
        ],
        visit=2,
    )
)


def test_json_log_per_lesion_and_visit(tmp_path):
    log = {
        "visit": 2,
        "injections": [
            {"lesion_id": "L1", "delivered_ml": 1.2, "needle": "22G Chiba", "passes": 2, "leakage_seen": False},
            {"lesion_id": "L1", "delivered_ml": 0.78, "passes": 1},  # 1.98 mL: within the 0.05 mL tolerance
            {"lesion_id": "L2", "delivered_ml": 1.0, "leakage_seen": "yes"},  # 1.0 of 1.5 mL: short
            {"lesion_id": "L2", "delivered_ml": 0.4, "visit": 1},  # another visit: ignored
            {"lesion_id": "L9", "delivered_ml": 0.3},  # not in the plan
        ],
    }
    path = tmp_path / "log.json"
    path.write_text(json.dumps(log))
    visit = review_volumes(PLAN, read_injection_log(path))
    rows = {row.lesion_id: row for row in visit.lesions}
    assert rows["L1"].delivered_ml == pytest.approx(1.98) and rows["L1"].technical_success
    assert rows["L1"].passes == 3 and rows["L1"].needles == ["22G Chiba"] and rows["L1"].leakage_seen is False
    assert rows["L2"].prescribed_ml == pytest.approx(1.5) and rows["L2"].delivered_ml == pytest.approx(1.0)
    assert rows["L2"].technical_success is False and rows["L2"].shortfall_ml == pytest.approx(0.5)
    assert rows["L2"].leakage_seen is True
    assert rows["L3"].technical_success is None  # nothing prescribed
    assert rows["L9"].in_plan is False
    assert visit.technical_success is False
    assert visit.prescribed_total_ml == pytest.approx(3.5)
    assert visit.delivered_total_ml == pytest.approx(1.98 + 1.0 + 0.3)
    record = visit.to_dict()
    assert record["tolerance_ml"] == TECHNICAL_SUCCESS_TOLERANCE_ML and "Sheth" in record["definition"]


def test_csv_log_full_delivery_is_success(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("lesion_id,delivered_ml,needle,passes,leakage_seen\nL1,2.0,22G,1,no\nL2,1.5,22G,2,no\n")
    visit = review_volumes(PLAN, read_injection_log(path))
    assert visit.technical_success is True
    assert [row.technical_success for row in visit.lesions] == [True, True, None]


def test_bad_logs_say_what_to_fix(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("lesion,delivered_ml\nL1,2.0\n")
    with pytest.raises(InputError, match="lesion_id"):
        read_injection_log(path)
    path.write_text("lesion_id,delivered_ml\nL1,lots\n")
    with pytest.raises(InputError, match="numbers"):
        read_injection_log(path)
