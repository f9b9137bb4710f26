"""HITIT Planner: the Slicer module (panel, parameter node, thin logic over hitit_slicer.planner, self-test)."""

import os
import pathlib
import sys
from typing import Annotated

import qt

import slicer
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.ScriptedLoadableModule import *
from slicer.util import VTKObservationMixin
from slicer.parameterNodeWrapper import (
    Choice,
    WithinRange,
    parameterNodeWrapper,
)


# hitit_slicer and hitit sit beside the installed modules, or one folder up in a source checkout.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.extend([_ROOT] if os.path.isdir(os.path.join(_ROOT, "hitit_slicer")) and _ROOT not in sys.path else [])
from hitit_slicer.application import ModuleLibrary, ModuleTestMixin, ModuleWidgetMixin  # noqa: E402  (standard library only until the core is needed)

# Everything that touches the scene without Qt is in hitit_slicer.planner (shared library, tested on Slicer's
# core libraries); it and the core are imported only inside HITITPlannerLogic, after the packages the core
# needs are installed on first use.


#
# HITITPlanner
#


class HITITPlanner(ScriptedLoadableModule):
    """Plan image-guided intratumoral injections: lesions, needle trajectories, deposits, export."""

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("HITIT Planner")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "IGT")]
        self.parent.dependencies = []
        self.parent.contributors = ["HITIT developers (HITIT project)"]
        self.parent.helpText = _("""
Plans image-guided intratumoral immunotherapy on a CT: measures the lesions and decides which can be
injected and with how much, proposes needle trajectories from the skin that keep a safety margin from
critical structures, checks a needle path you draw, places deposits along the chosen path and exports
the plan folder (JSON, markups, CSV, report).
See the <a href="https://github.com/hitit-project/SlicerHITIT">extension documentation</a>.
""")
        self.parent.helpText += self.getDefaultModuleDocumentationLink()
        self.parent.acknowledgementText = _("""
Developed by the HITIT project as open source (Apache-2.0). It follows the 3D Slicer scripted module
template by Jean-Christophe Fillion-Robin (Kitware), Andras Lasso (PerkLab) and Steve Pieper (Isomics).
Planning results are decision support for trained interventional radiologists, not a medical device.
""")
        slicer.app.connect("startupCompleted()", registerSampleData)


#
# Register sample data sets in Sample Data module
#


TEACHING_CASE_SAMPLE_NAME = "HITITTeachingCase"


def registerSampleData():
    """Add the HITIT teaching case to the Sample Data module (generated locally, no download).

    SampleData builds a SampleDataSource of every registration and counts its ``uris`` and
    ``fileNames``, so both are given even though the custom downloader makes the files itself.
    """
    import SampleData

    iconsPath = os.path.join(os.path.dirname(__file__), "Resources/Icons")
    category = "HITIT"
    if hasattr(SampleData.SampleDataLogic, "registerCustomSampleDataCategory"):  # Slicer >= 5.12
        SampleData.SampleDataLogic.registerCustomSampleDataCategory(category, _("HITIT"))
    SampleData.SampleDataLogic.registerCustomSampleDataSource(
        category=category,
        sampleName=TEACHING_CASE_SAMPLE_NAME,
        uris=["hitit://teaching-case/ct.nrrd"],
        fileNames=["ct.nrrd"],
        nodeNames=["HITIT teaching CT"],
        thumbnailFileName=os.path.join(iconsPath, "HITITPlanner.png"),
        customDownloader=_loadTeachingCaseFromSampleData,
    )


def _loadTeachingCaseFromSampleData(source):
    """Custom downloader of the teaching case: generate it with the core and load it."""
    with slicer.util.tryWithErrorDisplay(_("Failed to generate the HITIT teaching case."), waitCursor=True):
        HITITPlannerLogic().loadTeachingCase()


#
# HITITPlannerParameterNode
#


