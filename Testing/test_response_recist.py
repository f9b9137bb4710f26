"""RECIST 1.1 rules with hand-computed expectations (Eisenhauer et al., Eur J Cancer 2009,
doi:10.1016/j.ejca.2008.10.026), boundaries included.
"""

import datetime as dt

import pytest

from hitit.errors import InputError
from hitit.response.recist import (
    evaluate_recist,
    non_target_category,
    overall_category,
)
from hitit.response.study import study_from_dict

BASELINE = dt.date(2026, 1, 5)


def make_study(targets, non_targets=(), new_lesions=(), days=None):
    """Study from {id: (organ, nodal, [values per time point])} with time points every 8 weeks (or ``days``)."""
    count = len(next(iter(targets.values()))[2]) if targets else len(next(iter(non_targets.values()))[1])
    days = days or [56 * i for i in range(count)]
    timepoints = [{"id": f"T{i}", "date": (BASELINE + dt.timedelta(days=d)).isoformat()} for i, d in enumerate(days)]
    lesions = [
        {
            "id": lid,
            "organ": organ,
            "nodal": nodal,
            "role": "target",
            "injected_from": None,
            "measurements": {f"T{i}": v for i, v in enumerate(values) if v is not None},
        }
        for lid, (organ, nodal, values) in targets.items()
    ]
    lesions += [
        {
            "id": lid,
            "organ": organ,
            "role": "non-target",
            "status": {f"T{i}": s for i, s in enumerate(statuses) if s is not None},
        }
        for lid, (organ, statuses) in dict(non_targets).items()
    ]
    return study_from_dict({"timepoints": timepoints, "lesions": lesions, "new_lesions": list(new_lesions)})


def rows(study, **kwargs):
    return evaluate_recist(study, **kwargs).timepoints


def test_exactly_minus_30_percent_is_pr_and_minus_29_9_is_sd():
    study = make_study({"L1": ("liver", False, [60.0, 42.0, 42.1]), "L2": ("lung", False, [40.0, 28.0, 28.0])})
    result = rows(study)
    assert result[1].sum_mm == 70.0
    assert result[1].change_from_baseline_pct == pytest.approx(-30.0)
    assert result[1].target == "PR" and result[1].overall == "PR"
    # 70.1 / 100: -29.9 % from baseline, +0.1 mm from the nadir (70): SD
    assert result[2].change_from_baseline_pct == pytest.approx(-29.9)
    assert result[2].target == "SD"


def test_plus_20_percent_with_only_4_mm_is_not_pd():
    study = make_study({"L1": ("liver", False, [20.0, 24.0, 25.0])})
    result = rows(study)
    assert result[1].change_from_nadir_pct == pytest.approx(20.0) and result[1].change_from_nadir_mm == pytest.approx(
        4.0
    )
    assert result[1].target == "SD"
    # 25 mm: +25 % and +5 mm from the nadir (20): PD
    assert result[2].target == "PD" and result[2].overall == "PD"


def test_plus_5_mm_with_only_10_percent_is_not_pd():
    study = make_study({"L1": ("liver", False, [30.0, 33.0]), "L2": ("lung", False, [20.0, 22.0])})
    result = rows(study)
    assert result[1].change_from_nadir_mm == pytest.approx(5.0)
    assert result[1].target == "SD"


def test_pd_is_judged_against_the_nadir_not_the_baseline():
    # 100 -> 60 (PR) -> 72: +20 % and +12 mm above the nadir 60, though still -28 % from baseline
    study = make_study({"L1": ("liver", False, [100.0, 60.0, 72.0])})
    result = rows(study)
    assert result[1].target == "PR"
    assert result[2].nadir_sum_mm == 60.0
    assert result[2].change_from_baseline_pct == pytest.approx(-28.0)
    assert result[2].change_from_nadir_pct == pytest.approx(20.0)
    assert result[2].target == "PD"


def test_nodes_under_10_mm_give_cr_with_a_non_zero_sum():
    study = make_study(
        {"L1": ("liver", False, [20.0, "absent"]), "N1": ("neck node", True, [16.0, 8.0])},
        non_targets={"P1": ("peritoneum", ["present", "absent"])},
    )
    result = rows(study)
    assert result[1].sum_mm == 8.0
    assert result[1].target == "CR" and result[1].non_target == "CR" and result[1].overall == "CR"


def test_a_node_of_exactly_10_mm_is_not_normal():
    study = make_study({"L1": ("liver", False, [20.0, "absent"]), "N1": ("neck node", True, [16.0, 10.0])})
    result = rows(study)
    # 36 -> 10 mm: -72.2 %, but the node is not < 10 mm: PR, not CR
    assert result[1].target == "PR"


def test_too_small_counts_5_mm_and_is_not_cr_for_a_non_nodal_lesion():
    study = make_study({"L1": ("liver", False, [30.0, "too-small"])})
    result = rows(study)
    assert result[1].sum_mm == 5.0
    assert result[1].change_from_baseline_pct == pytest.approx((5 - 30) / 30 * 100)
    assert result[1].target == "PR"


def test_a_missing_target_measurement_makes_the_time_point_ne():
    study = make_study({"L1": ("liver", False, [30.0, None, 30.0]), "L2": ("lung", False, [20.0, 15.0, 20.0])})
    result = rows(study)
    assert result[1].sum_mm is None and result[1].target == "NE" and result[1].overall == "NE"
    assert result[2].nadir_sum_mm == 50.0  # the NE time point does not enter the nadir


