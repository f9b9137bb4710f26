"""What a module's logic needs from the library inside Slicer, in one place for both modules.

The module files import this when Slicer loads them, before the core's packages may be installed, so
it imports only the standard library and :mod:`hitit_slicer.dependencies` at load time; ``slicer``
and the library's workflow module are imported when first used.
"""

from __future__ import annotations

import importlib
import os
import tempfile
from pathlib import Path

from hitit_slicer import dependencies


class ModuleLibrary:
    """A module's view of the library: its workflow module, this application's context and one session of its scene.

    ``workflow`` names the library module (``"planner"``, ``"response"``) and ``sessionClass`` its
    session class; ``requester`` (the module name) is shown when the core's packages are asked for.
    """

    def __init__(self, requester: str, workflow: str, sessionClass: str):
        self.requester = requester
        self.workflow = workflow
        self.sessionClass = sessionClass
        self._session = None

    @staticmethod
    def coreInstalled() -> bool:
        """Whether the core's packages are installed already (a panel can fill itself from the core without asking)."""
        return not dependencies.missingRequirements()

    def library(self):
        """The workflow module (reading the scene needs none of the packages installed on first use)."""
        return importlib.import_module(f"hitit_slicer.{self.workflow}")

    def core(self):
        """The workflow module for an action that runs the core: its packages are installed first, after asking."""
        dependencies.importCore(self.requester)
        return self.library()

    @staticmethod
    def context():
        """The running application's scene and application logic, as the library takes them."""
        import slicer

        from hitit_slicer.context import SlicerContext

        return SlicerContext.fromApplication(slicer.mrmlScene, slicer.app.applicationLogic())

    def session(self):
        """The workflow's session of this scene (what it computed in memory, forgotten when the scene closes)."""
        if self._session is None:
            self._session = getattr(self.library(), self.sessionClass)(self.context())
        return self._session

    def close(self) -> None:
        """Stop the session observing the scene (when the module's widget goes away)."""
        if self._session is not None:
            self._session.close()
            self._session = None

    def selfTest(self, folderName: str):
        """For a module's self-test: the workflow's scenarios, this scene's context and a new work folder."""
        import slicer

        dependencies.importCore(self.requester)
        root = Path(slicer.app.temporaryPath) / "HITIT" / folderName
        os.makedirs(root, exist_ok=True)
        scenarios = importlib.import_module(f"hitit_slicer.scenarios.{self.workflow}")
        return scenarios, self.context(), Path(tempfile.mkdtemp(dir=root))
