"""The Planner's scenarios on a real scene: run by the pytest tier on Slicer's core libraries and by
HITITPlannerTest inside Slicer, so both check the same things.

Each scenario raises AssertionError (or the library's own error) when the Planner does not do what
it should. The read-only ones take a :class:`Planned` teaching case and a work folder.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass

import numpy as np
import slicer
from vtkmodules.util.numpy_support import vtk_to_numpy

from hitit.plan.lesion_table import LESION_COLUMNS
from hitit_slicer import course, nodes, planner, storage
from hitit_slicer.coordinates import vtkMatrixFromArray
from hitit_slicer.scenarios import close, raises
from hitit_slicer.teaching_case import loadTeachingCase


@dataclass
class Planned:
    """A planned teaching case: the scene's context, the loaded nodes, the parameters, the session and plan.json."""

    context: object
    case: object
    parameters: object
    session: object
    content: dict

    def unpack(self) -> tuple:
        """``(context, case, parameters, session, content)``."""
        return self.context, self.case, self.parameters, self.session, self.content


def planTeachingCase(context, files, only=None, **values):
    """Load the teaching case with Slicer's readers and plan it (pv10: every lesion gets injectate and deposits).

    ``only`` keeps just those lesion segments (a quicker plan for the tests that plan again).
    """
    case = loadTeachingCase(context, paths=files)
    if only:
        segmentation = case.lesions.GetSegmentation()
        for name in [
            n
            for n in (segmentation.GetNthSegment(i).GetName() for i in range(segmentation.GetNumberOfSegments()))
            if n not in only
        ]:
            segmentation.RemoveSegment(segmentation.GetSegmentIdBySegmentName(name))
    parameters = planner.PlannerParameters(
        inputVolume=case.ct,
        structuresSegmentation=case.structures,
        lesionsSegmentation=case.lesions,
        protocol="pv10",
        **values,
    )
    session = planner.PlannerSession(context)
    return Planned(context, case, parameters, session, planner.plan(context, parameters, session))


def roleNodes(context, className, role):
    """The nodes of a class the Planner made in a role (``planner.ROLE_*``)."""
    return nodes.nodesWithAttribute(context, className, planner.ROLE_ATTRIBUTE, role)


def trajectoryLinesAreThePlansInRAS(planned, workDir):
    """One locked line per planned trajectory (top 3 per lesion; least-bad ones of a lesion without a safe path),
    named <lesion>-T<rank> (-X<rank> when unsafe), coloured by safety, entry and target in world RAS equal to
    plan.json's LPS converted (0.01 mm).
    """
    from hitit.plan import trajectory_lines as colours

    context, case, parameters, session, content = planned.unpack()
    lines = {node.GetName(): node for node in roleNodes(context, "vtkMRMLMarkupsLineNode", planner.ROLE_TRAJECTORY)}
    expected = {}
    for lesion in content["lesions"]:
        for trajectory in [*lesion["trajectories"], *lesion["least_bad"]]:
            if trajectory["rank"] <= parameters.trajectoriesPerLesion:
                kind = "T" if trajectory["feasible"] else "X"
                expected[f"{lesion['id']}-{kind}{trajectory['rank']}"] = (lesion["id"], trajectory)
    assert expected and set(lines) == set(expected)
    comfortable = content["config"]["planning"]["margin_slack_reference_mm"]
    for name, (lesionId, trajectory) in expected.items():
        node = lines[name]
        points = nodes.controlPointsWorld(node)
        lps = np.array([trajectory["entry_lps"], trajectory["target_lps"]])
        np.testing.assert_allclose(points, lps * [-1, -1, 1], atol=0.01)
        assert node.GetAttribute(planner.LESION_ATTRIBUTE) == lesionId and node.GetLocked()
        color = (
            colours.UNSAFE_COLOR
            if not trajectory["feasible"]
            else (colours.MARGINAL_COLOR if trajectory["margin_slack_mm"] < comfortable else colours.SAFE_COLOR)
        )
        np.testing.assert_allclose(node.GetDisplayNode().GetSelectedColor(), color, atol=1e-6)
    assert any(trajectory["feasible"] for _, trajectory in expected.values())


