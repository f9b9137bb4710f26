"""The real-Slicer-core tier: tests of ``hitit_slicer`` on Slicer's own libraries (the ``slicer-core`` wheel).

Whether the wheel imports is found once; the tier's tests carry :data:`requires_slicer_core`, so
where it cannot import they skip with the reason, and the summary says which core they ran on.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os

import pytest

#: Marker name of the tier's tests (counted in the terminal summary).
MARKER = "slicer_core"
#: Set to 1 where the tier must run (CI): what would skip it (the wheel missing, no off-screen OpenGL) fails the run.
REQUIRED_VARIABLE = "HITIT_REQUIRE_SLICER_TIER"


def required() -> bool:
    """Whether this run must not skip the tier (``HITIT_REQUIRE_SLICER_TIER=1``)."""
    return os.environ.get(REQUIRED_VARIABLE) == "1"


def skip_module(reason: str) -> None:
    """Skip the calling test module with ``reason``, or fail the run with it where the tier is :func:`required`."""
    if required():
        pytest.fail(f"{REQUIRED_VARIABLE}=1 but {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


@functools.lru_cache(maxsize=1)
def status() -> tuple[str | None, str | None]:
    """``(version, None)`` when Slicer's core libraries import, else ``(None, reason)``."""
    try:
        import slicer

        slicer.vtkMRMLScene()
        slicer.vtkSlicerApplicationLogic()
        version = importlib.metadata.version("slicer-core")
    except Exception as error:  # any failure to load the compiled libraries means the tier cannot run here
        return None, (
            f"Slicer's core libraries do not import here ({type(error).__name__}: {error}); "
            "they come from the slicer-core wheel (CPython 3.11), installed by make test"
        )
    import vtk

    return f"slicer-core {version} (VTK {vtk.vtkVersion.GetVTKVersion()})", None


def _marks():
    version, reason = status()
    return [getattr(pytest.mark, MARKER), pytest.mark.skipif(version is None, reason=reason or "")]


#: Put ``pytestmark = requires_slicer_core`` in each test file of the tier.
requires_slicer_core = _marks()


def scenarios(module: str, name: str) -> list:
    """The scenario functions ``hitit_slicer.scenarios.<module>.<name>`` to parametrize a test with (a placeholder
    where the core is missing, so that the test is collected and skipped with the reason).
    """
    if status()[0] is None:
        return ["Slicer's core libraries missing"]
    import importlib

    return list(getattr(importlib.import_module(f"hitit_slicer.scenarios.{module}"), name))
