"""The HITITPlanner workflow on the scene: inputs to the core, the plan back as nodes, live checks, deposits, export.

Every function takes the :class:`~hitit_slicer.context.SlicerContext` and a parameter object: the
module's parameter node wrapper inside Slicer, or :class:`PlannerParameters` elsewhere (same names,
same defaults). The plan computed in this session (the core's in-memory safety model that live
checks need) lives in a :class:`PlannerSession`, which forgets it when the scene is closed.
Core points are LPS mm; nodes get RAS world mm.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import slicer
import vtk

from hitit_slicer import nodes
from hitit_slicer.context import SceneSession, SlicerContext, batched
from hitit_slicer.coordinates import LPS_TO_RAS_MATRIX, lpsFromRAS, rasFromLPS, vtkMatrixFromArray
from hitit_slicer.paths import existingFolder, newOutputFolder

#: Attribute set on every node the Planner creates (its value is the node's role), so that re-planning
#: replaces exactly those nodes.
ROLE_ATTRIBUTE = "HITITPlanner.Role"
#: Attribute naming the lesion a node belongs to (trajectory lines, deposits, accessibility map).
LESION_ATTRIBUTE = "HITITPlanner.Lesion"
ROLE_TRAJECTORY, ROLE_TABLE, ROLE_ACCESSIBILITY, ROLE_DEPOSITS = (
    "trajectory",
    "lesionTable",
    "accessibility",
    "deposits",
)

#: Display colours (RGB 0-1) of trajectories by safety.

#: Structure category of the core's anatomy catalogue -> parameter holding its margin in mm.
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
#: ``contrast`` choices: what the CT header says, or the user's statement (the core's ``--contrast yes|no``).
CONTRAST_FROM_HEADER = "fromHeader"
CONTRAST_CHOICES = (CONTRAST_FROM_HEADER, "yes", "no")
#: Point arrays of the accessibility model that can colour it.
ACCESSIBILITY_SCALARS = ("margin_slack_mm", "score", "length_mm", "feasible")


@dataclasses.dataclass
class PlannerParameters:
    """The Planner's parameters as plain values (the module's parameter node holds the same names and defaults).

    Node-valued fields hold MRML nodes or None; lengths are mm.
    """

    inputVolume: object = None
    structuresSegmentation: object = None
    lesionsSegmentation: object = None
    lesionSeeds: object = None
    autoStructures: bool = True
    protocol: str = ""
    visitNumber: int = 1
    contrast: str = "fromHeader"
    needleLengthMm: float = 150.0
    needleGauge: int = 17
    marginVesselMm: float = 5.0
    marginHeartMm: float = 5.0
    marginHollowOrganMm: float = 5.0
    marginAirwayMm: float = 5.0
    marginNerveMm: float = 5.0
    marginBoneMm: float = 2.0
    marginSolidOrganMm: float = 2.0
    marginBullaMm: float = 5.0
    trajectoriesPerLesion: int = 3
    accessibilityScalar: str = "margin_slack_mm"
    lesionTable: object = None
    checkLine: object = None
    depositTrajectory: object = None
    deposits: object = None
    accessibilityModel: object = None
    exportDirectory: Path = Path()
    planJson: str = ""
    selectedLesion: str = ""
    courseFile: str = ""
    courseVisit: int = 1
    courseChecklistTable: object = None


# --------------------------------------------------------------------- the session's plan
class PlannerSession(SceneSession):
    """The plan computed in this session for one scene, forgotten when that scene closes.

    The core's plan holds the prepared safety model a live line check needs; it is not saved in a
    scene, so after a scene close (or before the first plan) checks are refused rather than judged
    against images that are gone.
    """

    def forget(self) -> None:
        """Drop the in-memory plan and the case it was made from."""
        self.plan, self.case = None, None

    def requirePlan(self, action: str):
        """The in-memory plan; ValueError saying to plan first when there is none."""
        if self.plan is None:
            raise ValueError(
                f"Press Plan first: {action} needs the plan computed in this session "
                "(it is not kept in a saved or closed scene)."
            )
        return self.plan


# --------------------------------------------------------------------- scene -> core
def caseFromNodes(context: SlicerContext, volumeNode, structuresNode, lesionsNode):
    """The core ``Case``: the CT (world LPS grid) and every structure and lesion segment as a mask on it."""
    from hitit.case import Case

    if volumeNode is None or volumeNode.GetImageData() is None:
        raise ValueError("Select a CT volume with image data.")
    if lesionsNode is None or lesionsNode.GetSegmentation().GetNumberOfSegments() == 0:
        raise ValueError("Select a lesion segmentation with at least one segment (or grow lesions from click points).")
    volume = nodes.volumeFromNode(volumeNode)
    structures = nodes.masksFromSegmentation(context, structuresNode, volumeNode)
    lesions = nodes.masksFromSegmentation(context, lesionsNode, volumeNode)
    return Case(volume, structures, lesions)


def planSettings(parameters):
    """The core's plan settings from the parameters (protocol, visit, contrast, needle, margins, trajectories per
    lesion).

    ``contrast`` is ``yes``/``no`` as stated by the user, or :data:`CONTRAST_FROM_HEADER` to let the core
    read the CT file's header; necrosis is assessed only on a contrast-enhanced CT.
    """
    import hitit.plan

    if parameters.contrast not in CONTRAST_CHOICES:
        raise ValueError(f"Contrast is one of {', '.join(CONTRAST_CHOICES)}, not {parameters.contrast!r}.")
    settings = hitit.plan.PlanConfig(
        protocol=parameters.protocol or hitit.plan.PlanConfig().protocol,
        visit=int(parameters.visitNumber),
        contrast=None if parameters.contrast == CONTRAST_FROM_HEADER else parameters.contrast,
        auto_structures=("bone", "lung") if parameters.autoStructures else (),
    )
    return settings.with_overrides(
        needle_length_mm=float(parameters.needleLengthMm),
        gauge=int(parameters.needleGauge),
        top_k=int(parameters.trajectoriesPerLesion),
        margins_mm={category: float(getattr(parameters, name)) for category, name in MARGIN_PARAMETERS.items()},
    )


def defaultProtocol() -> str:
    """The protocol the core plans with when none is chosen."""
    import hitit.plan

    return hitit.plan.PlanConfig().protocol


def availableProtocols() -> list[str]:
    """Drug protocol names the core ships."""
    import hitit.dosing.protocols

    return list(hitit.dosing.protocols.available_protocols())


# --------------------------------------------------------------------- plan -> nodes
def planDict(parameters) -> dict:
    """The stored plan (plan.json content, LPS) of the parameters; an empty dict before planning."""
    return json.loads(parameters.planJson) if parameters.planJson else {}


def plan(context: SlicerContext, parameters, session: PlannerSession, progress=None, cancel=None) -> dict:
    """Plan every lesion and show the result: lesion table, trajectory lines, accessibility map of the selected lesion.

    Re-planning replaces the nodes the Planner made before and nothing else. Returns the plan dict
    (plan.json content, LPS) and stores it in ``planJson``.
    """
    import hitit.plan

    if not parameters.inputVolume or not parameters.structuresSegmentation or not parameters.lesionsSegmentation:
        raise ValueError("Select the CT volume, the critical structures and the lesions.")
    if progress is None:

        def progress(fraction, message=""):
            logging.info(f"HITIT planning {100 * float(fraction):.0f}% {message}")

    case = caseFromNodes(
        context, parameters.inputVolume, parameters.structuresSegmentation, parameters.lesionsSegmentation
    )
    result = hitit.plan.plan_case(case, planSettings(parameters), progress=progress, cancel=cancel)
    return showPlan(context, parameters, session, result, case)


def showPlan(context: SlicerContext, parameters, session: PlannerSession, result, case) -> dict:
    """The core's plan of ``case`` as the Planner's nodes (what :func:`plan` does after the core has planned).

    The session keeps the plan for live checks and export; returns plan.json's content.
    """
    session.plan, session.case = result, case
    content = result.to_dict()
    lesionIds = [lesion["id"] for lesion in content.get("lesions", [])]
    with batched(parameters):
        parameters.planJson = json.dumps(content)
        parameters.lesionTable = updateLesionTable(context, content, parameters.lesionTable)
        showTrajectories(context, content, int(parameters.trajectoriesPerLesion))
        if parameters.deposits is not None:  # the deposits of the previous plan no longer hold
            nodes.removeNodes(context, [parameters.deposits])
            parameters.deposits = None
        if lesionIds and parameters.selectedLesion not in lesionIds:
            parameters.selectedLesion = lesionIds[0]
    if parameters.selectedLesion:
        showAccessibilityMap(context, parameters, session, parameters.selectedLesion)
    return content


def _text(value, digits: int = 1) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float, np.floating, np.integer)):
        return f"{float(value):.{digits}f}"
    return str(value)


def lesionTableRows(content: Mapping) -> tuple[list[str], list[list[str]]]:
    """Column names and rows (strings) of the lesion table: the rows of the plan's ``lesions.csv``."""
    from hitit.plan.lesion_table import LESION_COLUMNS, lesion_rows

    rows = [
        [_text(row.get(column), 2 if column.endswith("_ml") else 1) for column in LESION_COLUMNS]
        for row in lesion_rows(content)
    ]
    return list(LESION_COLUMNS), rows


