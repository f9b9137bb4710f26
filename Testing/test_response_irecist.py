"""iRECIST rules with hand-computed expectations (Seymour et al., Lancet Oncol 2017, PMC5648544)."""

import datetime as dt

import pytest

from hitit.response.irecist import evaluate_irecist, split_new_lesions
from hitit.response.study import study_from_dict

BASELINE = dt.date(2026, 1, 5)


def make_study(target_values, days, non_target=None, new_lesions=()):
    """Two liver/lung targets (``target_values``: list of (L1, L2) per time point), optional non-target statuses."""
    timepoints = [{"id": f"T{i}", "date": (BASELINE + dt.timedelta(days=d)).isoformat()} for i, d in enumerate(days)]
    lesions = [
        {
            "id": "L1",
            "organ": "liver",
            "role": "target",
            "measurements": {f"T{i}": v[0] for i, v in enumerate(target_values) if v[0] is not None},
        },
        {
            "id": "L2",
            "organ": "lung",
            "role": "target",
            "measurements": {f"T{i}": v[1] for i, v in enumerate(target_values) if v[1] is not None},
        },
    ]
    if non_target:
        lesions.append(
            {
                "id": "P1",
                "organ": "peritoneum",
                "role": "non-target",
                "status": {f"T{i}": s for i, s in enumerate(non_target)},
            }
        )
    return study_from_dict({"timepoints": timepoints, "lesions": lesions, "new_lesions": list(new_lesions)})


def overall(study):
    return [row.overall for row in evaluate_irecist(study).timepoints[1:]]


def test_target_growth_adds_up_to_icpd():
    # 50 -> 60 (+20 %, +10 mm: iUPD) -> 64 (+4 mm since iUPD) -> 66 (+6 mm since iUPD: iCPD), within 8 weeks
    study = make_study([(30, 20), (40, 20), (44, 20), (46, 20)], [0, 56, 84, 112])
    result = evaluate_irecist(study)
    assert [row.overall for row in result.timepoints[1:]] == ["iUPD", "iUPD", "iCPD"]
    assert result.timepoints[2].iupd_timepoint_id == "T1"
    assert result.timepoints[3].confirmation == ["target sum +6.0 mm since iUPD"]
    assert result.best_overall_response.unconfirmed == "iCPD"


def test_a_further_4_mm_does_not_confirm():
    study = make_study([(30, 20), (40, 20), (44, 20)], [0, 56, 84])
    result = evaluate_irecist(study)
    assert overall(study) == ["iUPD", "iUPD"]
    assert result.best_overall_response.unconfirmed == "iUPD"


def test_reset_after_isd_needs_a_new_confirmation():
    # 50 -> 60 iUPD -> 55 (+10 % over nadir 50: iSD, reset) -> 62 (+24 %, +12 mm: new iUPD) -> 68 (+6: iCPD)
    study = make_study([(30, 20), (40, 20), (35, 20), (42, 20), (48, 20)], [0, 56, 112, 168, 210])
    result = evaluate_irecist(study)
    assert [row.overall for row in result.timepoints[1:]] == ["iUPD", "iSD", "iUPD", "iCPD"]
    assert result.timepoints[3].iupd_timepoint_id == "T3"  # the new iUPD, not the one before the reset
    assert result.timepoints[4].iupd_timepoint_id == "T3"


def test_after_reset_the_old_iupd_sum_is_not_the_reference():
    # iUPD at 60, reset at 55, then 62: +2 mm above the old iUPD sum but a new iUPD, never iCPD
    study = make_study([(30, 20), (40, 20), (35, 20), (42, 20)], [0, 56, 112, 168])
    assert overall(study) == ["iUPD", "iSD", "iUPD"]


def test_an_assessment_under_4_weeks_cannot_confirm_growth():
    study = make_study([(30, 20), (40, 20), (50, 20)], [0, 56, 83])  # 27 days after iUPD, +10 mm
    result = evaluate_irecist(study)
    assert result.timepoints[2].overall == "iUPD"
    assert "too early" in result.timepoints[2].notes[0]


