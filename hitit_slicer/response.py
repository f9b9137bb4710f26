"""The HITITResponse workflow on the scene: the study (table, time points, measurement lines and segments),
the response by RECIST 1.1, iRECIST and itRECIST as tables and plot charts, study files, and the review of
the injection sites with planned and actual needles.

Every function takes the :class:`~hitit_slicer.context.SlicerContext` and a parameter object (the
module's parameter node wrapper, or :class:`ResponseParameters`). The study itself is the study table
node plus ``timepointsJson``; the last core review, needed to export it, is a :class:`ResponseSession`
that forgets it when the scene closes. Core points are LPS mm; nodes get RAS world mm.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import numpy as np
import slicer

from hitit_slicer import nodes, study_table
from hitit_slicer.context import SceneSession, SlicerContext, batched
from hitit_slicer.coordinates import lpsFromRAS, rasFromLPS
from hitit_slicer.paths import existingFolder, newOutputFolder, pathParameter

#: Attributes set on the nodes the Response module creates or uses.
ROLE_ATTRIBUTE = "HITITResponse.Role"
LESION_ATTRIBUTE = "HITITResponse.Lesion"
TIMEPOINT_ATTRIBUTE = "HITITResponse.Timepoint"
CHART_ATTRIBUTE = "HITITResponse.Chart"
STREAM_ATTRIBUTE = "HITITResponse.Stream"
#: Volume attribute holding a date (YYYY-MM-DD) when the volume has no DICOM study date.
DATE_ATTRIBUTE = "HITITResponse.Date"
#: DICOM Study Date tag, read from the DICOM database for volumes loaded from DICOM.
DICOM_STUDY_DATE_TAG = "0008,0020"
ROLE_STUDY, ROLE_MEASUREMENT, ROLE_REVIEW, ROLE_PLANNED, ROLE_ACTUAL = (
    "study",
    "measurement",
    "review",
    "planned",
    "actualNeedle",
)
PLANNED_COLOR, ACTUAL_COLOR = (0.2, 0.4, 1.0), (0.95, 0.15, 0.15)


@dataclasses.dataclass
class ResponseParameters:
    """The Response module's parameters as plain values (the module's parameter node holds the same names and
    defaults).
    """

    patient: str = ""
    timepointsJson: str = ""
    studyTable: object = None
    lesionId: str = ""
    lesionRole: str = "target"
    lesionOrgan: str = ""
    lesionNodal: bool = False
    lesionMeasurable: bool = True
    lesionInjectedFrom: str = ""
    lesionAppearsAt: str = ""
    selectedTimepoint: str = ""
    selectedLesion: str = ""
    lesionSegmentation: object = None
    warnBaseline: bool = False
    shownCriterion: str = "itRECIST"
    recistTable: object = None
    irecistTable: object = None
    itrecistTable: object = None
    waterfallChart: object = None
    spiderChart: object = None
    responseJson: str = ""
    planDirectory: Path = Path()
    reviewVolume: object = None
    reviewStructures: object = None
    reviewLesions: object = None
    actualNeedle: object = None
    postInjectionVolume: object = None
    injectionLog: str = ""
    samplingLog: str = ""
    reviewTable: object = None
    reviewJson: str = ""
    studyFile: str = ""
    outputDirectory: Path = Path()


class ResponseSession(SceneSession):
    """The last core review of this scene (its export needs the core object), forgotten when the scene closes."""

    def forget(self) -> None:
        """Drop the last review."""
        self.review = None


# --------------------------------------------------------------------- the study in the scene
def _roleTable(context: SlicerContext, tableNode, role: str, name: str):
    if tableNode is None:
        tableNode = context.scene.AddNewNodeByClass("vtkMRMLTableNode", name)
        tableNode.SetAttribute(ROLE_ATTRIBUTE, role)
    return tableNode


def studyTableNode(context: SlicerContext, parameters):
    """The study table of the parameters, created with the study columns when there is none."""
    if parameters.studyTable is None:
        tableNode = _roleTable(context, None, ROLE_STUDY, "HITIT study")
        nodes.writeTable(tableNode, list(study_table.STUDY_COLUMNS), [])
        parameters.studyTable = tableNode
    return parameters.studyTable


def studyRows(context: SlicerContext, parameters) -> tuple[list[str], list[list[str]]]:
    """Columns and rows of the study table (the study columns when it is empty)."""
    columns, rows = nodes.readTable(studyTableNode(context, parameters))
    return (columns or list(study_table.STUDY_COLUMNS)), rows


def _setStudyRows(context: SlicerContext, parameters, columns, rows) -> bool:
    """Write the study rows if they changed; True when the table was rewritten."""
    if nodes.readTable(studyTableNode(context, parameters)) == (list(columns), [list(row) for row in rows]):
        return False
    nodes.writeTable(studyTableNode(context, parameters), columns, rows)
    return True


def timepoints(parameters) -> list[dict]:
    """The study's time points ``[{"id", "date", "volume"}]`` in date order."""
    return json.loads(parameters.timepointsJson) if parameters is not None and parameters.timepointsJson else []


