"""iRECIST: unconfirmed (iUPD) and confirmed (iCPD) progression, reset, new-lesion targets, iBOR.

Sources: Seymour et al., iRECIST, Lancet Oncol 2017;18:e143-e152, PMC5648544 Tables 2-3;
EORTC iRECIST FAQ). Measurements and categories follow RECIST 1.1 (``recist.py``).

The engine evaluates a *stream*: a set of target and non-target lesions plus, optionally, the new
lesions. iRECIST uses one stream with every lesion; itRECIST runs the same engine on its overall,
injected and non-injected streams, whose lesion sets may change over time (``itrecist.py``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from collections.abc import Callable, Sequence

from hitit.response.recist import (
    CR,
    DEFAULT_CONFIG,
    FLOAT_TOLERANCE_MM,
    NE,
    NON_CR_NON_PD,
    PD,
    PR,
    SD,
    BestOverallResponse,
    ResponseConfig,
    TargetAssessment,
    Vocabulary,
    assess_targets,
    best_overall_response,
    is_progression,
    non_target_category,
    organ_key,
    overall_category,
    recist_baseline_problems,
    refuse_or_warn,
    sum_history_mm,
)
from hitit.response.study import (
    STATUS_INCREASED,
    STATUS_UNEQUIVOCAL_PROGRESSION,
    Lesion,
    NewLesion,
    Study,
)

ICR, IPR, ISD, IUPD, ICPD = "iCR", "iPR", "iSD", "iUPD", "iCPD"
NON_ICR_NON_IUPD = "non-iCR/non-iUPD"
IRECIST_VOCABULARY = Vocabulary(ICR, IPR, ISD, ICPD, ranking=(ICR, IPR, ISD, NON_ICR_NON_IUPD, IUPD, ICPD, NE))
_I_CATEGORY = {CR: ICR, PR: IPR, SD: ISD, NON_CR_NON_PD: NON_ICR_NON_IUPD, NE: NE}
#: Non-target / new-lesion non-target statuses that count as "any further increase" for iCPD (iRECIST, Seymour 2017).
_INCREASE_STATUSES = (STATUS_INCREASED, STATUS_UNEQUIVOCAL_PROGRESSION)

TRIGGER_TARGET, TRIGGER_NON_TARGET, TRIGGER_NEW = "target", "non_target", "new_lesions"
#: Note put on an iUPD time point that a later assessment confirmed (iBOR counts it as iCPD).
CONFIRMED_LATER_NOTE = "confirmed later (iCPD)"


@dataclass(frozen=True)
class StreamView:
    """The lesions one response stream assesses at one time point."""

    targets: tuple[Lesion, ...]
    non_targets: tuple[Lesion, ...]
    new_lesions: bool


#: Gives the stream's lesions at a time point index (constant for RECIST/iRECIST; changing for itRECIST).
ViewAt = Callable[[int], StreamView]


def all_lesions_view(study: Study) -> ViewAt:
    """The single iRECIST stream: every baseline lesion and every new lesion."""
    view = StreamView(study.targets, study.non_targets, True)
    return lambda index: view


# --- new lesions ----------------------------------------------------------------------------------


def split_new_lesions(
    study: Study, config: ResponseConfig = DEFAULT_CONFIG
) -> tuple[tuple[NewLesion, ...], tuple[NewLesion, ...]]:
    """New-lesion targets (NLT) and new-lesion non-targets (NLNT).

    Source: iRECIST (Seymour 2017) as recalled [R]: RECIST 1.1 target rules applied to new lesions: up to 5
    measurable new lesions, at most 2 per organ (nodes one organ), are NLT; all others are NLNT.
    They are chosen when they appear, the largest first (ties by id), so the choice never depends
    on the order of the file.
    """

    def rank(new: NewLesion):
        return (study.index_of(new.timepoint), -(new.diameter_mm(new.timepoint) or 0.0), new.id)

    chosen: list[NewLesion] = []
    per_organ: dict[str, int] = {}
    for new in sorted((n for n in study.new_lesions if n.measurable), key=rank):
        organ = organ_key(new.organ, new.nodal)
        if (
            len(chosen) < config.max_new_lesion_targets
            and per_organ.get(organ, 0) < config.max_new_lesion_targets_per_organ
        ):
            chosen.append(new)
            per_organ[organ] = per_organ.get(organ, 0) + 1
    chosen_ids = {new.id for new in chosen}
    others = tuple(sorted((n for n in study.new_lesions if n.id not in chosen_ids), key=lambda n: n.id))
    return tuple(sorted(chosen, key=lambda n: n.id)), others


@dataclass(frozen=True)
class NewLesionState:
    """New lesions as seen by a stream at one time point."""

    count: int
    present: bool
    nlt: tuple[NewLesion, ...]
    nlnt: tuple[NewLesion, ...]
    #: The new lesions not recorded as gone at this time point.
    present_lesions: tuple[NewLesion, ...] = ()

    def nlt_sum_mm(self, timepoint_id: str, appeared: Sequence[str] | None = None) -> float | None:
        """Sum of the NLT diameters (only those in ``appeared`` when given); ``None`` if one is unmeasured."""
        lesions = [n for n in self.nlt if appeared is None or n.id in appeared]
        values = [n.diameter_mm(timepoint_id) for n in lesions]
        return None if None in values else math.fsum(values)

    def nlnt_statuses(self, timepoint_id: str) -> list[str | None]:
        """Status of every new non-target lesion at the time point (None where not recorded)."""
        return [n.status.get(timepoint_id) for n in self.nlnt]


def new_lesion_state(study: Study, index: int, counted: bool, config: ResponseConfig) -> NewLesionState:
    """The new lesions that have appeared by time point ``index`` (none when the stream ignores them)."""
    if not counted:
        return NewLesionState(0, False, (), ())
    appeared = study.new_lesions_by(index)
    ids = {n.id for n in appeared}
    nlt, nlnt = split_new_lesions(study, config)
    timepoint_id = study.timepoints[index].id
    present = tuple(n for n in appeared if not n.is_absent(timepoint_id))
    return NewLesionState(
        count=len(appeared),
        present=bool(present),
        nlt=tuple(n for n in nlt if n.id in ids),
        nlnt=tuple(n for n in nlnt if n.id in ids),
        present_lesions=present,
    )


# --- time-point result ----------------------------------------------------------------------------


@dataclass(frozen=True)
class IrecistTimepoint:
    """iRECIST assessment of one time point of one stream (categories ``None`` at baseline)."""

    timepoint_id: str
    overall: str | None
    target: str | None
    non_target: str | None
    new_lesions: bool
    sum_mm: float | None
    baseline_sum_mm: float | None
    nadir_sum_mm: float | None
    change_from_baseline_pct: float | None
    change_from_nadir_pct: float | None
    change_from_nadir_mm: float | None
    new_lesion_target_sum_mm: float | None = None
    new_lesion_target_ids: list[str] = field(default_factory=list)
    new_lesion_non_target_ids: list[str] = field(default_factory=list)
    target_ids: list[str] = field(default_factory=list)
    iupd_timepoint_id: str | None = None
    progression_triggers: list[str] = field(default_factory=list)
    confirmation: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The row as a JSON-ready dict."""
        return asdict(self)