def test_more_new_lesions_confirm_even_under_4_weeks():
    new = [
        {"id": "X1", "timepoint": "T1", "organ": "lung", "measurable": False},
        {"id": "X2", "timepoint": "T2", "organ": "bone", "measurable": False},
    ]
    study = make_study([(30, 20), (30, 20), (30, 20)], [0, 56, 70], new_lesions=new)
    result = evaluate_irecist(study)
    assert [row.overall for row in result.timepoints[1:]] == ["iUPD", "iCPD"]
    assert result.timepoints[2].confirmation == ["more new lesions (2)"]


def test_confirmation_later_than_8_weeks_is_noted():
    study = make_study([(30, 20), (40, 20), (50, 20)], [0, 56, 126])  # 70 days
    row = evaluate_irecist(study).timepoints[2]
    assert row.overall == "iCPD" and "later than the 56-day window" in row.notes[0]


def test_non_target_iupd_confirmed_by_any_increase():
    study = make_study([(30, 20)] * 3, [0, 56, 98], non_target=["present", "unequivocal-progression", "increased"])
    result = evaluate_irecist(study)
    assert [row.overall for row in result.timepoints[1:]] == ["iUPD", "iCPD"]
    assert result.timepoints[1].progression_triggers == ["non_target"]


def test_non_target_iupd_without_increase_resets_to_isd():
    study = make_study([(30, 20)] * 3, [0, 56, 98], non_target=["present", "unequivocal-progression", "present"])
    assert overall(study) == ["iUPD", "iSD"]


def test_new_lesion_target_sum_up_5_mm_confirms():
    new = [
        {"id": "X1", "timepoint": "T1", "organ": "lung", "measurable": True, "measurements": {"T1": 12.0, "T2": 17.0}}
    ]
    study = make_study([(30, 20)] * 3, [0, 56, 98], new_lesions=new)
    result = evaluate_irecist(study)
    assert [row.overall for row in result.timepoints[1:]] == ["iUPD", "iCPD"]
    assert result.timepoints[2].confirmation == ["new-lesion target sum +5.0 mm since iUPD"]
    assert (
        result.timepoints[1].new_lesion_target_ids == ["X1"] and result.timepoints[1].new_lesion_target_sum_mm == 12.0
    )


def test_new_lesion_target_sum_up_4_mm_stays_iupd():
    new = [
        {"id": "X1", "timepoint": "T1", "organ": "lung", "measurable": True, "measurements": {"T1": 12.0, "T2": 16.0}}
    ]
    study = make_study([(30, 20)] * 3, [0, 56, 98], new_lesions=new)
    assert overall(study) == ["iUPD", "iUPD"]


def test_new_lesion_non_target_increase_confirms():
    new = [
        {
            "id": "X1",
            "timepoint": "T1",
            "organ": "bone",
            "measurable": False,
            "status": {"T1": "present", "T2": "increased"},
        }
    ]
    study = make_study([(30, 20)] * 3, [0, 56, 98], new_lesions=new)
    assert overall(study) == ["iUPD", "iCPD"]


def test_new_lesions_that_disappear_reset_and_known_new_lesions_prevent_icr():
    new = [
        {
            "id": "X1",
            "timepoint": "T1",
            "organ": "lung",
            "measurable": True,
            "measurements": {"T1": 12.0, "T2": 12.0, "T3": "absent"},
        }
    ]
    study = make_study(
        [(30, 20), (30, 20), ("absent", "absent"), ("absent", "absent")], [0, 56, 112, 168], new_lesions=new
    )
    # T2: targets gone, but the new lesion persists -> still progression (the new lesions are not better)
    # T3: new lesion gone too -> iCR (reset)
    assert overall(study) == ["iUPD", "iUPD", "iCR"]


