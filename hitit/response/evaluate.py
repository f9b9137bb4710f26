"""Run RECIST 1.1, iRECIST and itRECIST over a study, each criterion assessed apart: :func:`evaluate_study`
and its result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hitit.errors import InputError
from hitit.response.irecist import IrecistResult, evaluate_irecist
from hitit.response.itrecist import ItrecistResult, evaluate_itrecist, itrecist_baseline_problems
from hitit.response.recist import (
    DEFAULT_CONFIG,
    BaselineProblem,
    RecistResult,
    ResponseConfig,
    evaluate_recist,
    recist_baseline_problems,
)
from hitit.response.study import Study

RECIST_NAME, IRECIST_NAME, ITRECIST_NAME = "RECIST1.1", "iRECIST", "itRECIST"
CRITERIA = (RECIST_NAME, IRECIST_NAME, ITRECIST_NAME)
#: Category reported for every time point and best response of a criterion whose baseline rules are not met.
NOT_ASSESSABLE = "not assessable"
RULES_NOTE = (
    "itRECIST rules beyond the Fig. 1 legend of Goldmacher et al. (JCO 2020) are implemented as recalled, "
    "to be confirmed against the paper; see hitit/response/RULES.md."
)


@dataclass(frozen=True)
class StudyResponse:
    """RECIST 1.1, iRECIST and itRECIST results of one study, each criterion assessed apart.

    A criterion in ``not_assessable`` (its baseline rules are not met) is reported as
    :data:`NOT_ASSESSABLE` with the broken rules in every output (:meth:`to_dict`, CSV, HTML); its
    engine result is still computed for the lesion-group sums the plots draw, so read
    :meth:`result` (None for such a criterion) rather than the fields to get categories.
    """

    study: Study
    recist: RecistResult
    irecist: IrecistResult
    itrecist: ItrecistResult
    warnings: list[str] = field(default_factory=list)
    not_assessable: dict[str, tuple[BaselineProblem, ...]] = field(default_factory=dict)

    def assessed(self, criterion: str) -> bool:
        """Whether ``criterion`` (RECIST1.1, iRECIST, itRECIST) was assessed."""
        return criterion not in self.not_assessable

    def result(self, criterion: str) -> RecistResult | IrecistResult | ItrecistResult | None:
        """The engine result of an assessed criterion, None for one that is not assessable."""
        if not self.assessed(criterion):
            return None
        return {RECIST_NAME: self.recist, IRECIST_NAME: self.irecist, ITRECIST_NAME: self.itrecist}[criterion]

    def reason(self, criterion: str) -> str:
        """Why a criterion is not assessable, one line ('' when it was assessed)."""
        problems = self.not_assessable.get(criterion, ())
        return "; ".join(f"{problem.rule}: {problem.message}" for problem in problems)

    def to_dict(self) -> dict:
        """The response.json document (one top-level object)."""
        timepoints = [
            {
                "id": t.id,
                "date": t.date.isoformat(),
                "is_baseline": index == 0,
                "criteria": {name: self._timepoint_dict(name, index) for name in CRITERIA},
            }
            for index, t in enumerate(self.study.timepoints)
        ]
        return {
            "patient": self.study.patient,
            "assessment": {
                name: {
                    "assessed": self.assessed(name),
                    "not_assessable": [p.to_dict() for p in self.not_assessable.get(name, ())],
                }
                for name in CRITERIA
            },
            "timepoints": timepoints,
            "best_overall_response": {name: self._best_dict(name) for name in CRITERIA},
            "warnings": list(self.warnings),
            "notes": [RULES_NOTE],
        }

    def _timepoint_dict(self, criterion: str, index: int) -> dict:
        result = self.result(criterion)
        if result is not None:
            return result.timepoints[index].to_dict()
        fields = ("overall", "injected", "non_injected") if criterion == ITRECIST_NAME else ("overall",)
        return {**{name: NOT_ASSESSABLE for name in fields}, "reason": self.reason(criterion)}

    def _best_dict(self, criterion: str) -> dict:
        result = self.result(criterion)
        unassessed = {"unconfirmed": NOT_ASSESSABLE, "confirmed": NOT_ASSESSABLE}
        if criterion == ITRECIST_NAME:
            return {
                name: best.to_dict() if result is not None else dict(unassessed)
                for name, best in self.itrecist.best_overall_response.items()
            }
        return result.best_overall_response.to_dict() if result is not None else unassessed


def evaluate_study(
    study: Study, warn_baseline: bool = False, config: ResponseConfig = DEFAULT_CONFIG, strict: bool = False
) -> StudyResponse:
    """All three criteria, each assessed apart.

    A criterion whose baseline rules are broken is not assessable (the others are reported as usual);
    iRECIST is built on the RECIST 1.1 baseline rules and shares their fate; itRECIST has its own
    (RECIST 1.1 measurability, 1-5 injected and 1-5 non-injected targets). ``warn_baseline`` turns every
    broken rule into a warning and assesses all three; ``strict`` refuses the whole study (InputError)
    at the first broken rule, for trial use. InputError as well when no criterion can be assessed.
    Lengths are mm, changes percent of the baseline (or nadir) sum.

    Example, one liver target shrinking from 40 to 26 mm (-35 %, a partial response); with no injected
    target itRECIST is not assessable and says so:

    >>> from hitit.response import evaluate_study, study_from_dict
    >>> study = study_from_dict({
    ...     "timepoints": [{"id": "BL", "date": "2026-01-05"}, {"id": "W8", "date": "2026-03-02"}],
    ...     "lesions": [{"id": "L1", "organ": "liver", "role": "target", "measurements": {"BL": 40.0, "W8": 26.0}}]})
    >>> response = evaluate_study(study)
    >>> [(row.sum_mm, row.change_from_baseline_pct, row.overall) for row in response.recist.timepoints]
    [(40.0, 0.0, None), (26.0, -35.0, 'PR')]
    >>> sorted(response.not_assessable)
    ['itRECIST']
    """
    if strict and not warn_baseline:
        return _response(
            study,
            evaluate_recist(study, False, config),
            evaluate_irecist(study, False, config),
            evaluate_itrecist(study, False, config),
            {},
        )
    recist_problems = recist_baseline_problems(study, config)
    problems = {
        RECIST_NAME: recist_problems,
        IRECIST_NAME: recist_problems,
        ITRECIST_NAME: itrecist_baseline_problems(study, config),
    }
    not_assessable = {} if warn_baseline else {name: tuple(found) for name, found in problems.items() if found}
    if len(not_assessable) == len(CRITERIA):
        raise InputError(
            "no criterion can be assessed: "
            f"{RECIST_NAME} and {IRECIST_NAME} baseline: {recist_problems[0]}; "
            f"{ITRECIST_NAME} baseline: {problems[ITRECIST_NAME][0]}; "
            "fix the target selection or pass --warn-baseline to assess with warnings"
        )
    return _response(
        study,
        evaluate_recist(study, True, config),
        evaluate_irecist(study, True, config),
        evaluate_itrecist(study, True, config),
        not_assessable,
    )


def _response(
    study: Study,
    recist: RecistResult,
    irecist: IrecistResult,
    itrecist: ItrecistResult,
    not_assessable: dict[str, tuple[BaselineProblem, ...]],
) -> StudyResponse:
    # iRECIST validates the same RECIST 1.1 baseline rules; list those warnings once. A criterion that is
    # not assessable reports its problems as such, not as warnings.
    warnings = [
        w
        for name, result in ((RECIST_NAME, recist), (ITRECIST_NAME, itrecist))
        if name not in not_assessable
        for w in result.warnings
    ]
    return StudyResponse(study, recist, irecist, itrecist, warnings, not_assessable)
