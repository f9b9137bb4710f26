"""itRECIST: separate responses of injected and non-injected lesions (local and abscopal effect).

Sources: Goldmacher et al., itRECIST, J Clin Oncol 2020;38(23):2667-2676, doi:10.1200/JCO.19.02985
(verified parts: Fig. 1 legend and ASCO 2020 abstract 3141; the rest is recalled [R] and listed in
RULES.md; evidence levels in docs/evidence.md). Lesions fall into four categories, T-I, T-NI, NT-I and NT-NI
(target / non-target x injected / non-injected). Each time point gets three responses, each from
the iRECIST engine run on one stream of lesions with its own baseline and nadir sums:

* overall: every target, every non-target, new lesions;
* injected: T-I sum and NT-I lesions; new lesions never enter it;
* non-injected: T-NI sum, NT-NI lesions and new lesions (new lesions are non-injected by definition).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from hitit.response.irecist import (
    IrecistTimepoint,
    StreamView,
    evaluate_irecist_stream,
    irecist_best_overall_response,
)
from hitit.response.recist import (
    DEFAULT_CONFIG,
    BestOverallResponse,
    ResponseConfig,
    BaselineProblem,
    measurability_problems,
    refuse_or_warn,
)
from hitit.response.study import Study

STREAM_OVERALL, STREAM_INJECTED, STREAM_NON_INJECTED = "overall", "injected", "non_injected"
STREAMS = (STREAM_OVERALL, STREAM_INJECTED, STREAM_NON_INJECTED)
T_I, T_NI, NT_I, NT_NI = "T-I", "T-NI", "NT-I", "NT-NI"


def lesion_category(study: Study, lesion, index: int) -> str:
    """T-I, T-NI, NT-I or NT-NI at time point ``index`` (Goldmacher 2020 Fig. 1)."""
    injected = study.is_injected(lesion, index)
    if lesion.is_target:
        return T_I if injected else T_NI
    return NT_I if injected else NT_NI


def stream_view(study: Study, stream: str, index: int) -> StreamView:
    """The lesions a stream assesses at time point ``index`` -- THE IMPLEMENTED (UNCERTAIN) RECLASSIFICATION RULE.

    Source: recalled [R], to be confirmed against Goldmacher 2020 Fig. 1B.
    A non-injected lesion that starts being injected (``injected_from`` after baseline) moves from
    the non-injected to the injected stream from that time point on, keeping its target/non-target
    role. Each stream compares the sum of the lesions it holds *now* with the sums of those same
    lesions at baseline and at every earlier time point: the T-I and T-NI baseline and nadir sums
    are thereby recomputed with / without the moved lesion (``recist.assess_targets`` sums the
    history over the lesion set it is given). The overall stream always holds every target, so
    the lesion always counts in the overall sum. New lesions count as non-injected
    ([R]: they did not exist when the injected lesions were chosen); a new lesion chosen for
    injection later is still counted as non-injected, since the study format cannot express it.
    Change this function alone if the paper says otherwise.
    """
    if stream == STREAM_OVERALL:
        return StreamView(study.targets, study.non_targets, True)
    injected = stream == STREAM_INJECTED
    targets = tuple(lesion for lesion in study.targets if study.is_injected(lesion, index) == injected)
    non_targets = tuple(lesion for lesion in study.non_targets if study.is_injected(lesion, index) == injected)
    return StreamView(targets, non_targets, not injected)


def itrecist_baseline_problems(study: Study, config: ResponseConfig = DEFAULT_CONFIG) -> list[BaselineProblem]:
    """Every itRECIST baseline rule the study breaks.

    Source: Goldmacher et al., J Clin Oncol 2020, doi:10.1200/JCO.19.02985, Fig. 1 legend: targets
    measurable by RECIST 1.1; 1-5 target-injected (T-I) and 1-5 target-noninjected (T-NI) lesions at
    baseline, 10 targets at most. RECIST 1.1's 5-target and 2-per-organ limits are not itRECIST rules.
    """
    baseline = study.baseline.id
    problems = measurability_problems(study.targets, baseline, config)
    counts = {T_I: (config.max_injected_targets, []), T_NI: (config.max_non_injected_targets, [])}
    for lesion in study.targets:
        counts[lesion_category(study, lesion, 0)][1].append(lesion.id)
    for category, (maximum, ids) in counts.items():
        if not config.min_targets_per_stream <= len(ids) <= maximum:
            listed = ", ".join(ids) or "none"
            problems.append(
                BaselineProblem(
                    f"itRECIST: {config.min_targets_per_stream}-{maximum} {category} target lesions at baseline",
                    tuple(ids),
                    f"{len(ids)} {category} target lesions at {baseline} ({listed}); itRECIST needs "
                    f"{config.min_targets_per_stream}-{maximum} (set injected_from to {baseline} for injected targets)",
                )
            )
    return problems


@dataclass(frozen=True)
class ItrecistTimepoint:
    """itRECIST at one time point: the three stream responses, each stream's sums, the lesion categories."""

    timepoint_id: str
    overall: str | None
    injected: str | None
    non_injected: str | None
    sum_mm: float | None
    change_from_baseline_pct: float | None
    change_from_nadir_pct: float | None
    injected_sum_mm: float | None
    injected_change_from_baseline_pct: float | None
    injected_change_from_nadir_pct: float | None
    non_injected_sum_mm: float | None
    non_injected_change_from_baseline_pct: float | None
    non_injected_change_from_nadir_pct: float | None
    lesion_categories: dict[str, str] = field(default_factory=dict)
    streams: dict[str, IrecistTimepoint] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The row, with each stream's row, as a JSON-ready dict."""
        out = asdict(self)
        out["streams"] = {name: row.to_dict() for name, row in self.streams.items()}
        return out


