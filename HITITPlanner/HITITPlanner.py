import dataclasses
import json
import logging
import os
import pathlib
import sys
from typing import Annotated

import qt
import vtk

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

from slicer import (
    vtkMRMLMarkupsFiducialNode,
    vtkMRMLMarkupsLineNode,
    vtkMRMLModelNode,
    vtkMRMLScalarVolumeNode,
    vtkMRMLSegmentationNode,
    vtkMRMLTableNode,
)

# The Slicer-side library hitit_slicer and the core hitit are installed beside the modules; in a source
# checkout (Additional module paths) they are one folder up.
_SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isdir(os.path.join(_SOURCE_ROOT, "hitit_slicer")) and _SOURCE_ROOT not in sys.path:
    sys.path.append(_SOURCE_ROOT)
from hitit_slicer import dependencies  # noqa: E402  (standard library only until the core is needed)

# The core package ``hitit`` and HITITPlannerLib.conversions (which imports it) are imported only
# inside HITITPlannerLogic methods: the core needs Python packages that are installed on first use.


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
    """Add the HITIT teaching case to the Sample Data module (generated locally, no download)."""
    import SampleData

    iconsPath = os.path.join(os.path.dirname(__file__), "Resources/Icons")
    category = "HITIT"
    if hasattr(SampleData.SampleDataLogic, "registerCustomSampleDataCategory"):  # Slicer >= 5.12
        SampleData.SampleDataLogic.registerCustomSampleDataCategory(category, _("HITIT"))
    SampleData.SampleDataLogic.registerCustomSampleDataSource(
        category=category,
        sampleName=TEACHING_CASE_SAMPLE_NAME,
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
    """
    The parameters of the module; a saved scene reopens the plan from them.

    inputVolume - CT volume (HU).
    structuresSegmentation - critical structures (TotalSegmentator names are recognised).
    lesionsSegmentation - lesions, one segment per lesion.
    lesionSeeds - one click per lesion, grown into segments of lesionsSegmentation.
    autoStructures - map structure names to categories with the core's catalogue.
    protocol - drug protocol name (choices come from the core).
    visitNumber - treatment visit (1 = first injection).
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
    """

    inputVolume: vtkMRMLScalarVolumeNode
    structuresSegmentation: vtkMRMLSegmentationNode
    lesionsSegmentation: vtkMRMLSegmentationNode
    lesionSeeds: vtkMRMLMarkupsFiducialNode
    autoStructures: bool = True
    protocol: str = ""
    visitNumber: Annotated[int, WithinRange(1, 50)] = 1
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
    accessibilityScalar: Annotated[str, Choice(["clearance_mm", "score", "length_mm", "feasible"])] = "clearance_mm"
    lesionTable: vtkMRMLTableNode
    checkLine: vtkMRMLMarkupsLineNode
    depositTrajectory: vtkMRMLMarkupsLineNode
    deposits: vtkMRMLMarkupsFiducialNode
    accessibilityModel: vtkMRMLModelNode
    exportDirectory: pathlib.Path
    planJson: str = ""
    selectedLesion: str = ""


#: Structure category (as in the core's anatomy catalogue) -> parameter holding its margin in mm.
MARGIN_PARAMETERS = {
    "vessel": "marginVesselMm",
    "heart": "marginHeartMm",
    "hollow_organ": "marginHollowOrganMm",
    "airway": "marginAirwayMm",
    "nerve": "marginNerveMm",
    "bone": "marginBoneMm",
    "solid_organ": "marginSolidOrganMm",
    "bulla": "marginBullaMm",
}

#: Parameters without a widget bound through SlicerParameterName, and why (checked by Testing/test_slicer_ui.py).
UNBOUND_PARAMETERS = {
    "protocol": "its choices come from the core at run time; the widget fills protocolComboBox and writes the parameter",
    "lesionTable": "output created by the logic and shown in lesionTableView",
    "deposits": "output point list created by the logic",
    "accessibilityModel": "output model created by the logic",
    "planJson": "the computed plan, written by the logic, not edited by the user",
    "selectedLesion": "set from the row selected in lesionTableView",
}

#: Attribute set on every node the module creates, so that re-planning replaces them.
ROLE_ATTRIBUTE = "HITITPlanner.Role"
LESION_ATTRIBUTE = "HITITPlanner.Lesion"


#
# HITITPlannerWidget
#


class HITITPlannerWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """The workflow panel: inputs, lesions, trajectories, deposits, export."""

    def __init__(self, parent=None) -> None:
        """Called when the user opens the module the first time and the widget is initialized."""
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._observedLine = None
        self._lineCheckTimer = None

    def setup(self) -> None:
        """Called when the user opens the module the first time and the widget is initialized."""
        ScriptedLoadableModuleWidget.setup(self)

        uiWidget = slicer.util.loadUI(self.resourcePath("UI/HITITPlanner.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = HITITPlannerLogic()

        # A dragged line fires many events: check it once the mouse rests for a moment.
        self._lineCheckTimer = qt.QTimer()
        self._lineCheckTimer.setSingleShot(True)
        self._lineCheckTimer.interval = 150
        self._lineCheckTimer.connect("timeout()", self.onLineCheckTimeout)

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.loadTeachingCaseButton.connect("clicked(bool)", self.onLoadTeachingCaseButton)
        self.ui.growLesionsButton.connect("clicked(bool)", self.onGrowLesionsButton)
        self.ui.protocolComboBox.connect("currentTextChanged(QString)", self.onProtocolChanged)
        self.ui.planButton.connect("clicked(bool)", self.onPlanButton)
        self.ui.lesionTableView.connect("clicked(QModelIndex)", self.onLesionTableClicked)
        self.ui.placeDepositsButton.connect("clicked(bool)", self.onPlaceDepositsButton)
        self.ui.exportButton.connect("clicked(bool)", self.onExportButton)

        self.initializeParameterNode()

    def cleanup(self) -> None:
        """Called when the application closes and the module widget is destroyed."""
        if self._lineCheckTimer:
            self._lineCheckTimer.stop()
        self.removeObservers()

    def enter(self) -> None:
        """Called each time the user opens this module."""
        self.initializeParameterNode()

    def exit(self) -> None:
        """Called each time the user opens a different module."""
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.onParameterNodeModified)

    def onSceneStartClose(self, caller, event) -> None:
        """Called just before the scene is closed."""
        self.setParameterNode(None)
        self._observeLine(None)

    def onSceneEndClose(self, caller, event) -> None:
        """Called just after the scene is closed."""
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        """Ensure the parameter node exists and is observed; select a CT if none is selected."""
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.inputVolume:
            firstVolumeNode = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
            if firstVolumeNode:
                self._parameterNode.inputVolume = firstVolumeNode

    def setParameterNode(self, inputParameterNode) -> None:
        """Set and observe the parameter node; connect it to the GUI."""
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.onParameterNodeModified)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.onParameterNodeModified)
            self._updateProtocolChoices()
            self.onParameterNodeModified()

    def onParameterNodeModified(self, caller=None, event=None) -> None:
        """Update what the parameter node binding does not: buttons, table, line observation."""
        node = self._parameterNode
        if not node:
            return
        self.ui.planButton.enabled = bool(node.inputVolume and node.structuresSegmentation and node.lesionsSegmentation)
        self.ui.planButton.toolTip = (_("Plan trajectories for every lesion") if self.ui.planButton.enabled
                                      else _("Select the CT, the critical structures and the lesions"))
        self.ui.growLesionsButton.enabled = bool(node.inputVolume and node.lesionSeeds)
        self.ui.placeDepositsButton.enabled = bool(node.planJson and node.depositTrajectory)
        self.ui.exportButton.enabled = bool(node.planJson)
        if node.lesionTable and self.ui.lesionTableView.mrmlTableNode() != node.lesionTable:
            self.ui.lesionTableView.setMRMLTableNode(node.lesionTable)
        if node.checkLine is not self._observedLine:
            self._observeLine(node.checkLine)

    def _updateProtocolChoices(self) -> None:
        """Fill the protocol list from the core once its packages are installed (opening the module never asks)."""
        combo = self.ui.protocolComboBox
        protocols = [] if dependencies.missingRequirements() else self.logic.availableProtocols()
        wasBlocked = combo.blockSignals(True)
        combo.clear()
        for name in protocols:
            combo.addItem(name)
        combo.blockSignals(wasBlocked)
        current = self._parameterNode.protocol
        if current and current in protocols:
            combo.currentText = current
        elif protocols:
            self._parameterNode.protocol = protocols[0]

    def onProtocolChanged(self, text) -> None:
        """Store the selected protocol in the parameter node."""
        if self._parameterNode and text:
            self._parameterNode.protocol = text

    # ------------------------------------------------------------------ live line check
    def _observeLine(self, lineNode) -> None:
        """Observe the user's line so that its safety is rechecked when it is drawn or moved."""
        if self._observedLine:
            for event in (slicer.vtkMRMLMarkupsNode.PointModifiedEvent, slicer.vtkMRMLMarkupsNode.PointEndInteractionEvent):
                self.removeObserver(self._observedLine, event, self.onLineModified)
        self._observedLine = lineNode
        if lineNode:
            for event in (slicer.vtkMRMLMarkupsNode.PointModifiedEvent, slicer.vtkMRMLMarkupsNode.PointEndInteractionEvent):
                self.addObserver(lineNode, event, self.onLineModified)
            self._lineCheckTimer.start()
        else:
            self.ui.lineCheckLabel.text = _("Select or draw a line (entry point first, then target).")

    def onLineModified(self, caller=None, event=None) -> None:
        """Restart the single-shot timer; the check runs when the line stops moving."""
        self._lineCheckTimer.start()

    def onLineCheckTimeout(self) -> None:
        """Check the observed line with the core and show the verdict."""
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
            nodes = self.logic.loadTeachingCase()
            self._parameterNode.inputVolume = nodes["ct"]
            self._parameterNode.structuresSegmentation = nodes["structures"]
            self._parameterNode.lesionsSegmentation = nodes["lesions"]
            self.ui.statusLabel.text = _("Teaching case loaded: press Plan.")

    def onGrowLesionsButton(self) -> None:
        """Grow one lesion segment per click point."""
        with slicer.util.tryWithErrorDisplay(_("Failed to segment the lesions from the click points."), waitCursor=True):
            node = self._parameterNode
            segmentation = self.logic.growLesionsFromSeeds(node.inputVolume, node.lesionSeeds, node.lesionsSegmentation)
            node.lesionsSegmentation = segmentation

    def onPlanButton(self) -> None:
        """Plan every lesion: table, trajectories, accessibility map."""
        dialog, progress, cancel = self._progressDialog(_("Planning trajectories"))
        try:
            with slicer.util.tryWithErrorDisplay(_("Planning failed."), waitCursor=True):
                planDict = self.logic.plan(self._parameterNode, progressCallback=progress, cancelCallback=cancel)
                self.ui.statusLabel.text = self.logic.formatPlanSummary(planDict)
        finally:
            dialog.close()

    def onLesionTableClicked(self, index) -> None:
        """Centre the slice views on the lesion of the clicked row and show its accessibility map."""
        with slicer.util.tryWithErrorDisplay(_("Cannot show the selected lesion."), waitCursor=True):
            lesionId = self.logic.lesionIdForRow(self._parameterNode, index.row())
            if not lesionId:
                return
            self._parameterNode.selectedLesion = lesionId
            self.logic.centerViewsOnLesion(self._parameterNode, lesionId)
            self.logic.showAccessibilityMap(self._parameterNode, lesionId)

    def onPlaceDepositsButton(self) -> None:
        """Place the deposits of the chosen trajectory's lesion along it, labelled with depth from skin."""
        with slicer.util.tryWithErrorDisplay(_("Failed to place the deposits."), waitCursor=True):
            self.logic.placeDeposits(self._parameterNode)

    def onExportButton(self) -> None:
        """Write the plan folder (plan.json, markups, CSV, accessibility maps, report)."""
        with slicer.util.tryWithErrorDisplay(_("Export failed."), waitCursor=True):
            outDir = self.logic.exportPlan(self._parameterNode)
            self.ui.statusLabel.text = _("Plan written to {path}").format(path=outDir)


