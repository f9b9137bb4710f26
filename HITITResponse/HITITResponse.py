"""HITIT Response: the Slicer module (panel, parameter node, thin logic over hitit_slicer.response, self-test)."""

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


# hitit_slicer and hitit sit beside the installed modules, or one folder up in a source checkout.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.extend([_ROOT] if os.path.isdir(os.path.join(_ROOT, "hitit_slicer")) and _ROOT not in sys.path else [])
from hitit_slicer.application import ModuleLibrary, ModuleTestMixin, ModuleWidgetMixin  # noqa: E402  (standard library only until the core is needed)

# Everything that touches the scene without Qt is in hitit_slicer.response (shared library, tested on Slicer's
# core libraries); it is imported only inside HITITResponseLogic, and the core's Python packages are
# installed on the first action that needs them.


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
    """The parameters of the module; a saved scene reopens the study from them and the study table.

    patient - patient identifier written into the study.
    timepointsJson - time points as JSON ``[{"id", "date", "volume"}]`` in date order.
    studyTable - the study: one row per lesion and time point (hitit_slicer.study_table.STUDY_COLUMNS).
    lesionId, lesionRole, lesionOrgan, lesionNodal, lesionMeasurable - the lesion being added or edited.
    lesionInjectedFrom - time point from which the lesion is injected ("" = never).
    lesionAppearsAt - time point the lesion appears at (the baseline, or a follow-up for a new lesion).
    selectedTimepoint, selectedLesion - what the Measuring section measures.
    lesionSegmentation - segmentation whose segments, named by lesion id, can be measured.
    warnBaseline - assess every criterion even when the baseline breaks its target rules, listing them as warnings
        (otherwise such a criterion is reported 'not assessable' and the others as usual).
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
    studyTable: slicer.vtkMRMLTableNode
    lesionId: str = ""
    lesionRole: Annotated[str, Choice(["target", "non-target"])] = "target"
    lesionOrgan: str = ""
    lesionNodal: bool = False
    lesionMeasurable: bool = True
    lesionInjectedFrom: str = ""
    lesionAppearsAt: str = ""
    selectedTimepoint: str = ""
    selectedLesion: str = ""
    lesionSegmentation: slicer.vtkMRMLSegmentationNode
    warnBaseline: bool = False
    shownCriterion: Annotated[str, Choice(["RECIST1.1", "iRECIST", "itRECIST"])] = "itRECIST"
    recistTable: slicer.vtkMRMLTableNode
    irecistTable: slicer.vtkMRMLTableNode
    itrecistTable: slicer.vtkMRMLTableNode
    waterfallChart: slicer.vtkMRMLPlotChartNode
    spiderChart: slicer.vtkMRMLPlotChartNode
    responseJson: str = ""
    planDirectory: pathlib.Path
    reviewVolume: slicer.vtkMRMLScalarVolumeNode
    reviewStructures: slicer.vtkMRMLSegmentationNode
    reviewLesions: slicer.vtkMRMLSegmentationNode
    actualNeedle: slicer.vtkMRMLMarkupsLineNode
    postInjectionVolume: slicer.vtkMRMLScalarVolumeNode
    injectionLog: str = ""
    samplingLog: str = ""
    reviewTable: slicer.vtkMRMLTableNode
    reviewJson: str = ""
    studyFile: str = ""
    outputDirectory: pathlib.Path


#: Parameters without a widget bound through SlicerParameterName, and why (checked by Testing/test_slicer_ui.py).
UNBOUND_PARAMETERS = {
    "timepointsJson": "time points are made from the loaded volumes or an imported study, not typed in",
    "lesionInjectedFrom": "its choices are the study's time points; the widget fills injectedFromComboBox and writes "
    "it",
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
    "injectionLog": "optional file: ctkPathLineEdit reports no change when its text is cleared, so the widget binds it "
    "by hand",
    "samplingLog": "optional file: ctkPathLineEdit reports no change when its text is cleared, so the widget binds it "
    "by hand",
    "studyFile": "a file to read or a new file to write: bound by hand like the optional logs, so it can be cleared",
}


#
# HITITResponseWidget
#


class HITITResponseWidget(ModuleWidgetMixin, ScriptedLoadableModuleWidget, VTKObservationMixin):
    """The workflow panel: study, measuring, response, review, import/export (panel and parameter node plumbing:
    ModuleWidgetMixin).
    """

    def __init__(self, parent=None) -> None:
        """Called when the user opens the module the first time and the widget is initialized."""
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.initializeWidgetState()
        self._observedLines = []
        self._observedTable = None
        self._lineSyncTimer = None
        self._choices = None

    def setup(self) -> None:
        """Called when the user opens the module the first time and the widget is initialized."""
        ScriptedLoadableModuleWidget.setup(self)
        self.loadPanel()
        self.logic = HITITResponseLogic()
        # Dragging a line fires many events: update the study once the mouse rests for a moment.
        self._lineSyncTimer = self.settleTimer(qt.QTimer(), 200, self.onLineSyncTimeout)
        for widget, name in self._pathFields():
            widget.connect("currentPathChanged(QString)", lambda path, name=name: self._setPathParameter(name, path))
            # a cleared field is not acceptable input, so it emits validInputChanged(False) instead
            widget.connect(
                "validInputChanged(bool)",
                lambda valid, widget=widget, name=name: self._onPathValidityChanged(widget, name),
            )

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

    def enter(self) -> None:
        """Called each time the user opens this module: follow new lines only while the module is open."""
        if not self.hasObserver(slicer.mrmlScene, slicer.mrmlScene.NodeAddedEvent, self.onNodeAdded):
            self.addObserver(slicer.mrmlScene, slicer.mrmlScene.NodeAddedEvent, self.onNodeAdded)
        self.initializeParameterNode()

    def exit(self) -> None:
        """Called each time the user opens a different module: stop rewriting the study from lines."""
        self.removeObserver(slicer.mrmlScene, slicer.mrmlScene.NodeAddedEvent, self.onNodeAdded)
        self._observeLines([])
        ModuleWidgetMixin.exit(self)

    def onSceneStartClose(self, caller=None, event=None) -> None:
        """Called just before the scene is closed: its lines and study table go with it."""
        ModuleWidgetMixin.onSceneStartClose(self, caller, event)
        self._observeLines([])
        self._observeTable(None)

    def onNodeAdded(self, caller=None, event=None) -> None:
        """A node was added (a line drawn or a scene loaded): look for measurement lines once things settle."""
        if self._lineSyncTimer:
            self._lineSyncTimer.start()

    def initializeParameterNode(self) -> None:
        """Ensure the parameter node exists and is observed; create the study table if there is none."""
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.studyTable:
            self._parameterNode.studyTable = self.logic.studyTableNode(self._parameterNode)
        self.showFoldersOfTheParameters("planDirectory", "outputDirectory")

    def _pathFields(self):
        """The file fields bound by hand and their parameters."""
        return (
            (self.ui.injectionLogPathLineEdit, "injectionLog"),
            (self.ui.samplingLogPathLineEdit, "samplingLog"),
            (self.ui.studyFilePathLineEdit, "studyFile"),
        )

    def _setPathParameter(self, name, path) -> None:
        """Store a file field's path ("" when cleared)."""
        if self._parameterNode and getattr(self._parameterNode, name) != path.strip():
            setattr(self._parameterNode, name, path.strip())

    def _onPathValidityChanged(self, widget, name) -> None:
        """A cleared file field unsets its parameter."""
        if not widget.currentPath.strip():
            self._setPathParameter(name, "")

    def parameterNodeSet(self) -> None:
        """A new parameter node: its choices are read again and its lines looked for."""
        self._choices = None
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
        self.ui.exportResponseButton.enabled = bool(
            (node.studyTable or node.reviewJson) and str(node.outputDirectory) not in ("", ".")
        )
        self.ui.importStudyButton.enabled = self.ui.exportStudyButton.enabled = bool(node.studyFile.strip())
        for widget, name in self._pathFields():
            if widget.currentPath != getattr(node, name):  # an unset path shows an empty field, never "."
                widget.currentPath = getattr(node, name)

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
        self.ui.timepointsLabel.text = ", ".join(f"{t['id']} ({t['date']})" for t in self.logic.timepoints(node)) or _(
            "none yet"
        )
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
            for event in (
                slicer.vtkMRMLMarkupsNode.PointModifiedEvent,
                slicer.vtkMRMLMarkupsNode.PointEndInteractionEvent,
            ):
                self.removeObserver(lineNode, event, self.onMeasurementLineModified)
        self._observedLines = list(lineNodes)
        for lineNode in self._observedLines:
            for event in (
                slicer.vtkMRMLMarkupsNode.PointModifiedEvent,
                slicer.vtkMRMLMarkupsNode.PointEndInteractionEvent,
            ):
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
        """The lesion being edited, as hitit_slicer.study_table.lesionRowsFor expects it."""
        node = self._parameterNode
        return {
            "id": node.lesionId.strip(),
            "role": node.lesionRole,
            "organ": node.lesionOrgan.strip(),
            "nodal": node.lesionNodal,
            "injected_from": node.lesionInjectedFrom or None,
            "appears_at": node.lesionAppearsAt,
            "measurable": node.lesionMeasurable,
        }

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
                lesion=node.selectedLesion, timepoint=node.selectedTimepoint, value=result["diameterMm"]
            )

    def onUpdateFromLinesButton(self) -> None:
        """Copy every measurement line's length into the study now."""
        with slicer.util.tryWithErrorDisplay(_("Cannot take the diameters from the lines."), waitCursor=True):
            count = self.logic.updateStudyFromLines(self._parameterNode, strict=True)
            self.ui.measureStatusLabel.text = _("{count} diameters taken from the lines.").format(count=count)

    def onComputeResponseButton(self) -> None:
        """Compute RECIST 1.1, iRECIST and itRECIST; show the tables and the plots."""
        with slicer.util.tryWithErrorDisplay(_("Response assessment failed."), waitCursor=True):
            response = self.logic.computeResponse(self._parameterNode)
            self.ui.responseSummaryLabel.text = self.logic.responseSummary(response)
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
            self.ui.reviewStatusLabel.text = _("{count} needle(s) reviewed.").format(
                count=len(review.get("needles", []))
            )
            self.onParameterNodeModified()

    def onImportStudyButton(self) -> None:
        """Replace the study with the one in the study file (.json or .csv)."""
        with slicer.util.tryWithErrorDisplay(_("Study import failed."), waitCursor=True):
            study = self.logic.importStudy(self._parameterNode, self._parameterNode.studyFile)
            self.ui.exportStatusLabel.text = _("Imported {count} lesions.").format(
                count=len(study["lesions"]) + len(study["new_lesions"])
            )

    def onExportStudyButton(self) -> None:
        """Write the study to the study file (.json engine format, or .csv study table)."""
        with slicer.util.tryWithErrorDisplay(_("Study export failed."), waitCursor=True):
            path = self.logic.exportStudy(self._parameterNode, self._parameterNode.studyFile)
            self.ui.exportStatusLabel.text = _("Study written to {path}").format(path=path)

    def onExportResponseButton(self) -> None:
        """Write response.json, response.csv, the plots and the HTML report (and the review, if any)."""
        with slicer.util.tryWithErrorDisplay(_("Export failed."), waitCursor=True):
            paths = self.logic.exportResponse(self._parameterNode, self._parameterNode.outputDirectory)
            self.ui.exportStatusLabel.text = _("Written: {files}").format(
                files=", ".join(sorted(os.path.basename(p) for p in paths.values()))
            )