def test_new_lesion_or_unequivocal_non_target_is_pd_whatever_the_targets():
    study = make_study(
        {"L1": ("liver", False, [30.0, None, 10.0])},
        non_targets={"P1": ("peritoneum", ["present", "unequivocal-progression", "present"])},
        new_lesions=[{"id": "X1", "timepoint": "T2", "organ": "lung", "measurable": False}],
    )
    result = rows(study)
    assert (result[1].target, result[1].non_target, result[1].overall) == ("NE", "PD", "PD")
    assert (result[2].target, result[2].new_lesions, result[2].overall) == ("PR", True, "PD")


@pytest.mark.parametrize(
    "statuses, expected",
    [
        (["absent", "absent"], "CR"),
        (["present", "absent"], "non-CR/non-PD"),
        (["increased", "present"], "non-CR/non-PD"),
        (["unequivocal-progression", None], "PD"),
        (["present", None], "NE"),
    ],
)
def test_non_target_category(statuses, expected):
    study = make_study(
        {"L1": ("liver", False, [30.0, 30.0])},
        non_targets={"P1": ("peritoneum", ["present", statuses[0]]), "P2": ("bone", ["present", statuses[1]])},
    )
    assert non_target_category(study.non_targets, "T1") == expected


@pytest.mark.parametrize(
    "target, non_target, new, expected",
    [
        ("CR", "CR", False, "CR"),
        ("CR", "non-CR/non-PD", False, "PR"),
        ("CR", "NE", False, "PR"),
        ("CR", None, False, "CR"),
        ("PR", "non-CR/non-PD", False, "PR"),
        ("PR", "NE", False, "PR"),
        ("SD", "NE", False, "SD"),
        ("NE", "non-CR/non-PD", False, "NE"),
        ("PD", "CR", False, "PD"),
        ("SD", "PD", False, "PD"),
        ("CR", "CR", True, "PD"),
        (None, "CR", False, "CR"),
        (None, "non-CR/non-PD", False, "non-CR/non-PD"),
    ],
)
def test_overall_time_point_table(target, non_target, new, expected):
    assert overall_category(target, non_target, new) == expected


def test_baseline_with_six_targets_is_refused_naming_the_lesion_and_rule():
    organs = ["liver", "lung", "bone", "spleen", "kidney", "adrenal"]
    study = make_study({f"L{i}": (organ, False, [20.0, 20.0]) for i, organ in enumerate(organs, 1)})
    with pytest.raises(InputError, match=r"lesion L6.*at most 5"):
        evaluate_recist(study)
    warned = evaluate_recist(study, warn_baseline=True)
    assert any("at most 5" in warning for warning in warned.warnings)
    assert warned.timepoints[1].target == "SD"


def test_three_targets_in_one_organ_are_refused():
    study = make_study({"L1": ("liver", False, [20.0]), "L2": ("Liver", False, [20.0]), "L3": ("liver", False, [20.0])})
    with pytest.raises(InputError, match=r"lesion L3.*at most 2 per organ"):
        evaluate_recist(study)


def test_all_lymph_nodes_count_as_one_organ():
    study = make_study(
        {
            "N1": ("neck node", True, [20.0]),
            "N2": ("axillary node", True, [20.0]),
            "N3": ("inguinal node", True, [20.0]),
        }
    )
    with pytest.raises(InputError, match=r"lymph node.*at most 2 per organ"):
        evaluate_recist(study)


@pytest.mark.parametrize(
    "organ, nodal, value, ok",
    [
        ("liver", False, 10.0, True),
        ("liver", False, 9.9, False),
        ("node", True, 15.0, True),
        ("node", True, 14.9, False),
        ("liver", False, "too-small", False),
    ],
)
def test_measurability_of_targets(organ, nodal, value, ok):
    study = make_study({"L9": (organ, nodal, [value])})
    if ok:
        assert evaluate_recist(study).warnings == []
    else:
        with pytest.raises(InputError, match=r"lesion L9 at T0.*(not measurable|measured baseline)"):
            evaluate_recist(study)


def best(values, days):
    study = make_study({"L1": ("liver", False, values)}, days=days)
    return evaluate_recist(study).best_overall_response


def test_best_response_pr_confirmed_after_4_weeks():
    result = best([50.0, 30.0, 30.0], [0, 42, 70])  # PR at day 42 and again 28 days later
    assert (result.unconfirmed, result.confirmed) == ("PR", "PR")


def test_best_response_pr_not_confirmed_before_4_weeks_counts_as_sd():
    result = best([50.0, 30.0, 30.0], [0, 42, 69])  # 27 days apart
    assert (result.unconfirmed, result.confirmed) == ("PR", "SD")


def test_best_response_cr_confirmed_by_cr_only():
    assert best([20.0, "absent", "absent"], [0, 42, 70]).confirmed == "CR"
    # CR then PR 4 weeks later: the CR is not confirmed, the PR has nothing after it
    assert best([20.0, "absent", 12.0], [0, 42, 70]).confirmed == "SD"
    # PR then CR: the PR is confirmed by the CR
    assert best([50.0, 30.0, "absent"], [0, 42, 70]).confirmed == "PR"


def test_best_response_ignores_assessments_after_progression():
    result = best([50.0, 60.0, 20.0, 20.0], [0, 56, 112, 168])
    assert (result.unconfirmed, result.confirmed) == ("PD", "PD")


def test_unconfirmed_pr_then_pd_gives_confirmed_sd():
    result = best([50.0, 30.0, 40.0], [0, 56, 112])
    assert (result.unconfirmed, result.confirmed) == ("PR", "SD")
