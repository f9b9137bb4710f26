"""The application context of hitit_slicer on Slicer's real core: the scene and the module logics, as Slicer registers
them.
"""

from __future__ import annotations

from slicer_core_tier import requires_slicer_core

pytestmark = requires_slicer_core


def test_module_logics_are_slicers_own_and_registered_by_module_name(slicer_context):
    import slicer

    from hitit_slicer.context import MODULE_LOGIC_CLASSES

    for moduleName, className in MODULE_LOGIC_CLASSES:
        logic = slicer_context.moduleLogic(moduleName)
        assert logic.IsA(className) and logic.GetMRMLScene() is slicer_context.scene
        assert logic.GetMRMLApplicationLogic() is slicer_context.applicationLogic
    assert slicer_context.moduleLogic("Segmentations").IsA("vtkSlicerSegmentationsModuleLogic")
    assert slicer_context.applicationLogic.GetColorLogic() is slicer_context.moduleLogic("Colors")
    # what Slicer's application puts in every scene: the default colour tables, a crosshair, the subject hierarchy
    assert slicer_context.scene.GetNodeByID("vtkMRMLColorTableNodeRainbow") is not None
    assert slicer_context.scene.GetFirstNodeByClass("vtkMRMLCrosshairNode") is not None
    assert slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(slicer_context.scene) is not None
    # slicer.modules and slicer.app belong to the Qt application: the context does not invent them
    assert not hasattr(slicer, "app") and not hasattr(slicer, "modules")


def test_an_unregistered_module_logic_is_named(slicer_context):
    import pytest

    with pytest.raises(ValueError, match="Sequences"):
        slicer_context.moduleLogic("Sequences")


def test_two_contexts_have_their_own_scenes():
    from hitit_slicer.context import createApplicationContext

    first, second = createApplicationContext(), createApplicationContext()
    first.scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "only in the first")
    assert first.scene.GetFirstNodeByName("only in the first") is not None
    assert second.scene.GetFirstNodeByName("only in the first") is None