#
# HITITResponseLogic
#


class HITITResponseLogic(ScriptedLoadableModuleLogic):
    """Calls the Slicer-side library ``hitit_slicer.response`` with this application's scene; runs without the widget.

    It holds no algorithm and no copy of the study: the study is the parameter node's study table and
    time points; the last review (for its export) is the library's session, forgotten when the scene closes.
    """

    def __init__(self) -> None:
        """Called when the logic class is instantiated."""
        ScriptedLoadableModuleLogic.__init__(self)
        self.hitit = ModuleLibrary("HITITResponse", "response", "ResponseSession")

    def getParameterNode(self):
        """The module's parameter node, wrapped."""
        return HITITResponseParameterNode(super().getParameterNode())

    # ------------------------------------------------------------------ the study (each one library call)
    def studyTableNode(self, parameterNode):
        """The study table, created with the study columns when there is none."""
        return self.hitit.library().studyTableNode(self.hitit.context(), parameterNode)

    def timepoints(self, parameterNode) -> list:
        """The study's time points in date order."""
        return self.hitit.library().timepoints(parameterNode)

    def lesionIds(self, parameterNode) -> list:
        """Lesion ids of the study table."""
        return self.hitit.library().lesionIds(self.hitit.context(), parameterNode)

    def timepointsFromVolumes(self, parameterNode) -> list:
        """Time points from the loaded volumes (DICOM study date, the date attribute, or a date in the name)."""
        return self.hitit.library().timepointsFromVolumes(
            self.hitit.context(), parameterNode, dicomDatabase=getattr(slicer, "dicomDatabase", None)
        )

    def addOrUpdateLesion(self, parameterNode, lesion) -> None:
        """Add a lesion to the study or update its description."""
        self.hitit.library().addOrUpdateLesion(self.hitit.context(), parameterNode, lesion)

    def removeLesion(self, parameterNode, lesionId) -> None:
        """Remove a lesion's rows from the study."""
        self.hitit.library().removeLesion(self.hitit.context(), parameterNode, lesionId)

    def measurementLine(self, lesionId, timepointId):
        """The line ``<lesion>@<timepoint>`` (created when missing)."""
        return self.hitit.library().measurementLine(self.hitit.context(), lesionId, timepointId)

    def measurementLines(self) -> list:
        """The lines that measure a lesion."""
        return self.hitit.library().measurementLines(self.hitit.context())

    @staticmethod
    def startPlacing(lineNode) -> None:
        """Start placing the points of a line in the views (the line is emptied first)."""
        lineNode.RemoveAllControlPoints()
        markupsLogic = slicer.modules.markups.logic()
        markupsLogic.SetActiveList(lineNode)
        markupsLogic.StartPlaceMode(False)

    def updateStudyFromLines(self, parameterNode, strict=False) -> int:
        """Copy the measurement lines' lengths into the study; returns how many."""
        return self.hitit.library().updateStudyFromLines(self.hitit.context(), parameterNode, strict)

    def measureFromSegment(self, parameterNode, lesionId, timepointId) -> dict:
        """Measure a lesion's segment with the core and store its diameter."""
        return self.hitit.core().measureFromSegment(self.hitit.context(), parameterNode, lesionId, timepointId)

    # ------------------------------------------------------------------ response, files, review
    def responseTableNode(self, parameterNode, criterion):
        """The response table of a criterion, or None."""
        return self.hitit.library().responseTableNode(parameterNode, criterion)

    def computeResponse(self, parameterNode) -> dict:
        """RECIST 1.1, iRECIST and itRECIST of the study: tables and charts; returns the response dict."""
        return self.hitit.core().computeResponse(self.hitit.context(), parameterNode)

    @staticmethod
    def responseSummary(response) -> str:
        """Best overall response per criterion and stream, then the warnings."""
        from hitit_slicer import study_table

        return study_table.responseSummary(response)

    def showChart(self, chartNode) -> None:
        """Show a plot chart in the view layout."""
        if not chartNode:
            raise ValueError(_("Compute the response first."))
        self.hitit.context().moduleLogic("Plots").ShowChartInLayout(chartNode)

    def importStudy(self, parameterNode, path) -> dict:
        """Replace the study by a study file (.json or .csv)."""
        return self.hitit.core().importStudy(self.hitit.context(), parameterNode, path)

    def exportStudy(self, parameterNode, path):
        """Write the study to a file (.json or .csv)."""
        return self.hitit.core().exportStudy(self.hitit.context(), parameterNode, path)

    def exportResponse(self, parameterNode, outDir) -> dict:
        """Write the response outputs and the last review into a new folder inside ``outDir``."""
        return self.hitit.core().exportResponse(self.hitit.context(), parameterNode, self.hitit.session(), outDir)

    def reviewInjection(self, parameterNode) -> dict:
        """Review the injection sites of the plan folder on the selected CT."""
        return self.hitit.core().reviewInjection(self.hitit.context(), parameterNode, self.hitit.session())


