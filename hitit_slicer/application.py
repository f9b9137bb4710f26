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


class ModuleWidgetMixin:
    """What both module widgets do alike with their panel, parameter node and scene (combined with Slicer's
    ``ScriptedLoadableModuleWidget`` and ``VTKObservationMixin``, which give ``layout``, ``resourcePath``,
    ``addObserver``...).

    Qt objects are made by the module (this library never imports Qt) and handed in. A widget sets
    ``self.logic`` in ``setup`` and defines ``initializeParameterNode``, ``onParameterNodeModified``
    and, when it must refresh more when the parameter node changes, ``parameterNodeSet``.
    """

    def initializeWidgetState(self) -> None:
        """Called from the widget's ``__init__``: nothing loaded, no parameter node, no timers."""
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._timers = []

    def loadPanel(self) -> None:
        """Add the module's Designer panel (``Resources/UI/<module>.ui``) as ``self.ui`` and follow scene closes."""
        import slicer

        uiWidget = slicer.util.loadUI(self.resourcePath(f"UI/{self.moduleName}.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

    def settleTimer(self, timer, intervalMs: int, callback):
        """``timer`` (a new ``qt.QTimer``) made single-shot: ``callback`` runs once events stop for ``intervalMs``."""
        timer.setSingleShot(True)
        timer.interval = intervalMs
        timer.connect("timeout()", callback)
        self._timers.append(timer)
        return timer

    def stopTimers(self) -> None:
        """Stop every settle timer (the module is left or closed)."""
        for timer in self._timers:
            timer.stop()

    def cleanup(self) -> None:
        """Called when the application closes and the module widget is destroyed."""
        self.stopTimers()
        self.removeObservers()
        if self.logic:
            self.logic.hitit.close()

    def enter(self) -> None:
        """Called each time the user opens this module."""
        self.initializeParameterNode()

    def exit(self) -> None:
        """Called each time the user opens a different module: the panel stops following the parameter node."""
        self.stopTimers()
        self._releaseParameterNode()

    def onSceneStartClose(self, caller=None, event=None) -> None:
        """Called just before the scene is closed."""
        self.setParameterNode(None)

    def onSceneEndClose(self, caller=None, event=None) -> None:
        """Called just after the scene is closed: a new parameter node if the module is shown."""
        if self.parent.isEntered:
            self.initializeParameterNode()

    def setParameterNode(self, inputParameterNode) -> None:
        """Set and observe the parameter node; connect it to the GUI."""
        import vtk

        self._releaseParameterNode()
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.onParameterNodeModified)
            self.parameterNodeSet()
            self.onParameterNodeModified()

    def parameterNodeSet(self) -> None:
        """Hook: a new parameter node is connected (before the panel is refreshed from it)."""

    def _releaseParameterNode(self) -> None:
        import vtk

        if self._parameterNode and self._parameterNodeGuiTag is not None:  # bound (not released by exit already)
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.onParameterNodeModified)

    def showFoldersOfTheParameters(self, *names: str) -> None:
        """A directory button shows a folder even when its parameter is unset:
        set those parameters to the folder shown.
        """
        import slicer

        for name in names:
            if str(getattr(self._parameterNode, name)) in ("", "."):
                setattr(self._parameterNode, name, Path(slicer.app.defaultScenePath))


class ModuleTestMixin:
    """The self-test runner both modules share (combined with Slicer's ``ScriptedLoadableModuleTest``): every
    ``test_*`` method, in the order :attr:`TESTS` lists them, each on an empty scene.
    """

    #: Names of the test methods, in the order they run.
    TESTS: tuple[str, ...] = ()

    def setUp(self) -> None:
        """Start every test from an empty scene."""
        import slicer

        slicer.mrmlScene.Clear()

    def runTest(self) -> None:
        """Run every test, each on a fresh scene (what Reload and Test calls)."""
        for name in self.TESTS:
            self.setUp()
            getattr(self, name)()
            self.delayDisplay(f"{name} passed")
