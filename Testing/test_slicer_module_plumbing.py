"""The widget and self-test plumbing both modules share (hitit_slicer.application), run on Slicer's real scene with
stand-ins for what only Slicer's application gives (the Qt timer, the parameter node wrapper's GUI binding).
"""

from __future__ import annotations

from slicer_core_tier import requires_slicer_core

pytestmark = requires_slicer_core


class Timer:
    """Stands in for qt.QTimer: records what the widget sets and whether it runs."""

    def __init__(self):
        self.singleShot, self.interval, self.slots, self.running = False, None, [], False

    def setSingleShot(self, value):
        self.singleShot = value

    def connect(self, signal, slot):
        self.slots.append((signal, slot))

    def start(self):
        self.running = True

    def stop(self):
        self.running = False


class ParameterNode:
    """Stands in for a parameterNodeWrapper object: a real MRML node, and the GUI binding counted."""

    def __init__(self, scene):
        self.node = scene.AddNewNodeByClass("vtkMRMLScriptedModuleNode")
        self.connected = 0

    def connectGui(self, ui):
        self.connected += 1
        return ("tag", id(self))

    def disconnectGui(self, tag):
        assert tag == ("tag", id(self))
        self.connected -= 1

    def AddObserver(self, event, callback, priority=0.0):
        return self.node.AddObserver(event, callback, priority)

    def RemoveObserver(self, tag):
        self.node.RemoveObserver(tag)


def widget_class():
    from slicer.util import VTKObservationMixin

    from hitit_slicer.application import ModuleWidgetMixin

    class Widget(ModuleWidgetMixin, VTKObservationMixin):
        def __init__(self, scene):
            VTKObservationMixin.__init__(self)
            self.initializeWidgetState()
            self.ui, self.scene, self.refreshed, self.sets = object(), scene, 0, 0

        def initializeParameterNode(self):
            self.setParameterNode(ParameterNode(self.scene))

        def parameterNodeSet(self):
            self.sets += 1

        def onParameterNodeModified(self, caller=None, event=None):
            self.refreshed += 1

    return Widget


def test_parameter_node_is_bound_once_and_released_on_exit_and_scene_close():
    import slicer

    scene = slicer.vtkMRMLScene()
    widget = widget_class()(scene)
    timer = widget.settleTimer(Timer(), 150, widget.onParameterNodeModified)
    assert timer.singleShot and timer.interval == 150 and timer.slots == [("timeout()", widget.onParameterNodeModified)]
    widget.enter()
    first = widget._parameterNode
    assert first.connected == 1 and widget.sets == 1 and widget.refreshed == 1
    first.node.Modified()  # the panel follows the parameter node
    assert widget.refreshed == 2
    widget.enter()  # entering again binds a new node and releases the old one
    assert first.connected == 0 and widget._parameterNode.connected == 1
    first.node.Modified()
    assert widget.refreshed == 3  # the old node is no longer followed (3 = the refresh of the new node)
    timer.start()
    second = widget._parameterNode
    widget.exit()
    assert second.connected == 0 and not timer.running
    second.node.Modified()
    assert widget.refreshed == 3
    widget.enter()
    widget.onSceneStartClose()
    assert widget._parameterNode is None


def test_self_tests_run_in_order_each_on_an_empty_scene(monkeypatch):
    import slicer

    from hitit_slicer.application import ModuleTestMixin

    scene = slicer.vtkMRMLScene()
    monkeypatch.setattr(slicer, "mrmlScene", scene, raising=False)
    ran = []

    class SelfTest(ModuleTestMixin):
        TESTS = ("test_B", "test_A")

        def delayDisplay(self, message):
            ran.append(message)

        def test_A(self):
            ran.append(("A", scene.GetNumberOfNodesByClass("vtkMRMLScriptedModuleNode")))
            scene.AddNewNodeByClass("vtkMRMLScriptedModuleNode")

        def test_B(self):
            ran.append(("B", scene.GetNumberOfNodesByClass("vtkMRMLScriptedModuleNode")))
            scene.AddNewNodeByClass("vtkMRMLScriptedModuleNode")

    scene.AddNewNodeByClass("vtkMRMLScriptedModuleNode")
    SelfTest().runTest()
    assert ran == [("B", 0), "test_B passed", ("A", 0), "test_A passed"]


def test_without_a_parameter_node_nothing_is_bound():
    import slicer

    widget = widget_class()(slicer.vtkMRMLScene())
    widget.setParameterNode(None)
    widget.exit()
    widget.cleanup()  # no logic yet: nothing to close
    assert widget._parameterNode is None and widget.refreshed == 0


def test_cleanup_stops_timers_and_closes_the_session():
    import slicer

    widget = widget_class()(slicer.vtkMRMLScene())
    timer = widget.settleTimer(Timer(), 10, widget.onParameterNodeModified)
    timer.start()
    closed = []
    widget.logic = type("Logic", (), {"hitit": type("Library", (), {"close": lambda self: closed.append(True)})()})()
    widget.cleanup()
    assert not timer.running and closed == [True]