def bodySurfaceDistanceMm(ct_node, points_ras):
    """Distance (mm) of RAS points to the body surface of the CT (air below -500 HU), from a distance map."""
    import SimpleITK as sitk  # the core's image library, which Slicer ships

    volume = nodes.volumeFromNode(ct_node)
    body = volume.grid.image_from_array((slicer.util.arrayFromVolume(ct_node) > -500).astype(np.uint8))
    distance = sitk.GetArrayFromImage(
        sitk.SignedMaurerDistanceMap(body, insideIsPositive=False, squaredDistance=False, useImageSpacing=True)
    )
    index = np.rint(volume.grid.lps_to_index(np.asarray(points_ras) * [-1, -1, 1])).astype(int)
    index = np.clip(index, 0, np.array(volume.grid.size) - 1)
    return np.abs(distance[index[:, 2], index[:, 1], index[:, 0]])


def accessibilityModelLiesOnTheSkin(planned, workDir):
    """The selected lesion's accessibility map: points on the body surface (within 1.5 voxels), the core's
    per-point arrays, coloured by the chosen array.
    """
    context, case, parameters, session, content = planned.unpack()
    model = parameters.accessibilityModel
    assert model is not None and model.GetAttribute(planner.ROLE_ATTRIBUTE) == planner.ROLE_ACCESSIBILITY
    lesionId = parameters.selectedLesion
    assert lesionId == content["lesions"][0]["id"] and model.GetAttribute(planner.LESION_ATTRIBUTE) == lesionId
    points = vtk_to_numpy(model.GetPolyData().GetPoints().GetData())
    core = session.plan.lesion(lesionId).target.accessibility_polydata()
    np.testing.assert_allclose(points, vtk_to_numpy(core.GetPoints().GetData()) * [-1, -1, 1], atol=1e-3)
    spacing = max(case.ct.GetSpacing())
    assert np.percentile(bodySurfaceDistanceMm(case.ct, points), 99) <= 1.5 * spacing
    data = model.GetPolyData().GetPointData()
    for name in planner.ACCESSIBILITY_SCALARS:
        array = data.GetArray(name)
        assert array is not None and array.GetNumberOfTuples() == len(points)
        np.testing.assert_array_equal(vtk_to_numpy(array), vtk_to_numpy(core.GetPointData().GetArray(name)))
    display = model.GetDisplayNode()
    assert display.GetActiveScalarName() == parameters.accessibilityScalar and display.GetScalarVisibility()


def colouringAppliesAtOnce(planned, workDir):
    """Choosing another array colours the skin map at once (no re-plan); an unknown array is refused by name."""
    context, case, parameters, session, content = planned.unpack()
    planner.colorAccessibilityMap(parameters.accessibilityModel, "score")
    assert parameters.accessibilityModel.GetDisplayNode().GetActiveScalarName() == "score"
    planner.colorAccessibilityMap(parameters.accessibilityModel, parameters.accessibilityScalar)
    with raises(ValueError, "margin_slack_mm"):
        planner.colorAccessibilityMap(parameters.accessibilityModel, "no such array")


def contrastIsReadFromTheCTHeader(planned, workDir):
    """Left to the header, the contrast state is what the teaching CT's NRRD header says (enhanced), and L3's necrotic
    core is measured (truth: 25 % of its volume).
    """
    context, case, parameters, session, content = planned.unpack()
    assert parameters.contrast == planner.CONTRAST_FROM_HEADER and content["config"]["contrast"] is None
    assert content["contrast"]["enhanced"] is True and "NRRD" in content["contrast"]["source"], content["contrast"]
    necrosis = next(lesion for lesion in content["lesions"] if lesion["id"] == "L3")["measurement"]["necrosis"]
    assert necrosis["status"] == "assessed"
    close(necrosis["fraction"], case.truth()["lesions"]["L3"]["necrotic_fraction"], 0.1, "L3 necrotic fraction")