def updateLesionTable(context: SlicerContext, content: Mapping, tableNode=None):
    """Fill (or create) the lesion table from a plan dict; returns the table node."""
    if tableNode is None:
        tableNode = context.scene.AddNewNodeByClass("vtkMRMLTableNode", "HITIT lesions")
        tableNode.SetAttribute(ROLE_ATTRIBUTE, ROLE_TABLE)
    nodes.writeTable(tableNode, *lesionTableRows(content))
    return tableNode


def plannedLineLesions(content: Mapping) -> dict[str, str]:
    """Lesion id of every planned trajectory by its line name (names are made from ids, never parsed back)."""
    return {line["name"]: line["lesion"] for line in trajectoryLines(content)} if content else {}


def trajectoryLines(content: Mapping, lesionId: str | None = None) -> list[dict]:
    """Planned trajectories as line specs: ``name``, ``lesion``, ``rank``, ``entryRAS``, ``targetRAS``, ``color``,
    ``record``; names and colours are the core's (:mod:`hitit.plan.trajectory_lines`), as in trajectories.mrk.json.
    """
    from hitit.plan.trajectory_lines import trajectory_lines

    return [
        {
            "name": line.name,
            "lesion": line.lesion_id,
            "rank": line.rank,
            "entryRAS": rasFromLPS(line.entry_lps).tolist(),
            "targetRAS": rasFromLPS(line.target_lps).tolist(),
            "color": line.color,
            "record": dict(line.record),
        }
        for line in trajectory_lines(content, lesionId)
    ]


