"""The scene and the module logics the Slicer-side library works with.

Inside Slicer the application owns them: :func:`SlicerContext.fromApplication` wraps
``slicer.mrmlScene`` and ``slicer.app.applicationLogic()``. Without the application (the
``slicer-core`` wheel, a batch script), :func:`createApplicationContext` builds the same set the way
Slicer's core application does, so the library runs on Slicer's real libraries there too.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import slicer
import vtk

#: Module logics the library uses, by the module name Slicer registers them under, in the order
#: Slicer's application creates them (colors and subject hierarchy first: the others rely on them).
MODULE_LOGIC_CLASSES = (
    # vtkSlicerColorLogic (the Colors module's logic) also reads colour files from Slicer's installed
    # share folder, which only the application has; its base class makes the same default colour nodes.
    ("Colors", "vtkMRMLColorLogic"),
    ("SubjectHierarchy", "vtkSlicerSubjectHierarchyModuleLogic"),
    ("Volumes", "vtkSlicerVolumesLogic"),
    ("Segmentations", "vtkSlicerSegmentationsModuleLogic"),
    ("Markups", "vtkSlicerMarkupsLogic"),
    ("Models", "vtkSlicerModelsLogic"),
    ("Tables", "vtkSlicerTablesLogic"),
    ("Plots", "vtkSlicerPlotsLogic"),
)


@dataclass
class SlicerContext:
    """A scene and the application logic whose module logics the library calls.

    ``logics`` keeps the module logics alive when this context created them: the application
    logic holds plain pointers, Slicer's modules own the logics.
    """

    scene: object
    applicationLogic: object
    logics: dict = field(default_factory=dict)

    @classmethod
    def fromApplication(cls, scene, applicationLogic) -> SlicerContext:
        """The context of the running Slicer application (``slicer.mrmlScene``, ``slicer.app.applicationLogic()``)."""
        return cls(scene, applicationLogic)

    def moduleLogic(self, moduleName: str):
        """The logic registered for a module (``"Markups"``, ``"Segmentations"``, ...); ValueError if none is."""
        logic = self.applicationLogic.GetModuleLogic(moduleName)
        if logic is None:
            raise ValueError(f"the Slicer module logic {moduleName!r} is not registered with the application logic")
        return logic

    def nodesByClass(self, className: str) -> list:
        """Nodes of a class in the scene, in scene order."""
        collection = self.scene.GetNodesByClass(className)
        return [collection.GetItemAsObject(index) for index in range(collection.GetNumberOfItems())]


def createApplicationContext() -> SlicerContext:
    """A new scene with the application logic and module logics, registered as Slicer's core application does.

    Follows Slicer's ``qSlicerCoreApplication::setMRMLScene`` (a default crosshair node in every
    scene) and ``qSlicerAbstractCoreModule::logic()`` with the module manager's registration (each
    module's logic gets the application logic, then the scene, and is registered under the module's
    name with ``vtkMRMLApplicationLogic::SetModuleLogic``), in the same order and with the same calls
    as trame-slicer's ``trame_slicer.core.SlicerApp`` (Kitware) does it on these libraries.
    ``slicer.modules`` and ``slicer.app`` stay unset: they belong to the Qt application, and the
    library reaches module logics through the application logic instead.
    """
    scene = slicer.vtkMRMLScene()
    crosshair = slicer.vtkMRMLCrosshairNode()
    crosshair.SetCrosshairName("default")
    scene.AddNode(crosshair)

    applicationLogic = slicer.vtkSlicerApplicationLogic()
    applicationLogic.SetMRMLScene(scene)
    # No slice or 3D view logics yet (views are created by the rendering code that needs them).
    applicationLogic.SetSliceLogics(vtk.vtkCollection())
    applicationLogic.SetViewLogics(vtk.vtkCollection())

    context = SlicerContext(scene, applicationLogic)
    for moduleName, className in MODULE_LOGIC_CLASSES:
        logic = getattr(slicer, className)()
        logic.SetMRMLApplicationLogic(applicationLogic)
        logic.SetMRMLScene(scene)
        applicationLogic.SetModuleLogic(moduleName, logic)
        context.logics[moduleName] = logic
    applicationLogic.SetColorLogic(context.logics["Colors"])
    slicer.vtkMRMLSliceNode.AddDefaultSliceOrientationPresets(scene)
    return context


class SceneSession:
    """What a workflow computed in memory for one scene; :meth:`forget` runs when that scene is closed.

    Saved scenes do not hold these core objects, so after File > Close Scene the workflow refuses
    what needs them instead of using results of images that are gone.
    """

    def __init__(self, context: SlicerContext):
        self.context = context
        self.forget()
        self._observer = context.scene.AddObserver(slicer.vtkMRMLScene.StartCloseEvent, self._onSceneClose)

    def _onSceneClose(self, caller=None, event=None) -> None:
        self.forget()

    def forget(self) -> None:
        """Drop what was computed in memory (subclasses name it)."""

    def close(self) -> None:
        """Stop observing the scene (when the module's logic goes away)."""
        if self._observer is not None:
            self.context.scene.RemoveObserver(self._observer)
            self._observer = None


@contextlib.contextmanager
def batched(parameters):
    """Group changes of a parameter object into one Modified event (parameter node wrappers have Start/EndModify)."""
    if not hasattr(parameters, "StartModify"):
        yield
        return
    wasModified = parameters.StartModify()
    try:
        yield
    finally:
        parameters.EndModify(wasModified)