@dataclass
class _Progression:
    """Where the stream stands: the pending iUPD, the last reset (new lesions seen by then are known),
    confirmed or not.
    """

    iupd_index: int | None = None
    triggers: frozenset[str] = frozenset()
    reset_index: int = 0
    confirmed: bool = False


@dataclass(frozen=True)
class _Facts:
    """Everything measured at one time point of one stream."""

    index: int
    view: StreamView
    targets: TargetAssessment
    non_target: str | None
    new: NewLesionState


def evaluate_irecist_stream(
    study: Study, view_at: ViewAt, config: ResponseConfig = DEFAULT_CONFIG
) -> list[IrecistTimepoint]:
    """iRECIST time-point responses of one stream, in time order (baseline first)."""
    state = _Progression()
    rows = [_row(study, _facts(study, view_at, 0, config), None, [], [], state)]
    for index in range(1, len(study.timepoints)):
        facts = _facts(study, view_at, index, config)
        overall, triggers, confirmation, notes = _step(study, facts, state, config)
        rows.append(_row(study, facts, overall, triggers, confirmation, state, notes))
    return _mark_confirmed_iupds(rows)


def _facts(study: Study, view_at: ViewAt, index: int, config: ResponseConfig) -> _Facts:
    view = view_at(index)
    timepoint_id = study.timepoints[index].id
    return _Facts(
        index,
        view,
        assess_targets(study, view.targets, index, config),
        non_target_category(view.non_targets, timepoint_id) if index else None,
        new_lesion_state(study, index, view.new_lesions, config),
    )