def lesionTableShowsThePlan(planned, workDir):
    """Column names are shown as Slicer column titles (no editable header row), one row per lesion, values from
    plan.json.
    """
    context, case, parameters, session, content = planned.unpack()
    table = parameters.lesionTable
    assert table.GetUseColumnTitleAsColumnHeader() and not table.GetUseFirstColumnAsRowHeader()
    assert [table.GetColumnName(i) for i in range(table.GetNumberOfColumns())] == LESION_COLUMNS
    assert all(table.GetColumnTitle(name) == name for name in LESION_COLUMNS)
    assert table.GetNumberOfRows() == len(content["lesions"])
    column = {name: index for index, name in enumerate(LESION_COLUMNS)}
    for row, lesion in enumerate(content["lesions"]):
        assert table.GetCellText(row, column["id"]) == lesion["id"]
        close(
            float(table.GetCellText(row, column["volume_ml"])),
            lesion["measurement"]["volume_ml"],
            0.005,
            "volume_ml of " + lesion["id"],
        )
        close(
            float(table.GetCellText(row, column["longest_diameter_mm"])),
            lesion["measurement"]["longest_diameter_mm"],
            0.05,
            "longest diameter of " + lesion["id"],
        )


def aortaPath(truth):
    """The teaching case's known unsafe path through the aorta (truth.json, LPS mm)."""
    return next(
        path
        for lesion in truth["lesions"].values()
        for path in lesion["example_paths"]
        if not path["safe"] and "aorta" in path["crosses"]
    )


def lineThroughTheAortaIsUnsafe(planned, workDir):
    """A line drawn along the teaching case's known path through the aorta: UNSAFE, the aorta named, the core's reasons
    shown.
    """
    context, case, parameters, session, content = planned.unpack()
    path = aortaPath(case.truth())
    line = nodes.addLine(
        context,
        "drawn",
        np.multiply(path["entry_lps"], [-1, -1, 1]),
        np.multiply(path["target_lps"], [-1, -1, 1]),
        locked=False,
    )
    summary = planner.checkLine(session, line)
    assert not summary["feasible"] and "aorta" in summary["blocking"]
    assert summary["violations"] and any("aorta" in reason for reason in summary["violations"])
    text = planner.formatLineCheck(summary)
    assert text.startswith("UNSAFE") and all(reason in text for reason in summary["violations"])
    context.scene.RemoveNode(line)


def proposedTrajectoryIsSafe(planned, workDir):
    """Every trajectory the plan proposes (not only the best), drawn as a line: SAFE with the plan's clearance."""
    context, case, parameters, session, content = planned.unpack()
    proposed = [t for lesion in content["lesions"] for t in lesion["trajectories"]]
    assert len(proposed) >= len(content["lesions"]) and all(t["feasible"] for t in proposed)
    for t in proposed:
        line = nodes.addLine(
            context, "drawn", np.multiply(t["entry_lps"], [-1, -1, 1]), np.multiply(t["target_lps"], [-1, -1, 1])
        )
        summary = planner.checkLine(session, line)
        assert summary["feasible"] and not summary["violations"] and not summary["blocking"], (t["rank"], summary)
        close(summary["minClearanceMm"], t["min_clearance_mm"], 0.05, "minimum clearance")
        assert planner.formatLineCheck(summary).startswith("SAFE")
        context.scene.RemoveNode(line)


def everyRuleTheCoreBreaksIsShown(planned, workDir):
    """Lines that keep clear of every structure but break the core's other rules are UNSAFE with those rules named:
    the proposed path lengthened beyond the needle, and a path down the body axis (beyond the axial-angle limit).
    """
    context, case, parameters, session, content = planned.unpack()
    best = next(t for lesion in content["lesions"] for t in lesion["trajectories"] if t["feasible"])
    entry, target = np.asarray(best["entry_lps"], float), np.asarray(best["target_lps"], float)
    outward = (entry - target) / np.linalg.norm(entry - target)
    tooLong = target + outward * (parameters.needleLengthMm + 20.0)
    steep = target + np.array([0.0, 0.0, 60.0])  # straight up the body axis: 90 deg to the axial plane
    for start, words in ((tooLong, "exceeds the usable needle length"), (steep, "angle to the axial plane")):
        line = nodes.addLine(context, "drawn", start * [-1, -1, 1], target * [-1, -1, 1])
        summary = planner.checkLine(session, line)
        assert not summary["feasible"] and any(words in reason for reason in summary["violations"]), summary[
            "violations"
        ]
        text = planner.formatLineCheck(summary)
        assert text.startswith("UNSAFE") and words in text, text
        context.scene.RemoveNode(line)