def lesionIds(context: SlicerContext, parameters) -> list[str]:
    """Lesion ids of the study table, in table order."""
    if parameters is None or parameters.studyTable is None:
        return []
    return study_table.lesionIds(*studyRows(context, parameters))


def setTimepoints(context: SlicerContext, parameters, points) -> None:
    """Set the time points (ids and ISO dates, in date order) and add or remove their table rows."""
    points = [{"id": str(t["id"]), "date": str(t["date"]), "volume": t.get("volume", "")} for t in points]
    study_table.timepointIdsFromDates([t["date"] for t in points])  # the dates must increase
    columns, rows = studyRows(context, parameters)
    rows = study_table.syncTimepoints(columns, rows, points) if rows else rows
    with batched(parameters):
        parameters.timepointsJson = json.dumps(points)
        _setStudyRows(context, parameters, columns, rows)


def volumeStudyDate(volumeNode, dicomDatabase=None) -> str | None:
    """ISO date of a volume: DICOM Study Date (when loaded from DICOM), else ``HITITResponse.Date``, else a date in its
    name.
    """
    uids = (volumeNode.GetAttribute("DICOM.instanceUIDs") or "").split()
    if uids and dicomDatabase is not None:
        date = study_table.isoDateFromDicom(dicomDatabase.instanceValue(uids[0], DICOM_STUDY_DATE_TAG))
        if date:
            return date
    return study_table.dateFromText(volumeNode.GetAttribute(DATE_ATTRIBUTE) or "") or study_table.dateFromText(
        volumeNode.GetName()
    )


def timepointsFromVolumes(context: SlicerContext, parameters, volumeNodes=None, dicomDatabase=None) -> list[dict]:
    """Time points from volumes (every scalar volume of the scene by default), one per date; tags each volume."""
    if volumeNodes is None:
        volumeNodes = [
            node
            for node in context.nodesByClass("vtkMRMLScalarVolumeNode")
            if not node.IsA("vtkMRMLLabelMapVolumeNode")
        ]
    if not volumeNodes:
        raise ValueError("Load the volumes of every time point first.")
    records = [{"name": node.GetName(), "date": volumeStudyDate(node, dicomDatabase)} for node in volumeNodes]
    points = study_table.timepointsFromVolumeDates(records)
    byDate = {t["date"]: t["id"] for t in points}
    for node, record in zip(volumeNodes, records):
        node.SetAttribute(TIMEPOINT_ATTRIBUTE, byDate[record["date"]])
    setTimepoints(context, parameters, points)
    return points


def timepointVolume(context: SlicerContext, timepointId: str):
    """The volume tagged with a time point (by :func:`timepointsFromVolumes`), or None."""
    tagged = nodes.nodesWithAttribute(context, "vtkMRMLScalarVolumeNode", TIMEPOINT_ATTRIBUTE, timepointId)
    return tagged[0] if tagged else None