def _step(study: Study, facts: _Facts, state: _Progression, config: ResponseConfig):
    """Overall category of one time point; updates ``state`` (iUPD pending, reset, confirmed)."""
    if state.confirmed:
        # iCPD is final for the stream; later scans do not change it (iRECIST, Seymour 2017).
        return ICPD, [], [], ["after confirmed progression"]
    triggers = progression_triggers(study, facts, state, config)
    if state.iupd_index is not None:
        confirmation, notes = confirmation_reasons(study, facts, state, config)
        if confirmation:
            state.confirmed = True
            return ICPD, triggers, confirmation, notes
        if triggers:
            return IUPD, triggers, [], notes
    elif triggers:
        state.iupd_index, state.triggers = facts.index, frozenset(triggers)
        return IUPD, triggers, [], []
    overall = _fresh_category(facts)
    if overall in (ICR, IPR, ISD, NON_ICR_NON_IUPD):
        _reset(state, facts)
    return overall, [], [], []


def progression_triggers(study: Study, facts: _Facts, state: _Progression, config: ResponseConfig) -> list[str]:
    """What makes this time point a RECIST 1.1-type progression (iUPD), given the reset history.

    Source: iRECIST (Seymour 2017, PMC5648544 Table 2; EORTC iRECIST FAQ): target sum >= 20 % and >= 5 mm above
    nadir; unequivocal non-target progression; new lesions (those seen since the last reset, while
    any of them is present: once they are gone the time point can be better). After a reset, new
    lesions already known only trigger a new iUPD if more new lesions appear, the NLT sum progresses
    by RECIST 1.1 (vs. its nadir since the reset) or an NLNT progresses unequivocally.
    """
    triggers = []
    if facts.targets.category == PD:
        triggers.append(TRIGGER_TARGET)
    if facts.non_target == PD:
        triggers.append(TRIGGER_NON_TARGET)
    unknown_present = [n for n in facts.new.present_lesions if study.index_of(n.timepoint) > state.reset_index]
    if unknown_present or _known_new_lesions_progress(study, facts, state, config):
        triggers.append(TRIGGER_NEW)
    return triggers


def _known_new_lesions_progress(study: Study, facts: _Facts, state: _Progression, config: ResponseConfig) -> bool:
    """After a reset: NLT sum PD vs. its nadir since the reset,
    or NLNT unequivocal progression (iRECIST, Seymour 2017).
    """
    if not any(study.index_of(n.timepoint) <= state.reset_index for n in study.new_lesions_by(facts.index)):
        return False
    timepoint_id = study.timepoints[facts.index].id
    if STATUS_UNEQUIVOCAL_PROGRESSION in facts.new.nlnt_statuses(timepoint_id):
        return True
    current = facts.new.nlt_sum_mm(timepoint_id)
    earlier = [facts.new.nlt_sum_mm(study.timepoints[i].id) for i in range(state.reset_index, facts.index)]
    known = [value for value in earlier if value is not None]
    return current is not None and bool(known) and is_progression(current, min(known), config)