@parameterNodeWrapper
class HITITPlannerParameterNode:
    """The parameters of the module; a saved scene reopens the plan from them.

    inputVolume - CT volume (HU).
    structuresSegmentation - critical structures (TotalSegmentator names are recognised).
    lesionsSegmentation - lesions, one segment per lesion.
    lesionSeeds - one click per lesion, grown into segments of lesionsSegmentation.
    autoStructures - map structure names to categories with the core's catalogue.
    protocol - drug protocol name (choices come from the core).
    visitNumber - treatment visit (1 = first injection).
    contrast - whether the CT is contrast-enhanced: "fromHeader" (the CT file's header says), "yes" or "no"
        (stated by the user, as the core's --contrast); necrosis is assessed only on an enhanced CT.
    needleLengthMm - usable needle length in mm.
    needleGauge - needle gauge (G).
    margin*Mm - safety margin per structure category, in mm beyond the structure surface.
    trajectoriesPerLesion - how many ranked trajectories are shown per lesion.
    accessibilityScalar - point array that colours the skin accessibility map.
    lesionTable - output table of lesions (measurements, injectability, allocated volume).
    checkLine - line the user draws or drags; checked live.
    depositTrajectory - trajectory along which deposits are placed.
    deposits - output point list of deposits.
    accessibilityModel - output skin accessibility map.
    exportDirectory - folder the plan is exported to.
    planJson - the computed plan (plan.json content, LPS), so a saved scene keeps the plan.
    selectedLesion - lesion id selected in the table.
    courseFile - the treatment course file (course.json) whose workflow checklist is shown ("" when none).
    courseVisit - the course's visit whose checklist is shown and ticked.
    courseChecklistTable - output table of that visit's checklist (phase, item, done, evidence).
    """

    inputVolume: slicer.vtkMRMLScalarVolumeNode
    structuresSegmentation: slicer.vtkMRMLSegmentationNode
    lesionsSegmentation: slicer.vtkMRMLSegmentationNode
    lesionSeeds: slicer.vtkMRMLMarkupsFiducialNode
    autoStructures: bool = True
    protocol: str = ""
    visitNumber: Annotated[int, WithinRange(1, 50)] = 1
    contrast: Annotated[str, Choice(["fromHeader", "yes", "no"])] = "fromHeader"
    needleLengthMm: Annotated[float, WithinRange(30.0, 300.0)] = 150.0
    needleGauge: Annotated[int, WithinRange(14, 25)] = 17
    marginVesselMm: Annotated[float, WithinRange(0.0, 50.0)] = 5.0
    marginHeartMm: Annotated[float, WithinRange(0.0, 50.0)] = 5.0
    marginHollowOrganMm: Annotated[float, WithinRange(0.0, 50.0)] = 5.0
    marginAirwayMm: Annotated[float, WithinRange(0.0, 50.0)] = 5.0
    marginNerveMm: Annotated[float, WithinRange(0.0, 50.0)] = 5.0
    marginBoneMm: Annotated[float, WithinRange(0.0, 50.0)] = 2.0
    marginSolidOrganMm: Annotated[float, WithinRange(0.0, 50.0)] = 2.0
    marginBullaMm: Annotated[float, WithinRange(0.0, 50.0)] = 5.0
    trajectoriesPerLesion: Annotated[int, WithinRange(1, 10)] = 3
    accessibilityScalar: Annotated[str, Choice(["margin_slack_mm", "score", "length_mm", "feasible"])] = (
        "margin_slack_mm"
    )
    lesionTable: slicer.vtkMRMLTableNode
    checkLine: slicer.vtkMRMLMarkupsLineNode
    depositTrajectory: slicer.vtkMRMLMarkupsLineNode
    deposits: slicer.vtkMRMLMarkupsFiducialNode
    accessibilityModel: slicer.vtkMRMLModelNode
    exportDirectory: pathlib.Path
    planJson: str = ""
    selectedLesion: str = ""
    courseFile: str = ""
    courseVisit: Annotated[int, WithinRange(1, 50)] = 1
    courseChecklistTable: slicer.vtkMRMLTableNode


#: Parameters without a widget bound through SlicerParameterName, and why (checked by Testing/test_slicer_ui.py).
UNBOUND_PARAMETERS = {
    "protocol": "its choices come from the core at run time; the widget fills protocolComboBox and writes the "
    "parameter",
    "lesionTable": "output created by the logic and shown in lesionTableView",
    "deposits": "output point list created by the logic",
    "accessibilityModel": "output model created by the logic",
    "planJson": "the computed plan, written by the logic, not edited by the user",
    "selectedLesion": "set from the row selected in lesionTableView",
    "courseFile": "a file that can be cleared: ctkPathLineEdit reports no change for an empty path, so bound by hand",
    "courseChecklistTable": "output created by the logic and shown in courseChecklistTableView",
}


