"""The runnable examples in the docstrings of the main entry points: each has one, and doctest runs it.

The examples use the teaching case on a coarse grid or small analytic scenes, so that they stay fast.
"""

from __future__ import annotations

import doctest

import pytest

from hitit.plan import plan_case
from hitit.response import evaluate_study
from hitit.review.visit import review_visit
from hitit.trajectories import check_path

ENTRY_POINTS = [plan_case, check_path, evaluate_study, review_visit]


@pytest.mark.parametrize("function", ENTRY_POINTS, ids=lambda f: f"{f.__module__}.{f.__name__}")
def test_the_docstring_example_runs(function):
    (test,) = doctest.DocTestFinder(recurse=False).find(function, function.__name__, globs={})
    assert len(test.examples) >= 3, f"{function.__name__}: the docstring has no runnable example"
    report = []
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    result = runner.run(test, out=report.append)
    assert result.failed == 0, "".join(report)
    assert result.attempted == len(test.examples)