def confirmation_reasons(
    study: Study, facts: _Facts, state: _Progression, config: ResponseConfig
) -> tuple[list[str], list[str]]:
    """Why the pending iUPD is confirmed as iCPD at this time point (empty: not confirmed), and notes.

    Source: iRECIST (Seymour 2017, PMC5648544 Table 2; EORTC iRECIST FAQ). Compared with the iUPD time point:
    in a category that triggered iUPD, target sum further up >= 5 mm; any non-target increase
    ("increased" or worse); more new lesions, NLT sum up >= 5 mm or any NLNT increase. A category
    that did not trigger iUPD confirms when it now meets RECIST 1.1 progression. Increases add up
    because the reference stays the iUPD time point (+4 mm then +2 mm = +6 mm). A scan < 4 weeks
    after iUPD cannot confirm unless it shows more new lesions; one later than 8 weeks confirms
    with a note.
    """
    reference = state.iupd_index
    days = (study.timepoints[facts.index].date - study.timepoints[reference].date).days
    more_new = facts.new.count > _new_count_at(study, reference, facts)
    reasons = [f"more new lesions ({facts.new.count})"] if more_new else []
    if days < config.icpd_min_days:
        return reasons, (
            [f"{days} days after iUPD: too early to confirm except by more new lesions"] if not reasons else []
        )
    reasons += _target_confirmation(study, facts, state, config) + _non_target_confirmation(study, facts, state)
    reasons += _new_lesion_confirmation(study, facts, state, config)
    notes = (
        [f"confirmed {days} days after iUPD, later than the {config.icpd_max_days}-day window"]
        if reasons and days > config.icpd_max_days
        else []
    )
    return reasons, notes


def _new_count_at(study: Study, index: int, facts: _Facts) -> int:
    return len(study.new_lesions_by(index)) if facts.view.new_lesions else 0


def _target_confirmation(study: Study, facts: _Facts, state: _Progression, config: ResponseConfig) -> list[str]:
    if TRIGGER_TARGET not in state.triggers:
        return ["target sum now meets RECIST 1.1 progression"] if facts.targets.category == PD else []
    # The iUPD sum is recomputed with today's lesion set (it changes only for itRECIST streams).
    reference = sum_history_mm(study, facts.view.targets, state.iupd_index)[state.iupd_index]
    current = facts.targets.sum_mm
    if current is None or reference is None:
        return []
    if current - reference >= config.icpd_increase_mm - FLOAT_TOLERANCE_MM:
        return [f"target sum +{current - reference:.1f} mm since iUPD"]
    return []


def _non_target_confirmation(study: Study, facts: _Facts, state: _Progression) -> list[str]:
    if TRIGGER_NON_TARGET not in state.triggers:
        return ["non-target unequivocal progression"] if facts.non_target == PD else []
    timepoint_id = study.timepoints[facts.index].id
    increased = [
        lesion.id for lesion in facts.view.non_targets if lesion.status.get(timepoint_id) in _INCREASE_STATUSES
    ]
    return [f"non-target increase ({', '.join(increased)})"] if increased else []


def _new_lesion_confirmation(study: Study, facts: _Facts, state: _Progression, config: ResponseConfig) -> list[str]:
    if TRIGGER_NEW not in state.triggers:
        return []  # new lesions appearing after iUPD are already "more new lesions"
    timepoint_id = study.timepoints[facts.index].id
    reference_id = study.timepoints[state.iupd_index].id
    reasons = []
    appeared = [n.id for n in study.new_lesions_by(state.iupd_index)]
    current, reference = facts.new.nlt_sum_mm(timepoint_id, appeared), facts.new.nlt_sum_mm(reference_id, appeared)
    if (
        current is not None
        and reference is not None
        and current - reference >= config.icpd_increase_mm - FLOAT_TOLERANCE_MM
    ):
        reasons.append(f"new-lesion target sum +{current - reference:.1f} mm since iUPD")
    increased = [n.id for n in facts.new.nlnt if n.status.get(timepoint_id) in _INCREASE_STATUSES]
    if increased:
        reasons.append(f"new-lesion non-target increase ({', '.join(increased)})")
    return reasons


def _fresh_category(facts: _Facts) -> str:
    """iCR/iPR/iSD/NE by the RECIST 1.1 table when nothing progresses.

    New lesions already known after a reset are still disease: they prevent iCR, like a persisting
    non-target (iRECIST reset rules, Seymour 2017).
    """
    non_target = facts.non_target
    if facts.new.present and non_target in (CR, None):
        non_target = NON_CR_NON_PD
    return _I_CATEGORY[overall_category(facts.targets.category, non_target, False)]