@dataclass(frozen=True)
class ItrecistResult:
    """itRECIST over a study: time points, best overall response per stream, baseline warnings."""

    timepoints: list[ItrecistTimepoint]
    best_overall_response: dict[str, BestOverallResponse]
    warnings: list[str] = field(default_factory=list)


def evaluate_itrecist(
    study: Study, warn_baseline: bool = False, config: ResponseConfig = DEFAULT_CONFIG
) -> ItrecistResult:
    """itRECIST for every time point: overall, injected and non-injected streams (iRECIST-style, Goldmacher 2020 as
    recalled [R]).
    """
    warnings = refuse_or_warn("itRECIST", itrecist_baseline_problems(study, config), warn_baseline)
    streams = {
        name: evaluate_irecist_stream(study, lambda index, name=name: stream_view(study, name, index), config)
        for name in STREAMS
    }
    rows = [
        _timepoint(study, index, {name: rows[index] for name, rows in streams.items()})
        for index in range(len(study.timepoints))
    ]
    dates = [t.date for t in study.timepoints[1:]]
    best = {
        name: irecist_best_overall_response(stream_rows[1:], dates, config) for name, stream_rows in streams.items()
    }
    return ItrecistResult(timepoints=rows, best_overall_response=best, warnings=warnings)


def _timepoint(study: Study, index: int, rows: dict[str, IrecistTimepoint]) -> ItrecistTimepoint:
    overall, injected, non_injected = rows[STREAM_OVERALL], rows[STREAM_INJECTED], rows[STREAM_NON_INJECTED]
    return ItrecistTimepoint(
        timepoint_id=study.timepoints[index].id,
        overall=overall.overall,
        injected=injected.overall,
        non_injected=non_injected.overall,
        sum_mm=overall.sum_mm,
        change_from_baseline_pct=overall.change_from_baseline_pct,
        change_from_nadir_pct=overall.change_from_nadir_pct,
        injected_sum_mm=injected.sum_mm,
        injected_change_from_baseline_pct=injected.change_from_baseline_pct,
        injected_change_from_nadir_pct=injected.change_from_nadir_pct,
        non_injected_sum_mm=non_injected.sum_mm,
        non_injected_change_from_baseline_pct=non_injected.change_from_baseline_pct,
        non_injected_change_from_nadir_pct=non_injected.change_from_nadir_pct,
        lesion_categories={lesion.id: lesion_category(study, lesion, index) for lesion in study.lesions},
        streams=rows,
    )