def test_after_reset_known_new_lesions_only_trigger_when_they_progress():
    new = [
        {
            "id": "X1",
            "timepoint": "T1",
            "organ": "bone",
            "measurable": False,
            "status": {"T1": "present", "T2": "present", "T3": "present", "T4": "unequivocal-progression"},
        }
    ]
    study = make_study([(30, 20), (30, 20), (30, 20), (30, 20), (30, 20)], [0, 56, 112, 168, 224], new_lesions=new)
    # T1 iUPD (new lesion); T2 known lesion unchanged but still present: not better -> stays iUPD
    assert overall(study)[:2] == ["iUPD", "iUPD"]


def test_reset_with_persisting_new_lesion_then_only_progression_triggers():
    new = [
        {
            "id": "X1",
            "timepoint": "T1",
            "organ": "bone",
            "measurable": False,
            "status": {"T1": "present", "T2": "absent", "T3": "present", "T4": "unequivocal-progression"},
        }
    ]
    study = make_study([(30, 20), (30, 20), (30, 20), (30, 20), (30, 20)], [0, 56, 112, 168, 224], new_lesions=new)
    # T2: new lesion gone -> iSD, reset with 1 known new lesion; T3 present again: no new lesion, no trigger -> iSD;
    # T4 unequivocal progression of the known NLNT -> new iUPD
    assert overall(study) == ["iUPD", "iSD", "iSD", "iUPD"]


def test_new_lesions_split_into_targets_and_non_targets():
    sizes = {
        "A": ("liver", False, 30.0),
        "B": ("liver", False, 20.0),
        "C": ("liver", False, 25.0),
        "D": ("lung", False, 15.0),
        "E": ("neck node", True, 18.0),
        "F": ("axilla node", True, 16.0),
        "G": ("groin node", True, 22.0),
        "H": ("bone", False, 11.0),
        "I": ("skin", False, 10.0),
        "J": ("brain", False, 40.0),
    }
    new = [
        {
            "id": k,
            "timepoint": "T1",
            "organ": organ,
            "nodal": nodal,
            "measurable": k != "J",
            "measurements": {"T1": size},
        }
        for k, (organ, nodal, size) in sizes.items()
    ]
    study = make_study([(30, 20), (30, 20)], [0, 56], new_lesions=new)
    nlt, nlnt = split_new_lesions(study)
    # largest first: A 30, C 25 (liver full), G 22, E 18 (nodes full), D 15 -> 5 reached
    assert [n.id for n in nlt] == ["A", "C", "D", "E", "G"]
    assert [n.id for n in nlnt] == ["B", "F", "H", "I", "J"]


@pytest.mark.parametrize(
    "values, days, expected",
    [
        # iUPD, iSD, iSD -> iSD
        ([(30, 20), (40, 20), (35, 20), (35, 20)], [0, 56, 112, 168], "iSD"),
        # iUPD, NE, NE, NE -> iUPD
        ([(30, 20), (40, 20), (None, 20), (None, 20), (None, 20)], [0, 56, 112, 168, 224], "iUPD"),
        # iUPD, iPR, iCR -> iCR
        ([(30, 20), (40, 20), (20, 10), ("absent", "absent")], [0, 56, 112, 168], "iCR"),
        # iUPD, iCPD -> iCPD
        ([(30, 20), (40, 20), (46, 20)], [0, 56, 112], "iCPD"),
    ],
)
def test_ibor_examples_of_seymour_table_3(values, days, expected):
    assert evaluate_irecist(make_study(values, days)).best_overall_response.unconfirmed == expected


def test_ibor_with_confirmation_needs_a_second_response_4_weeks_later():
    result = evaluate_irecist(make_study([(30, 20), (20, 10), (20, 10)], [0, 56, 84])).best_overall_response
    assert (result.unconfirmed, result.confirmed) == ("iPR", "iPR")
    result = evaluate_irecist(make_study([(30, 20), (20, 10), (40, 30)], [0, 56, 112])).best_overall_response
    assert (result.unconfirmed, result.confirmed) == ("iPR", "iSD")


def test_icpd_is_final():
    study = make_study([(30, 20), (40, 20), (46, 20), (10, 10)], [0, 56, 112, 168])
    assert overall(study) == ["iUPD", "iCPD", "iCPD"]