def _reset(state: _Progression, facts: _Facts) -> None:
    """After iSD/iPR/iCR the next progression is a new iUPD needing its own confirmation (iRECIST, Seymour 2017)."""
    state.iupd_index, state.triggers, state.reset_index = None, frozenset(), facts.index


def _row(
    study: Study, facts: _Facts, overall, triggers, confirmation, state: _Progression, notes=()
) -> IrecistTimepoint:
    t = facts.targets
    timepoint_id = study.timepoints[facts.index].id
    pending = state.iupd_index if overall in (IUPD, ICPD) else None
    return IrecistTimepoint(
        timepoint_id=timepoint_id,
        overall=overall,
        target=t.category,
        non_target=facts.non_target,
        new_lesions=facts.new.count > 0,
        sum_mm=t.sum_mm,
        baseline_sum_mm=t.baseline_sum_mm,
        nadir_sum_mm=t.nadir_sum_mm,
        change_from_baseline_pct=t.change_from_baseline_pct,
        change_from_nadir_pct=t.change_from_nadir_pct,
        change_from_nadir_mm=t.change_from_nadir_mm,
        new_lesion_target_sum_mm=facts.new.nlt_sum_mm(timepoint_id) if facts.new.nlt else None,
        new_lesion_target_ids=[n.id for n in facts.new.nlt],
        new_lesion_non_target_ids=[n.id for n in facts.new.nlnt],
        target_ids=sorted(lesion.id for lesion in facts.view.targets),
        iupd_timepoint_id=study.timepoints[pending].id if pending is not None else None,
        progression_triggers=list(triggers),
        confirmation=list(confirmation),
        notes=list(notes),
    )


def _mark_confirmed_iupds(rows: list[IrecistTimepoint]) -> list[IrecistTimepoint]:
    """Note on each iUPD whether a later iCPD confirmed it (iBOR counts a confirmed iUPD as iCPD,
    Seymour 2017 Table 3).
    """
    confirmed = {row.iupd_timepoint_id for row in rows if row.overall == ICPD and row.confirmation}
    return [
        _with_note(row, CONFIRMED_LATER_NOTE) if row.overall == IUPD and row.iupd_timepoint_id in confirmed else row
        for row in rows
    ]


def _with_note(row: IrecistTimepoint, note: str) -> IrecistTimepoint:
    return IrecistTimepoint(**{**asdict(row), "notes": row.notes + [note]})


def irecist_best_overall_response(
    rows: Sequence[IrecistTimepoint], dates: Sequence, config: ResponseConfig = DEFAULT_CONFIG
) -> BestOverallResponse:
    """iBOR: best time-point response, an iUPD later confirmed counting as iCPD.

    Source: iRECIST (Seymour 2017, PMC5648544 Table 3): iUPD, iSD, iSD -> iSD; iUPD, iCPD -> iCPD;
    iUPD, NE, NE, NE -> iUPD. Confirmation of iCR/iPR (>= 4 weeks) as for RECIST 1.1.
    """
    categories = [ICPD if CONFIRMED_LATER_NOTE in row.notes else row.overall for row in rows]
    return best_overall_response(categories, dates, IRECIST_VOCABULARY, config)


@dataclass(frozen=True)
class IrecistResult:
    """iRECIST over a study."""

    timepoints: list[IrecistTimepoint]
    best_overall_response: BestOverallResponse
    warnings: list[str] = field(default_factory=list)


def evaluate_irecist(
    study: Study, warn_baseline: bool = False, config: ResponseConfig = DEFAULT_CONFIG
) -> IrecistResult:
    """iRECIST for every time point (baseline validated as RECIST 1.1, Seymour 2017)."""
    warnings = refuse_or_warn("iRECIST", recist_baseline_problems(study, config), warn_baseline)
    rows = evaluate_irecist_stream(study, all_lesions_view(study), config)
    best = irecist_best_overall_response(rows[1:], [t.date for t in study.timepoints[1:]], config)
    return IrecistResult(timepoints=rows, best_overall_response=best, warnings=warnings)
