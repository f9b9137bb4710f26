"""itRECIST rules (Goldmacher et al., J Clin Oncol 2020, doi:10.1200/JCO.19.02985), including the isolated
reclassification rule, with hand-computed sums.
"""

import pytest

from hitit.errors import InputError
from hitit.response.itrecist import evaluate_itrecist, stream_view
from hitit.response.study import study_from_dict

TIMEPOINTS = [
    {"id": "BL", "date": "2026-01-05"},
    {"id": "W6", "date": "2026-02-16"},
    {"id": "W12", "date": "2026-03-30"},
]


def target(lesion_id, organ, values, injected_from=None):
    return {
        "id": lesion_id,
        "organ": organ,
        "role": "target",
        "injected_from": injected_from,
        "measurements": dict(zip(["BL", "W6", "W12"], values)),
    }


def test_four_categories_and_three_streams_with_their_own_sums():
    study = study_from_dict(
        {
            "timepoints": TIMEPOINTS[:2],
            "lesions": [
                target("L1", "liver", [40.0, 20.0], "BL"),
                target("L2", "lung", [30.0, 36.0]),
                {
                    "id": "P1",
                    "organ": "skin",
                    "role": "non-target",
                    "injected_from": "BL",
                    "status": {"BL": "present", "W6": "present"},
                },
                {"id": "P2", "organ": "bone", "role": "non-target", "status": {"BL": "present", "W6": "present"}},
            ],
        }
    )
    row = evaluate_itrecist(study).timepoints[1]
    assert row.lesion_categories == {"L1": "T-I", "L2": "T-NI", "P1": "NT-I", "P2": "NT-NI"}
    # injected 40 -> 20: -50 % -> iPR (NT-I persists); non-injected 30 -> 36: +20 %, +6 mm -> iUPD;
    # overall 70 -> 56: -20 %, not PD (below nadir) -> iSD
    assert (row.injected, row.non_injected, row.overall) == ("iPR", "iUPD", "iSD")
    assert row.injected_change_from_baseline_pct == pytest.approx(-50.0)
    assert row.non_injected_change_from_baseline_pct == pytest.approx(20.0)
    assert row.change_from_baseline_pct == pytest.approx(-20.0)
    assert (row.sum_mm, row.injected_sum_mm, row.non_injected_sum_mm) == (56.0, 20.0, 36.0)


def test_new_lesions_count_as_non_injected_only():
    study = study_from_dict(
        {
            "timepoints": TIMEPOINTS[:2],
            "lesions": [target("L1", "liver", [40.0, 20.0], "BL"), target("L2", "lung", [30.0, 30.0])],
            "new_lesions": [{"id": "X1", "timepoint": "W6", "organ": "bone", "measurable": False}],
        }
    )
    row = evaluate_itrecist(study).timepoints[1]
    assert (row.injected, row.non_injected, row.overall) == ("iPR", "iUPD", "iUPD")
    assert row.streams["injected"].new_lesions is False and row.streams["non_injected"].new_lesions is True