def addOrUpdateLesion(context: SlicerContext, parameters, lesion: dict) -> None:
    """Add a lesion (rows at its time points) or update its description, keeping its measurements.

    ``lesion`` keys: ``id``, ``role``, ``organ``, ``nodal``, ``injected_from``, ``appears_at``,
    ``measurable``, ``description`` (see :func:`hitit_slicer.study_table.lesionRowsFor`).
    """
    points = timepoints(parameters)
    if not points:
        raise ValueError("Make the time points first (from the loaded volumes, or import a study).")
    columns, rows = studyRows(context, parameters)
    _setStudyRows(context, parameters, columns, study_table.upsertLesion(columns, rows, lesion, points))


def removeLesion(context: SlicerContext, parameters, lesionId: str) -> None:
    """Remove a lesion's rows from the study (its lines stay in the scene)."""
    columns, rows = studyRows(context, parameters)
    _setStudyRows(context, parameters, columns, study_table.removeLesion(columns, rows, lesionId))


def studyDict(context: SlicerContext, parameters) -> dict:
    """The study (the core's JSON format) from the study table, time points and patient."""
    columns, rows = studyRows(context, parameters)
    points = [{"id": t["id"], "date": t["date"]} for t in timepoints(parameters)]
    return study_table.studyDictFromRows(columns, rows, points or None, patient=parameters.patient)


def setStudyDict(context: SlicerContext, parameters, study: dict) -> None:
    """Replace the study in the scene (table, time points, patient) by a study dict."""
    columns, rows = study_table.studyRowsFromDict(study)
    with batched(parameters):
        parameters.patient = study.get("patient", "")
        parameters.timepointsJson = json.dumps(
            [{"id": t["id"], "date": t["date"], "volume": ""} for t in study["timepoints"]]
        )
        _setStudyRows(context, parameters, columns, rows)


# --------------------------------------------------------------------- measuring
def measurementLine(context: SlicerContext, lesionId: str, timepointId: str, create: bool = True):
    """The line markup ``<lesion>@<timepoint>``; created (empty, tagged) when missing and ``create``."""
    name = study_table.lineNodeName(lesionId, timepointId)
    for lineNode in context.nodesByClass("vtkMRMLMarkupsLineNode"):
        if lineNode.GetName() == name:
            return lineNode
    if not create:
        return None
    lineNode = context.scene.AddNewNodeByClass("vtkMRMLMarkupsLineNode", name)
    lineNode.SetAttribute(ROLE_ATTRIBUTE, ROLE_MEASUREMENT)
    lineNode.SetAttribute(LESION_ATTRIBUTE, lesionId)
    lineNode.SetAttribute(TIMEPOINT_ATTRIBUTE, timepointId)
    lineNode.CreateDefaultDisplayNodes()
    return lineNode


def measurementLines(context: SlicerContext) -> list:
    """Line markups that measure a lesion: tagged by this module or named ``<lesion>@<timepoint>``."""
    return [
        node
        for node in context.nodesByClass("vtkMRMLMarkupsLineNode")
        if node.GetAttribute(ROLE_ATTRIBUTE) == ROLE_MEASUREMENT or study_table.NAME_SEPARATOR in (node.GetName() or "")
    ]


def lineLengths(context: SlicerContext, strict: bool = False) -> dict:
    """``{(lesion, time point): length mm}`` of the complete measurement lines (world coordinates).

    Lines whose name does not parse are skipped with a warning, or raise ValueError when ``strict``.
    """
    lengths = {}
    for lineNode in measurementLines(context):
        if lineNode.GetNumberOfDefinedControlPoints() != 2:
            continue
        try:
            key = study_table.parseLineNodeName(lineNode.GetName())
        except ValueError:
            if strict:
                raise
            logging.warning(f"HITITResponse: line {lineNode.GetName()!r} is not named <lesion>@<timepoint>; ignored")
            continue
        lengths[key] = study_table.lineLengthMm(nodes.controlPointsWorld(lineNode))
    return lengths