#
# HITITPlannerWidget
#


class HITITPlannerWidget(ModuleWidgetMixin, ScriptedLoadableModuleWidget, VTKObservationMixin):
    """The workflow panel: inputs, lesions, trajectories, deposits, export (panel and parameter node plumbing:
    ModuleWidgetMixin).
    """

    def __init__(self, parent=None) -> None:
        """Called when the user opens the module the first time and the widget is initialized."""
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.initializeWidgetState()
        self._observedLine = None
        self._lineCheckTimer = None
        self._planning = False
        self._shownScalar = None
        self._checklistRow = -1

    def setup(self) -> None:
        """Called when the user opens the module the first time and the widget is initialized."""
        ScriptedLoadableModuleWidget.setup(self)
        self.loadPanel()
        self.logic = HITITPlannerLogic()
        # A dragged line fires many events: check it once the mouse rests for a moment.
        self._lineCheckTimer = self.settleTimer(qt.QTimer(), 150, self.onLineCheckTimeout)

        self.ui.loadTeachingCaseButton.connect("clicked(bool)", self.onLoadTeachingCaseButton)
        self.ui.growLesionsButton.connect("clicked(bool)", self.onGrowLesionsButton)
        self.ui.protocolComboBox.connect("currentTextChanged(QString)", self.onProtocolChanged)
        self.ui.planButton.connect("clicked(bool)", self.onPlanButton)
        self.ui.lesionTableView.connect("clicked(QModelIndex)", self.onLesionTableClicked)
        self.ui.placeDepositsButton.connect("clicked(bool)", self.onPlaceDepositsButton)
        self.ui.exportButton.connect("clicked(bool)", self.onExportButton)
        self.ui.courseFilePathLineEdit.connect("currentPathChanged(QString)", self.onCourseFileChanged)
        self.ui.loadTeachingCourseButton.connect("clicked(bool)", self.onLoadTeachingCourseButton)
        self.ui.showChecklistButton.connect("clicked(bool)", self.onShowChecklistButton)
        self.ui.courseChecklistTableView.connect("clicked(QModelIndex)", self.onChecklistClicked)
        self.ui.toggleChecklistItemButton.connect("clicked(bool)", self.onToggleChecklistItemButton)

        self.initializeParameterNode()

    def onSceneStartClose(self, caller=None, event=None) -> None:
        """Called just before the scene is closed: the user's line goes with it."""
        ModuleWidgetMixin.onSceneStartClose(self, caller, event)
        self._observeLine(None)

    def initializeParameterNode(self) -> None:
        """Ensure the parameter node exists and is observed; select a CT and an export folder if none is set."""
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.inputVolume:
            firstVolumeNode = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
            if firstVolumeNode:
                self._parameterNode.inputVolume = firstVolumeNode
        self.showFoldersOfTheParameters("exportDirectory")

    def parameterNodeSet(self) -> None:
        """A new parameter node: its protocol among the core's."""
        self._updateProtocolChoices()

    def onParameterNodeModified(self, caller=None, event=None) -> None:
        """Update what the parameter node binding does not: buttons, table, line observation, map colouring."""
        node = self._parameterNode
        if not node:
            return
        self.ui.planButton.enabled = not self._planning and bool(
            node.inputVolume and node.structuresSegmentation and node.lesionsSegmentation
        )
        self.ui.planButton.toolTip = (
            _("Plan trajectories for every lesion")
            if self.ui.planButton.enabled
            else _("Select the CT, the critical structures and the lesions")
        )
        self.ui.growLesionsButton.enabled = bool(node.inputVolume and node.lesionSeeds)
        self.ui.placeDepositsButton.enabled = bool(node.planJson and node.depositTrajectory)
        self.ui.exportButton.enabled = bool(node.planJson)
        if node.lesionTable and self.ui.lesionTableView.mrmlTableNode() != node.lesionTable:
            self.ui.lesionTableView.setMRMLTableNode(node.lesionTable)
        if node.courseChecklistTable and self.ui.courseChecklistTableView.mrmlTableNode() != node.courseChecklistTable:
            self.ui.courseChecklistTableView.setMRMLTableNode(node.courseChecklistTable)
        if self.ui.courseFilePathLineEdit.currentPath != node.courseFile:
            self.ui.courseFilePathLineEdit.currentPath = node.courseFile
        self.ui.showChecklistButton.enabled = bool(node.courseFile)
        self.ui.toggleChecklistItemButton.enabled = bool(node.courseFile and node.courseChecklistTable)
        if node.checkLine is not self._observedLine:
            self._observeLine(node.checkLine)
        if node.accessibilityModel and node.accessibilityScalar != self._shownScalar:
            self._shownScalar = node.accessibilityScalar
            with slicer.util.tryWithErrorDisplay(_("Cannot colour the skin map."), waitCursor=False):
                self.logic.colorAccessibilityMap(node)

    def _updateProtocolChoices(self) -> None:
        """Fill the protocol list from the core once its packages are installed (opening the module never asks)."""
        combo = self.ui.protocolComboBox
        protocols = self.logic.availableProtocols() if self.logic.hitit.coreInstalled() else []
        wasBlocked = combo.blockSignals(True)
        combo.clear()
        for name in protocols:
            combo.addItem(name)
        combo.blockSignals(wasBlocked)
        if not protocols:
            return
        if self._parameterNode.protocol not in protocols:  # unset: what the core plans with by default
            self._parameterNode.protocol = self.logic.defaultProtocol()
        combo.currentText = self._parameterNode.protocol

    def onProtocolChanged(self, text) -> None:
        """Store the selected protocol in the parameter node."""
        if self._parameterNode and text:
            self._parameterNode.protocol = text

    # ------------------------------------------------------------------ live line check
    def _observeLine(self, lineNode) -> None:
        """Observe the user's line so that its safety is rechecked when it is drawn or moved."""
        events = (slicer.vtkMRMLMarkupsNode.PointModifiedEvent, slicer.vtkMRMLMarkupsNode.PointEndInteractionEvent)
        if self._observedLine:
            for event in events:
                self.removeObserver(self._observedLine, event, self.onLineModified)
        self._observedLine = lineNode
        if lineNode:
            for event in events:
                self.addObserver(lineNode, event, self.onLineModified)
            self._lineCheckTimer.start()
        else:
            self.ui.lineCheckLabel.text = _("Select or draw a line (entry point first, then target).")

    def onLineModified(self, caller=None, event=None) -> None:
        """Restart the single-shot timer; the check runs when the line stops moving."""
        self._lineCheckTimer.start()

    def onLineCheckTimeout(self) -> None:
        """Check the observed line with the core and show the verdict with its reasons."""
        lineNode = self._observedLine
        if not lineNode:
            return
        try:
            summary = self.logic.checkLine(lineNode)
        except Exception as error:  # shown in the panel; a dialog per mouse move would be unusable
            self.ui.lineCheckLabel.text = _("Cannot check the line: {error}").format(error=error)
            return
        self.ui.lineCheckLabel.text = self.logic.formatLineCheck(summary)
        color = "#1a8f2e" if summary["feasible"] else "#c0392b"
        self.ui.lineCheckLabel.styleSheet = f"QLabel {{ color: {color}; }}"

    # ------------------------------------------------------------------ actions
    def _progressDialog(self, title):
        """A cancellable progress dialog and the (progress, cancel) callbacks the logic passes to the core."""
        dialog = slicer.util.createProgressDialog(windowTitle=title, labelText=title, maximum=100)

        def progress(fraction, message=""):
            dialog.value = int(round(100 * max(0.0, min(1.0, float(fraction)))))
            if message:
                dialog.labelText = message
            slicer.app.processEvents()

        def cancel():
            slicer.app.processEvents()
            return dialog.wasCanceled

        return dialog, progress, cancel

    def onLoadTeachingCaseButton(self) -> None:
        """Generate the teaching case with the core and load it as the inputs."""
        with slicer.util.tryWithErrorDisplay(_("Failed to generate the teaching case."), waitCursor=True):
            self.logic.loadTeachingCase(self._parameterNode)
            self._updateProtocolChoices()
            self.ui.statusLabel.text = _("Teaching case loaded: press Plan.")

    def onGrowLesionsButton(self) -> None:
        """Grow one lesion segment per click point (growing again replaces them)."""
        with slicer.util.tryWithErrorDisplay(
            _("Failed to segment the lesions from the click points."), waitCursor=True
        ):
            node = self._parameterNode
            node.lesionsSegmentation = self.logic.growLesionsFromSeeds(node)

    def onPlanButton(self) -> None:
        """Plan every lesion: table, trajectories, accessibility map (the button is off while planning)."""
        if self._planning:
            return
        self._planning = True
        self.ui.planButton.enabled = False
        dialog, progress, cancel = self._progressDialog(_("Planning trajectories"))
        try:
            with slicer.util.tryWithErrorDisplay(_("Planning failed."), waitCursor=True):
                planDict = self.logic.plan(self._parameterNode, progressCallback=progress, cancelCallback=cancel)
                self.ui.statusLabel.text = self.logic.formatPlanSummary(planDict)
                self._updateProtocolChoices()
        finally:
            dialog.close()
            self._planning = False
            self.onParameterNodeModified()

    def onLesionTableClicked(self, index) -> None:
        """Centre the slice views on the lesion of the clicked row and show its accessibility map."""
        with slicer.util.tryWithErrorDisplay(_("Cannot show the selected lesion."), waitCursor=True):
            lesionId = self.logic.lesionIdForRow(self._parameterNode, index.row())
            if lesionId:
                self._parameterNode.selectedLesion = lesionId
                self.logic.showLesion(self._parameterNode, lesionId)

    def onPlaceDepositsButton(self) -> None:
        """Place the deposits of the chosen trajectory's lesion along it, labelled with depth from skin."""
        with slicer.util.tryWithErrorDisplay(_("Failed to place the deposits."), waitCursor=True):
            self.logic.placeDeposits(self._parameterNode)

    def onExportButton(self) -> None:
        """Write the plan folder (plan.json, markups, CSV, accessibility maps, report) into a new folder."""
        with slicer.util.tryWithErrorDisplay(_("Export failed."), waitCursor=True):
            folder = self.logic.exportPlan(self._parameterNode)
            self.ui.statusLabel.text = _("Plan written to {path}").format(path=folder)

    # ------------------------------------------------------------------ treatment course checklist
    def onCourseFileChanged(self, path) -> None:
        """Store the chosen course file ("" when the field is cleared)."""
        if self._parameterNode and self._parameterNode.courseFile != path.strip():
            self._parameterNode.courseFile = path.strip()

    def onLoadTeachingCourseButton(self) -> None:
        """Generate the teaching course with the core and show its first visit's checklist."""
        with slicer.util.tryWithErrorDisplay(_("Failed to generate the teaching course."), waitCursor=True):
            path = self.logic.loadTeachingCourse(self._parameterNode)
            self.ui.statusLabel.text = _("Teaching course written to {path}").format(path=path)

    def onShowChecklistButton(self) -> None:
        """Show the chosen visit's workflow checklist of the course file."""
        with slicer.util.tryWithErrorDisplay(_("Cannot show the course checklist."), waitCursor=True):
            self.logic.showCourseChecklist(self._parameterNode)
            self._checklistRow = -1

    def onChecklistClicked(self, index) -> None:
        """Remember the checklist row the user selected."""
        self._checklistRow = index.row()

    def onToggleChecklistItemButton(self) -> None:
        """Tick the selected item (or open it again when ticked) and save the course file."""
        with slicer.util.tryWithErrorDisplay(_("Cannot tick the checklist item."), waitCursor=True):
            itemId = self.logic.toggleCourseItem(self._parameterNode, self._checklistRow)
            self.ui.statusLabel.text = _("Checklist item {item} saved in {path}").format(
                item=itemId, path=self._parameterNode.courseFile
            )