def test_non_injected_lesion_becoming_injected_moves_and_sums_are_recomputed():
    # BL: T-I {L1 40}, T-NI {L2 30, L3 20}; L2 injected from W6.
    study = study_from_dict(
        {
            "timepoints": TIMEPOINTS,
            "lesions": [
                target("L1", "liver", [40.0, 32.0, 20.0], "BL"),
                target("L2", "lung", [30.0, 27.0, 21.0], "W6"),
                target("L3", "adrenal", [20.0, 18.0, 22.0]),
            ],
        }
    )
    result = evaluate_itrecist(study)
    bl, w6, w12 = result.timepoints
    assert bl.lesion_categories["L2"] == "T-NI" and w6.lesion_categories["L2"] == "T-I"
    assert (bl.injected_sum_mm, bl.non_injected_sum_mm) == (40.0, 50.0)
    # W6: injected {L1, L2} 59 vs recomputed baseline 70; non-injected {L3} 18 vs 20; overall 77 vs 90
    assert w6.streams["injected"].baseline_sum_mm == 70.0
    assert w6.injected_change_from_baseline_pct == pytest.approx((59 - 70) / 70 * 100)
    assert w6.streams["non_injected"].baseline_sum_mm == 20.0
    assert w6.non_injected_change_from_baseline_pct == pytest.approx(-10.0)
    assert w6.sum_mm == 77.0 and w6.change_from_baseline_pct == pytest.approx((77 - 90) / 90 * 100)
    # W12: injected 41 vs 70 (-41.4 % iPR), nadir recomputed over {L1, L2} = min(70, 59) = 59
    assert w12.streams["injected"].nadir_sum_mm == 59.0
    assert w12.injected_change_from_nadir_pct == pytest.approx((41 - 59) / 59 * 100)
    assert w12.injected == "iPR"
    # non-injected {L3}: 22 vs nadir 18 (without L2): +22 % but +4 mm -> iSD, not progression
    assert w12.streams["non_injected"].nadir_sum_mm == 18.0
    assert w12.non_injected == "iSD"
    # the lesion always counts in the overall sum: 63 vs 90 -> -30 % -> iPR
    assert w12.sum_mm == 63.0 and w12.change_from_baseline_pct == pytest.approx(-30.0) and w12.overall == "iPR"


def test_stream_view_is_the_single_place_of_the_reclassification_rule():
    study = study_from_dict(
        {
            "timepoints": TIMEPOINTS,
            "lesions": [
                target("L1", "liver", [40.0, 32.0, 20.0], "BL"),
                target("L2", "lung", [30.0, 27.0, 21.0], "W12"),
            ],
        }
    )
    assert [t.id for t in stream_view(study, "injected", 1).targets] == ["L1"]
    assert [t.id for t in stream_view(study, "injected", 2).targets] == ["L1", "L2"]
    assert stream_view(study, "non_injected", 2).targets == ()
    assert [t.id for t in stream_view(study, "overall", 2).targets] == ["L1", "L2"]


@pytest.mark.parametrize(
    "injected, message",
    [
        ([None, None], r"0 T-I target lesions.*1-5"),
        (["BL", "BL"], r"0 T-NI target lesions.*1-5"),
        (["W6", None], r"0 T-I target lesions"),  # injected only after baseline: not T-I at baseline
    ],
)
def test_baseline_needs_injected_and_non_injected_targets(injected, message):
    study = study_from_dict(
        {
            "timepoints": TIMEPOINTS,
            "lesions": [
                target("L1", "liver", [40.0, 30.0, 30.0], injected[0]),
                target("L2", "lung", [30.0, 30.0, 30.0], injected[1]),
            ],
        }
    )
    with pytest.raises(InputError, match=message):
        evaluate_itrecist(study)
    assert evaluate_itrecist(study, warn_baseline=True).warnings


def test_more_than_five_injected_targets_are_refused():
    organs = ["liver", "lung", "skin", "bone", "spleen", "kidney"]
    lesions = [target(f"L{i}", organ, [20.0], "BL") for i, organ in enumerate(organs)] + [target("M", "brain", [20.0])]
    study = study_from_dict({"timepoints": TIMEPOINTS[:1], "lesions": lesions})
    with pytest.raises(InputError, match=r"6 T-I target lesions"):
        evaluate_itrecist(study)


def test_best_overall_response_per_stream():
    study = study_from_dict(
        {
            "timepoints": TIMEPOINTS,
            "lesions": [target("L1", "liver", [40.0, 20.0, 20.0], "BL"), target("L2", "lung", [30.0, 30.0, 40.0])],
        }
    )
    best = evaluate_itrecist(study).best_overall_response
    # injected: iPR at W6 and W12 (42 days apart) -> confirmed; non-injected: iSD then iUPD (+10 mm, +33 %)
    assert (best["injected"].unconfirmed, best["injected"].confirmed) == ("iPR", "iPR")
    assert best["non_injected"].unconfirmed == "iSD"