def showTrajectories(context: SlicerContext, content: Mapping, maximumPerLesion: int = 3) -> list:
    """One locked line per planned trajectory up to ``maximumPerLesion`` per lesion, coloured by safety.

    The Planner's previous trajectory lines are removed first; no other line is touched.
    """
    nodes.removeNodes(
        context, nodes.nodesWithAttribute(context, "vtkMRMLMarkupsLineNode", ROLE_ATTRIBUTE, ROLE_TRAJECTORY)
    )
    lineNodes = []
    for line in trajectoryLines(content):
        if line["rank"] > maximumPerLesion:
            continue
        lineNode = nodes.addLine(
            context, line["name"], line["entryRAS"], line["targetRAS"], line["color"], ("entry", "target")
        )
        lineNode.SetAttribute(ROLE_ATTRIBUTE, ROLE_TRAJECTORY)
        lineNode.SetAttribute(LESION_ATTRIBUTE, line["lesion"])
        lineNodes.append(lineNode)
    return lineNodes


def showAccessibilityMap(context: SlicerContext, parameters, session: PlannerSession, lesionId: str):
    """The skin accessibility map of a lesion as a model (RAS), coloured by ``accessibilityScalar``.

    Without a plan in this session (a reopened scene) the saved model is kept as it is.
    """
    if session.plan is None:
        return parameters.accessibilityModel
    polyDataLPS = session.plan.lesion(lesionId).target.accessibility_polydata()
    transform = vtk.vtkTransform()
    transform.SetMatrix(vtkMatrixFromArray(LPS_TO_RAS_MATRIX))
    toRAS = vtk.vtkTransformPolyDataFilter()
    toRAS.SetTransform(transform)
    toRAS.SetInputData(polyDataLPS)
    toRAS.Update()
    modelNode = parameters.accessibilityModel
    if modelNode is None:
        modelNode = context.scene.AddNewNodeByClass("vtkMRMLModelNode")
        modelNode.SetAttribute(ROLE_ATTRIBUTE, ROLE_ACCESSIBILITY)
        modelNode.CreateDefaultDisplayNodes()
        parameters.accessibilityModel = modelNode
    modelNode.SetName(f"{lesionId} skin accessibility")
    modelNode.SetAttribute(LESION_ATTRIBUTE, lesionId)
    modelNode.SetAndObserveMesh(toRAS.GetOutput())
    displayNode = modelNode.GetDisplayNode()
    displayNode.SetAndObserveColorNodeID("vtkMRMLColorTableNodeRainbow")
    displayNode.SetOpacity(0.8)
    colorAccessibilityMap(modelNode, parameters.accessibilityScalar)
    return modelNode