#
# HITITResponseTest
#


class HITITResponseTest(ModuleTestMixin, ScriptedLoadableModuleTest):
    """Self-tests: the scenarios of hitit_slicer.scenarios.response (the same the pytest tier runs on Slicer's core
    libraries), here on Slicer's own scene. Each test_* builds its own inputs (no network) and works alone.
    """

    TESTS = (
        "test_StudyFromLinesAndResponse",
        "test_ImportExportStudy",
        "test_MeasureFromSegment",
        "test_ReviewOfARealPlan",
    )

    def test_StudyFromLinesAndResponse(self):
        """Lines of known length -> study table -> RECIST/iRECIST/itRECIST tables and charts;
        a growing line gives PD.
        """
        scenarios, context, workDir = HITITResponseLogic().hitit.selfTest("ResponseSelfTest")
        scenarios.studyFromLinesAndResponse(context, workDir)

    def test_ImportExportStudy(self):
        """The engine's JSON study imported, exported as JSON and CSV, re-imported; the response outputs written."""
        scenarios, context, workDir = HITITResponseLogic().hitit.selfTest("ResponseSelfTest")
        scenarios.importExportStudy(context, workDir)

    def test_MeasureFromSegment(self):
        """An ellipsoid segment: the study gets its longest diameter and the line agrees."""
        scenarios, context, workDir = HITITResponseLogic().hitit.selfTest("ResponseSelfTest")
        scenarios.measureFromSegment(context, workDir)

    def test_ReviewOfARealPlan(self):
        """A real plan of the teaching case and a reviewer's needle line: tip and angle errors, lines, export, scene
        close.
        """
        scenarios, context, workDir = HITITResponseLogic().hitit.selfTest("ResponseSelfTest")
        import hitit_slicer.teaching_case

        files = hitit_slicer.teaching_case.writeTeachingCase(workDir / "case")
        scenarios.reviewOfARealPlan(context, workDir, files)
