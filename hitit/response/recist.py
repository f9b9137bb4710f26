"""RECIST 1.1: baseline validation, sums of diameters, time-point responses and best overall response.

Every rule is one function with its source: Eisenhauer et al., "RECIST 1.1", Eur J Cancer
2009;45:228-247, doi:10.1016/j.ejca.2008.10.026, as read through its summary table (PMC2755245
Table 3), PMC4671850, the EORTC RECIST questions and clarifications and CDISC; docs/evidence.md
gives the evidence level of each. The building blocks (target, non-target, overall
categories) are reused by the iRECIST and itRECIST engines.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from collections.abc import Sequence

from hitit.errors import InputError
from hitit.response.study import (
    STATUS_ABSENT,
    STATUS_UNEQUIVOCAL_PROGRESSION,
    Lesion,
    Study,
)

CR, PR, SD, PD, NE = "CR", "PR", "SD", "PD", "NE"
NON_CR_NON_PD = "non-CR/non-PD"
#: Organ key shared by every lymph node: "all lymph nodes together count as one organ"
#: (RECIST 1.1; EORTC RECIST questions and clarifications).
LYMPH_NODE_ORGAN = "lymph node"
#: Measurements are recorded to 0.1 mm; this only absorbs binary rounding so that an exact boundary
#: (e.g. -30.0 %, +5.0 mm) is classified as the rule says, never by a rounding error.
FLOAT_TOLERANCE_MM = 1e-6


@dataclass(frozen=True)
class ResponseConfig:
    """Thresholds of the response criteria; the defaults are the published values.

    Sources: RECIST 1.1 (Eisenhauer 2009, doi:10.1016/j.ejca.2008.10.026; PMC2755245 Table 3; EORTC Q&A),
    iRECIST (Seymour et al., Lancet Oncol 2017, PMC5648544 Tables 2-3), itRECIST (Goldmacher et al.,
    J Clin Oncol 2020, doi:10.1200/JCO.19.02985, Fig. 1 legend); see docs/evidence.md.
    """

    #: PR: sum of diameters at least this much (%) below baseline (RECIST 1.1).
    pr_decrease_pct: float = 30.0
    #: PD: sum at least this much (%) above nadir ... (RECIST 1.1)
    pd_increase_pct: float = 20.0
    #: ... and at least this absolute increase (mm) above nadir (RECIST 1.1).
    pd_increase_mm: float = 5.0
    #: Node short axis under which a node is normal (target CR, non-target CR) (RECIST 1.1).
    node_normal_sa_mm: float = 10.0
    #: Non-nodal lesion measurable at baseline from this longest diameter (CT/MRI) (RECIST 1.1).
    measurable_non_nodal_mm: float = 10.0
    #: Lymph node measurable (can be a target) from this short axis (RECIST 1.1).
    measurable_node_sa_mm: float = 15.0
    #: At most this many target lesions in total (RECIST 1.1) ...
    max_targets: int = 5
    #: ... and per organ, all lymph nodes together being one organ (RECIST 1.1, EORTC Q&A).
    max_targets_per_organ: int = 2
    #: CR/PR confirmed by a later assessment at least this many days on (>= 4 weeks, RECIST 1.1).
    confirmation_min_days: int = 28
    #: iUPD cannot be confirmed by an assessment earlier than this many days after it (iRECIST, 4 weeks).
    icpd_min_days: int = 28
    #: iUPD confirmation is expected by this many days (iRECIST, 8 weeks); a later one confirms with a note.
    icpd_max_days: int = 56
    #: iCPD: further increase of the target or new-lesion-target sum since iUPD (mm) (iRECIST).
    icpd_increase_mm: float = 5.0
    #: New-lesion targets: at most this many ... (iRECIST, recalled [R]: RECIST 1.1 target rules) ...
    max_new_lesion_targets: int = 5
    #: ... and per organ.
    max_new_lesion_targets_per_organ: int = 2
    #: itRECIST baseline: from 1 to this many injected targets (T-I) (Goldmacher 2020 Fig. 1) ...
    max_injected_targets: int = 5
    #: ... and from 1 to this many non-injected targets (T-NI) (Goldmacher 2020 Fig. 1) ...
    max_non_injected_targets: int = 5
    #: ... and each stream needs at least this many targets (Goldmacher 2020 Fig. 1: "1-5").
    min_targets_per_stream: int = 1


DEFAULT_CONFIG = ResponseConfig()


def organ_key(organ: str, nodal: bool) -> str:
    """The organ a lesion counts against for per-organ limits: every node is one organ (EORTC RECIST Q&A)."""
    return LYMPH_NODE_ORGAN if nodal else organ.strip().lower()


def percent_change(value: float | None, reference: float | None) -> float | None:
    """Change of ``value`` relative to ``reference`` in %, ``None`` when either is unknown or the reference is 0."""
    if value is None or reference is None or reference == 0:
        return None
    return (value - reference) / reference * 100.0


def lesion_sum_mm(lesions: Sequence[Lesion], timepoint_id: str) -> float | None:
    """Sum of diameters (LD non-nodal, SA nodes) at a time point; ``None`` if a lesion was not measured or there is
    none.

    ``math.fsum`` makes the sum independent of the lesion order (RECIST 1.1 sum of diameters).
    """
    values = [lesion.diameter_mm(timepoint_id) for lesion in lesions]
    if not values or any(value is None for value in values):
        return None
    return math.fsum(values)


def sum_history_mm(study: Study, lesions: Sequence[Lesion], upto: int) -> list[float | None]:
    """Sums of ``lesions`` at time points 0..upto (the same lesion set at every time point)."""
    return [lesion_sum_mm(lesions, study.timepoints[i].id) for i in range(upto + 1)]


def nadir_mm(history: Sequence[float | None]) -> float | None:
    """Smallest known sum in ``history`` (baseline included): the reference for PD (RECIST 1.1; EORTC clarification)."""
    known = [value for value in history if value is not None]
    return min(known) if known else None


# --- baseline validation -------------------------------------------------------------------------


def measurability_problem(lesion: Lesion, baseline_id: str, config: ResponseConfig) -> str | None:
    """Why a target lesion is not measurable at baseline, or ``None`` if it is.

    Source: RECIST 1.1 (Eisenhauer 2009) measurability: non-nodal LD >= 10 mm; node SA >= 15 mm.
    """
    value = lesion.measurements.get(baseline_id)
    if isinstance(value, str):
        return f"a target needs a measured baseline diameter, not {value!r}"
    if lesion.nodal and value < config.measurable_node_sa_mm:
        return f"node short axis {value:g} mm < {config.measurable_node_sa_mm:g} mm is not measurable (RECIST 1.1)"
    if not lesion.nodal and value < config.measurable_non_nodal_mm:
        return f"longest diameter {value:g} mm < {config.measurable_non_nodal_mm:g} mm is not measurable (RECIST 1.1)"
    return None


@dataclass(frozen=True)
class BaselineProblem:
    """One baseline rule a study breaks: the rule (short, human-readable), the lesions concerned, the detail."""

    rule: str
    lesions: tuple[str, ...]
    message: str

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict:
        """As a JSON-ready dict."""
        return {"rule": self.rule, "lesions": list(self.lesions), "message": self.message}


def measurability_problems(
    targets: Sequence[Lesion], baseline_id: str, config: ResponseConfig
) -> list[BaselineProblem]:
    """A problem for each target that is not measurable at baseline (RECIST 1.1 measurability)."""
    rule = (
        f"RECIST 1.1: a target is measurable at baseline (longest diameter >= {config.measurable_non_nodal_mm:g} mm, "
        f"node short axis >= {config.measurable_node_sa_mm:g} mm)"
    )
    return [
        BaselineProblem(rule, (lesion.id,), f"lesion {lesion.id} at {baseline_id}: {problem}")
        for lesion in targets
        if (problem := measurability_problem(lesion, baseline_id, config))
    ]


def per_organ_problems(lesions: Sequence[Lesion], limit: int) -> list[BaselineProblem]:
    """Targets beyond ``limit`` in one organ, all nodes being one organ (RECIST 1.1; EORTC RECIST Q&A)."""
    by_organ: dict[str, list[str]] = {}
    for lesion in lesions:
        by_organ.setdefault(organ_key(lesion.organ, lesion.nodal), []).append(lesion.id)
    return [
        BaselineProblem(
            f"RECIST 1.1: at most {limit} targets per organ (all lymph nodes one organ)",
            tuple(ids),
            f"lesion {ids[limit]}: {len(ids)} targets in organ {organ!r} ({', '.join(ids)}); at most {limit} "
            "per organ (all lymph nodes count as one organ)",
        )
        for organ, ids in sorted(by_organ.items())
        if len(ids) > limit
    ]


def recist_baseline_problems(study: Study, config: ResponseConfig = DEFAULT_CONFIG) -> list[BaselineProblem]:
    """Every RECIST 1.1 target-selection rule the baseline breaks (RECIST 1.1, Eisenhauer 2009: baseline target
    selection).

    At least one and at most 5 targets, at most 2 per organ (all nodes one organ), each measurable.
    """
    targets = study.targets
    problems = measurability_problems(targets, study.baseline.id, config)
    if len(targets) > config.max_targets:
        problems.append(
            BaselineProblem(
                f"RECIST 1.1: at most {config.max_targets} target lesions",
                tuple(t.id for t in targets[config.max_targets :]),
                f"lesion {targets[config.max_targets].id}: {len(targets)} target lesions; "
                f"RECIST 1.1 allows at most {config.max_targets}",
            )
        )
    problems += per_organ_problems(targets, config.max_targets_per_organ)
    if not targets:
        problems.append(
            BaselineProblem(
                "RECIST 1.1: at least one measurable target lesion",
                (),
                "no target lesion: RECIST 1.1 needs at least one measurable target for PR/PD by size",
            )
        )
    return problems


def refuse_or_warn(criterion: str, problems: Sequence[BaselineProblem], warn_baseline: bool) -> list[str]:
    """Raise for a baseline that breaks the rules, or return the problems as warnings when asked."""
    if problems and not warn_baseline:
        raise InputError(
            f"{criterion} baseline: {problems[0]}"
            + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
            + "; fix the target selection or pass --warn-baseline to continue with warnings"
        )
    return [f"{criterion} baseline: {problem}" for problem in problems]


# --- time-point categories -----------------------------------------------------------------------


@dataclass(frozen=True)
class TargetAssessment:
    """The target sum at one time point and its comparisons with baseline and nadir."""

    category: str | None
    sum_mm: float | None
    baseline_sum_mm: float | None
    nadir_sum_mm: float | None
    change_from_baseline_pct: float | None
    change_from_nadir_pct: float | None
    change_from_nadir_mm: float | None


def target_category(
    lesions: Sequence[Lesion],
    timepoint_id: str,
    total: float | None,
    baseline: float | None,
    nadir: float | None,
    config: ResponseConfig = DEFAULT_CONFIG,
) -> str | None:
    """Target response at a time point: CR, PR, SD, PD, NE (``None``: no target lesions).

    Source: RECIST 1.1 response table (PMC2755245 Table 3); EORTC clarification: CR = every non-nodal target
    gone and every node < 10 mm SA (the sum may stay > 0); PD = sum >= 20 % **and** >= 5 mm above the nadir;
    PR = sum >= 30 % below **baseline**; SD otherwise. A target not measured makes the time point NE.
    """
    if not lesions:
        return None
    if total is None or baseline is None:
        return NE
    if all(_is_normal(lesion, timepoint_id, config) for lesion in lesions):
        return CR
    if nadir is not None and is_progression(total, nadir, config):
        return PD
    if baseline - total >= config.pr_decrease_pct / 100.0 * baseline - FLOAT_TOLERANCE_MM:
        return PR
    return SD


def _is_normal(lesion: Lesion, timepoint_id: str, config: ResponseConfig) -> bool:
    """Non-nodal: gone; node: short axis < 10 mm (RECIST 1.1 CR)."""
    value = lesion.diameter_mm(timepoint_id)
    return value < config.node_normal_sa_mm if lesion.nodal else value == 0.0


def is_progression(total: float, nadir: float, config: ResponseConfig = DEFAULT_CONFIG) -> bool:
    """RECIST 1.1 PD of a sum: >= 20 % above nadir and >= 5 mm absolute (RECIST 1.1, Eisenhauer 2009).

    From a nadir of 0 mm any increase of >= 5 mm is PD (the relative rule is then always met).
    """
    increase = total - nadir
    return (
        increase >= config.pd_increase_mm - FLOAT_TOLERANCE_MM
        and increase >= config.pd_increase_pct / 100.0 * nadir - FLOAT_TOLERANCE_MM
    )


def assess_targets(
    study: Study, lesions: Sequence[Lesion], index: int, config: ResponseConfig = DEFAULT_CONFIG
) -> TargetAssessment:
    """Sum, baseline, nadir (over earlier time points, with this lesion set) and the target category."""
    history = sum_history_mm(study, lesions, index)
    total, baseline = history[index], history[0]
    nadir = nadir_mm(history[:index]) if index else baseline
    category = target_category(lesions, study.timepoints[index].id, total, baseline, nadir, config) if index else None
    return TargetAssessment(
        category=category,
        sum_mm=total,
        baseline_sum_mm=baseline,
        nadir_sum_mm=nadir,
        change_from_baseline_pct=percent_change(total, baseline),
        change_from_nadir_pct=percent_change(total, nadir),
        change_from_nadir_mm=None if total is None or nadir is None else total - nadir,
    )


def non_target_category(lesions: Sequence[Lesion], timepoint_id: str) -> str | None:
    """Non-target response: CR, non-CR/non-PD, PD, NE (``None``: no non-target lesions).

    Source: RECIST 1.1 (Eisenhauer 2009): PD only for *unequivocal* progression; CR when every
    non-target is gone (for nodes, "absent" means back under 10 mm SA); otherwise non-CR/non-PD.
    A non-target not assessed makes the category NE unless another one already shows PD.
    "increased" (iRECIST, Seymour 2017) is not unequivocal progression, so RECIST 1.1 reads it as present.
    """
    if not lesions:
        return None
    statuses = [lesion.status.get(timepoint_id) for lesion in lesions]
    if STATUS_UNEQUIVOCAL_PROGRESSION in statuses:
        return PD
    if None in statuses:
        return NE
    if all(status == STATUS_ABSENT for status in statuses):
        return CR
    return NON_CR_NON_PD


def overall_category(target: str | None, non_target: str | None, new_lesions: bool) -> str:
    """Overall time-point response from the RECIST 1.1 table (RECIST 1.1, Eisenhauer 2009).

    Target PD, unequivocal non-target PD or any new lesion -> PD; CR+CR -> CR; CR + non-CR/non-PD or
    not evaluated -> PR; PR -> PR; SD -> SD; a target not evaluable -> NE. Without target lesions
    (accepted only with warnings) the non-target-only table applies: CR, non-CR/non-PD, PD, NE.
    """
    if new_lesions or PD in (target, non_target):
        return PD
    if target is None:
        return non_target if non_target in (CR, NON_CR_NON_PD) else NE
    if target == CR:
        return CR if non_target in (CR, None) else PR
    return target


# --- RECIST 1.1 over the study -------------------------------------------------------------------


@dataclass(frozen=True)
class RecistTimepoint:
    """RECIST 1.1 assessment of one time point (categories are ``None`` at baseline)."""

    timepoint_id: str
    target: str | None
    non_target: str | None
    new_lesions: bool
    overall: str | None
    sum_mm: float | None
    baseline_sum_mm: float | None
    nadir_sum_mm: float | None
    change_from_baseline_pct: float | None
    change_from_nadir_pct: float | None
    change_from_nadir_mm: float | None

    def to_dict(self) -> dict:
        """As a JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class BestOverallResponse:
    """Best overall response without and with confirmation of CR/PR (>= 4 weeks)."""

    unconfirmed: str
    confirmed: str
    confirmation_min_days: int

    def to_dict(self) -> dict:
        """As a JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class RecistResult:
    """RECIST 1.1 over a study: one entry per time point, best overall response, baseline warnings."""

    timepoints: list[RecistTimepoint]
    best_overall_response: BestOverallResponse
    warnings: list[str] = field(default_factory=list)


def evaluate_recist(study: Study, warn_baseline: bool = False, config: ResponseConfig = DEFAULT_CONFIG) -> RecistResult:
    """RECIST 1.1 for every time point of a study (refuses a non-conforming baseline unless ``warn_baseline``)."""
    warnings = refuse_or_warn("RECIST 1.1", recist_baseline_problems(study, config), warn_baseline)
    rows = [_recist_timepoint(study, index, config) for index in range(len(study.timepoints))]
    best = best_overall_response(
        [row.overall for row in rows[1:]], [t.date for t in study.timepoints[1:]], RECIST_VOCABULARY, config
    )
    return RecistResult(timepoints=rows, best_overall_response=best, warnings=warnings)


def _recist_timepoint(study: Study, index: int, config: ResponseConfig) -> RecistTimepoint:
    timepoint_id = study.timepoints[index].id
    targets = assess_targets(study, study.targets, index, config)
    non_target = non_target_category(study.non_targets, timepoint_id) if index else None
    # RECIST 1.1: any unequivocal new lesion is PD; it stays on record at later time points.
    new_lesions = bool(study.new_lesions_by(index))
    return RecistTimepoint(
        timepoint_id=timepoint_id,
        target=targets.category,
        non_target=non_target,
        new_lesions=new_lesions,
        overall=overall_category(targets.category, non_target, new_lesions) if index else None,
        sum_mm=targets.sum_mm,
        baseline_sum_mm=targets.baseline_sum_mm,
        nadir_sum_mm=targets.nadir_sum_mm,
        change_from_baseline_pct=targets.change_from_baseline_pct,
        change_from_nadir_pct=targets.change_from_nadir_pct,
        change_from_nadir_mm=targets.change_from_nadir_mm,
    )


# --- best overall response -----------------------------------------------------------------------


@dataclass(frozen=True)
class Vocabulary:
    """Category names of one criterion, best first, for the best-overall-response rule."""

    complete: str
    partial: str
    stable: str
    progression: str
    ranking: tuple[str, ...]


RECIST_VOCABULARY = Vocabulary(CR, PR, SD, PD, ranking=(CR, PR, SD, NON_CR_NON_PD, PD, NE))


def best_overall_response(
    categories: Sequence[str], dates: Sequence, vocabulary: Vocabulary, config: ResponseConfig = DEFAULT_CONFIG
) -> BestOverallResponse:
    """Best response recorded from the first follow-up until (and including) progression.

    Source: RECIST 1.1 (Eisenhauer 2009; confirmation as in PMC4671850): with confirmation, a CR needs a
    later CR and a PR a later PR or CR, at least 4 weeks (by the dates) after it and before progression;
    an unconfirmed CR/PR counts as SD. Assessments after the first progression do not count.
    """
    if vocabulary.progression in categories:
        stop = list(categories).index(vocabulary.progression) + 1
        categories, dates = list(categories)[:stop], list(dates)[:stop]
    unconfirmed = _best(categories, vocabulary)
    confirmed = [_confirmed_category(i, categories, dates, vocabulary, config) for i in range(len(categories))]
    return BestOverallResponse(
        unconfirmed=unconfirmed,
        confirmed=_best(confirmed, vocabulary),
        confirmation_min_days=config.confirmation_min_days,
    )


def _best(categories: Sequence[str], vocabulary: Vocabulary) -> str:
    ranked = [c for c in categories if c in vocabulary.ranking]
    return min(ranked, key=vocabulary.ranking.index) if ranked else NE


def _confirmed_category(
    index: int, categories: Sequence[str], dates: Sequence, vocabulary: Vocabulary, config: ResponseConfig
) -> str:
    """The category at ``index`` if confirmed (CR by CR, PR by PR or CR, >= 4 weeks later), else SD."""
    category = categories[index]
    accepted = {
        vocabulary.complete: (vocabulary.complete,),
        vocabulary.partial: (vocabulary.partial, vocabulary.complete),
    }.get(category)
    if accepted is None:
        return category
    for later in range(index + 1, len(categories)):
        if categories[later] in accepted and (dates[later] - dates[index]).days >= config.confirmation_min_days:
            return category
    return vocabulary.stable