def updateStudyFromLines(context: SlicerContext, parameters, strict: bool = False) -> int:
    """Copy the length of every complete measurement line into the study table; returns how many.

    With ``strict`` a line naming a lesion or time point not in the study raises ValueError;
    otherwise such lines are skipped with a warning.
    """
    columns, rows = studyRows(context, parameters)
    lengths = lineLengths(context, strict)
    known = {(row[columns.index("Lesion")], row[columns.index("Time point")]) for row in rows}
    unknown = sorted(key for key in lengths if key not in known)
    if unknown and strict:
        study_table.applyMeasurements(columns, rows, {unknown[0]: lengths[unknown[0]]})  # raises, naming the line
    for key in unknown:
        logging.warning(f"HITITResponse: line {study_table.lineNodeName(*key)} has no study row; ignored")
        lengths.pop(key)
    _setStudyRows(context, parameters, columns, study_table.applyMeasurements(columns, rows, lengths))
    return len(lengths)


def measureFromSegment(context: SlicerContext, parameters, lesionId: str, timepointId: str, volumeNode=None) -> dict:
    """Measure the segment named ``lesionId`` on the time point's volume with the core and store its diameter.

    The diameter is the short axis for a node and the longest diameter otherwise (RECIST 1.1). For
    a non-nodal lesion the line ``<lesion>@<timepoint>`` is placed along the longest diameter with
    that length, so the line and the table agree. Returns the measured values (mm).
    """
    from hitit.lesions.measure import measure_lesion
    from hitit.lesions.segment import Lesion

    segmentationNode = parameters.lesionSegmentation
    if segmentationNode is None:
        raise ValueError("Select the segmentation that holds the lesion segments.")
    segmentId = segmentationNode.GetSegmentation().GetSegmentIdBySegmentName(lesionId)
    if not segmentId:
        raise ValueError(f"The segmentation has no segment named {lesionId}.")
    volumeNode = volumeNode or timepointVolume(context, timepointId)
    if volumeNode is None:
        raise ValueError(f"No volume is tagged with time point {timepointId}: make the time points from the volumes.")
    columns, rows = studyRows(context, parameters)
    nodal = study_table.lesionAttributes(columns, rows, lesionId)["nodal"]
    volume = nodes.volumeFromNode(volumeNode)
    mask = nodes.segmentMask(context, segmentationNode, segmentId, volumeNode)
    if not mask.any():
        raise ValueError(f"Segment {lesionId} is empty on the volume of {timepointId}.")
    measurement = measure_lesion(Lesion(lesion_id=lesionId, mask=mask, nodal=bool(nodal)), volume.grid, hu=volume.array)
    longest, shortAxis = float(measurement.longest_diameter_mm), float(measurement.short_axis_mm)
    diameter = shortAxis if nodal else longest
    if not nodal:
        endsRAS = rasFromLPS(measurement.ld_endpoints_lps)
        centre, half = endsRAS.mean(axis=0), (endsRAS[1] - endsRAS[0]) / 2.0
        halfLength = float(np.linalg.norm(half))
        if halfLength > 0:
            half = half * (longest / 2.0 / halfLength)
        lineNode = measurementLine(context, lesionId, timepointId)
        wasModified = lineNode.StartModify()
        lineNode.RemoveAllControlPoints()
        for point in (centre - half, centre + half):
            lineNode.AddControlPointWorld(*point.tolist())
        lineNode.EndModify(wasModified)
    _setStudyRows(
        context, parameters, columns, study_table.applyMeasurements(columns, rows, {(lesionId, timepointId): diameter})
    )
    return {"diameterMm": diameter, "longestDiameterMm": longest, "shortAxisMm": shortAxis, "nodal": nodal}


# --------------------------------------------------------------------- response
def responseTableNode(parameters, criterion: str):
    """The response table node of a criterion (RECIST1.1, iRECIST, itRECIST), or None."""
    if parameters is None:
        return None
    return {
        study_table.RECIST_NAME: parameters.recistTable,
        study_table.IRECIST_NAME: parameters.irecistTable,
        study_table.ITRECIST_NAME: parameters.itrecistTable,
    }.get(criterion)