def colorAccessibilityMap(modelNode, scalarName: str) -> None:
    """Colour the accessibility model by one of its point arrays (:data:`ACCESSIBILITY_SCALARS`), at once."""
    if modelNode is None or modelNode.GetDisplayNode() is None:
        return
    if scalarName not in ACCESSIBILITY_SCALARS:
        raise ValueError(f"Colour the skin map by one of {', '.join(ACCESSIBILITY_SCALARS)}, not {scalarName!r}.")
    displayNode = modelNode.GetDisplayNode()
    displayNode.SetActiveScalar(scalarName, vtk.vtkAssignAttribute.POINT_DATA)
    array = modelNode.GetPolyData().GetPointData().GetArray(scalarName) if modelNode.GetPolyData() else None
    if array is not None:
        displayNode.SetScalarRangeFlag(slicer.vtkMRMLDisplayNode.UseDataScalarRange)
    displayNode.SetScalarVisibility(True)


def lesionIdForRow(parameters, row: int) -> str:
    """Lesion id shown in a row of the lesion table ("" if none)."""
    lesions = planDict(parameters).get("lesions", [])
    return lesions[row]["id"] if 0 <= row < len(lesions) else ""


def lesionCenterRAS(parameters, lesionId: str) -> list[float]:
    """World RAS centre of a lesion's segment (to centre the views on it)."""
    segmentationNode = parameters.lesionsSegmentation
    segmentId = segmentationNode.GetSegmentation().GetSegmentIdBySegmentName(lesionId) if segmentationNode else ""
    if not segmentId:
        raise ValueError(f"The lesion segmentation has no segment named {lesionId}.")
    return list(segmentationNode.GetSegmentCenterRAS(segmentId))


# --------------------------------------------------------------------- live line check
def checkLine(session: PlannerSession, lineNode) -> dict:
    """Check a line (first point = skin entry, second = target, world RAS) against this session's safety model.

    The lesion whose rules apply is the line's ``HITITPlanner.Lesion`` attribute, else the lesion
    nearest the tip. Returns :func:`pathCheckSummary` of the core's verdict.
    """
    if lineNode is None or lineNode.GetNumberOfDefinedControlPoints() < 2:
        raise ValueError("Place both points of the line (skin entry, then target).")
    current = session.requirePlan("checking a line")
    pointsRAS = nodes.controlPointsWorld(lineNode)
    lesionId = lineNode.GetAttribute(LESION_ATTRIBUTE) or None
    return pathCheckSummary(current.check_path(lpsFromRAS(pointsRAS[0]), lpsFromRAS(pointsRAS[1]), lesionId).to_dict())


def pathCheckSummary(check: Mapping) -> dict:
    """Display-ready summary of ``PathCheck.to_dict()``: verdict, length, clearances, what blocks, every reason."""
    clearances = check.get("clearance_by_structure_mm") or {}
    return {
        "verdict": "SAFE" if check.get("feasible") else "UNSAFE",
        "feasible": bool(check.get("feasible")),
        "lengthMm": check.get("length_mm"),
        "minClearanceMm": check.get("min_clearance_mm"),
        "closest": sorted(clearances.items(), key=lambda item: item[1])[:5],
        "blocking": list(check.get("blocking") or []),
        "violations": list(check.get("violations") or []),
        "angles": {key: value for key, value in check.items() if key.endswith("angle_deg")},
    }


def formatLineCheck(summary: Mapping) -> str:
    """The text the Planner shows for a line check: verdict, the reasons when unsafe, the closest structures."""
    clearance = f"{float(summary['minClearanceMm']):.1f} mm" if summary.get("minClearanceMm") is not None else "-"
    lines = [
        f"{summary['verdict']}: length {float(summary.get('lengthMm') or 0.0):.1f} mm, minimum clearance {clearance}"
    ]
    if summary.get("blocking"):
        lines.append("Crosses or too close: " + ", ".join(summary["blocking"]))
    lines += [f"- {reason}" for reason in summary.get("violations", [])]
    lines += [f"  {name}: {float(value):.1f} mm" for name, value in summary.get("closest", [])]
    lines += [
        f"  {name.replace('_deg', '').replace('_', ' ')}: {float(value):.0f} deg"
        for name, value in summary.get("angles", {}).items()
        if isinstance(value, (int, float))
    ]
    return "\n".join(lines)


def formatPlanSummary(content: Mapping) -> str:
    """One line: lesions planned and how many have a safe trajectory."""
    lesions = content.get("lesions", [])
    safe = sum(1 for lesion in lesions if any(t.get("feasible") for t in lesion.get("trajectories") or []))
    return f"{len(lesions)} lesions planned, {safe} with a safe trajectory."