#
# HITITPlannerLogic
#


class HITITPlannerLogic(ScriptedLoadableModuleLogic):
    """Moves data between the scene and the HITIT core; runs without the widget (batch mode).

    Every call into the core is in exactly one ``_core*`` method. The core works in LPS mm;
    conversions to and from RAS are in ``HITITPlannerLib.conversions``.
    """

    def __init__(self) -> None:
        """Called when the logic class is instantiated."""
        ScriptedLoadableModuleLogic.__init__(self)
        self._plan = None  # in-memory core plan (holds the prepared scene used by the live check)
        self._case = None  # the core case the plan was made from

    def getParameterNode(self):
        """The module's parameter node, wrapped."""
        return HITITPlannerParameterNode(super().getParameterNode())

    # ------------------------------------------------------------------ core import
    def importCore(self):
        """The core package ``hitit``; its Python packages are installed on first use, after asking the user."""
        return dependencies.importCore("HITITPlanner")

    def conversions(self):
        """The pure conversion helpers (they import the core)."""
        self.importCore()
        from HITITPlannerLib import conversions

        return conversions

    # ------------------------------------------------------------------ core entry points (one each)
    def availableProtocols(self) -> list:
        """Drug protocol names known to the core."""
        self.importCore()
        import hitit.dosing.protocols

        return list(hitit.dosing.protocols.available_protocols())

    def _corePlanSettings(self, parameterNode):
        """The core's PlanConfig from the parameter node."""
        self.importCore()
        import hitit.plan

        import hitit.trajectories.config

        margins = tuple(f"{category}={float(getattr(parameterNode, name)):g}" for category, name in MARGIN_PARAMETERS.items())
        planning = hitit.trajectories.config.TrajectoryConfig(
            needle_length_mm=float(parameterNode.needleLengthMm),
            gauge=int(parameterNode.needleGauge),
            top_k=int(parameterNode.trajectoriesPerLesion),
        )
        settings = hitit.plan.PlanConfig(
            protocol=parameterNode.protocol or "tvec",
            visit=int(parameterNode.visitNumber),
            margin_args=margins,
            auto_structures=("bone", "lung") if parameterNode.autoStructures else (),
            planning=planning,
        )
        settings.injectability = dataclasses.replace(settings.injectability, needle_length_mm=planning.needle_length_mm)
        return settings

    def _corePlanCase(self, case, settings, progressCallback=None, cancelCallback=None):
        """Run the core planner."""
        import hitit.plan

        return hitit.plan.plan_case(case, settings, progress=progressCallback, cancel=cancelCallback)

    def _coreCheckPath(self, entryLPS, targetLPS, lesionId=None):
        """Check one needle path against the safety model of the current plan (the nearest lesion's rules by default)."""
        return self._plan.check_path(entryLPS, targetLPS, lesionId or None)

    def _coreWritePlan(self, outDir):
        """Write the plan folder with the core, exactly as the command line does."""
        import hitit.plan

        return hitit.plan.write_plan(self._plan, self._case, outDir)

    def _coreGrowLesion(self, volume, seedLPS, lesionId):
        """Region-grow one lesion from a click point; returns a boolean mask on the CT grid."""
        self.importCore()
        import hitit.lesions.segment

        return hitit.lesions.segment.grow_lesion_from_seed(volume, seedLPS, lesion_id=lesionId).mask

    def _coreAccessibilityPolyData(self, lesionId):
        """The core's skin accessibility map of a lesion (vtkPolyData, LPS points)."""
        return self._plan.lesion(lesionId).target.accessibility_polydata()

    def _coreWriteTeachingCase(self, outDir):
        """Generate the teaching case and write it; returns the file paths by role."""
        self.importCore()
        import hitit.phantom

        return hitit.phantom.write_teaching_case(hitit.phantom.make_teaching_case(), outDir)

    # ------------------------------------------------------------------ scene -> core
    def caseFromNodes(self, volumeNode, structuresNode, lesionsNode):
        """Build the core Case (CT, structure masks, lesion masks on the CT grid) from scene nodes."""
        if not volumeNode or not volumeNode.GetImageData():
            raise ValueError(_("Select a CT volume with image data."))
        if not lesionsNode or lesionsNode.GetSegmentation().GetNumberOfSegments() == 0:
            raise ValueError(_("Select a lesion segmentation with at least one segment (or grow lesions from click points)."))
        self.importCore()
        import hitit.case

        conversions = self.conversions()
        volume = conversions.volumeFromArray(slicer.util.arrayFromVolume(volumeNode), self._ijkToRAS(volumeNode))
        structures = self._masksFromSegmentation(structuresNode, volumeNode, volume.grid) if structuresNode else {}
        lesions = self._masksFromSegmentation(lesionsNode, volumeNode, volume.grid)
        return hitit.case.Case(volume, structures, lesions)

    @staticmethod
    def _ijkToRAS(volumeNode):
        """IJK-to-RAS matrix of a volume node as a nested list."""
        matrix = vtk.vtkMatrix4x4()
        volumeNode.GetIJKToRASMatrix(matrix)
        return [[matrix.GetElement(row, column) for column in range(4)] for row in range(4)]

    def _masksFromSegmentation(self, segmentationNode, referenceVolumeNode, grid) -> dict:
        """One boolean mask per segment (by segment name), on the reference volume's grid."""
        conversions = self.conversions()
        ijkToRAS = self._ijkToRAS(referenceVolumeNode)
        masks = {}
        segmentation = segmentationNode.GetSegmentation()
        for index in range(segmentation.GetNumberOfSegments()):
            segmentId = segmentation.GetNthSegmentID(index)
            name = segmentation.GetNthSegment(index).GetName()
            labels = slicer.util.arrayFromSegmentBinaryLabelmap(segmentationNode, segmentId, referenceVolumeNode)
            masks[name] = conversions.maskOnGrid(labels, ijkToRAS, grid, name=name)
        return masks

    def growLesionsFromSeeds(self, volumeNode, seedsNode, lesionsNode=None):
        """Grow one lesion segment per control point of ``seedsNode``; returns the segmentation node."""
        if not volumeNode or not seedsNode or seedsNode.GetNumberOfControlPoints() == 0:
            raise ValueError(_("Select a CT volume and place one point in each lesion."))
        conversions = self.conversions()
        volume = conversions.volumeFromArray(slicer.util.arrayFromVolume(volumeNode), self._ijkToRAS(volumeNode))
        if not lesionsNode:
            lesionsNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode", _("Lesions"))
            lesionsNode.CreateDefaultDisplayNodes()
        lesionsNode.SetReferenceImageGeometryParameterFromVolumeNode(volumeNode)
        seedsRAS = slicer.util.arrayFromMarkupsControlPoints(seedsNode, world=True)
        for index, seedRAS in enumerate(seedsRAS):
            lesionId = seedsNode.GetNthControlPointLabel(index) or f"L{index + 1}"
            mask = self._coreGrowLesion(volume, conversions.lpsFromRAS(seedRAS), lesionId)
            segmentId = lesionsNode.GetSegmentation().AddEmptySegment(lesionId, lesionId)
            slicer.util.updateSegmentBinaryLabelmapFromArray(mask.astype("uint8"), lesionsNode, segmentId, volumeNode)
        return lesionsNode

    # ------------------------------------------------------------------ planning
    def plan(self, parameterNode=None, progressCallback=None, cancelCallback=None) -> dict:
        """Plan every lesion of the parameter node's inputs and show the results in the scene.

        Fills the lesion table, creates the trajectory lines and the accessibility map of the first
        lesion, stores the plan in ``planJson`` and returns the plan dict (LPS, as plan.json).
        """
        parameterNode = parameterNode or self.getParameterNode()
        if not parameterNode.inputVolume or not parameterNode.structuresSegmentation or not parameterNode.lesionsSegmentation:
            raise ValueError(_("Select the CT volume, the critical structures and the lesions."))
        if progressCallback is None:
            def progressCallback(fraction, message=""):
                logging.info(f"HITIT planning {100 * float(fraction):.0f}% {message}")
        case = self.caseFromNodes(parameterNode.inputVolume, parameterNode.structuresSegmentation, parameterNode.lesionsSegmentation)
        settings = self._corePlanSettings(parameterNode)
        plan = self._corePlanCase(case, settings, progressCallback, cancelCallback)
        self._plan, self._case = plan, case
        planDict = plan.to_dict()
        with slicer.util.NodeModify(parameterNode.parameterNode):
            parameterNode.planJson = json.dumps(planDict)
            parameterNode.lesionTable = self.updateLesionTable(planDict, parameterNode.lesionTable)
            self.showTrajectories(planDict, int(parameterNode.trajectoriesPerLesion))
            lesionIds = [lesion["id"] for lesion in planDict.get("lesions", [])]
            if lesionIds:
                parameterNode.selectedLesion = parameterNode.selectedLesion if parameterNode.selectedLesion in lesionIds else lesionIds[0]
        if parameterNode.selectedLesion:
            self.showAccessibilityMap(parameterNode, parameterNode.selectedLesion)
        return planDict

    @staticmethod
    def planDict(parameterNode) -> dict:
        """The stored plan (plan.json content) of the parameter node; an empty dict before planning."""
        return json.loads(parameterNode.planJson) if parameterNode.planJson else {}

    def updateLesionTable(self, planDict, tableNode=None):
        """Fill (or create) the lesion table from a plan dict; returns the table node."""
        columns, rows = self.conversions().lesionTableRows(planDict)
        if not tableNode:
            tableNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLTableNode", _("HITIT lesions"))
            tableNode.SetAttribute(ROLE_ATTRIBUTE, "lesionTable")
        with slicer.util.NodeModify(tableNode):
            tableNode.RemoveAllColumns()
            for name in columns:
                column = tableNode.AddColumn()
                column.SetName(name)
            for row in rows:
                rowIndex = tableNode.AddEmptyRow()
                for columnIndex, text in enumerate(row):
                    tableNode.SetCellText(rowIndex, columnIndex, text)
            tableNode.SetUseColumnNameAsColumnHeader(True)
        return tableNode

    def _removeNodesWithRole(self, className, role) -> None:
        """Remove the nodes of ``className`` this module created with ``role``."""
        for node in slicer.util.getNodesByClass(className):
            if node.GetAttribute(ROLE_ATTRIBUTE) == role:
                slicer.mrmlScene.RemoveNode(node)

    def showTrajectories(self, planDict, maximumPerLesion: int = 3) -> list:
        """Create one markups line per planned trajectory (``<lesion>-T<rank>``, coloured by safety)."""
        self._removeNodesWithRole("vtkMRMLMarkupsLineNode", "trajectory")
        lineNodes = []
        with slicer.util.RenderBlocker():
            for line in self.conversions().trajectoryLines(planDict):
                if line["rank"] > maximumPerLesion:
                    continue
                lineNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLMarkupsLineNode", line["name"])
                lineNode.SetAttribute(ROLE_ATTRIBUTE, "trajectory")
                lineNode.SetAttribute(LESION_ATTRIBUTE, line["lesion"])
                lineNode.AddControlPoint(line["entryRAS"], _("entry"))
                lineNode.AddControlPoint(line["targetRAS"], _("target"))
                lineNode.SetLocked(True)
                displayNode = lineNode.GetDisplayNode()
                if displayNode:
                    displayNode.SetSelectedColor(*line["color"])
                    displayNode.SetColor(*line["color"])
                lineNodes.append(lineNode)
        return lineNodes

    def showAccessibilityMap(self, parameterNode, lesionId):
        """Show the skin accessibility map of a lesion as a model coloured by ``accessibilityScalar``."""
        if self._plan is None:
            return parameterNode.accessibilityModel  # after reopening a scene the saved model stays as it is
        conversions = self.conversions()
        polyDataLPS = self._coreAccessibilityPolyData(lesionId)
        transform = vtk.vtkTransform()
        transform.SetMatrix([value for row in conversions.lpsToRASMatrix() for value in row])
        toRAS = vtk.vtkTransformPolyDataFilter()
        toRAS.SetTransform(transform)
        toRAS.SetInputData(polyDataLPS)
        toRAS.Update()
        modelNode = parameterNode.accessibilityModel
        if not modelNode:
            modelNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLModelNode")
            modelNode.SetAttribute(ROLE_ATTRIBUTE, "accessibility")
            modelNode.CreateDefaultDisplayNodes()
            parameterNode.accessibilityModel = modelNode
        modelNode.SetName(_("{lesion} skin accessibility").format(lesion=lesionId))
        modelNode.SetAttribute(LESION_ATTRIBUTE, lesionId)
        modelNode.SetAndObservePolyData(toRAS.GetOutput())
        displayNode = modelNode.GetDisplayNode()
        displayNode.SetActiveScalarName(parameterNode.accessibilityScalar)
        displayNode.SetAndObserveColorNodeID("vtkMRMLColorTableNodeRainbow")
        displayNode.SetScalarVisibility(True)
        displayNode.SetOpacity(0.8)
        return modelNode

    def lesionIdForRow(self, parameterNode, row: int) -> str:
        """Lesion id shown in a row of the lesion table ("" if none)."""
        lesions = self.planDict(parameterNode).get("lesions", [])
        return lesions[row]["id"] if 0 <= row < len(lesions) else ""

    def centerViewsOnLesion(self, parameterNode, lesionId) -> None:
        """Centre the slice views on the lesion's segment."""
        segmentationNode = parameterNode.lesionsSegmentation
        segmentId = segmentationNode.GetSegmentation().GetSegmentIdBySegmentName(lesionId)
        if not segmentId:
            raise ValueError(_("The lesion segmentation has no segment named {lesion}.").format(lesion=lesionId))
        centerRAS = segmentationNode.GetSegmentCenterRAS(segmentId)
        slicer.modules.markups.logic().JumpSlicesToLocation(centerRAS[0], centerRAS[1], centerRAS[2], True)

    # ------------------------------------------------------------------ live check
    def checkLine(self, lineNode) -> dict:
        """Check a drawn line (first point = skin entry, second = target) against the plan's safety model.

        Returns the summary of ``HITITPlannerLib.conversions.pathCheckSummary``. Raises ValueError
        when the line is incomplete or no plan has been computed in this session.
        """
        if not lineNode or lineNode.GetNumberOfDefinedControlPoints() < 2:
            raise ValueError(_("Place both points of the line (skin entry, then target)."))
        if self._plan is None:
            raise ValueError(_("Press Plan first: the safety model is computed in memory and not saved in the scene."))
        conversions = self.conversions()
        pointsRAS = slicer.util.arrayFromMarkupsControlPoints(lineNode, world=True)
        pathCheck = self._coreCheckPath(conversions.lpsFromRAS(pointsRAS[0]), conversions.lpsFromRAS(pointsRAS[1]),
                                        lineNode.GetAttribute(LESION_ATTRIBUTE))
        return conversions.pathCheckSummary(pathCheck.to_dict())

    @staticmethod
    def formatLineCheck(summary) -> str:
        """Human-readable text of a line check summary."""
        lines = [_("{verdict}: length {length:.1f} mm, minimum clearance {clearance}").format(
            verdict=_("SAFE") if summary["feasible"] else _("UNSAFE"),
            length=float(summary["lengthMm"] or 0.0),
            clearance=(f"{float(summary['minClearanceMm']):.1f} mm" if summary["minClearanceMm"] is not None else "-"))]
        if summary["blocking"]:
            lines.append(_("Crosses or too close: {names}").format(names=", ".join(summary["blocking"])))
        for name, clearance in summary["closest"]:
            lines.append(f"  {name}: {float(clearance):.1f} mm")
        for name, value in summary["angles"].items():
            if isinstance(value, (int, float)):
                lines.append(f"  {name}: {float(value):.0f}")
        return "\n".join(lines)

    @staticmethod
    def formatPlanSummary(planDict) -> str:
        """One line: lesions planned and how many have a safe trajectory."""
        lesions = planDict.get("lesions", [])
        withPath = sum(1 for lesion in lesions if any(t.get("feasible") for t in lesion.get("trajectories") or []))
        return _("{count} lesions planned, {safe} with a safe trajectory.").format(count=len(lesions), safe=withPath)

    # ------------------------------------------------------------------ deposits and export
    def placeDeposits(self, parameterNode):
        """Show the deposits of the lesion of ``depositTrajectory`` as a point list labelled with depth from skin."""
        lineNode = parameterNode.depositTrajectory
        if not lineNode:
            raise ValueError(_("Select the trajectory to place the deposits along."))
        lesionId = lineNode.GetAttribute(LESION_ATTRIBUTE) or parameterNode.selectedLesion
        points = self.conversions().depositPoints(self.planDict(parameterNode), lesionId)
        if not points:
            raise ValueError(_("The plan has no deposits for lesion {lesion}.").format(lesion=lesionId))
        depositsNode = parameterNode.deposits
        if not depositsNode:
            depositsNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode")
            depositsNode.SetAttribute(ROLE_ATTRIBUTE, "deposits")
            parameterNode.deposits = depositsNode
        depositsNode.SetName(_("{lesion} deposits").format(lesion=lesionId))
        with slicer.util.NodeModify(depositsNode):
            depositsNode.RemoveAllControlPoints()
            for point in points:
                index = depositsNode.AddControlPoint(point["positionRAS"], point["label"])
                if point["volumeMl"] is not None:
                    depositsNode.SetNthControlPointDescription(index, f"{float(point['volumeMl']):.2f} mL")
        return depositsNode

    def exportPlan(self, parameterNode) -> str:
        """Write the plan folder into ``exportDirectory``; returns the folder path."""
        if self._plan is None:
            raise ValueError(_("Press Plan first: export writes the plan computed in this session."))
        outDir = str(parameterNode.exportDirectory) if str(parameterNode.exportDirectory) not in ("", ".") else ""
        if not outDir:
            raise ValueError(_("Choose the folder to export the plan to."))
        self._coreWritePlan(outDir)
        return outDir

    # ------------------------------------------------------------------ teaching case
    def loadTeachingCase(self, directory=None) -> dict:
        """Generate the teaching case with the core into ``directory`` (a temporary folder by default) and load it.

        Returns the loaded nodes by role: ``ct``, ``structures``, ``lesions``, and the ``truth`` file path.
        """
        directory = directory or os.path.join(slicer.app.temporaryPath, "HITIT", "TeachingCase")
        paths = {key: str(value) for key, value in self._coreWriteTeachingCase(directory).items()}
        nodes = {
            "ct": slicer.util.loadVolume(paths["ct"], {"name": "HITIT teaching CT"}),
            "structures": slicer.util.loadSegmentation(paths["structures"], {"name": "HITIT structures"}),
            "lesions": slicer.util.loadSegmentation(paths["lesions"], {"name": "HITIT lesions"}),
            "truth": paths.get("truth"),
        }
        slicer.util.setSliceViewerLayers(background=nodes["ct"], fit=True)
        parameterNode = self.getParameterNode()
        parameterNode.inputVolume = nodes["ct"]
        parameterNode.structuresSegmentation = nodes["structures"]
        parameterNode.lesionsSegmentation = nodes["lesions"]
        return nodes