#
# HITITPlannerLogic
#


class HITITPlannerLogic(ScriptedLoadableModuleLogic):
    """Calls the Slicer-side library ``hitit_slicer.planner`` with this application's scene; runs without the widget.

    It holds no algorithm and no copy of the plan: plan.json is the parameter node's ``planJson``,
    and the core's in-memory safety model (for live checks) is the library's session, which forgets
    it when the scene closes.
    """

    def __init__(self) -> None:
        """Called when the logic class is instantiated."""
        ScriptedLoadableModuleLogic.__init__(self)
        self.hitit = ModuleLibrary("HITITPlanner", "planner", "PlannerSession")

    def getParameterNode(self):
        """The module's parameter node, wrapped."""
        return HITITPlannerParameterNode(super().getParameterNode())

    # ------------------------------------------------------------------ actions (each one library call; those that
    # run the core ask for its packages first, the others only read the scene)
    def availableProtocols(self) -> list:
        """Drug protocol names known to the core."""
        return self.hitit.core().availableProtocols()

    def defaultProtocol(self) -> str:
        """The protocol the core plans with when none is chosen."""
        return self.hitit.core().defaultProtocol()

    def loadTeachingCase(self, parameterNode=None, directory=None):
        """Generate the teaching case into ``directory`` (the application's temporary folder by default), load it as the
        inputs.
        """
        self.hitit.core()
        import hitit_slicer.teaching_case

        parameterNode = parameterNode or self.getParameterNode()
        directory = directory or os.path.join(slicer.app.temporaryPath, "HITIT", "TeachingCase")
        case = hitit_slicer.teaching_case.loadTeachingCase(self.hitit.context(), directory)
        slicer.util.setSliceViewerLayers(background=case.ct, fit=True)
        with slicer.util.NodeModify(parameterNode.parameterNode):
            parameterNode.inputVolume = case.ct
            parameterNode.structuresSegmentation = case.structures
            parameterNode.lesionsSegmentation = case.lesions
        return case

    def growLesionsFromSeeds(self, parameterNode):
        """One lesion segment per click point of ``lesionSeeds``; returns the lesion segmentation."""
        return self.hitit.core().growLesionsFromSeeds(
            self.hitit.context(),
            parameterNode.inputVolume,
            parameterNode.lesionSeeds,
            parameterNode.lesionsSegmentation,
        )

    def plan(self, parameterNode=None, progressCallback=None, cancelCallback=None) -> dict:
        """Plan every lesion and show the result in the scene; returns the plan dict (plan.json, LPS)."""
        return self.hitit.core().plan(
            self.hitit.context(),
            parameterNode or self.getParameterNode(),
            self.hitit.session(),
            progressCallback,
            cancelCallback,
        )

    def colorAccessibilityMap(self, parameterNode) -> None:
        """Colour the accessibility map by the chosen array."""
        self.hitit.library().colorAccessibilityMap(parameterNode.accessibilityModel, parameterNode.accessibilityScalar)

    def lesionIdForRow(self, parameterNode, row: int) -> str:
        """Lesion id shown in a row of the lesion table."""
        return self.hitit.library().lesionIdForRow(parameterNode, row)

    def showLesion(self, parameterNode, lesionId) -> None:
        """Centre the slice views on the lesion and show its accessibility map."""
        planner = self.hitit.core()
        center = planner.lesionCenterRAS(parameterNode, lesionId)
        self.hitit.context().moduleLogic("Markups").JumpSlicesToLocation(center[0], center[1], center[2], True)
        planner.showAccessibilityMap(self.hitit.context(), parameterNode, self.hitit.session(), lesionId)

    def checkLine(self, lineNode) -> dict:
        """Check a drawn line against this session's plan (see ``hitit_slicer.planner.checkLine``)."""
        return self.hitit.library().checkLine(self.hitit.session(), lineNode)

    def formatLineCheck(self, summary) -> str:
        """The verdict text of a line check, with the core's reasons."""
        return self.hitit.library().formatLineCheck(summary)

    def formatPlanSummary(self, planDict) -> str:
        """One line: lesions planned and how many have a safe trajectory."""
        return self.hitit.library().formatPlanSummary(planDict)

    def placeDeposits(self, parameterNode):
        """The deposits of the trajectory's lesion, labelled with depth from the skin."""
        return self.hitit.core().placeDeposits(self.hitit.context(), parameterNode)

    def exportPlan(self, parameterNode):
        """Write the plan into a new folder inside ``exportDirectory``; returns that folder."""
        return self.hitit.core().exportPlan(parameterNode, self.hitit.session())

    # ------------------------------------------------------------------ course checklist (hitit_slicer.course)
    def _course(self):
        """The library's course module, once the core's packages are installed."""
        self.hitit.core()
        import hitit_slicer.course

        return hitit_slicer.course

    def loadTeachingCourse(self, parameterNode=None, directory=None):
        """Generate the teaching course into ``directory`` (default: the app's temporary folder), show visit 1."""
        parameterNode = parameterNode or self.getParameterNode()
        directory = directory or os.path.join(slicer.app.temporaryPath, "HITIT", "TeachingCourse")
        path = self._course().writeTeachingCourse(directory)
        with slicer.util.NodeModify(parameterNode.parameterNode):
            parameterNode.courseFile = str(path)
            parameterNode.courseVisit = 1
        self.showCourseChecklist(parameterNode)
        return path

    def showCourseChecklist(self, parameterNode=None):
        """Show visit ``courseVisit`` of the course file ``courseFile`` in the checklist table; returns the table."""
        parameterNode = parameterNode or self.getParameterNode()
        course = self._course()
        parameterNode.courseChecklistTable = course.showChecklist(
            self.hitit.context(),
            course.loadCourse(parameterNode.courseFile),
            parameterNode.courseVisit,
            parameterNode.courseChecklistTable,
        )
        return parameterNode.courseChecklistTable

    def toggleCourseItem(self, parameterNode, row: int) -> str:
        """Tick the item of checklist row ``row`` (open it again when ticked), save the course, show it; its id."""
        course = self._course()
        itemId = course.itemIdForRow(parameterNode.courseChecklistTable, row)
        if not itemId:
            raise ValueError(_("Select an item of the checklist first."))
        course.toggleItem(parameterNode.courseFile, parameterNode.courseVisit, itemId)
        self.showCourseChecklist(parameterNode)
        return itemId


