"""The Response module's scenarios on a real scene: run by the pytest tier on Slicer's core libraries and by
HITITResponseTest inside Slicer. Each takes the scene's context and a work folder, builds its own inputs
(no network) and raises AssertionError when the workflow does not do what it should.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import slicer

from hitit_slicer import nodes, planner, response, study_table
from hitit_slicer.scenarios import close, raises
from hitit_slicer.teaching_case import loadTeachingCase

#: The response issue's example study (engine format): a nodal target, a non-target and a new lesion.
EXAMPLE_STUDY = {
    "patient": "anonymised id",
    "timepoints": [{"id": "BL", "date": "2026-01-05"}, {"id": "W8", "date": "2026-03-02"}],
    "lesions": [
        {
            "id": "L1",
            "organ": "liver",
            "nodal": False,
            "role": "target",
            "injected_from": "BL",
            "measurements": {"BL": 40.0, "W8": 28.0},
        },
        {
            "id": "N1",
            "organ": "lymph node",
            "nodal": True,
            "role": "target",
            "injected_from": None,
            "measurements": {"BL": 17.0, "W8": "too-small"},
        },
        {
            "id": "P1",
            "organ": "peritoneum",
            "role": "non-target",
            "injected_from": None,
            "status": {"BL": "present", "W8": "present"},
        },
    ],
    "new_lesions": [{"id": "X1", "timepoint": "W8", "organ": "lung", "measurable": True, "measurements": {"W8": 12.0}}],
}


def line(context, name, startRAS, lengthMm, direction=(1.0, 0.0, 0.0)):
    """A line markup of known length along ``direction`` (RAS unit vector) from ``startRAS``."""
    endRAS = np.asarray(startRAS, float) + lengthMm * np.asarray(direction, float)
    return nodes.addLine(context, name, startRAS, endRAS, locked=False)


def twoTimepointStudy(context, parameters):
    """Two volumes dated by name, time points made from them, two target lesions (L1 injected, L2 not)."""
    for name in ("CT baseline 2026-01-05", "CT follow-up 2026-03-02"):
        volumeNode = context.scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name)
        volumeNode.SetAttribute(response.DATE_ATTRIBUTE, name.split()[-1])
    points = response.timepointsFromVolumes(context, parameters)
    assert [t["id"] for t in points] == ["BL", "W8"], points
    response.addOrUpdateLesion(
        context, parameters, {"id": "L1", "role": "target", "organ": "liver", "nodal": False, "injected_from": "BL"}
    )
    response.addOrUpdateLesion(context, parameters, {"id": "L2", "role": "target", "organ": "lung", "nodal": False})
    assert parameters.studyTable.GetNumberOfRows() == 4


def studyFromLinesAndResponse(context, workDir):
    """Lines named <lesion>@<timepoint> -> study table -> RECIST/iRECIST/itRECIST tables and charts; a line that grows
    gives PD.
    """
    parameters = response.ResponseParameters()
    twoTimepointStudy(context, parameters)
    # -35 % in both lesions: sum 60 mm -> 39 mm
    line(context, "L1@BL", [10.0, 20.0, 30.0], 40.0)
    line(context, "L2@BL", [-50.0, 0.0, 0.0], 20.0, (0.0, 0.6, 0.8))
    growing = line(context, "L1@W8", [10.0, 20.0, 30.0], 26.0)
    line(context, "L2@W8", [-50.0, 0.0, 0.0], 13.0, (0.0, 0.0, 1.0))
    assert response.updateStudyFromLines(context, parameters, strict=True) == 4
    study = response.studyDict(context, parameters)
    close(study["lesions"][0]["measurements"]["W8"], 26.0, 1e-4, "L1@W8")
    close(study["lesions"][1]["measurements"]["BL"], 20.0, 1e-4, "L2@BL")

    content = response.computeResponse(context, parameters)
    assert study_table.responseCategory(content, "RECIST1.1", "W8") == "PR"
    assert study_table.responseCategory(content, "iRECIST", "W8") == "iPR"
    assert study_table.responseCategory(content, "itRECIST", "W8", "injected") == "iPR"
    assert study_table.responseCategory(content, "itRECIST", "W8", "non_injected") == "iPR"
    close(
        content["timepoints"][1]["criteria"]["RECIST1.1"]["change_from_baseline_pct"],
        -35.0,
        1e-3,
        "change from baseline",
    )
    for criterion in study_table.CRITERIA:
        table = response.responseTableNode(parameters, criterion)
        columns = [name for name, _ in study_table.RESPONSE_COLUMNS[criterion]]
        assert table.GetNumberOfRows() == 2, criterion  # one row per time point: no header row to edit
        assert table.GetUseColumnTitleAsColumnHeader(), criterion
        assert [table.GetColumnName(i) for i in range(table.GetNumberOfColumns())] == columns
        assert all(table.GetColumnTitle(name) == name for name in columns)
    assert parameters.recistTable.GetCellText(1, 2) == "PR"
    assert json.loads(parameters.responseJson)["timepoints"][1]["id"] == "W8"

    # waterfall: overall, injected and non-injected bars kept apart; spider: 3 stream sums and 2 target lesions
    waterfall, spider = parameters.waterfallChart, parameters.spiderChart
    assert waterfall.GetNumberOfPlotSeriesNodes() == 3 and spider.GetNumberOfPlotSeriesNodes() == 5
    bars = {
        waterfall.GetNthPlotSeriesNode(i).GetAttribute(response.STREAM_ATTRIBUTE): waterfall.GetNthPlotSeriesNode(i)
        for i in range(3)
    }
    assert set(bars) == {"overall", "injected", "non_injected"}
    for stream, series in bars.items():
        assert series.GetPlotType() == slicer.vtkMRMLPlotSeriesNode.PlotTypeBar
        values = slicer.util.arrayFromTableColumn(series.GetTableNode(), series.GetYColumnName())
        close(values[0], -35.0, 1e-3, f"waterfall {stream}")
    streams = {spider.GetNthPlotSeriesNode(i).GetAttribute(response.STREAM_ATTRIBUTE) for i in range(5)}
    assert streams == {"overall", "injected", "non_injected"}

    # moving a line updates the study: L1 26 -> 60 mm gives 73 mm, +21.7 % and +13 mm over the nadir (60) -> PD
    growing.SetNthControlPointPositionWorld(1, 70.0, 20.0, 30.0)
    content = response.computeResponse(context, parameters)
    assert study_table.responseCategory(content, "RECIST1.1", "W8") == "PD"
    assert study_table.responseCategory(content, "itRECIST", "W8", "injected") == "iUPD"
    assert parameters.waterfallChart.GetNumberOfPlotSeriesNodes() == 3  # series replaced, not added
    assert len(nodes.nodesWithAttribute(context, "vtkMRMLPlotSeriesNode", response.CHART_ATTRIBUTE)) == 8

    # a line whose name is not <lesion>@<timepoint> is refused with the expected form when strict
    line(context, "L3@W8@x", [0.0, 0.0, 0.0], 5.0)
    with raises(ValueError, "<lesion>@<timepoint>"):
        response.updateStudyFromLines(context, parameters, strict=True)


def importExportStudy(context, workDir):
    """The core's JSON study imported, exported as JSON and CSV (new files), re-imported equal; response outputs
    written.
    """
    parameters = response.ResponseParameters()
    source = workDir / "study.json"
    source.write_text(json.dumps(EXAMPLE_STUDY), encoding="utf-8")
    imported = response.importStudy(context, parameters, source)
    assert parameters.studyTable.GetNumberOfRows() == 7 and parameters.patient == "anonymised id"
    assert response.studyDict(context, parameters) == imported
    for name in ("exported.json", "exported.csv"):
        path = response.exportStudy(context, parameters, workDir / name)
        response.setStudyDict(
            context,
            parameters,
            {"patient": "", "timepoints": [{"id": "BL", "date": "2020-01-01"}], "lesions": [], "new_lesions": []},
        )
        assert parameters.studyTable.GetNumberOfRows() == 0
        parameters.patient = "anonymised id"
        assert response.importStudy(context, parameters, path) == imported
    with raises(ValueError, "does not exist"):
        response.exportStudy(context, parameters, workDir / "missing" / "study.json")
    with raises(ValueError, "existing study file"):
        response.importStudy(context, parameters, "")

    (workDir / "out").mkdir()
    (workDir / "out" / "response.json").write_text("the user's own file", encoding="utf-8")
    paths = response.exportResponse(context, parameters, response.ResponseSession(context), workDir / "out")
    folder = Path(paths["json"]).parent
    assert folder.parent == workDir / "out"  # a new folder inside the chosen one: the user's files stay
    assert (workDir / "out" / "response.json").read_text(encoding="utf-8") == "the user's own file"
    for key in ("json", "csv", "html", "waterfall_png", "spider_svg"):
        assert Path(paths[key]).is_file() and Path(paths[key]).parent == folder, key
    written = json.loads(Path(paths["json"]).read_text(encoding="utf-8"))
    assert written["timepoints"][1]["criteria"]["RECIST1.1"]["target"] == "PR"
    assert written["timepoints"][1]["criteria"]["RECIST1.1"]["overall"] == "PD"  # the new lesion X1


def measureFromSegment(context, workDir):
    """A 30 mm x 20 mm ellipsoid segment on a 1 mm volume: the study gets its longest diameter and the line agrees."""
    parameters = response.ResponseParameters()
    kk, jj, ii = np.mgrid[0:20, 0:60, 0:60]
    inside = ((ii - 30) / 15.0) ** 2 + ((jj - 30) / 10.0) ** 2 + ((kk - 10) / 6.0) ** 2 <= 1.0
    volumes = []
    for name in ("CT 2026-01-05", "CT 2026-03-02"):
        volumeNode = context.scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name)
        slicer.util.updateVolumeFromArray(volumeNode, np.where(inside, 60, -20).astype(np.int16))
        volumes.append(volumeNode)
    response.timepointsFromVolumes(context, parameters, volumes)
    response.addOrUpdateLesion(context, parameters, {"id": "L1", "role": "target", "organ": "liver"})
    segmentationNode = context.scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "lesions")
    segmentationNode.SetReferenceImageGeometryParameterFromVolumeNode(volumes[0])
    nodes.setSegmentFromMask(context, segmentationNode, "L1", inside, volumes[0])
    parameters.lesionSegmentation = segmentationNode

    result = response.measureFromSegment(context, parameters, "L1", "BL")
    close(result["longestDiameterMm"], 30.0, 2.0, "longest diameter")
    close(result["shortAxisMm"], 20.0, 2.0, "short axis")
    close(
        response.studyDict(context, parameters)["lesions"][0]["measurements"]["BL"],
        result["longestDiameterMm"],
        1e-6,
        "stored",
    )
    lineNode = response.measurementLine(context, "L1", "BL", create=False)
    assert lineNode is not None
    close(lineNode.GetLineLengthWorld(), result["longestDiameterMm"], 1e-3, "line length")
    response.updateStudyFromLines(context, parameters, strict=True)  # the line and the table agree
    close(
        response.studyDict(context, parameters)["lesions"][0]["measurements"]["BL"],
        result["longestDiameterMm"],
        1e-3,
        "after lines",
    )


def reviewOfARealPlan(context, workDir, files):
    """A real plan of the teaching case (its lesion renamed like a seed-grown one, "LesionPoints-1"), exported by the
    Planner; a reviewer's needle line 0.5 mm off the target and tilted 6 degrees: tip and angle errors recovered, the
    planned line and the actual needle shown with the plan's lesion id; the review exported without a study; a scene
    close forgets it.
    """
    case = loadTeachingCase(context, paths=files)
    segmentation = case.lesions.GetSegmentation()
    for index in reversed(range(segmentation.GetNumberOfSegments())):
        segment = segmentation.GetNthSegment(index)
        if segment.GetName() == "L1":
            segment.SetName("LesionPoints-1")
        else:
            segmentation.RemoveSegment(segmentation.GetNthSegmentID(index))
    plannerParameters = planner.PlannerParameters(
        inputVolume=case.ct,
        structuresSegmentation=case.structures,
        lesionsSegmentation=case.lesions,
        protocol="pv10",
        exportDirectory=workDir,
    )
    plannerSession = planner.PlannerSession(context)
    content = planner.plan(context, plannerParameters, plannerSession)
    planFolder = planner.exportPlan(plannerParameters, plannerSession)
    chosen = content["lesions"][0]["trajectories"][0]
    assert content["lesions"][0]["id"] == "LesionPoints-1" and chosen["rank"] == 1

    entry, target = np.asarray(chosen["entry_lps"], float), np.asarray(chosen["target_lps"], float)
    planned = (target - entry) / np.linalg.norm(target - entry)
    side = np.cross(planned, [0.0, 0.0, 1.0])
    side /= np.linalg.norm(side)
    tiltDeg = 6.0
    actual = np.cos(np.radians(tiltDeg)) * planned + np.sin(np.radians(tiltDeg)) * side
    tip = target + np.array([0.5, 0.5, 0.0])
    hub = tip - actual * (np.linalg.norm(target - entry) + 15.0)
    needle = nodes.addLine(
        context, "needle", hub * [-1, -1, 1], tip * [-1, -1, 1], locked=False
    )  # untagged, unnamed lesion

    parameters = response.ResponseParameters(
        planDirectory=planFolder, reviewVolume=case.ct, reviewStructures=case.structures, actualNeedle=needle
    )
    session = response.ResponseSession(context)
    review = response.reviewInjection(context, parameters, session)
    needles = {item["lesion_id"]: item for item in review["needles"]}
    assert set(needles) == {"LesionPoints-1"}, set(needles)
    spacing = max(case.ct.GetSpacing())
    close(needles["LesionPoints-1"]["deviation"]["angle_deg"], tiltDeg, 1.0, "angle")
    close(needles["LesionPoints-1"]["deviation"]["tip_to_target_mm"], float(np.sqrt(0.5)), spacing, "tip to target")
    assert parameters.reviewTable.GetNumberOfRows() == 1 and parameters.reviewTable.GetUseColumnTitleAsColumnHeader()
    shown = {
        role: nodes.nodesWithAttribute(context, "vtkMRMLMarkupsLineNode", response.ROLE_ATTRIBUTE, role)
        for role in (response.ROLE_PLANNED, response.ROLE_ACTUAL)
    }
    assert [n.GetAttribute(response.LESION_ATTRIBUTE) for n in shown[response.ROLE_PLANNED]] == [
        "LesionPoints-1"
    ]  # the chosen one only
    assert [n.GetAttribute(response.LESION_ATTRIBUTE) for n in shown[response.ROLE_ACTUAL]] == ["LesionPoints-1"]
    np.testing.assert_allclose(
        nodes.controlPointsWorld(shown[response.ROLE_PLANNED][0]), np.array([entry, target]) * [-1, -1, 1], atol=0.01
    )

    # no study yet: the export writes the review alone
    (workDir / "response").mkdir()
    paths = response.exportResponse(context, parameters, session, workDir / "response")
    assert paths and all(key.startswith("review_") for key in paths)
    assert json.loads(Path(paths["review_json"]).read_text(encoding="utf-8"))["needles"]

    context.scene.Clear(0)  # File > Close Scene: the review is forgotten with the scene
    assert session.review is None
    with raises(ValueError, "Nothing to export"):
        response.exportResponse(context, response.ResponseParameters(), session, workDir)


#: Every scenario taking ``(context, workDir)``.
SCENE_SCENARIOS = (studyFromLinesAndResponse, importExportStudy, measureFromSegment)
