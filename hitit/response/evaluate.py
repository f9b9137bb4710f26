"""Run RECIST 1.1, iRECIST and itRECIST over a study: :func:`evaluate_study` and its result."""

from __future__ import annotations

from dataclasses import dataclass, field

from hitit.response.irecist import IrecistResult, evaluate_irecist
from hitit.response.itrecist import ItrecistResult, evaluate_itrecist
from hitit.response.recist import DEFAULT_CONFIG, RecistResult, ResponseConfig, evaluate_recist
from hitit.response.study import Study

RECIST_NAME, IRECIST_NAME, ITRECIST_NAME = "RECIST1.1", "iRECIST", "itRECIST"
RULES_NOTE = ("itRECIST rules beyond the Fig. 1 legend of Goldmacher et al. (JCO 2020) are implemented as recalled, "
              "to be confirmed against the paper; see hitit/response/RULES.md.")


@dataclass(frozen=True)
class StudyResponse:
    """RECIST 1.1, iRECIST and itRECIST results of one study."""

    study: Study
    recist: RecistResult
    irecist: IrecistResult
    itrecist: ItrecistResult
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The response.json document (one top-level object)."""
        timepoints = [
            {"id": t.id, "date": t.date.isoformat(), "is_baseline": index == 0,
             "criteria": {RECIST_NAME: self.recist.timepoints[index].to_dict(),
                          IRECIST_NAME: self.irecist.timepoints[index].to_dict(),
                          ITRECIST_NAME: self.itrecist.timepoints[index].to_dict()}}
            for index, t in enumerate(self.study.timepoints)
        ]
        return {
            "patient": self.study.patient,
            "timepoints": timepoints,
            "best_overall_response": {
                RECIST_NAME: self.recist.best_overall_response.to_dict(),
                IRECIST_NAME: self.irecist.best_overall_response.to_dict(),
                ITRECIST_NAME: {name: best.to_dict() for name, best in self.itrecist.best_overall_response.items()},
            },
            "warnings": list(self.warnings),
            "notes": [RULES_NOTE],
        }


def evaluate_study(study: Study, warn_baseline: bool = False, config: ResponseConfig = DEFAULT_CONFIG) -> StudyResponse:
    """All three criteria; a baseline breaking a criterion's rules raises InputError unless ``warn_baseline``."""
    recist = evaluate_recist(study, warn_baseline, config)
    irecist = evaluate_irecist(study, warn_baseline, config)
    itrecist = evaluate_itrecist(study, warn_baseline, config)
    # iRECIST validates the same RECIST 1.1 baseline rules; list those warnings once.
    warnings = recist.warnings + itrecist.warnings
    return StudyResponse(study, recist, irecist, itrecist, warnings)