def depositsAreLabelledByDepth(planned, workDir):
    """Deposits along a planned trajectory: RAS = plan.json LPS converted, label depth = distance from that path's
    entry.
    """
    context, case, parameters, session, content = planned.unpack()
    lesion = next(lesion for lesion in content["lesions"] if lesion.get("deposits"))
    parameters.depositTrajectory = context.scene.GetFirstNodeByName(f"{lesion['id']}-T1")
    deposits = planner.placeDeposits(context, parameters)
    assert parameters.deposits is deposits and deposits.GetAttribute(planner.ROLE_ATTRIBUTE) == planner.ROLE_DEPOSITS
    paths = lesion["deposits"]["paths"]
    expected = [(deposit, path) for path in paths for deposit in path["deposits"]]
    assert deposits.GetNumberOfControlPoints() == len(expected) > 0
    # counted apart from the deposit planner: the injectate in deposits of at most max_deposit_ml, one per path at least
    maxDepositMl = content["config"]["deposits"]["max_deposit_ml"]
    injectateMl = lesion["allocation"]["injectate_ml"]
    assert deposits.GetNumberOfControlPoints() == max(math.ceil(injectateMl / maxDepositMl - 1e-9), len(paths))
    points = nodes.controlPointsWorld(deposits)
    for index, ((deposit, path), point) in enumerate(zip(expected, points)):
        np.testing.assert_allclose(point, np.multiply(deposit["point_lps"], [-1, -1, 1]), atol=0.01)
        label = deposits.GetNthControlPointLabel(index)
        depth = float(label.split()[-2])
        assert label == f"{lesion['id']}-D{index + 1} {depth:.0f} mm"
        entry = path.get("entry_lps") or lesion["trajectories"][0]["entry_lps"]
        close(depth, np.linalg.norm(np.subtract(deposit["point_lps"], entry)), 1.0, label)
        assert deposits.GetNthControlPointDescription(index) == f"{deposit['volume_ml']:.2f} mL"
    assert deposits.GetNthControlPointPositionStatus(0) == slicer.vtkMRMLMarkupsNode.PositionDefined


def exportWritesANewFolder(planned, workDir):
    """The chosen folder (which holds the user's files) keeps them: each export adds a new plan folder in it."""
    context, case, parameters, session, content = planned.unpack()
    chosen = workDir / "my plans"
    chosen.mkdir()
    (chosen / "notes.txt").write_text("the user's own file", encoding="utf-8")
    parameters.exportDirectory = chosen
    first = planner.exportPlan(parameters, session)
    second = planner.exportPlan(parameters, session)
    assert first.parent == chosen and second.parent == chosen and first != second
    assert (chosen / "notes.txt").read_text(encoding="utf-8") == "the user's own file"
    for folder in (first, second):
        written = json.loads((folder / "plan.json").read_text(encoding="utf-8"))
        assert written["frame"] == "LPS" and [lesion["id"] for lesion in written["lesions"]] == [
            lesion["id"] for lesion in content["lesions"]
        ]
        assert (folder / "trajectories.mrk.json").is_file()
    parameters.exportDirectory = workDir / "missing"
    with raises(ValueError, "does not exist"):
        planner.exportPlan(parameters, session)