#
# HITITPlannerTest
#


class HITITPlannerTest(ScriptedLoadableModuleTest):
    """Self-tests: each test_* loads the teaching case (generated locally, no network) and works alone."""

    def setUp(self):
        """Start every test from an empty scene."""
        slicer.mrmlScene.Clear()

    def runTest(self):
        """Run every test, each on a fresh scene (what Reload and Test calls)."""
        for test in (self.test_PlanTeachingCase, self.test_UnsafeLineThroughAorta, self.test_DepositsAndExport):
            self.setUp()
            test()

    def _planTeachingCase(self):
        """Load the teaching case and plan it through the logic; returns (logic, parameter node, nodes, plan dict)."""
        logic = HITITPlannerLogic()
        nodes = logic.loadTeachingCase(os.path.join(slicer.app.temporaryPath, "HITIT", "SelfTest"))
        parameterNode = logic.getParameterNode()
        protocols = logic.availableProtocols()
        self.assertIn("pv10", protocols)
        parameterNode.protocol = "pv10"  # volume-based, no cap: every teaching lesion gets injectate and deposits
        self.delayDisplay("Teaching case loaded; planning")
        planDict = logic.plan(parameterNode)
        return logic, parameterNode, nodes, planDict

    @staticmethod
    def _truth(nodes):
        with open(nodes["truth"], encoding="utf-8") as file:
            return json.load(file)

    def test_PlanTeachingCase(self):
        """Plan the teaching case: lesion count and volumes vs truth, a feasible path with clearance >= margin."""
        self.delayDisplay("Starting test_PlanTeachingCase")
        logic, parameterNode, nodes, planDict = self._planTeachingCase()
        truth = self._truth(nodes)

        self.assertEqual(nodes["lesions"].GetSegmentation().GetNumberOfSegments(), len(truth["lesions"]))
        lesions = {lesion["id"]: lesion for lesion in planDict["lesions"]}
        self.assertEqual(set(lesions), set(truth["lesions"]))
        for lesionId, lesionTruth in truth["lesions"].items():
            measured = lesions[lesionId]["measurement"]["volume_ml"]
            self.assertAlmostEqual(measured, lesionTruth["mask"]["volume_ml"], delta=0.02 * lesionTruth["mask"]["volume_ml"] + 0.05)
            self.assertAlmostEqual(measured, lesionTruth["volume_ml"], delta=0.15 * lesionTruth["volume_ml"])

        self.assertEqual(parameterNode.lesionTable.GetNumberOfRows(), len(truth["lesions"]))
        smallestMargin = min(getattr(parameterNode, name) for name in MARGIN_PARAMETERS.values() if getattr(parameterNode, name) > 0)
        feasible = [t for lesion in planDict["lesions"] for t in lesion["trajectories"] if t["feasible"]]
        self.assertTrue(feasible, "no feasible trajectory in the teaching case")
        self.assertGreaterEqual(max(t["min_clearance_mm"] for t in feasible), smallestMargin)

        lineNodes = [node for node in slicer.util.getNodesByClass("vtkMRMLMarkupsLineNode") if node.GetAttribute(ROLE_ATTRIBUTE) == "trajectory"]
        self.assertTrue(lineNodes)
        self.assertTrue(all("-T" in node.GetName() for node in lineNodes))
        self.assertIsNotNone(parameterNode.accessibilityModel)
        self.assertGreater(parameterNode.accessibilityModel.GetPolyData().GetNumberOfPoints(), 0)

        # The plan survives in the parameter node (what a saved scene keeps).
        self.assertEqual(json.loads(parameterNode.planJson)["lesions"][0]["id"], planDict["lesions"][0]["id"])
        self.delayDisplay("test_PlanTeachingCase passed")

    def test_UnsafeLineThroughAorta(self):
        """A line drawn through the aorta is reported unsafe; a planned feasible path is reported safe."""
        self.delayDisplay("Starting test_UnsafeLineThroughAorta")
        logic, parameterNode, nodes, planDict = self._planTeachingCase()
        truth = self._truth(nodes)
        unsafe = [path for lesion in truth["lesions"].values() for path in lesion["example_paths"]
                  if not path["safe"] and "aorta" in path["crosses"]]
        self.assertTrue(unsafe, "the teaching case has no example path through the aorta")

        conversions = logic.conversions()
        lineNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLMarkupsLineNode", "unsafe")
        lineNode.AddControlPoint(conversions.rasFromLPS(unsafe[0]["entry_lps"]).tolist())
        lineNode.AddControlPoint(conversions.rasFromLPS(unsafe[0]["target_lps"]).tolist())
        summary = logic.checkLine(lineNode)
        self.assertFalse(summary["feasible"])
        self.assertIn("aorta", summary["blocking"])

        best = next(t for lesion in planDict["lesions"] for t in lesion["trajectories"] if t["feasible"])
        safeLine = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLMarkupsLineNode", "safe")
        safeLine.AddControlPoint(conversions.rasFromLPS(best["entry"]).tolist())
        safeLine.AddControlPoint(conversions.rasFromLPS(best["target"]).tolist())
        self.assertTrue(logic.checkLine(safeLine)["feasible"])
        self.delayDisplay("test_UnsafeLineThroughAorta passed")

    def test_DepositsAndExport(self):
        """Deposits along a planned trajectory, then export the plan folder."""
        self.delayDisplay("Starting test_DepositsAndExport")
        logic, parameterNode, nodes, planDict = self._planTeachingCase()
        lesion = next(lesion for lesion in planDict["lesions"] if lesion.get("deposits"))
        lineNode = slicer.util.getNode(f"{lesion['id']}-T1")
        parameterNode.depositTrajectory = lineNode
        depositsNode = logic.placeDeposits(parameterNode)
        self.assertEqual(depositsNode.GetNumberOfControlPoints(), len(logic.conversions().depositPoints(planDict, lesion["id"])))
        self.assertIn("mm", depositsNode.GetNthControlPointLabel(0))

        outDir = os.path.join(slicer.app.temporaryPath, "HITIT", "SelfTestExport")
        parameterNode.exportDirectory = pathlib.Path(outDir)
        logic.exportPlan(parameterNode)
        with open(os.path.join(outDir, "plan.json"), encoding="utf-8") as file:
            exported = json.load(file)
        self.assertEqual(exported["frame"], "LPS")
        self.assertEqual(len(exported["lesions"]), len(planDict["lesions"]))
        self.assertTrue(os.path.isfile(os.path.join(outDir, "trajectories.mrk.json")))
        self.delayDisplay("test_DepositsAndExport passed")