def evaluate(context: SlicerContext, parameters):
    """The core's StudyResponse of the study in the scene (the lines' lengths copied into the study first)."""
    import hitit.response

    updateStudyFromLines(context, parameters)
    study = hitit.response.study_from_dict(studyDict(context, parameters))
    return hitit.response.evaluate_study(study, warn_baseline=bool(parameters.warnBaseline))


def computeResponse(context: SlicerContext, parameters) -> dict:
    """The response by the three criteria: tables, waterfall and spider charts, ``responseJson``.

    Returns the response dict (``StudyResponse.to_dict()``); raises the core's InputError for an invalid study.
    """
    import hitit.response.plots

    response = evaluate(context, parameters)
    content = response.to_dict()
    tables = study_table.responseTables(content)
    with batched(parameters):
        parameters.responseJson = json.dumps(content)
        for criterion, name in (
            (study_table.RECIST_NAME, "recistTable"),
            (study_table.IRECIST_NAME, "irecistTable"),
            (study_table.ITRECIST_NAME, "itrecistTable"),
        ):
            tableNode = _roleTable(
                context, getattr(parameters, name), f"response {criterion}", f"HITIT response {criterion}"
            )
            nodes.writeTable(tableNode, *tables[criterion])
            setattr(parameters, name, tableNode)
        parameters.waterfallChart = updateChart(
            context,
            parameters.waterfallChart,
            "waterfall",
            "HITIT waterfall",
            study_table.waterfallSeries(hitit.response.plots.waterfall_data(response.itrecist)),
            slicer.vtkMRMLPlotSeriesNode.PlotTypeBar,
            "Lesion group",
            "Best change of target sum (%)",
        )
        parameters.spiderChart = updateChart(
            context,
            parameters.spiderChart,
            "spider",
            "HITIT spider",
            study_table.spiderSeries(
                hitit.response.plots.spider_data(response.study, response.itrecist),
                study_table.injectedLesionIds(response.study.to_dict()),
            ),
            slicer.vtkMRMLPlotSeriesNode.PlotTypeScatter,
            "Weeks since baseline",
            "Change from baseline (%)",
        )
    return content


def updateChart(
    context: SlicerContext, chartNode, chartRole: str, title: str, seriesSpecs, plotType: int, xTitle: str, yTitle: str
):
    """Replace a chart's series (each with its own table) by ``seriesSpecs``; returns the chart node."""
    if chartNode is None:
        chartNode = context.scene.AddNewNodeByClass("vtkMRMLPlotChartNode", title)
        chartNode.SetAttribute(ROLE_ATTRIBUTE, "chart")
    chartNode.RemoveAllPlotSeriesNodeIDs()
    for className in ("vtkMRMLPlotSeriesNode", "vtkMRMLTableNode"):
        nodes.removeNodes(context, nodes.nodesWithAttribute(context, className, CHART_ATTRIBUTE, chartRole))
    chartNode.SetTitle(title)
    chartNode.SetXAxisTitle(xTitle)
    chartNode.SetYAxisTitle(yTitle)
    chartNode.SetLegendVisibility(True)
    for spec in seriesSpecs:
        tableNode = context.scene.AddNewNodeByClass("vtkMRMLTableNode", f"{title} {spec['name']}")
        tableNode.SetAttribute(CHART_ATTRIBUTE, chartRole)
        slicer.util.updateTableFromArray(
            tableNode, [np.asarray(spec["x"], dtype=float), np.asarray(spec["y"], dtype=float)], [xTitle, yTitle]
        )
        seriesNode = context.scene.AddNewNodeByClass("vtkMRMLPlotSeriesNode", spec["name"])
        seriesNode.SetAttribute(CHART_ATTRIBUTE, chartRole)
        seriesNode.SetAttribute(STREAM_ATTRIBUTE, spec["stream"])
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