def exportedFilesLoadWhereThePlanSays(planned, workDir):
    """trajectories.mrk.json (every line), deposits.mrk.json, accessibility_<lesion>.vtp and lesions.seg.nrrd read by
    Slicer's own readers land in RAS where plan.json says (the masks on the CT voxels the plan measured).
    """
    context, case, parameters, session, content = planned.unpack()
    parameters.exportDirectory = workDir
    folder = planner.exportPlan(parameters, session)
    lines = storage.loadMarkups(context, folder / "trajectories.mrk.json")
    expected = {f"{lesion['id']}-T{t['rank']}": t for lesion in content["lesions"] for t in lesion["trajectories"]}
    assert len(lines) == len(expected) > 1
    for line in lines:
        assert line.IsA("vtkMRMLMarkupsLineNode")
        trajectory = expected[line.GetName()]
        np.testing.assert_allclose(
            nodes.controlPointsWorld(line),
            np.array([trajectory["entry_lps"], trajectory["target_lps"]]) * [-1, -1, 1],
            atol=0.01,
        )
    deposits = {
        lesion["id"]: [d["point_lps"] for p in lesion["deposits"]["paths"] for d in p["deposits"]]
        for lesion in content["lesions"]
        if lesion.get("deposits")
    }
    loaded = storage.loadMarkups(context, folder / "deposits.mrk.json")
    all_points = np.concatenate([nodes.controlPointsWorld(node) for node in loaded])
    np.testing.assert_allclose(all_points, np.concatenate(list(deposits.values())) * [-1, -1, 1], atol=0.01)
    for lesion in content["lesions"]:
        model = storage.loadModel(context, folder / f"accessibility_{lesion['id']}.vtp")
        core = session.plan.lesion(lesion["id"]).target.accessibility_polydata()
        np.testing.assert_allclose(
            vtk_to_numpy(model.GetPolyData().GetPoints().GetData()),
            vtk_to_numpy(core.GetPoints().GetData()) * [-1, -1, 1],
            atol=1e-3,
        )
    # the plan's lesion masks: one segment per lesion, on the CT voxels the plan measured
    segmentation = storage.loadSegmentation(context, folder / "lesions.seg.nrrd")
    written = nodes.masksFromSegmentation(context, segmentation, case.ct)
    planned = nodes.masksFromSegmentation(context, parameters.lesionsSegmentation, case.ct)
    assert set(written) == {lesion["id"] for lesion in content["lesions"]}
    voxelMl = float(np.prod(case.ct.GetSpacing())) / 1000.0
    for lesion in content["lesions"]:
        np.testing.assert_array_equal(written[lesion["id"]], planned[lesion["id"]])
        close(written[lesion["id"]].sum() * voxelMl, lesion["measurement"]["volume_ml"], 0.01, f"{lesion['id']} volume")


def statedContrastReachesTheCore(context, files):
    """Contrast stated "no" (the core's --contrast no): the plan records the statement, warns that the header says
    otherwise, and leaves L3's necrosis not assessed (necrosis is non-enhancement, unseen on an unenhanced CT).
    """
    content = planTeachingCase(context, files, only=("L3",), contrast="no").content
    assert content["config"]["contrast"] == "no"
    assert content["contrast"]["enhanced"] is False and "stated by the user" in content["contrast"]["source"]
    assert any("Contrast stated as 'no'" in warning for warning in content["warnings"]), content["warnings"]
    necrosis = content["lesions"][0]["measurement"]["necrosis"]
    assert (
        necrosis["status"] == "not assessed"
        and necrosis["fraction"] is None
        and "not contrast-enhanced" in necrosis["reason"]
    )
    with raises(ValueError, "fromHeader, yes, no"):
        planner.planSettings(planner.PlannerParameters(contrast="maybe"))


def replanningAndClosingTheScene(context, files):
    """Re-planning replaces the Planner's own nodes and no other; closing the scene drops the in-memory plan."""
    case, parameters, session, content = planTeachingCase(
        context, files, only=("L1",), trajectoriesPerLesion=2
    ).unpack()[1:]
    mine = nodes.addLine(context, "my own line", [0, 0, 0], [10, 0, 0])
    myTable = context.scene.AddNewNodeByClass("vtkMRMLTableNode", "my table")
    parameters.depositTrajectory = context.scene.GetFirstNodeByName(f"{content['lesions'][0]['id']}-T1")
    planner.placeDeposits(context, parameters)
    counts = {
        cls: context.scene.GetNumberOfNodesByClass(cls)
        for cls in ("vtkMRMLMarkupsLineNode", "vtkMRMLTableNode", "vtkMRMLModelNode", "vtkMRMLMarkupsFiducialNode")
    }
    table, model = parameters.lesionTable, parameters.accessibilityModel
    again = planner.plan(context, parameters, session)
    assert [lesion["id"] for lesion in again["lesions"]] == [lesion["id"] for lesion in content["lesions"]]
    assert mine.GetScene() is context.scene and nodes.controlPointsWorld(mine).tolist() == [[0, 0, 0], [10, 0, 0]]
    assert myTable.GetScene() is context.scene
    assert parameters.lesionTable is table and parameters.accessibilityModel is model
    assert parameters.deposits is None  # the old plan's deposits are gone with it
    assert (
        context.scene.GetNumberOfNodesByClass("vtkMRMLMarkupsFiducialNode") == counts["vtkMRMLMarkupsFiducialNode"] - 1
    )
    for cls in ("vtkMRMLMarkupsLineNode", "vtkMRMLTableNode", "vtkMRMLModelNode"):
        assert context.scene.GetNumberOfNodesByClass(cls) == counts[cls], cls
    lines = roleNodes(context, "vtkMRMLMarkupsLineNode", planner.ROLE_TRAJECTORY)
    assert all(int(line.GetName().rsplit("-T", 1)[1]) <= 2 for line in lines)

    # closing the scene (File > Close Scene) drops the in-memory plan: a line checked afterwards is refused
    best = again["lesions"][0]["trajectories"][0]
    context.scene.Clear(0)
    assert session.plan is None
    line = nodes.addLine(
        context, "drawn", np.multiply(best["entry_lps"], [-1, -1, 1]), np.multiply(best["target_lps"], [-1, -1, 1])
    )
    with raises(ValueError, "Press Plan first"):
        planner.checkLine(session, line)
    with raises(ValueError, "Press Plan first"):
        planner.exportPlan(parameters, session)