# --------------------------------------------------------------------- deposits
def depositPoints(content: Mapping, lesionId: str) -> list[dict]:
    """Deposits of one lesion: RAS position, label with the needle depth from the skin (mm), volume (mL)."""
    points = []
    for lesion in content.get("lesions", []):
        if lesion["id"] != lesionId or not lesion.get("deposits"):
            continue
        deposits = [deposit for path in lesion["deposits"]["paths"] for deposit in path["deposits"]]
        for index, deposit in enumerate(deposits, start=1):
            depth = float(deposit["needle_depth_mm"])
            points.append(
                {
                    "label": f"{lesionId}-D{index} {depth:.0f} mm",
                    "positionRAS": rasFromLPS(deposit["point_lps"]).tolist(),
                    "depthMm": depth,
                    "volumeMl": deposit["volume_ml"],
                }
            )
    return points


def placeDeposits(context: SlicerContext, parameters):
    """The deposits of the lesion of ``depositTrajectory`` as a point list labelled with the depth from the skin."""
    lineNode = parameters.depositTrajectory
    if lineNode is None:
        raise ValueError("Select the trajectory to place the deposits along.")
    content = planDict(parameters)
    lesionId = (
        plannedLineLesions(content).get(lineNode.GetName())
        or lineNode.GetAttribute(LESION_ATTRIBUTE)
        or parameters.selectedLesion
    )
    points = depositPoints(content, lesionId)
    if not points:
        raise ValueError(f"The plan has no deposits for lesion {lesionId}.")
    depositsNode = parameters.deposits
    if depositsNode is None:
        depositsNode = context.scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode")
        depositsNode.SetAttribute(ROLE_ATTRIBUTE, ROLE_DEPOSITS)
        depositsNode.CreateDefaultDisplayNodes()
        parameters.deposits = depositsNode
    depositsNode.SetName(f"{lesionId} deposits")
    depositsNode.SetAttribute(LESION_ATTRIBUTE, lesionId)
    wasModified = depositsNode.StartModify()
    depositsNode.RemoveAllControlPoints()
    for point in points:
        index = depositsNode.AddControlPointWorld(vtk.vtkVector3d(*point["positionRAS"]), point["label"])
        if point["volumeMl"] is not None:
            depositsNode.SetNthControlPointDescription(index, f"{float(point['volumeMl']):.2f} mL")
    depositsNode.SetLocked(True)
    depositsNode.EndModify(wasModified)
    return depositsNode


# --------------------------------------------------------------------- export
def exportPlan(parameters, session: PlannerSession) -> Path:
    """Write the plan folder, as the command line does, into a new folder inside ``exportDirectory``.

    The chosen folder is the user's: HITIT only adds a new plan folder to it and never removes or
    replaces anything there. Returns the written folder.
    """
    import hitit.plan

    current = session.requirePlan("export")
    folder = newOutputFolder(existingFolder(parameters.exportDirectory, "the plan"), "HITIT plan")
    hitit.plan.write_plan(current, session.case, folder)
    return folder


# --------------------------------------------------------------------- lesions from click points
def growLesionsFromSeeds(context: SlicerContext, volumeNode, seedsNode, lesionsNode=None):
    """One lesion segment per control point of ``seedsNode``, grown by the core; returns the segmentation.

    The lesion id is the point's label (``L<n>`` when it has none). Growing again replaces each
    lesion's segment instead of adding a copy.
    """
    from hitit.lesions.segment import grow_lesion_from_seed

    if volumeNode is None or seedsNode is None or seedsNode.GetNumberOfDefinedControlPoints() == 0:
        raise ValueError("Select a CT volume and place one point in each lesion.")
    volume = nodes.volumeFromNode(volumeNode)
    if lesionsNode is None:
        lesionsNode = context.scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Lesions")
        lesionsNode.CreateDefaultDisplayNodes()
    lesionsNode.SetReferenceImageGeometryParameterFromVolumeNode(volumeNode)
    seedsRAS = nodes.controlPointsWorld(seedsNode)
    labels = [
        seedsNode.GetNthControlPointLabel(index)
        for index in range(seedsNode.GetNumberOfControlPoints())
        if seedsNode.GetNthControlPointPositionStatus(index) == slicer.vtkMRMLMarkupsNode.PositionDefined
    ]
    for index, (label, seedRAS) in enumerate(zip(labels, seedsRAS)):
        lesionId = label.strip() or f"L{index + 1}"
        mask = grow_lesion_from_seed(volume, lpsFromRAS(seedRAS), lesion_id=lesionId).mask
        nodes.setSegmentFromMask(context, lesionsNode, lesionId, mask, volumeNode)
    return lesionsNode
