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
    parameterNodeWrapper,
)

from slicer import (
    vtkMRMLMarkupsLineNode,
    vtkMRMLPlotChartNode,
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

# The core package ``hitit`` and HITITResponseLib.conversions are imported only inside
# HITITResponseLogic methods: the core needs Python packages that are installed on first use.


#
# HITITResponse
#


class HITITResponse(ScriptedLoadableModule):
    """Review HITIT treatments: tumour response (RECIST 1.1, iRECIST, itRECIST) and injection sites."""

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("HITIT Response")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "IGT")]
        self.parent.dependencies = []
        self.parent.contributors = ["HITIT developers (HITIT project)"]
        self.parent.helpText = _("""
Follows a patient treated with image-guided intratumoral immunotherapy: time points from the loaded
volumes, lesions kept across time points (target / non-target, injected or not), diameters measured
with line markups named &lt;lesion&gt;@&lt;timepoint&gt; or from segments, and the response by RECIST 1.1,
iRECIST and itRECIST (injected and non-injected lesions apart) with waterfall and spider plots.
It also reviews the injection sites: planned against actual needle, volumes and injectate.
See the <a href="https://github.com/hitit-project/SlicerHITIT">extension documentation</a>.
""")
        self.parent.helpText += self.getDefaultModuleDocumentationLink()
        self.parent.acknowledgementText = _("""
Developed by the HITIT project as open source (Apache-2.0). It follows the 3D Slicer scripted module
template by Jean-Christophe Fillion-Robin (Kitware), Andras Lasso (PerkLab) and Steve Pieper (Isomics).
Response categories are decision support for trained readers; the itRECIST rules that are not yet
verified against the publication are listed in the core's hitit/response/RULES.md.
""")


#
# HITITResponseParameterNode
#


@parameterNodeWrapper
class HITITResponseParameterNode:
    """
    The parameters of the module; a saved scene reopens the study from them and the study table.

    patient - patient identifier written into the study.
    timepointsJson - time points as JSON ``[{"id", "date", "volume"}]`` in date order.
    studyTable - the study: one row per lesion and time point (HITITResponseLib.conversions.STUDY_COLUMNS).
    lesionId, lesionRole, lesionOrgan, lesionNodal, lesionMeasurable - the lesion being added or edited.
    lesionInjectedFrom - time point from which the lesion is injected ("" = never).
    lesionAppearsAt - time point the lesion appears at (the baseline, or a follow-up for a new lesion).
    selectedTimepoint, selectedLesion - what the Measuring section measures.
    lesionSegmentation - segmentation whose segments, named by lesion id, can be measured.
    warnBaseline - continue with warnings when the baseline breaks a criterion's target rules.
    shownCriterion - which response table is shown.
    recistTable, irecistTable, itrecistTable - response tables per time point (outputs).
    waterfallChart, spiderChart - plot charts (outputs).
    responseJson - the last response (response.json content).
    planDirectory - plan folder (plan.json, trajectories.mrk.json) of the reviewed visit.
    reviewVolume - intraprocedural CT with the needle(s) in place.
    reviewStructures, reviewLesions - critical structures and lesions segmented on that CT.
    actualNeedle - a line the reviewer places along the needle (optional: detected otherwise).
    postInjectionVolume - post-injection CT with contrast-tagged injectate (optional).
    injectionLog, samplingLog - delivered volumes and biopsy/sampling sites of the visit (optional files).
    reviewTable - needle review table (output); reviewJson - the last review (review.json content).
    studyFile - study file to import or export (.json engine format, or .csv study table).
    outputDirectory - folder the response outputs (JSON, CSV, plots, HTML report) are written to.
    """

    patient: str = ""
    timepointsJson: str = ""
    studyTable: vtkMRMLTableNode
    lesionId: str = ""
    lesionRole: Annotated[str, Choice(["target", "non-target"])] = "target"
    lesionOrgan: str = ""
    lesionNodal: bool = False
    lesionMeasurable: bool = True
    lesionInjectedFrom: str = ""
    lesionAppearsAt: str = ""
    selectedTimepoint: str = ""
    selectedLesion: str = ""
    lesionSegmentation: vtkMRMLSegmentationNode
    warnBaseline: bool = False
    shownCriterion: Annotated[str, Choice(["RECIST1.1", "iRECIST", "itRECIST"])] = "itRECIST"
    recistTable: vtkMRMLTableNode
    irecistTable: vtkMRMLTableNode
    itrecistTable: vtkMRMLTableNode
    waterfallChart: vtkMRMLPlotChartNode
    spiderChart: vtkMRMLPlotChartNode
    responseJson: str = ""
    planDirectory: pathlib.Path
    reviewVolume: vtkMRMLScalarVolumeNode
    reviewStructures: vtkMRMLSegmentationNode
    reviewLesions: vtkMRMLSegmentationNode
    actualNeedle: vtkMRMLMarkupsLineNode
    postInjectionVolume: vtkMRMLScalarVolumeNode
    injectionLog: pathlib.Path
    samplingLog: pathlib.Path
    reviewTable: vtkMRMLTableNode
    reviewJson: str = ""
    studyFile: pathlib.Path
    outputDirectory: pathlib.Path


#: Parameters without a widget bound through SlicerParameterName, and why (checked by Testing/test_slicer_ui.py).
UNBOUND_PARAMETERS = {
    "timepointsJson": "time points are made from the loaded volumes or an imported study, not typed in",
    "lesionInjectedFrom": "its choices are the study's time points; the widget fills injectedFromComboBox and writes it",
    "lesionAppearsAt": "its choices are the study's time points; the widget fills appearsAtComboBox and writes it",
    "selectedTimepoint": "its choices are the study's time points; the widget fills measureTimepointComboBox",
    "selectedLesion": "its choices are the study's lesions; the widget fills measureLesionComboBox",
    "recistTable": "output created by the logic and shown in responseTableView",
    "irecistTable": "output created by the logic and shown in responseTableView",
    "itrecistTable": "output created by the logic and shown in responseTableView",
    "waterfallChart": "output plot chart created by the logic and shown in the view layout",
    "spiderChart": "output plot chart created by the logic and shown in the view layout",
    "responseJson": "the computed response, written by the logic, not edited by the user",
    "reviewTable": "output created by the logic and shown in reviewTableView",
    "reviewJson": "the computed review, written by the logic, not edited by the user",
}

#: Attribute set on every node the module creates or uses, with its role.
ROLE_ATTRIBUTE = "HITITResponse.Role"
LESION_ATTRIBUTE = "HITITResponse.Lesion"
TIMEPOINT_ATTRIBUTE = "HITITResponse.Timepoint"
CHART_ATTRIBUTE = "HITITResponse.Chart"
#: Volume attribute holding a date (YYYY-MM-DD) when the volume has no DICOM study date.
DATE_ATTRIBUTE = "HITITResponse.Date"
#: DICOM Study Date tag, read from the DICOM database for volumes loaded from DICOM.
DICOM_STUDY_DATE_TAG = "0008,0020"


#
# HITITResponseWidget
#


class HITITResponseWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """The workflow panel: study, measuring, response, review, import/export."""

    def __init__(self, parent=None) -> None:
        """Called when the user opens the module the first time and the widget is initialized."""
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._observedLines = []
        self._observedTable = None
        self._lineSyncTimer = None
        self._choices = None

    def setup(self) -> None:
        """Called when the user opens the module the first time and the widget is initialized."""
        ScriptedLoadableModuleWidget.setup(self)

        uiWidget = slicer.util.loadUI(self.resourcePath("UI/HITITResponse.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = HITITResponseLogic()

        # Dragging a line fires many events: update the study once the mouse rests for a moment.
        self._lineSyncTimer = qt.QTimer()
        self._lineSyncTimer.setSingleShot(True)
        self._lineSyncTimer.interval = 200
        self._lineSyncTimer.connect("timeout()", self.onLineSyncTimeout)

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.NodeAddedEvent, self.onNodeAdded)

        self.ui.timepointsFromVolumesButton.connect("clicked(bool)", self.onTimepointsFromVolumesButton)
        self.ui.addLesionButton.connect("clicked(bool)", self.onAddLesionButton)
        self.ui.removeLesionButton.connect("clicked(bool)", self.onRemoveLesionButton)
        self.ui.injectedFromComboBox.connect("currentIndexChanged(int)", self.onInjectedFromChanged)
        self.ui.appearsAtComboBox.connect("currentIndexChanged(int)", self.onAppearsAtChanged)
        self.ui.measureTimepointComboBox.connect("currentIndexChanged(int)", self.onMeasureSelectionChanged)
        self.ui.measureLesionComboBox.connect("currentIndexChanged(int)", self.onMeasureSelectionChanged)
        self.ui.placeLineButton.connect("clicked(bool)", self.onPlaceLineButton)
        self.ui.measureFromSegmentButton.connect("clicked(bool)", self.onMeasureFromSegmentButton)
        self.ui.updateFromLinesButton.connect("clicked(bool)", self.onUpdateFromLinesButton)
        self.ui.computeResponseButton.connect("clicked(bool)", self.onComputeResponseButton)
        self.ui.showWaterfallButton.connect("clicked(bool)", self.onShowWaterfallButton)
        self.ui.showSpiderButton.connect("clicked(bool)", self.onShowSpiderButton)
        self.ui.runReviewButton.connect("clicked(bool)", self.onRunReviewButton)
        self.ui.importStudyButton.connect("clicked(bool)", self.onImportStudyButton)
        self.ui.exportStudyButton.connect("clicked(bool)", self.onExportStudyButton)
        self.ui.exportResponseButton.connect("clicked(bool)", self.onExportResponseButton)

        self.initializeParameterNode()

    def cleanup(self) -> None:
        """Called when the application closes and the module widget is destroyed."""
        if self._lineSyncTimer:
            self._lineSyncTimer.stop()
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
        self._observeLines([])
        self._observeTable(None)

    def onSceneEndClose(self, caller, event) -> None:
        """Called just after the scene is closed."""
        if self.parent.isEntered:
            self.initializeParameterNode()

    def onNodeAdded(self, caller=None, event=None) -> None:
        """A node was added (a line drawn or a scene loaded): look for measurement lines once things settle."""
        if self._lineSyncTimer:
            self._lineSyncTimer.start()

    def initializeParameterNode(self) -> None:
        """Ensure the parameter node exists and is observed; create the study table if there is none."""
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.studyTable:
            self._parameterNode.studyTable = self.logic.studyTableNode(self._parameterNode)

    def setParameterNode(self, inputParameterNode) -> None:
        """Set and observe the parameter node; connect it to the GUI."""
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.onParameterNodeModified)
        self._parameterNode = inputParameterNode
        self._choices = None
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.onParameterNodeModified)
            self.onParameterNodeModified()
            self._lineSyncTimer.start()

    def onParameterNodeModified(self, caller=None, event=None) -> None:
        """Update what the parameter node binding does not: choices, table views, buttons."""
        node = self._parameterNode
        if not node:
            return
        if node.studyTable is not self._observedTable:
            self._observeTable(node.studyTable)
        if node.studyTable and self.ui.studyTableView.mrmlTableNode() != node.studyTable:
            self.ui.studyTableView.setMRMLTableNode(node.studyTable)
        shown = self.logic.responseTableNode(node, node.shownCriterion)
        if shown and self.ui.responseTableView.mrmlTableNode() != shown:
            self.ui.responseTableView.setMRMLTableNode(shown)
        if node.reviewTable and self.ui.reviewTableView.mrmlTableNode() != node.reviewTable:
            self.ui.reviewTableView.setMRMLTableNode(node.reviewTable)
        self._updateChoices()
        hasMeasureTarget = bool(node.selectedLesion and node.selectedTimepoint)
        self.ui.placeLineButton.enabled = hasMeasureTarget
        self.ui.measureFromSegmentButton.enabled = hasMeasureTarget and bool(node.lesionSegmentation)
        self.ui.addLesionButton.enabled = bool(node.lesionId.strip() and node.timepointsJson)
        self.ui.removeLesionButton.enabled = bool(node.lesionId.strip())
        self.ui.computeResponseButton.enabled = bool(node.studyTable and node.timepointsJson)
        self.ui.showWaterfallButton.enabled = bool(node.waterfallChart)
        self.ui.showSpiderButton.enabled = bool(node.spiderChart)
        self.ui.runReviewButton.enabled = bool(node.reviewVolume and str(node.planDirectory) not in ("", "."))
        self.ui.exportResponseButton.enabled = bool(node.studyTable and str(node.outputDirectory) not in ("", "."))
        self.ui.importStudyButton.enabled = self.ui.exportStudyButton.enabled = str(node.studyFile) not in ("", ".")

    def _observeTable(self, tableNode) -> None:
        """Refresh the time point and lesion choices when the study table changes."""
        if self._observedTable:
            self.removeObserver(self._observedTable, vtk.vtkCommand.ModifiedEvent, self.onStudyTableModified)
        self._observedTable = tableNode
        if tableNode:
            self.addObserver(tableNode, vtk.vtkCommand.ModifiedEvent, self.onStudyTableModified)

    def onStudyTableModified(self, caller=None, event=None) -> None:
        """The study table changed: refresh the lesion choices."""
        self._choices = None
        self._updateChoices()

    def _updateChoices(self) -> None:
        """Fill the time point and lesion combo boxes from the study (only when the study changed)."""
        node = self._parameterNode
        try:
            timepointIds = [t["id"] for t in self.logic.timepoints(node)]
            lesionIds = self.logic.lesionIds(node)
        except Exception as error:  # a hand-edited table may not parse; say so without a dialog
            self.ui.statusLabel.text = _("The study table cannot be read: {error}").format(error=error)
            return
        choices = (tuple(timepointIds), tuple(lesionIds))
        if choices == self._choices:
            return
        self._choices = choices
        self.ui.timepointsLabel.text = ", ".join(f"{t['id']} ({t['date']})" for t in self.logic.timepoints(node)) or _("none yet")
        self._fillCombo(self.ui.injectedFromComboBox, [""] + timepointIds, node.lesionInjectedFrom, _("never"))
        self._fillCombo(self.ui.appearsAtComboBox, timepointIds, node.lesionAppearsAt)
        self._fillCombo(self.ui.measureTimepointComboBox, timepointIds, node.selectedTimepoint)
        self._fillCombo(self.ui.measureLesionComboBox, lesionIds, node.selectedLesion)
        self.onMeasureSelectionChanged()

    @staticmethod
    def _fillCombo(combo, values, current, emptyText="") -> None:
        """Replace a combo box's items (data = value) and select ``current`` when present."""
        wasBlocked = combo.blockSignals(True)
        combo.clear()
        for value in values:
            combo.addItem(value or emptyText, value)
        index = values.index(current) if current in values else 0
        combo.setCurrentIndex(index if values else -1)
        combo.blockSignals(wasBlocked)

    def onInjectedFromChanged(self, index=None) -> None:
        """Store the injected-from time point of the lesion being edited."""
        if self._parameterNode:
            self._parameterNode.lesionInjectedFrom = self.ui.injectedFromComboBox.currentData or ""

    def onAppearsAtChanged(self, index=None) -> None:
        """Store the time point the lesion being edited appears at."""
        if self._parameterNode:
            self._parameterNode.lesionAppearsAt = self.ui.appearsAtComboBox.currentData or ""

    def onMeasureSelectionChanged(self, index=None) -> None:
        """Store which lesion and time point the Measuring section works on."""
        node = self._parameterNode
        if not node:
            return
        with slicer.util.NodeModify(node.parameterNode):
            node.selectedTimepoint = self.ui.measureTimepointComboBox.currentData or ""
            node.selectedLesion = self.ui.measureLesionComboBox.currentData or ""

    # ------------------------------------------------------------------ measurement lines
    def _observeLines(self, lineNodes) -> None:
        """Observe the measurement lines so that the study table follows them as they move."""
        for lineNode in self._observedLines:
            for event in (slicer.vtkMRMLMarkupsNode.PointModifiedEvent, slicer.vtkMRMLMarkupsNode.PointEndInteractionEvent):
                self.removeObserver(lineNode, event, self.onMeasurementLineModified)
        self._observedLines = list(lineNodes)
        for lineNode in self._observedLines:
            for event in (slicer.vtkMRMLMarkupsNode.PointModifiedEvent, slicer.vtkMRMLMarkupsNode.PointEndInteractionEvent):
                self.addObserver(lineNode, event, self.onMeasurementLineModified)

    def onMeasurementLineModified(self, caller=None, event=None) -> None:
        """Restart the single-shot timer; the table is updated when the line stops moving."""
        self._lineSyncTimer.start()

    def onLineSyncTimeout(self) -> None:
        """Observe every measurement line and copy their lengths into the study table."""
        if not self._parameterNode:
            return
        lineNodes = self.logic.measurementLines()
        if lineNodes != self._observedLines:
            self._observeLines(lineNodes)
        try:
            count = self.logic.updateStudyFromLines(self._parameterNode)
        except Exception as error:  # shown in the panel; a dialog per mouse move would be unusable
            self.ui.measureStatusLabel.text = _("Lines not copied to the study: {error}").format(error=error)
            return
        if count:
            self.ui.measureStatusLabel.text = _("{count} diameters taken from the lines.").format(count=count)

    # ------------------------------------------------------------------ actions
    def onTimepointsFromVolumesButton(self) -> None:
        """Make the time points from the loaded volumes (DICOM study date, or a date in the name)."""
        with slicer.util.tryWithErrorDisplay(_("Cannot make time points from the loaded volumes."), waitCursor=True):
            timepoints = self.logic.timepointsFromVolumes(self._parameterNode)
            self.ui.statusLabel.text = _("{count} time points.").format(count=len(timepoints))

    def _lesionFromGui(self) -> dict:
        """The lesion being edited, as HITITResponseLib.conversions.lesionRowsFor expects it."""
        node = self._parameterNode
        return {"id": node.lesionId.strip(), "role": node.lesionRole, "organ": node.lesionOrgan.strip(),
                "nodal": node.lesionNodal, "injected_from": node.lesionInjectedFrom or None,
                "appears_at": node.lesionAppearsAt, "measurable": node.lesionMeasurable}

    def onAddLesionButton(self) -> None:
        """Add the lesion to the study, or update its description if it is there already."""
        with slicer.util.tryWithErrorDisplay(_("Cannot add the lesion."), waitCursor=True):
            self.logic.addOrUpdateLesion(self._parameterNode, self._lesionFromGui())

    def onRemoveLesionButton(self) -> None:
        """Remove the lesion from the study (its lines stay in the scene)."""
        with slicer.util.tryWithErrorDisplay(_("Cannot remove the lesion."), waitCursor=True):
            self.logic.removeLesion(self._parameterNode, self._parameterNode.lesionId.strip())

    def onPlaceLineButton(self) -> None:
        """Create (or select) the line of the chosen lesion and time point and start placing it."""
        with slicer.util.tryWithErrorDisplay(_("Cannot start measuring."), waitCursor=True):
            node = self._parameterNode
            lineNode = self.logic.measurementLine(node.selectedLesion, node.selectedTimepoint)
            self.logic.startPlacing(lineNode)
            self._lineSyncTimer.start()

    def onMeasureFromSegmentButton(self) -> None:
        """Measure the chosen lesion's segment with the core and put the diameter in the study."""
        with slicer.util.tryWithErrorDisplay(_("Cannot measure the segment."), waitCursor=True):
            node = self._parameterNode
            result = self.logic.measureFromSegment(node, node.selectedLesion, node.selectedTimepoint)
            self.ui.measureStatusLabel.text = _("{lesion} at {timepoint}: {value:.1f} mm").format(
                lesion=node.selectedLesion, timepoint=node.selectedTimepoint, value=result["diameterMm"])

    def onUpdateFromLinesButton(self) -> None:
        """Copy every measurement line's length into the study now."""
        with slicer.util.tryWithErrorDisplay(_("Cannot take the diameters from the lines."), waitCursor=True):
            count = self.logic.updateStudyFromLines(self._parameterNode, strict=True)
            self.ui.measureStatusLabel.text = _("{count} diameters taken from the lines.").format(count=count)

    def onComputeResponseButton(self) -> None:
        """Compute RECIST 1.1, iRECIST and itRECIST; show the tables and the plots."""
        with slicer.util.tryWithErrorDisplay(_("Response assessment failed."), waitCursor=True):
            response = self.logic.computeResponse(self._parameterNode)
            self.ui.responseSummaryLabel.text = self.logic.conversions().responseSummary(response)
            self.onParameterNodeModified()

    def onShowWaterfallButton(self) -> None:
        """Show the waterfall plot in the view layout."""
        with slicer.util.tryWithErrorDisplay(_("Cannot show the plot."), waitCursor=True):
            self.logic.showChart(self._parameterNode.waterfallChart)

    def onShowSpiderButton(self) -> None:
        """Show the spider plot in the view layout."""
        with slicer.util.tryWithErrorDisplay(_("Cannot show the plot."), waitCursor=True):
            self.logic.showChart(self._parameterNode.spiderChart)

    def onRunReviewButton(self) -> None:
        """Review the injection sites of the plan folder on the selected CT."""
        with slicer.util.tryWithErrorDisplay(_("Injection-site review failed."), waitCursor=True):
            review = self.logic.reviewInjection(self._parameterNode)
            self.ui.reviewStatusLabel.text = _("{count} needle(s) reviewed.").format(count=len(review.get("needles", [])))
            self.onParameterNodeModified()

    def onImportStudyButton(self) -> None:
        """Replace the study with the one in the study file (.json or .csv)."""
        with slicer.util.tryWithErrorDisplay(_("Study import failed."), waitCursor=True):
            study = self.logic.importStudy(self._parameterNode, str(self._parameterNode.studyFile))
            self.ui.exportStatusLabel.text = _("Imported {count} lesions.").format(
                count=len(study["lesions"]) + len(study["new_lesions"]))

    def onExportStudyButton(self) -> None:
        """Write the study to the study file (.json engine format, or .csv study table)."""
        with slicer.util.tryWithErrorDisplay(_("Study export failed."), waitCursor=True):
            path = self.logic.exportStudy(self._parameterNode, str(self._parameterNode.studyFile))
            self.ui.exportStatusLabel.text = _("Study written to {path}").format(path=path)

    def onExportResponseButton(self) -> None:
        """Write response.json, response.csv, the plots and the HTML report (and the review, if any)."""
        with slicer.util.tryWithErrorDisplay(_("Export failed."), waitCursor=True):
            paths = self.logic.exportResponse(self._parameterNode, str(self._parameterNode.outputDirectory))
            self.ui.exportStatusLabel.text = _("Written: {files}").format(files=", ".join(sorted(os.path.basename(p) for p in paths.values())))