# --------------------------------------------------------------------- study files
def importStudy(context: SlicerContext, parameters, path) -> dict:
    """Replace the study in the scene by a study file, ``.json`` (the core's format) or ``.csv`` (the study table).

    The study is validated by the core either way; returns the study dict.
    """
    import hitit.response

    path = pathParameter(path)
    if path is None or not path.is_file():
        raise ValueError("Choose an existing study file (.json or .csv).")
    if path.suffix.lower() == ".csv":
        columns, rows = study_table.studyRowsFromCsvText(path.read_text(encoding="utf-8"))
        study = hitit.response.study_from_dict(
            study_table.studyDictFromRows(columns, rows, patient=parameters.patient)
        ).to_dict()
    else:
        study = hitit.response.load_study(path).to_dict()
    setStudyDict(context, parameters, study)
    return study


def exportStudy(context: SlicerContext, parameters, path) -> Path:
    """Write the study to ``path`` (a new or a HITIT study file): ``.csv`` as the study table, else the core's JSON."""
    import hitit.response
    from hitit.io.atomic import write_text_atomic

    path = pathParameter(path)
    if path is None:
        raise ValueError("Choose the study file to write (.json or .csv).")
    if not path.parent.is_dir():
        raise ValueError(f"The folder {path.parent} does not exist: choose a study file in an existing folder.")
    if path.suffix.lower() == ".csv":
        text = study_table.studyCsvText(*studyRows(context, parameters))
    else:
        text = json.dumps(hitit.response.study_from_dict(studyDict(context, parameters)).to_dict(), indent=2) + "\n"
    write_text_atomic(path, text)
    return path


def exportResponse(context: SlicerContext, parameters, session: ResponseSession, outDir) -> dict:
    """Write the response outputs (JSON, CSV, plots, HTML) and the last review into a new folder inside ``outDir``.

    The response is computed from the study in the scene when the study has time points and rows;
    a review made without a study is written on its own (``review/``). Returns the paths by name.
    """
    import hitit.response
    import hitit.review.visit

    parent = existingFolder(outDir, "the response")
    hasStudy = bool(timepoints(parameters)) and bool(studyRows(context, parameters)[1])
    if not hasStudy and session.review is None:
        raise ValueError(
            "Nothing to export yet: build a study (time points and lesions) or review the injection sites first."
        )
    folder = newOutputFolder(parent, "HITIT response")
    paths = {}
    if hasStudy:
        paths.update(
            {
                key: str(value)
                for key, value in hitit.response.write_outputs(evaluate(context, parameters), folder).items()
            }
        )
    if session.review is not None:
        written = hitit.review.visit.write_review(session.review, folder / "review")
        paths.update({f"review_{key}": str(value) for key, value in written.items()})
    return paths


# --------------------------------------------------------------------- injection-site review
def _showLine(context: SlicerContext, name: str, role: str, lesionId: str, startRAS, endRAS, color):
    """A locked line markup of a role (the module's previous line of that role and name is replaced)."""
    for node in nodes.nodesWithAttribute(context, "vtkMRMLMarkupsLineNode", ROLE_ATTRIBUTE, role):
        if node.GetName() == name:
            nodes.removeNodes(context, [node])
    lineNode = nodes.addLine(context, name, startRAS, endRAS, color)
    lineNode.SetAttribute(ROLE_ATTRIBUTE, role)
    lineNode.SetAttribute(LESION_ATTRIBUTE, lesionId)
    return lineNode


def plannedLines(plan) -> list[dict]:
    """Each lesion's chosen planned trajectory (the one the review compares with) as a RAS line spec;
    ``plan`` is a :class:`hitit.plan.plan_file.PlanFile`.
    """
    return [
        {
            "name": f"{lesion.id} planned",
            "lesion": lesion.id,
            "entryRAS": rasFromLPS(lesion.chosen.entry_lps).tolist(),
            "targetRAS": rasFromLPS(lesion.chosen.target_lps).tolist(),
        }
        for lesion in plan.lesions
        if lesion.chosen is not None
    ]


