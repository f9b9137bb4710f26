"""Scenarios of the Slicer-side workflows, shared by the pytest tier and the modules' self-tests.

They import numpy and SimpleITK besides the library, and no test framework: a failed check raises
AssertionError, so the same functions run under pytest and under Slicer's ScriptedLoadableModuleTest.
"""

from __future__ import annotations

import contextlib
import re


def close(actual, expected, tolerance: float, what: str) -> None:
    """Assert ``|actual - expected| <= tolerance``, naming ``what`` when it is not."""
    if actual is None or expected is None or abs(float(actual) - float(expected)) > tolerance:
        raise AssertionError(f"{what}: {actual} is not {expected} within {tolerance}")


@contextlib.contextmanager
def raises(errorType: type, text: str):
    """Assert the block raises ``errorType`` with ``text`` (a regular expression) in its message."""
    try:
        yield
    except errorType as error:
        if not re.search(text, str(error)):
            raise AssertionError(f"{errorType.__name__} raised, but {str(error)!r} does not say {text!r}") from error
    else:
        raise AssertionError(f"{errorType.__name__} ({text}) was not raised")
