"""Tumour response over time: RECIST 1.1, iRECIST and itRECIST (injected vs non-injected lesions).

Typical use::

    from hitit.response import load_study, evaluate_study, write_outputs
    response = evaluate_study(load_study("study.json"), warn_baseline=False)
    write_outputs(response, "out/")

The rules implemented, and which of them are recalled rather than verified, are listed in RULES.md.
"""

from hitit.response.evaluate import StudyResponse, evaluate_study
from hitit.response.outputs import write_outputs
from hitit.response.recist import DEFAULT_CONFIG, ResponseConfig
from hitit.response.study import Study, load_study, study_from_dict

__all__ = [
    "DEFAULT_CONFIG",
    "ResponseConfig",
    "Study",
    "StudyResponse",
    "evaluate_study",
    "load_study",
    "study_from_dict",
    "write_outputs",
]