def needleLesionId(plan, lineNode) -> str:
    """The plan lesion a reviewer's needle line is for: its ``HITITResponse.Lesion`` attribute when that is a lesion
    of the plan, else the lesion whose planned target is nearest the line's tip. Never parsed from the node name.
    """
    lesions = [lesion for lesion in plan.lesions if lesion.chosen is not None]
    tagged = lineNode.GetAttribute(LESION_ATTRIBUTE)
    if tagged and any(lesion.id == tagged for lesion in lesions):
        return tagged
    if not lesions:
        raise ValueError("The plan has no lesion with a planned trajectory to compare the needle with.")
    tipLPS = lpsFromRAS(nodes.controlPointsWorld(lineNode)[-1])
    return min(lesions, key=lambda lesion: float(np.linalg.norm(lesion.chosen.target_lps - tipLPS))).id


def reviewInjection(context: SlicerContext, parameters, session: ResponseSession) -> dict:
    """Review the injection sites: the plan folder's plan.json against the needle(s) on the intraprocedural CT.

    The planned (chosen) trajectories and the actual needles are shown as lines; the needle table and
    ``reviewJson`` are filled. The needle is the ``actualNeedle`` line when set (its lesion from the
    plan, see :func:`needleLesionId`), else the core detects it in the CT. Returns ``Review.to_dict()`` (LPS).
    """
    import hitit.io.markups
    import hitit.plan.plan_file
    import hitit.review.visit
    import hitit.review.sampling_log
    import hitit.review.volumes

    planDirectory = pathParameter(parameters.planDirectory)
    if planDirectory is None or not (planDirectory / "plan.json").is_file():
        raise ValueError("Choose a plan folder that holds plan.json (written by the HITIT planner).")
    if parameters.reviewVolume is None:
        raise ValueError("Select the intraprocedural CT (with the needle in place).")
    plan = hitit.plan.plan_file.load_plan(planDirectory)
    ctNode = parameters.reviewVolume
    ct = nodes.volumeFromNode(ctNode)
    masks = nodes.masksFromSegmentation(context, parameters.reviewStructures, ctNode)
    masks.update(nodes.masksFromSegmentation(context, parameters.reviewLesions, ctNode))
    needles = []
    if parameters.actualNeedle is not None:
        if parameters.actualNeedle.GetNumberOfDefinedControlPoints() != 2:
            raise ValueError("Place both points of the needle line (hub, then tip).")
        needles.append(
            hitit.io.markups.Markup(
                "line",
                needleLesionId(plan, parameters.actualNeedle),
                lpsFromRAS(nodes.controlPointsWorld(parameters.actualNeedle)),
            )
        )
    postCT = (
        nodes.volumeFromNode(parameters.postInjectionVolume) if parameters.postInjectionVolume is not None else None
    )
    injectionLog, samplingLog = pathParameter(parameters.injectionLog), pathParameter(parameters.samplingLog)
    review = hitit.review.visit.review_visit(
        plan,
        ct,
        structures=masks,
        needle_markup=needles or None,
        post_ct=postCT,
        injection_log=hitit.review.volumes.read_injection_log(injectionLog) if injectionLog else None,
        sampling_log=hitit.review.sampling_log.read_sampling_log(samplingLog) if samplingLog else None,
    )
    session.review = review
    reviewDict = json.loads(json.dumps(review.to_dict()))
    for line in plannedLines(plan):
        _showLine(
            context, line["name"], ROLE_PLANNED, line["lesion"], line["entryRAS"], line["targetRAS"], PLANNED_COLOR
        )
    for needle in reviewDict.get("needles", []):
        record = needle.get("needle") or {}
        _showLine(
            context,
            f"{needle['lesion_id']} actual needle",
            ROLE_ACTUAL,
            str(needle["lesion_id"]),
            rasFromLPS(record["hub_lps"]),
            rasFromLPS(record["tip_lps"]),
            ACTUAL_COLOR,
        )
    with batched(parameters):
        parameters.reviewJson = json.dumps(reviewDict)
        parameters.reviewTable = _roleTable(context, parameters.reviewTable, ROLE_REVIEW, "HITIT needle review")
        nodes.writeTable(parameters.reviewTable, *study_table.reviewTableRows(reviewDict))
    return reviewDict