def parentTransformMovesThePlan(context, files, baseline: dict):
    """CT and segmentations under one linear transform (a shift): every trajectory moves with them, in world RAS."""
    shift_ras = np.array([12.5, -7.25, 30.0])
    matrix = np.eye(4)
    matrix[:3, 3] = shift_ras
    case = loadTeachingCase(context, paths=files)
    transform = context.scene.AddNewNodeByClass("vtkMRMLLinearTransformNode", "moved")
    transform.SetMatrixTransformToParent(vtkMatrixFromArray(matrix))
    for node in (case.ct, case.structures, case.lesions):
        node.SetAndObserveTransformNodeID(transform.GetID())
    parameters = planner.PlannerParameters(
        inputVolume=case.ct, structuresSegmentation=case.structures, lesionsSegmentation=case.lesions, protocol="pv10"
    )
    moved = planner.plan(context, parameters, planner.PlannerSession(context))
    original = baseline
    shift_lps = shift_ras * [-1, -1, 1]
    assert [lesion["id"] for lesion in moved["lesions"]] == [lesion["id"] for lesion in original["lesions"]]
    for before, after in zip(original["lesions"], moved["lesions"]):
        assert len(before["trajectories"]) == len(after["trajectories"])
        for t0, t1 in zip(before["trajectories"], after["trajectories"]):
            np.testing.assert_allclose(t1["entry_lps"], np.add(t0["entry_lps"], shift_lps), atol=0.02)
            np.testing.assert_allclose(t1["target_lps"], np.add(t0["target_lps"], shift_lps), atol=0.02)
    line = context.scene.GetFirstNodeByName(f"{moved['lesions'][0]['id']}-T1")
    t = moved["lesions"][0]["trajectories"][0]
    np.testing.assert_allclose(nodes.controlPointsWorld(line)[1], np.multiply(t["target_lps"], [-1, -1, 1]), atol=0.01)


def nonLinearTransformIsRefused(context, files):
    """A CT under a non-linear (grid) transform is refused with the transform's name."""
    case = loadTeachingCase(context, paths=files)
    grid = context.scene.AddNewNodeByClass("vtkMRMLGridTransformNode", "warp")
    case.ct.SetAndObserveTransformNodeID(grid.GetID())
    parameters = planner.PlannerParameters(
        inputVolume=case.ct, structuresSegmentation=case.structures, lesionsSegmentation=case.lesions
    )
    with raises(ValueError, "non-linear transform warp"):
        planner.plan(context, parameters, planner.PlannerSession(context))


def seedGrownLesionsKeepTheirIds(context, files):
    """Click points labelled like Slicer labels them (LesionPoints-1 ...) grow one segment each; a second grow replaces
    them.
    """
    case = loadTeachingCase(context, paths=files)
    truth = case.truth()
    seeds = context.scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "LesionPoints")
    for index, lesion in enumerate(truth["lesions"].values(), start=1):
        seeds.AddControlPoint(*np.multiply(lesion["centre_lps"], [-1, -1, 1]), f"LesionPoints-{index}")
    grown = planner.growLesionsFromSeeds(context, case.ct, seeds)
    names = [f"LesionPoints-{i}" for i in range(1, len(truth["lesions"]) + 1)]
    assert nodes.segmentNames(grown) == names
    first = nodes.masksFromSegmentation(context, grown, case.ct)
    planner.growLesionsFromSeeds(context, case.ct, seeds, grown)
    assert nodes.segmentNames(grown) == names
    again = nodes.masksFromSegmentation(context, grown, case.ct)
    truth_masks = nodes.masksFromSegmentation(context, case.lesions, case.ct)
    for name, lesionId in zip(names, truth["lesions"]):
        np.testing.assert_array_equal(first[name], again[name])
        assert first[name].any()
        assert (first[name] & truth_masks[lesionId]).sum() >= 0.9 * first[name].sum(), name  # grown inside its lesion