#
# HITITPlannerTest
#


class HITITPlannerTest(ModuleTestMixin, ScriptedLoadableModuleTest):
    """Self-tests: the scenarios of hitit_slicer.scenarios.planner (the same the pytest tier runs on Slicer's core
    libraries), here on Slicer's own scene. Each test_* works alone (ctest runs them one by one); no network.
    """

    TESTS = (
        "test_PlannedTeachingCase",
        "test_ReplanAndCloseScene",
        "test_StatedContrast",
        "test_TransformedCT",
        "test_SeedGrownLesions",
        "test_CourseChecklist",
    )

    @staticmethod
    def _setUpCase():
        """The library's scenarios, this scene's context, the teaching case files and a new work folder."""
        scenarios, context, workDir = HITITPlannerLogic().hitit.selfTest("SelfTest")
        import hitit_slicer.teaching_case

        return scenarios, context, hitit_slicer.teaching_case.writeTeachingCase(workDir / "case"), workDir

    def test_PlannedTeachingCase(self):
        """Plan the teaching case, then every read-only scenario: lines, map, table, line checks, deposits, export,
        files.
        """
        scenarios, context, files, workDir = self._setUpCase()
        self.delayDisplay("Planning the teaching case")
        planned = scenarios.planTeachingCase(context, files)
        for scenario in scenarios.READ_ONLY:
            self.delayDisplay(scenario.__name__)
            scenario(planned, workDir)

    def test_ReplanAndCloseScene(self):
        """Re-planning replaces only the Planner's nodes; closing the scene drops the in-memory plan."""
        scenarios, context, files, workDir = self._setUpCase()
        scenarios.replanningAndClosingTheScene(context, files)

    def test_StatedContrast(self):
        """Contrast stated "no" reaches the core: recorded in the plan, necrosis left not assessed."""
        scenarios, context, files, workDir = self._setUpCase()
        scenarios.statedContrastReachesTheCore(context, files)

    def test_TransformedCT(self):
        """A CT under a linear transform is planned where the transform puts it; a non-linear one is refused."""
        scenarios, context, files, workDir = self._setUpCase()
        baseline = scenarios.planTeachingCase(context, files).content
        slicer.mrmlScene.Clear()
        scenarios.parentTransformMovesThePlan(context, files, baseline)
        slicer.mrmlScene.Clear()
        scenarios.nonLinearTransformIsRefused(context, files)

    def test_SeedGrownLesions(self):
        """Lesions grown from click points keep their labels as ids; growing again replaces them."""
        scenarios, context, files, workDir = self._setUpCase()
        scenarios.seedGrownLesionsKeepTheirIds(context, files)

    def test_CourseChecklist(self):
        """The teaching course's visit 1 checklist in a table; ticking an item saves the course through the core."""
        scenarios, context, workDir = HITITPlannerLogic().hitit.selfTest("SelfTest")
        import hitit_slicer.course

        courseFile = hitit_slicer.course.writeTeachingCourse(workDir / "course")
        (workDir / "checklist").mkdir()
        scenarios.courseChecklistIsShownAndTicked(context, courseFile, workDir / "checklist")
