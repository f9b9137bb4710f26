"""Biopsy/sampling log: distances from sample sites to planned and delivered deposits."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hitit.errors import InputError
from hitit.review.sampling_log import delivered_deposits, read_sampling_log, sample_distances


def test_distances_to_planned_and_delivered_deposits(tmp_path):
    log = {
        "frame": "LPS",
        "samples": [
            {"id": "B1", "lesion_id": "L1", "timepoint": "baseline", "point": [3.0, 4.0, 0.0]},
            {"id": "B2", "lesion_id": "L1", "timepoint": "C2D1", "point": [-10.0, -20.0, 30.0], "frame": "RAS"},
            {"id": "B3", "lesion_id": "L5", "timepoint": "C2D1", "point": [0.0, 0.0, 0.0]},  # non-injected lesion
        ],
    }
    path = tmp_path / "samples.json"
    path.write_text(json.dumps(log))
    samples = read_sampling_log(path)
    np.testing.assert_allclose(samples[1].point_lps, [10.0, 20.0, 30.0])  # RAS -> LPS
    planned = {"L1": np.array([[0.0, 0.0, 0.0], [10.0, 20.0, 25.0]])}
    delivered = {"L1": planned["L1"] + [0.0, 0.0, 2.0]}
    rows = sample_distances(samples, planned, delivered)
    assert rows[0].nearest_planned_deposit_mm == pytest.approx(5.0)
    assert rows[0].nearest_delivered_deposit_mm == pytest.approx(np.sqrt(29.0))
    assert rows[1].nearest_planned_deposit_mm == pytest.approx(5.0)
    assert rows[1].nearest_delivered_deposit_mm == pytest.approx(3.0)
    assert rows[2].nearest_planned_deposit_mm is None
    assert rows[1].to_dict()["point_lps"] == [10.0, 20.0, 30.0]


def test_delivered_deposits_follow_the_needle():
    entry, target = np.array([0.0, -100.0, 0.0]), np.array([0.0, 0.0, 0.0])
    planned = np.array([[0.0, 0.0, 0.0], [0.0, -10.0, 0.0]])  # at the target and 10 mm short of it
    tip = np.array([2.0, 1.0, 0.0])
    axis = np.array([1.0, 1.0, 0.0]) / np.sqrt(2.0)
    moved = delivered_deposits(planned, entry, target, tip, axis)
    np.testing.assert_allclose(moved[0], tip, atol=1e-9)
    np.testing.assert_allclose(moved[1], tip - 10.0 * axis, atol=1e-9)


def test_sample_without_point_is_refused(tmp_path):
    path = tmp_path / "samples.json"
    path.write_text(json.dumps([{"lesion_id": "L1", "timepoint": "baseline"}]))
    with pytest.raises(InputError, match="point"):
        read_sampling_log(path)