def courseChecklistIsShownAndTicked(context, courseFile, workDir):
    """Visit 1's workflow checklist of the teaching course in a table (the core's items for T-VEC at a first visit,
    ticked as the course says, column titles as headers); ticking one open item saves the course through the core,
    which reads it back with that item ticked and nothing else changed; unknown items and visits are refused.
    """
    from hitit.course import load_course
    from hitit.course.checklist import items_for
    from hitit.errors import InputError

    path = workDir / "course.json"
    shutil.copyfile(courseFile, path)  # the shared teaching course stays as generated
    before = load_course(path)
    visit = before.visit(1)
    expected = items_for(visit.agent, 1)
    table = course.showChecklist(context, course.loadCourse(path), 1)
    columns, rows = nodes.readTable(table)
    assert columns == list(course.CHECKLIST_COLUMNS) and table.GetUseColumnTitleAsColumnHeader()
    assert [table.GetColumnTitle(name) for name in columns] == columns
    assert [row[4] for row in rows] == [item.id for item in expected]
    assert [(row[0], row[1], row[3]) for row in rows] == [(item.phase, item.text, item.evidence) for item in expected]
    assert [row[2] for row in rows] == [
        course.DONE_TEXT if visit.checklist.get(i.id) else course.OPEN_TEXT for i in expected
    ]
    openRow = [row[2] for row in rows].index(course.OPEN_TEXT)
    itemId = course.itemIdForRow(table, openRow)
    assert itemId == expected[openRow].id and course.itemIdForRow(table, len(rows)) == ""

    course.toggleItem(path, 1, itemId)
    after = load_course(path)
    assert after.visit(1).checklist[itemId] is True
    wanted = before.to_dict()
    next(e for e in wanted["timeline"] if e.get("number") == 1)["checklist"][itemId] = True
    assert after.to_dict() == wanted, "ticking one item changed something else in the course"
    assert nodes.readTable(course.showChecklist(context, after, 1))[1][openRow][2] == course.DONE_TEXT
    assert nodes.nodesWithAttribute(context, "vtkMRMLTableNode", course.ROLE_ATTRIBUTE, course.ROLE_CHECKLIST) == [
        table
    ]  # shown again in the same table
    course.toggleItem(path, 1, itemId)
    next(e for e in wanted["timeline"] if e.get("number") == 1)["checklist"][itemId] = False  # the core logs it open
    assert load_course(path).to_dict() == wanted and not course.checklistRows(load_course(path), 1)[openRow].ticked

    with raises(InputError, "unknown item"):
        course.setTicked(path, 1, ["no_such_item"])
    with raises(ValueError, "no visit 99; its visits are 1, 2"):
        course.showChecklist(context, after, 99)
    assert load_course(path).to_dict() == wanted  # refusals leave the file as it was
    other = workDir / "other.json"
    other.write_text('{"format": "someone-else"}\n', encoding="utf-8")
    with raises(InputError, "other.json"):
        course.setTicked(other, 1, [itemId])
    assert (
        other.read_text(encoding="utf-8") == '{"format": "someone-else"}\n'
    )  # a file HITIT did not write is left alone


#: Scenarios that only read a planned teaching case (they share one plan).
READ_ONLY = (
    trajectoryLinesAreThePlansInRAS,
    accessibilityModelLiesOnTheSkin,
    colouringAppliesAtOnce,
    contrastIsReadFromTheCTHeader,
    lesionTableShowsThePlan,
    lineThroughTheAortaIsUnsafe,
    proposedTrajectoryIsSafe,
    everyRuleTheCoreBreaksIsShown,
    depositsAreLabelledByDepth,
    exportWritesANewFolder,
    exportedFilesLoadWhereThePlanSays,
)
