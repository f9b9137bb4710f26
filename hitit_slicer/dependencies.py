"""The core's Python packages that Slicer does not ship: found missing, installed once after the user agrees.

Slicer's Python FAQ asks extensions never to install at import or startup, and to ask the user before
installing; so the modules open and show their panels without these packages, and the first action
that needs the core calls :func:`ensureInSlicer`. This file imports only the standard library at
load time, so a module can import it before anything is installed.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Callable
from pathlib import Path

#: The requirements file installed with this library (one copy for both modules).
REQUIREMENTS_PATH = Path(__file__).resolve().parent / "requirements.txt"


class DependenciesDeclined(RuntimeError):
    """The user chose not to install the packages HITIT needs (asked again on the next action)."""


def requirements(path: Path = REQUIREMENTS_PATH) -> list[str]:
    """Requirement specifiers (``name>=version``) of a requirements file, comments and blank lines left out."""
    lines = (line.split("#", 1)[0].strip() for line in Path(path).read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


def distributionName(requirement: str) -> str:
    """The distribution name of a requirement specifier (``"pynrrd>=1.0"`` -> ``"pynrrd"``)."""
    return re.split(r"[\s<>=!~;\[]", requirement.strip(), maxsplit=1)[0]


def missingRequirements(path: Path = REQUIREMENTS_PATH) -> list[str]:
    """The requirements whose distribution is not installed in this Python."""
    missing = []
    for requirement in requirements(path):
        try:
            importlib.metadata.distribution(distributionName(requirement))
        except importlib.metadata.PackageNotFoundError:
            missing.append(requirement)
    return missing


def ensureDependencies(
    confirm: Callable[[str], bool],
    install: Callable[[list[str]], None],
    requester: str = "HITIT",
    path: Path = REQUIREMENTS_PATH,
) -> list[str]:
    """Install the missing requirements after ``confirm(message)`` agrees; returns what was installed.

    Nothing is asked when nothing is missing. Raises :class:`DependenciesDeclined` when the user
    declines, and RuntimeError when packages are still missing after ``install``.
    """
    missing = missingRequirements(path)
    if not missing:
        return []
    names = ", ".join(distributionName(requirement) for requirement in missing)
    if not confirm(
        f"{requester} needs the Python packages {names}, which Slicer does not include. "
        "Install them now? (This is asked once; it downloads them from the Python Package Index.)"
    ):
        raise DependenciesDeclined(f"{requester} needs the Python packages {names}: they were not installed.")
    install(missing)
    importlib.invalidate_caches()
    still = missingRequirements(path)
    if still:
        raise RuntimeError(f"installing {', '.join(still)} for {requester} did not succeed: see the Python console")
    return missing


def ensureInSlicer(requester: str) -> list[str]:
    """:func:`ensureDependencies` with Slicer's own confirmation dialog and installer (inside Slicer only).

    ``slicer.util.pip_install`` installs the given specifiers in every supported Slicer (5.10 runs
    pip, 5.12 and later go through ``slicer.packaging``). In testing mode Slicer's dialog answers OK
    by itself, so a self-test on a build machine installs what it needs instead of failing to import.
    """
    import importlib

    import slicer.util

    def install(missing):
        slicer.util.pip_install(missing)
        importlib.invalidate_caches()

    return ensureDependencies(slicer.util.confirmOkCancelDisplay, install, requester)


def importCore(requester: str):
    """The core package ``hitit``, its packages installed first (asking the user once) inside Slicer."""
    ensureInSlicer(requester)
    import hitit

    return hitit