#
# HITITResponseLogic
#


class HITITResponseLogic(ScriptedLoadableModuleLogic):
    """Moves data between the scene and the HITIT core; runs without the widget (batch mode).

    Every call into the core is in exactly one ``_core*`` method. The core works in LPS mm;
    conversions to and from RAS and between the study table and the study dict are in
    ``HITITResponseLib.conversions``.
    """

    def __init__(self) -> None:
        """Called when the logic class is instantiated."""
        ScriptedLoadableModuleLogic.__init__(self)
        self._response = None  # last core StudyResponse (for the plots and the export)
        self._review = None  # last core Review (for its export)

    def getParameterNode(self):
        """The module's parameter node, wrapped."""
        return HITITResponseParameterNode(super().getParameterNode())

    # ------------------------------------------------------------------ core import
    def importCore(self):
        """The core package ``hitit``; its Python packages are installed on first use, after asking the user."""
        return dependencies.importCore("HITITResponse")

    @staticmethod
    def conversions():
        """The pure conversion helpers (numpy only; they do not import the core)."""
        from HITITResponseLib import conversions

        return conversions

    # ------------------------------------------------------------------ core entry points (one each)
    def _coreStudyFromDict(self, studyDict):
        """Validate a study dict with the core (schema and meaning); returns the core Study."""
        self.importCore()
        import hitit.response

        return hitit.response.study_from_dict(studyDict)

    def _coreLoadStudy(self, path):
        """Read and validate a study JSON file with the core; returns the core Study."""
        self.importCore()
        import hitit.response

        return hitit.response.load_study(path)

    def _coreEvaluateStudy(self, study, warnBaseline):
        """RECIST 1.1, iRECIST and itRECIST of a study; returns the core StudyResponse."""
        import hitit.response

        return hitit.response.evaluate_study(study, warn_baseline=bool(warnBaseline))

    def _coreWriteOutputs(self, response, outDir):
        """Write response.json, response.csv, the plots (PNG, SVG) and response.html; returns the paths."""
        import hitit.response

        return hitit.response.write_outputs(response, outDir)

    def _coreWaterfallData(self, response):
        """Best change of each stream's target sum (%), as the core's waterfall plot draws it."""
        import hitit.response.plots

        return hitit.response.plots.waterfall_data(response.itrecist)

    def _coreSpiderData(self, response):
        """Change from baseline over time of each stream sum and target lesion (weeks, %)."""
        import hitit.response.plots

        return hitit.response.plots.spider_data(response.study, response.itrecist)

    def _coreVolume(self, array, ijkToRAS):
        """Core Volume (LPS grid) from a Slicer voxel array [k, j, i] and its IJK-to-RAS matrix (copied)."""
        self.importCore()
        import numpy as np

        import hitit.case
        import hitit.geometry

        array = np.array(array, copy=True)
        nk, nj, ni = array.shape
        return hitit.case.Volume(hitit.geometry.Grid.from_ijk_to_ras(np.asarray(ijkToRAS, dtype=float), (ni, nj, nk)), array)

    def _coreMeasureLesion(self, lesionId, mask, volume, nodal):
        """Core lesion measurement of a mask on ``volume``'s grid (longest diameter, short axis, LD end points LPS)."""
        self.importCore()
        import hitit.lesions.measure
        import hitit.lesions.segment

        lesion = hitit.lesions.segment.Lesion(lesion_id=lesionId, mask=mask, nodal=bool(nodal))
        return hitit.lesions.measure.measure_lesion(lesion, volume.grid, hu=volume.array)

    def _coreReadMarkups(self, path):
        """Markups of a .mrk.json file read by the core (names, kinds, points in LPS mm)."""
        self.importCore()
        import hitit.io.markups

        return hitit.io.markups.read_markups(path)

    def _coreNeedleLine(self, name, pointsLPS):
        """A reviewer's needle line as the core's Markup (LPS mm)."""
        self.importCore()
        import hitit.io.markups

        return hitit.io.markups.Markup("line", name, pointsLPS)

    def _coreReviewPlan(self, planDict, ct, structures, needleLines, postCT, injectionLogPath, samplingLogPath):
        """The core's injection-site review of one visit (logs read by the core); returns the core Review."""
        self.importCore()
        import hitit.review.visit
        import hitit.review.sampling_log
        import hitit.review.volumes

        injections = hitit.review.volumes.read_injection_log(injectionLogPath) if injectionLogPath else None
        samples = hitit.review.sampling_log.read_sampling_log(samplingLogPath) if samplingLogPath else None
        return hitit.review.visit.review_visit(planDict, ct, structures=structures, needle_markup=needleLines or None,
                                               post_ct=postCT, injection_log=injections, sampling_log=samples)

    def _coreWriteReview(self, review, outDir):
        """Write review.json, review.html and its images; returns the paths."""
        import hitit.review.visit

        return hitit.review.visit.write_review(review, outDir)

    def _coreWriteTeachingCase(self, outDir):
        """Generate the teaching case and write it; returns the file paths by role."""
        self.importCore()
        import hitit.phantom

        return hitit.phantom.write_teaching_case(hitit.phantom.make_teaching_case(), outDir)

    # ------------------------------------------------------------------ tables
    @staticmethod
    def readTable(tableNode) -> tuple:
        """Column names and rows (strings) of a table node."""
        if not tableNode:
            return [], []
        columns = [tableNode.GetColumnName(column) for column in range(tableNode.GetNumberOfColumns())]
        rows = [[tableNode.GetCellText(row, column) for column in range(len(columns))] for row in range(tableNode.GetNumberOfRows())]
        return columns, rows

    @staticmethod
    def writeTable(tableNode, columns, rows) -> None:
        """Replace a table node's content with string columns and rows."""
        with slicer.util.NodeModify(tableNode):
            table = tableNode.GetTable()
            table.Initialize()
            for name in columns:
                array = vtk.vtkStringArray()
                array.SetName(name)
                table.AddColumn(array)
            table.SetNumberOfRows(len(rows))
            for rowIndex, row in enumerate(rows):
                for columnIndex, value in enumerate(row):
                    table.SetValue(rowIndex, columnIndex, vtk.vtkVariant(str(value)))
            table.Modified()
            tableNode.Modified()

    @staticmethod
    def _roleTable(tableNode, role, name):
        """The given table node, or a new one tagged with ``role``."""
        if not tableNode:
            tableNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLTableNode", name)
            tableNode.SetAttribute(ROLE_ATTRIBUTE, role)
        return tableNode

    # ------------------------------------------------------------------ study in the scene
    def studyTableNode(self, parameterNode=None):
        """The study table of the parameter node, created (with the study columns) if there is none."""
        parameterNode = parameterNode or self.getParameterNode()
        if not parameterNode.studyTable:
            tableNode = self._roleTable(None, "study", _("HITIT study"))
            self.writeTable(tableNode, list(self.conversions().STUDY_COLUMNS), [])
            parameterNode.studyTable = tableNode
        return parameterNode.studyTable

    def studyRows(self, parameterNode) -> tuple:
        """Columns and rows of the study table (the study columns when the table is empty)."""
        columns, rows = self.readTable(self.studyTableNode(parameterNode))
        return (columns or list(self.conversions().STUDY_COLUMNS)), rows

    def _setStudyRows(self, parameterNode, columns, rows) -> bool:
        """Write the study rows if they changed; returns True when the table was rewritten."""
        if self.readTable(self.studyTableNode(parameterNode)) == (list(columns), [list(row) for row in rows]):
            return False
        self.writeTable(self.studyTableNode(parameterNode), columns, rows)
        return True

    @staticmethod
    def timepoints(parameterNode) -> list:
        """The study's time points ``[{"id", "date", "volume"}]`` in date order."""
        return json.loads(parameterNode.timepointsJson) if parameterNode and parameterNode.timepointsJson else []

    def lesionIds(self, parameterNode) -> list:
        """Lesion ids of the study table, in table order."""
        if not parameterNode or not parameterNode.studyTable:
            return []
        return self.conversions().lesionIds(*self.studyRows(parameterNode))

    def setTimepoints(self, parameterNode, timepoints) -> None:
        """Set the study's time points (ids and ISO dates, in date order) and add/remove their table rows."""
        conversions = self.conversions()
        timepoints = [{"id": str(t["id"]), "date": str(t["date"]), "volume": t.get("volume", "")} for t in timepoints]
        conversions.timepointIdsFromDates([t["date"] for t in timepoints])  # dates must increase
        columns, rows = self.studyRows(parameterNode)
        rows = conversions.syncTimepoints(columns, rows, timepoints) if rows else rows
        with slicer.util.NodeModify(parameterNode.parameterNode):
            parameterNode.timepointsJson = json.dumps(timepoints)
            self._setStudyRows(parameterNode, columns, rows)

    @staticmethod
    def volumeStudyDate(volumeNode):
        """ISO date of a volume: DICOM Study Date (when loaded from DICOM), else ``HITITResponse.Date``, else a date in its name."""
        from HITITResponseLib import conversions

        uids = (volumeNode.GetAttribute("DICOM.instanceUIDs") or "").split()
        database = getattr(slicer, "dicomDatabase", None)
        if uids and database is not None:
            date = conversions.isoDateFromDicom(database.instanceValue(uids[0], DICOM_STUDY_DATE_TAG))
            if date:
                return date
        return conversions.dateFromText(volumeNode.GetAttribute(DATE_ATTRIBUTE) or "") or conversions.dateFromText(volumeNode.GetName())

    def timepointsFromVolumes(self, parameterNode=None, volumeNodes=None) -> list:
        """Time points from volumes (all scalar volumes of the scene by default), one per date; tags each volume."""
        parameterNode = parameterNode or self.getParameterNode()
        if volumeNodes is None:
            volumeNodes = [node for node in slicer.util.getNodesByClass("vtkMRMLScalarVolumeNode")
                           if not node.IsA("vtkMRMLLabelMapVolumeNode")]
        if not volumeNodes:
            raise ValueError(_("Load the volumes of every time point first."))
        records = [{"name": node.GetName(), "date": self.volumeStudyDate(node)} for node in volumeNodes]
        timepoints = self.conversions().timepointsFromVolumeDates(records)
        byDate = {t["date"]: t["id"] for t in timepoints}
        for node, record in zip(volumeNodes, records):
            node.SetAttribute(TIMEPOINT_ATTRIBUTE, byDate[record["date"]])
        self.setTimepoints(parameterNode, timepoints)
        return timepoints

    def timepointVolume(self, timepointId):
        """The volume tagged with a time point (by :meth:`timepointsFromVolumes`), or None."""
        for node in slicer.util.getNodesByClass("vtkMRMLScalarVolumeNode"):
            if node.GetAttribute(TIMEPOINT_ATTRIBUTE) == timepointId:
                return node
        return None

    def addOrUpdateLesion(self, parameterNode, lesion) -> None:
        """Add a lesion (rows at its time points) or update its description, keeping its measurements.

        ``lesion`` keys: ``id``, ``role``, ``organ``, ``nodal``, ``injected_from``, ``appears_at``
        (baseline, or a follow-up for a new lesion), ``measurable`` (new lesions), ``description``.
        """
        timepoints = self.timepoints(parameterNode)
        if not timepoints:
            raise ValueError(_("Make the time points first (from the loaded volumes, or import a study)."))
        columns, rows = self.studyRows(parameterNode)
        self._setStudyRows(parameterNode, columns, self.conversions().upsertLesion(columns, rows, lesion, timepoints))

    def removeLesion(self, parameterNode, lesionId) -> None:
        """Remove a lesion's rows from the study."""
        columns, rows = self.studyRows(parameterNode)
        self._setStudyRows(parameterNode, columns, self.conversions().removeLesion(columns, rows, lesionId))

    def studyDict(self, parameterNode) -> dict:
        """The study (engine format) from the study table, time points and patient of the parameter node."""
        columns, rows = self.studyRows(parameterNode)
        timepoints = [{"id": t["id"], "date": t["date"]} for t in self.timepoints(parameterNode)]
        return self.conversions().studyDictFromRows(columns, rows, timepoints or None, patient=parameterNode.patient)

    def setStudyDict(self, parameterNode, studyDict) -> None:
        """Replace the study in the scene (table, time points, patient) by a study dict."""
        columns, rows = self.conversions().studyRowsFromDict(studyDict)
        with slicer.util.NodeModify(parameterNode.parameterNode):
            parameterNode.patient = studyDict.get("patient", "")
            parameterNode.timepointsJson = json.dumps([{"id": t["id"], "date": t["date"], "volume": ""} for t in studyDict["timepoints"]])
            self._setStudyRows(parameterNode, columns, rows)

    # ------------------------------------------------------------------ measuring
    def measurementLine(self, lesionId, timepointId, create=True):
        """The line markup ``<lesion>@<timepoint>``; created (empty, tagged) when missing and ``create``."""
        name = self.conversions().lineNodeName(lesionId, timepointId)
        for lineNode in slicer.util.getNodesByClass("vtkMRMLMarkupsLineNode"):
            if lineNode.GetName() == name:
                return lineNode
        if not create:
            return None
        lineNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLMarkupsLineNode", name)
        lineNode.SetAttribute(ROLE_ATTRIBUTE, "measurement")
        lineNode.SetAttribute(LESION_ATTRIBUTE, lesionId)
        lineNode.SetAttribute(TIMEPOINT_ATTRIBUTE, timepointId)
        lineNode.CreateDefaultDisplayNodes()
        return lineNode

    @staticmethod
    def startPlacing(lineNode) -> None:
        """Start placing the points of a line in the views (the line is emptied first)."""
        lineNode.RemoveAllControlPoints()
        markupsLogic = slicer.modules.markups.logic()
        markupsLogic.SetActiveList(lineNode)
        markupsLogic.StartPlaceMode(False)

    @staticmethod
    def measurementLines() -> list:
        """Line markups that measure a lesion: tagged by this module or named ``<lesion>@<timepoint>``."""
        return [node for node in slicer.util.getNodesByClass("vtkMRMLMarkupsLineNode")
                if node.GetAttribute(ROLE_ATTRIBUTE) == "measurement" or "@" in (node.GetName() or "")]

    def lineLengths(self, strict=False) -> dict:
        """``{(lesion, time point): length mm}`` of the complete measurement lines (world coordinates).

        Lines whose name does not parse are skipped, or raise ValueError when ``strict``.
        """
        conversions = self.conversions()
        lengths = {}
        for lineNode in self.measurementLines():
            if lineNode.GetNumberOfDefinedControlPoints() != 2:
                continue
            try:
                key = conversions.parseLineNodeName(lineNode.GetName())
            except ValueError:
                if strict:
                    raise
                logging.warning(f"HITITResponse: line {lineNode.GetName()!r} is not named <lesion>@<timepoint>; ignored")
                continue
            lengths[key] = conversions.lineLengthMm(slicer.util.arrayFromMarkupsControlPoints(lineNode, world=True))
        return lengths

    def updateStudyFromLines(self, parameterNode=None, strict=False) -> int:
        """Copy the length of every complete measurement line into the study table; returns how many.

        With ``strict``, a line naming a lesion or time point not in the study raises ValueError;
        otherwise such lines are skipped with a warning.
        """
        parameterNode = parameterNode or self.getParameterNode()
        conversions = self.conversions()
        columns, rows = self.studyRows(parameterNode)
        lengths = self.lineLengths(strict)
        known = {(row[columns.index("Lesion")], row[columns.index("Time point")]) for row in rows}
        unknown = sorted(key for key in lengths if key not in known)
        if unknown and strict:
            conversions.applyMeasurements(columns, rows, {unknown[0]: lengths[unknown[0]]})  # raises with the line name
        for key in unknown:
            logging.warning(f"HITITResponse: line {conversions.lineNodeName(*key)} has no study row; ignored")
            lengths.pop(key)
        self._setStudyRows(parameterNode, columns, conversions.applyMeasurements(columns, rows, lengths))
        return len(lengths)

    @staticmethod
    def _ijkToRAS(volumeNode):
        """IJK-to-RAS matrix of a volume node as a nested list."""
        matrix = vtk.vtkMatrix4x4()
        volumeNode.GetIJKToRASMatrix(matrix)
        return [[matrix.GetElement(row, column) for column in range(4)] for row in range(4)]

    def _volumeFromNode(self, volumeNode):
        """Core volume of a scalar volume node."""
        if not volumeNode or not volumeNode.GetImageData():
            raise ValueError(_("Select a volume with image data."))
        return self._coreVolume(slicer.util.arrayFromVolume(volumeNode), self._ijkToRAS(volumeNode))

    def _masksFromSegmentation(self, segmentationNode, referenceVolumeNode) -> dict:
        """One boolean mask [k, j, i] per segment (by segment name) on the reference volume's grid."""
        masks = {}
        if not segmentationNode:
            return masks
        segmentation = segmentationNode.GetSegmentation()
        for index in range(segmentation.GetNumberOfSegments()):
            segmentId = segmentation.GetNthSegmentID(index)
            labels = slicer.util.arrayFromSegmentBinaryLabelmap(segmentationNode, segmentId, referenceVolumeNode)
            masks[segmentation.GetNthSegment(index).GetName()] = labels > 0
        return masks

    def measureFromSegment(self, parameterNode, lesionId, timepointId, volumeNode=None) -> dict:
        """Measure the segment named ``lesionId`` on the time point's volume and store its diameter.

        The diameter is the short axis for a node and the longest diameter otherwise (RECIST 1.1).
        For a non-nodal lesion the line ``<lesion>@<timepoint>`` is placed along the longest diameter
        with that length, so the line and the table agree. Returns the measured values.
        """
        segmentationNode = parameterNode.lesionSegmentation
        if not segmentationNode:
            raise ValueError(_("Select the segmentation that holds the lesion segments."))
        segmentId = segmentationNode.GetSegmentation().GetSegmentIdBySegmentName(lesionId)
        if not segmentId:
            raise ValueError(_("The segmentation has no segment named {lesion}.").format(lesion=lesionId))
        volumeNode = volumeNode or self.timepointVolume(timepointId)
        if not volumeNode:
            raise ValueError(_("No volume is tagged with time point {timepoint}: make the time points from the volumes.").format(
                timepoint=timepointId))
        conversions = self.conversions()
        columns, rows = self.studyRows(parameterNode)
        nodal = conversions.lesionAttributes(columns, rows, lesionId)["nodal"]
        volume = self._volumeFromNode(volumeNode)
        labels = slicer.util.arrayFromSegmentBinaryLabelmap(segmentationNode, segmentId, volumeNode)
        if not labels.any():
            raise ValueError(_("Segment {lesion} is empty on the volume of {timepoint}.").format(lesion=lesionId, timepoint=timepointId))
        measurement = self._coreMeasureLesion(lesionId, labels > 0, volume, nodal)
        longest, shortAxis = float(measurement.longest_diameter_mm), float(measurement.short_axis_mm)
        diameter = shortAxis if nodal else longest
        if not nodal:
            import numpy as np

            endsRAS = conversions.rasFromLPS(measurement.ld_endpoints_lps)
            centre, half = endsRAS.mean(axis=0), (endsRAS[1] - endsRAS[0]) / 2.0
            halfLength = float(np.linalg.norm(half))
            if halfLength > 0:
                half = half * (longest / 2.0 / halfLength)
            lineNode = self.measurementLine(lesionId, timepointId)
            with slicer.util.NodeModify(lineNode):
                lineNode.RemoveAllControlPoints()
                lineNode.AddControlPointWorld(*(centre - half).tolist())
                lineNode.AddControlPointWorld(*(centre + half).tolist())
        self._setStudyRows(parameterNode, columns, conversions.applyMeasurements(columns, rows, {(lesionId, timepointId): diameter}))
        return {"diameterMm": diameter, "longestDiameterMm": longest, "shortAxisMm": shortAxis, "nodal": nodal}

    # ------------------------------------------------------------------ response
    def responseTableNode(self, parameterNode, criterion):
        """The response table node of a criterion (RECIST1.1, iRECIST, itRECIST), or None."""
        if not parameterNode:
            return None
        return {"RECIST1.1": parameterNode.recistTable, "iRECIST": parameterNode.irecistTable,
                "itRECIST": parameterNode.itrecistTable}.get(criterion)

    def computeResponse(self, parameterNode=None) -> dict:
        """Response of the study in the scene by the three criteria: tables, plots, ``responseJson``.

        The lines' lengths are copied into the study first. Returns the response dict
        (``StudyResponse.to_dict()``); raises the core's InputError for an invalid study.
        """
        parameterNode = parameterNode or self.getParameterNode()
        self.updateStudyFromLines(parameterNode)
        studyDict = self.studyDict(parameterNode)
        study = self._coreStudyFromDict(studyDict)
        response = self._coreEvaluateStudy(study, parameterNode.warnBaseline)
        self._response = response
        responseDict = response.to_dict()
        conversions = self.conversions()
        tables = conversions.responseTables(responseDict)
        with slicer.util.NodeModify(parameterNode.parameterNode):
            parameterNode.responseJson = json.dumps(responseDict)
            parameterNode.recistTable = self._writeResponseTable(parameterNode.recistTable, "RECIST1.1", tables)
            parameterNode.irecistTable = self._writeResponseTable(parameterNode.irecistTable, "iRECIST", tables)
            parameterNode.itrecistTable = self._writeResponseTable(parameterNode.itrecistTable, "itRECIST", tables)
            parameterNode.waterfallChart = self.updateWaterfallChart(parameterNode.waterfallChart, self._coreWaterfallData(response))
            parameterNode.spiderChart = self.updateSpiderChart(parameterNode.spiderChart, self._coreSpiderData(response),
                                                               conversions.injectedLesionIds(studyDict))
        self.showChart(parameterNode.waterfallChart)
        return responseDict

    def _writeResponseTable(self, tableNode, criterion, tables):
        """Fill (or create) a criterion's response table."""
        tableNode = self._roleTable(tableNode, f"response {criterion}", _("HITIT response {criterion}").format(criterion=criterion))
        self.writeTable(tableNode, *tables[criterion])
        return tableNode

    def _replaceSeries(self, chartNode, chartRole, title, seriesSpecs, plotType, xTitle, yTitle):
        """Replace a chart's series (each with its own table) by ``seriesSpecs`` from HITITResponseLib.conversions."""
        import numpy as np

        if not chartNode:
            chartNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLPlotChartNode", title)
            chartNode.SetAttribute(ROLE_ATTRIBUTE, "chart")
        chartNode.RemoveAllPlotSeriesNodeIDs()
        for className in ("vtkMRMLPlotSeriesNode", "vtkMRMLTableNode"):
            for node in slicer.util.getNodesByClass(className):
                if node.GetAttribute(CHART_ATTRIBUTE) == chartRole:
                    slicer.mrmlScene.RemoveNode(node)
        chartNode.SetTitle(title)
        chartNode.SetXAxisTitle(xTitle)
        chartNode.SetYAxisTitle(yTitle)
        chartNode.SetLegendVisibility(True)
        for spec in seriesSpecs:
            tableNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLTableNode", f"{title} {spec['name']}")
            tableNode.SetAttribute(CHART_ATTRIBUTE, chartRole)
            slicer.util.updateTableFromArray(tableNode, [np.asarray(spec["x"], dtype=float), np.asarray(spec["y"], dtype=float)],
                                             [xTitle, yTitle])
            seriesNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLPlotSeriesNode", spec["name"])
            seriesNode.SetAttribute(CHART_ATTRIBUTE, chartRole)
            seriesNode.SetAttribute("HITITResponse.Stream", spec["stream"])
            seriesNode.SetAndObserveTableNodeID(tableNode.GetID())
            seriesNode.SetXColumnName(xTitle)
            seriesNode.SetYColumnName(yTitle)
            seriesNode.SetPlotType(plotType)
            seriesNode.SetColor(*spec["color"])
            if plotType == slicer.vtkMRMLPlotSeriesNode.PlotTypeScatter:
                seriesNode.SetLineWidth(spec.get("lineWidth", 2))
                seriesNode.SetMarkerStyle(slicer.vtkMRMLPlotSeriesNode.MarkerStyleCircle)
            chartNode.AddAndObservePlotSeriesNodeID(seriesNode.GetID())
        return chartNode

    def updateWaterfallChart(self, chartNode, waterfall):
        """Waterfall plot (bars: best change of the target sum per stream; injected and non-injected apart)."""
        return self._replaceSeries(chartNode, "waterfall", _("HITIT waterfall"), self.conversions().waterfallSeries(waterfall),
                                   slicer.vtkMRMLPlotSeriesNode.PlotTypeBar, _("Lesion group"), _("Best change of target sum (%)"))

    def updateSpiderChart(self, chartNode, spider, injectedLesionIds):
        """Spider plot (change from baseline over time of each stream sum and of each target lesion)."""
        return self._replaceSeries(chartNode, "spider", _("HITIT spider"), self.conversions().spiderSeries(spider, injectedLesionIds),
                                   slicer.vtkMRMLPlotSeriesNode.PlotTypeScatter, _("Weeks since baseline"), _("Change from baseline (%)"))

    @staticmethod
    def showChart(chartNode) -> None:
        """Show a plot chart in the view layout (switching to a layout with a plot view)."""
        if not chartNode:
            raise ValueError(_("Compute the response first."))
        slicer.modules.plots.logic().ShowChartInLayout(chartNode)

    # ------------------------------------------------------------------ import / export
    def importStudy(self, parameterNode, path) -> dict:
        """Replace the study in the scene by a study file: ``.json`` (engine format) or ``.csv`` (study table).

        The study is validated by the core either way; returns the study dict.
        """
        if not path or not os.path.isfile(path):
            raise ValueError(_("Choose an existing study file (.json or .csv)."))
        if path.lower().endswith(".csv"):
            with open(path, encoding="utf-8") as file:
                columns, rows = self.conversions().studyRowsFromCsvText(file.read())
            studyDict = self.conversions().studyDictFromRows(columns, rows, patient=parameterNode.patient)
            studyDict = self._coreStudyFromDict(studyDict).to_dict()
        else:
            studyDict = self._coreLoadStudy(path).to_dict()
        self.setStudyDict(parameterNode, studyDict)
        self._response = None
        return studyDict

    def exportStudy(self, parameterNode, path) -> str:
        """Write the study to ``path``: ``.csv`` as the study table, otherwise the engine's JSON (validated)."""
        if not path or path in (".",):
            raise ValueError(_("Choose the study file to write (.json or .csv)."))
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        if path.lower().endswith(".csv"):
            text = self.conversions().studyCsvText(*self.studyRows(parameterNode))
        else:
            text = json.dumps(self._coreStudyFromDict(self.studyDict(parameterNode)).to_dict(), indent=2) + "\n"
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)
        return path

    def exportResponse(self, parameterNode, outDir) -> dict:
        """Write response.json, response.csv, the plots (PNG, SVG) and response.html into ``outDir``.

        The response is recomputed from the study in the scene. The last injection-site review, if
        any, is written into ``outDir/review``. Returns the written paths by name.
        """
        if not outDir or outDir in (".",):
            raise ValueError(_("Choose the folder to write the response to."))
        self.computeResponse(parameterNode)
        paths = {key: str(value) for key, value in self._coreWriteOutputs(self._response, outDir).items()}
        if self._review is not None:
            paths.update({f"review_{key}": str(value) for key, value in self._coreWriteReview(self._review, os.path.join(outDir, "review")).items()})
        return paths

    # ------------------------------------------------------------------ injection-site review
    def loadTeachingCase(self, directory=None) -> dict:
        """Generate the teaching case with the core into ``directory`` and load it as the review inputs.

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
        parameterNode = self.getParameterNode()
        parameterNode.reviewVolume = nodes["ct"]
        parameterNode.reviewStructures = nodes["structures"]
        parameterNode.reviewLesions = nodes["lesions"]
        return nodes

    def _showLine(self, name, role, lesionId, startRAS, endRAS, color):
        """A locked line markup (replaced if one with the same role and name exists)."""
        for node in slicer.util.getNodesByClass("vtkMRMLMarkupsLineNode"):
            if node.GetAttribute(ROLE_ATTRIBUTE) == role and node.GetName() == name:
                slicer.mrmlScene.RemoveNode(node)
        lineNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLMarkupsLineNode", name)
        lineNode.SetAttribute(ROLE_ATTRIBUTE, role)
        lineNode.SetAttribute(LESION_ATTRIBUTE, lesionId)
        lineNode.CreateDefaultDisplayNodes()
        lineNode.AddControlPointWorld(*[float(value) for value in startRAS])
        lineNode.AddControlPointWorld(*[float(value) for value in endRAS])
        lineNode.SetLocked(True)
        displayNode = lineNode.GetDisplayNode()
        if displayNode:
            displayNode.SetSelectedColor(*color)
            displayNode.SetColor(*color)
        return lineNode

    def showPlannedTrajectories(self, planDirectory, planDict) -> list:
        """Planned lines of the plan folder (trajectories.mrk.json, else the chosen ones in plan.json), in blue."""
        conversions = self.conversions()
        path = os.path.join(planDirectory, "trajectories.mrk.json")
        specs = []
        if os.path.isfile(path):
            for markup in self._coreReadMarkups(path):
                if markup.kind == "line":
                    pointsRAS = conversions.rasFromLPS(markup.points_lps)
                    specs.append((f"{markup.name} planned", markup.name.split("-")[0], pointsRAS[0], pointsRAS[1]))
        else:
            specs = [(line["name"], line["lesion"], line["entryRAS"], line["targetRAS"]) for line in conversions.chosenTrajectoryLines(planDict)]
        return [self._showLine(name, "planned", lesionId, start, end, (0.2, 0.4, 1.0)) for name, lesionId, start, end in specs]

    def reviewInjection(self, parameterNode=None) -> dict:
        """Review the injection sites: plan folder vs the needle(s) on the intraprocedural CT.

        Planned lines (blue) and actual needles (red) are shown together; the needle table and
        ``reviewJson`` are filled. The needle is the ``actualNeedle`` line when set (its
        ``HITITResponse.Lesion`` attribute or name tells the lesion), else it is detected in the CT.
        Returns the review dict (``Review.to_dict()``, LPS).
        """
        parameterNode = parameterNode or self.getParameterNode()
        planDirectory = str(parameterNode.planDirectory)
        planPath = os.path.join(planDirectory, "plan.json")
        if planDirectory in ("", ".") or not os.path.isfile(planPath):
            raise ValueError(_("Choose a plan folder that holds plan.json (written by the HITIT planner)."))
        if not parameterNode.reviewVolume:
            raise ValueError(_("Select the intraprocedural CT (with the needle in place)."))
        with open(planPath, encoding="utf-8") as file:
            planDict = json.load(file)
        conversions = self.conversions()
        ctNode = parameterNode.reviewVolume
        ct = self._volumeFromNode(ctNode)
        masks = self._masksFromSegmentation(parameterNode.reviewStructures, ctNode)
        masks.update(self._masksFromSegmentation(parameterNode.reviewLesions, ctNode))
        needles = []
        lineNode = parameterNode.actualNeedle
        if lineNode:
            if lineNode.GetNumberOfDefinedControlPoints() != 2:
                raise ValueError(_("Place both points of the needle line."))
            pointsLPS = conversions.lpsFromRAS(slicer.util.arrayFromMarkupsControlPoints(lineNode, world=True))
            needles.append(self._coreNeedleLine(lineNode.GetAttribute(LESION_ATTRIBUTE) or lineNode.GetName(), pointsLPS))
        postCT = self._volumeFromNode(parameterNode.postInjectionVolume) if parameterNode.postInjectionVolume else None
        injectionLog, samplingLog = (str(path) if str(path) not in ("", ".") else None
                                     for path in (parameterNode.injectionLog, parameterNode.samplingLog))
        review = self._coreReviewPlan(planDict, ct, masks, needles, postCT, injectionLog, samplingLog)
        self._review = review
        reviewDict = json.loads(json.dumps(review.to_dict()))
        self.showPlannedTrajectories(planDirectory, planDict)
        for line in conversions.actualNeedleLines(reviewDict):
            self._showLine(line["name"], "actualNeedle", line["lesion"], line["hubRAS"], line["tipRAS"], (0.95, 0.15, 0.15))
        with slicer.util.NodeModify(parameterNode.parameterNode):
            parameterNode.reviewJson = json.dumps(reviewDict)
            parameterNode.reviewTable = self._roleTable(parameterNode.reviewTable, "review", _("HITIT needle review"))
            self.writeTable(parameterNode.reviewTable, *conversions.reviewTableRows(reviewDict))
        return reviewDict


#
# HITITResponseTest
#


class HITITResponseTest(ScriptedLoadableModuleTest):
    """Self-tests: each test_* builds its own inputs in code (no network) and works alone."""

    def setUp(self):
        """Start every test from an empty scene."""
        slicer.mrmlScene.Clear()

    def runTest(self):
        """Run every test, each on a fresh scene (what Reload and Test calls)."""
        for test in (self.test_StudyFromLinesAndResponse, self.test_ImportExportStudy, self.test_MeasureFromSegment,
                     self.test_ReviewTeachingCase):
            self.setUp()
            test()

    @staticmethod
    def _line(name, startRAS, lengthMm, direction=(1.0, 0.0, 0.0)):
        """A line markup of known length along ``direction`` (RAS) from ``startRAS``."""
        lineNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLMarkupsLineNode", name)
        lineNode.AddControlPoint(*[float(value) for value in startRAS])
        lineNode.AddControlPoint(*[float(startRAS[axis] + lengthMm * direction[axis]) for axis in range(3)])
        return lineNode

    def _twoTimepointStudy(self, logic, parameterNode):
        """Two volumes dated by name, time points from them, two target lesions (L1 injected, L2 not)."""
        for name in ("CT baseline 2026-01-05", "CT follow-up 2026-03-02"):
            volumeNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name)
            volumeNode.SetAttribute(DATE_ATTRIBUTE, name.split()[-1])
        timepoints = logic.timepointsFromVolumes(parameterNode)
        self.assertEqual([t["id"] for t in timepoints], ["BL", "W8"])
        logic.addOrUpdateLesion(parameterNode, {"id": "L1", "role": "target", "organ": "liver", "nodal": False, "injected_from": "BL"})
        logic.addOrUpdateLesion(parameterNode, {"id": "L2", "role": "target", "organ": "lung", "nodal": False})
        self.assertEqual(parameterNode.studyTable.GetNumberOfRows(), 4)

    def test_StudyFromLinesAndResponse(self):
        """Lines of known length at two time points -> study table -> RECIST/iRECIST/itRECIST PR, then PD as a line grows."""
        self.delayDisplay("Starting test_StudyFromLinesAndResponse")
        logic = HITITResponseLogic()
        parameterNode = logic.getParameterNode()
        self._twoTimepointStudy(logic, parameterNode)

        # -35 % in both lesions: sum 60 mm -> 39 mm.
        self._line("L1@BL", [10.0, 20.0, 30.0], 40.0)
        self._line("L2@BL", [-50.0, 0.0, 0.0], 20.0, (0.0, 0.6, 0.8))
        growing = self._line("L1@W8", [10.0, 20.0, 30.0], 26.0)
        self._line("L2@W8", [-50.0, 0.0, 0.0], 13.0, (0.0, 0.0, 1.0))
        self.assertEqual(logic.updateStudyFromLines(parameterNode, strict=True), 4)
        study = logic.studyDict(parameterNode)
        self.assertAlmostEqual(study["lesions"][0]["measurements"]["W8"], 26.0, places=4)
        self.assertAlmostEqual(study["lesions"][1]["measurements"]["BL"], 20.0, places=4)

        response = logic.computeResponse(parameterNode)
        conversions = logic.conversions()
        self.assertEqual(conversions.responseCategory(response, "RECIST1.1", "W8"), "PR")
        self.assertEqual(conversions.responseCategory(response, "iRECIST", "W8"), "iPR")
        self.assertEqual(conversions.responseCategory(response, "itRECIST", "W8", "injected"), "iPR")
        self.assertEqual(conversions.responseCategory(response, "itRECIST", "W8", "non_injected"), "iPR")
        self.assertAlmostEqual(response["timepoints"][1]["criteria"]["RECIST1.1"]["change_from_baseline_pct"], -35.0, places=3)
        for table in (parameterNode.recistTable, parameterNode.irecistTable, parameterNode.itrecistTable):
            self.assertEqual(table.GetNumberOfRows(), 2)
        self.assertEqual(parameterNode.recistTable.GetCellText(1, 2), "PR")

        # Plots: waterfall = overall, injected, non-injected bars; spider = 3 stream sums + 2 target lesions.
        self.assertEqual(parameterNode.waterfallChart.GetNumberOfPlotSeriesNodes(), 3)
        self.assertEqual(parameterNode.spiderChart.GetNumberOfPlotSeriesNodes(), 5)
        streams = {parameterNode.spiderChart.GetNthPlotSeriesNode(i).GetAttribute("HITITResponse.Stream") for i in range(5)}
        self.assertEqual(streams, {"overall", "injected", "non_injected"})

        # Moving a line updates the study: L1 26 -> 60 mm gives 73 mm, +21.7 % and +13 mm over the nadir (60) -> PD.
        growing.SetNthControlPointPosition(1, 70.0, 20.0, 30.0)
        response = logic.computeResponse(parameterNode)
        self.assertEqual(conversions.responseCategory(response, "RECIST1.1", "W8"), "PD")
        self.assertEqual(conversions.responseCategory(response, "itRECIST", "W8", "injected"), "iUPD")
        self.assertEqual(parameterNode.waterfallChart.GetNumberOfPlotSeriesNodes(), 3)  # series replaced, not added
        self.delayDisplay("test_StudyFromLinesAndResponse passed")

    def test_ImportExportStudy(self):
        """Import the engine's JSON study, export it as JSON and CSV, re-import, and write the response outputs."""
        self.delayDisplay("Starting test_ImportExportStudy")
        logic = HITITResponseLogic()
        parameterNode = logic.getParameterNode()
        example = {
            "patient": "anonymised id",
            "timepoints": [{"id": "BL", "date": "2026-01-05"}, {"id": "W8", "date": "2026-03-02"}],
            "lesions": [
                {"id": "L1", "organ": "liver", "nodal": False, "role": "target", "injected_from": "BL", "measurements": {"BL": 40.0, "W8": 28.0}},
                {"id": "N1", "organ": "lymph node", "nodal": True, "role": "target", "injected_from": None,
                 "measurements": {"BL": 17.0, "W8": "too-small"}},
                {"id": "P1", "organ": "peritoneum", "role": "non-target", "injected_from": None, "status": {"BL": "present", "W8": "present"}},
            ],
            "new_lesions": [{"id": "X1", "timepoint": "W8", "organ": "lung", "measurable": True, "measurements": {"W8": 12.0}}],
        }
        folder = os.path.join(slicer.app.temporaryPath, "HITIT", "ResponseSelfTest")
        os.makedirs(folder, exist_ok=True)
        source = os.path.join(folder, "study.json")
        with open(source, "w", encoding="utf-8") as file:
            json.dump(example, file)
        imported = logic.importStudy(parameterNode, source)
        self.assertEqual(parameterNode.studyTable.GetNumberOfRows(), 7)
        self.assertEqual(parameterNode.patient, "anonymised id")
        self.assertEqual(logic.studyDict(parameterNode), imported)

        for name in ("exported.json", "exported.csv"):
            path = logic.exportStudy(parameterNode, os.path.join(folder, name))
            logic.setStudyDict(parameterNode, {"patient": "", "timepoints": [{"id": "BL", "date": "2020-01-01"}], "lesions": [], "new_lesions": []})
            self.assertEqual(parameterNode.studyTable.GetNumberOfRows(), 0)
            parameterNode.patient = "anonymised id"
            self.assertEqual(logic.importStudy(parameterNode, path), imported)

        paths = logic.exportResponse(parameterNode, os.path.join(folder, "out"))
        for key in ("json", "csv", "html", "waterfall_png", "spider_svg"):
            self.assertTrue(os.path.isfile(paths[key]), key)
        with open(paths["json"], encoding="utf-8") as file:
            written = json.load(file)
        self.assertEqual(written["timepoints"][1]["criteria"]["RECIST1.1"]["target"], "PR")
        self.assertEqual(written["timepoints"][1]["criteria"]["RECIST1.1"]["overall"], "PD")  # new lesion X1
        self.delayDisplay("test_ImportExportStudy passed")

    def test_MeasureFromSegment(self):
        """A 30 mm x 20 mm ellipse segment on a 1 mm volume: the study gets its longest diameter and the line agrees."""
        self.delayDisplay("Starting test_MeasureFromSegment")
        import numpy as np

        logic = HITITResponseLogic()
        parameterNode = logic.getParameterNode()
        kk, jj, ii = np.mgrid[0:20, 0:60, 0:60]
        inside = ((ii - 30) / 15.0) ** 2 + ((jj - 30) / 10.0) ** 2 + ((kk - 10) / 6.0) ** 2 <= 1.0
        volumes = []
        for name in ("CT 2026-01-05", "CT 2026-03-02"):
            volumeNode = slicer.util.addVolumeFromArray(np.where(inside, 60, -20).astype(np.int16), name=name)
            volumes.append(volumeNode)
        logic.timepointsFromVolumes(parameterNode, volumes)
        logic.addOrUpdateLesion(parameterNode, {"id": "L1", "role": "target", "organ": "liver"})
        segmentationNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode", "lesions")
        segmentationNode.SetReferenceImageGeometryParameterFromVolumeNode(volumes[0])
        segmentId = segmentationNode.GetSegmentation().AddEmptySegment("L1", "L1")
        slicer.util.updateSegmentBinaryLabelmapFromArray(inside.astype(np.uint8), segmentationNode, segmentId, volumes[0])
        parameterNode.lesionSegmentation = segmentationNode

        result = logic.measureFromSegment(parameterNode, "L1", "BL")
        self.assertAlmostEqual(result["longestDiameterMm"], 30.0, delta=2.0)
        self.assertAlmostEqual(result["shortAxisMm"], 20.0, delta=2.0)
        study = logic.studyDict(parameterNode)
        self.assertAlmostEqual(study["lesions"][0]["measurements"]["BL"], result["longestDiameterMm"], places=6)
        lineNode = logic.measurementLine("L1", "BL", create=False)
        self.assertIsNotNone(lineNode)
        self.assertAlmostEqual(lineNode.GetLineLengthWorld(), result["longestDiameterMm"], places=3)
        logic.updateStudyFromLines(parameterNode, strict=True)  # the line and the table agree
        self.assertAlmostEqual(logic.studyDict(parameterNode)["lesions"][0]["measurements"]["BL"], result["longestDiameterMm"], places=3)
        self.delayDisplay("test_MeasureFromSegment passed")

    def test_ReviewTeachingCase(self):
        """Teaching case, a plan for L1, a reviewer needle line tilted 6 degrees: tip and angle errors recovered."""
        self.delayDisplay("Starting test_ReviewTeachingCase")
        import numpy as np

        logic = HITITResponseLogic()
        parameterNode = logic.getParameterNode()
        folder = os.path.join(slicer.app.temporaryPath, "HITIT", "ReviewSelfTest")
        nodes = logic.loadTeachingCase(os.path.join(folder, "case"))
        with open(nodes["truth"], encoding="utf-8") as file:
            truth = json.load(file)
        path = next(p for p in truth["lesions"]["L1"]["example_paths"] if p["safe"])
        entry, target = np.asarray(path["entry_lps"], float), np.asarray(path["target_lps"], float)
        planDirectory = os.path.join(folder, "plan")
        os.makedirs(planDirectory, exist_ok=True)
        plan = {"frame": "LPS", "visit": 1, "config": {"margin_mm": 5.0}, "protocol": {}, "lesions": [
            {"id": "L1", "status": "inject", "injectate_ml": 1.0, "deposits": [{"point": target.tolist(), "depth_mm": 30.0, "volume_ml": 1.0}],
             "trajectories": [{"rank": 1, "entry": entry.tolist(), "target": target.tolist(), "length_mm": float(np.linalg.norm(target - entry)),
                               "min_clearance_mm": 9.0, "clearance_by_structure_mm": {}, "feasible": True, "score": 1.0}]}]}
        with open(os.path.join(planDirectory, "plan.json"), "w", encoding="utf-8") as file:
            json.dump(plan, file)

        # The actual needle: tip 0.5 mm off the target in L and P, axis tilted 6 degrees from the plan.
        tiltDeg = 6.0
        planned = (target - entry) / np.linalg.norm(target - entry)
        side = np.cross(planned, [0.0, 0.0, 1.0])
        side /= np.linalg.norm(side)
        actual = np.cos(np.radians(tiltDeg)) * planned + np.sin(np.radians(tiltDeg)) * side
        tip = target + np.array([0.5, 0.5, 0.0])
        hub = tip - actual * (np.linalg.norm(target - entry) + 15.0)
        conversions = logic.conversions()
        needleNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLMarkupsLineNode", "L1 needle")
        needleNode.SetAttribute(LESION_ATTRIBUTE, "L1")
        needleNode.AddControlPoint(*conversions.rasFromLPS(hub).tolist())
        needleNode.AddControlPoint(*conversions.rasFromLPS(tip).tolist())
        parameterNode.planDirectory = pathlib.Path(planDirectory)
        parameterNode.actualNeedle = needleNode

        review = logic.reviewInjection(parameterNode)
        needles = {needle["lesion_id"]: needle for needle in review["needles"]}
        self.assertEqual(set(needles), {"L1"})
        spacing = max(nodes["ct"].GetSpacing())
        self.assertAlmostEqual(needles["L1"]["deviation"]["angle_deg"], tiltDeg, delta=1.0)
        self.assertAlmostEqual(needles["L1"]["deviation"]["tip_to_target_mm"], float(np.sqrt(0.5)), delta=spacing)
        self.assertLessEqual(float(np.linalg.norm(np.subtract(needles["L1"]["needle"]["tip_lps"], tip))), spacing)
        self.assertEqual(parameterNode.reviewTable.GetNumberOfRows(), 1)
        roles = [node.GetAttribute(ROLE_ATTRIBUTE) for node in slicer.util.getNodesByClass("vtkMRMLMarkupsLineNode")]
        self.assertEqual(roles.count("planned"), 1)
        self.assertEqual(roles.count("actualNeedle"), 1)
        self.delayDisplay("test_ReviewTeachingCase passed")
