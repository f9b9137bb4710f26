"""The treatment course's per-visit workflow checklist in the scene (no Qt): read, show, tick, save.

The course file (``course.json``) is read and validated by the core (:func:`hitit.course.load_course`), and
written back by the core's writer (:func:`hitit.course.save_course`: atomic, and it replaces only a HITIT
course file). The checklist items and their evidence are the core's shipped checklist (Tselikas et al.,
Clin Cancer Res 2021, doi:10.1158/1078-0432.CCR-19-4073); a visit stores item id -> ticked, an item it does
not list is open.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hitit_slicer import nodes
from hitit_slicer.context import SlicerContext

#: Attribute and value marking the checklist table the library made (so showing it again reuses that node).
ROLE_ATTRIBUTE = "HITIT.Role"
ROLE_CHECKLIST = "courseChecklist"
#: Columns of the checklist table, in order.
CHECKLIST_COLUMNS = ("Phase", "Item", "Done", "Evidence", "Id")
#: How the Done column shows a ticked and an open item (as the core's course report does).
DONE_TEXT, OPEN_TEXT = "yes", "OPEN"


@dataclass(frozen=True)
class ChecklistRow:
    """One checklist item of a visit: id, phase (before / during / after), text, evidence, and whether it is ticked."""

    id: str
    phase: str
    text: str
    evidence: str
    ticked: bool


def loadCourse(path):
    """The course in ``path``, read and validated by the core (``hitit.errors.InputError`` saying what to fix)."""
    from hitit.course import load_course

    return load_course(Path(path))


def courseVisit(course, number: int):
    """Visit ``number`` of the course; ValueError naming the course's visits when it has no such visit."""
    visit = course.visit(int(number))
    if visit is None:
        known = ", ".join(str(v.number) for v in course.visits) or "none"
        raise ValueError(f"the course of {course.patient} has no visit {number}; its visits are {known}")
    return visit


def checklistRows(course, number: int) -> list[ChecklistRow]:
    """The checklist items that apply to visit ``number`` (its agent, first visit or not), in checklist order."""
    from hitit.course.checklist import items_for

    visit = courseVisit(course, number)
    return [
        ChecklistRow(item.id, item.phase, item.text, item.evidence, bool(visit.checklist.get(item.id)))
        for item in items_for(visit.agent, visit.number)
    ]


def checklistTable(rows: list[ChecklistRow]) -> tuple[list[str], list[list[str]]]:
    """Column names and string rows of the checklist table."""
    return list(CHECKLIST_COLUMNS), [
        [row.phase, row.text, DONE_TEXT if row.ticked else OPEN_TEXT, row.evidence, row.id] for row in rows
    ]


def showChecklist(context: SlicerContext, course, number: int, tableNode=None):
    """Fill ``tableNode`` (or the library's checklist table, made if none) with visit ``number``'s checklist."""
    if tableNode is None:
        found = nodes.nodesWithAttribute(context, "vtkMRMLTableNode", ROLE_ATTRIBUTE, ROLE_CHECKLIST)
        tableNode = found[0] if found else context.scene.AddNewNodeByClass("vtkMRMLTableNode", "HITIT course checklist")
        tableNode.SetAttribute(ROLE_ATTRIBUTE, ROLE_CHECKLIST)
    nodes.writeTable(tableNode, *checklistTable(checklistRows(course, number)))
    tableNode.SetLocked(True)  # ticks go through setTicked, which validates and saves them
    return tableNode


def itemIdForRow(tableNode, row: int) -> str:
    """Checklist item id shown in a row of the checklist table ("" outside the table)."""
    columns, rows = nodes.readTable(tableNode)
    if "Id" not in columns or not 0 <= row < len(rows):
        return ""
    return rows[row][columns.index("Id")]


def setTicked(path, number: int, itemIds, ticked: bool = True):
    """Tick (or, ``ticked=False``, open again) checklist items of visit ``number`` in the course file and save it.

    The file is read and validated again first, so what another program wrote since is kept; unknown item
    ids are refused by the core. Returns the saved course.
    """
    from hitit.course import save_course
    from hitit.course.checklist import tick

    course = loadCourse(path)
    visit = courseVisit(course, number)
    itemIds = [str(itemId) for itemId in itemIds]
    visit.checklist = tick(visit.checklist, itemIds if ticked else [], [] if ticked else itemIds)
    save_course(course, Path(path))
    return course


def toggleItem(path, number: int, itemId: str):
    """Tick an open item or open a ticked one (visit ``number``, course file ``path``); returns the saved course."""
    ticked = next((row.ticked for row in checklistRows(loadCourse(path), number) if row.id == itemId), None)
    if ticked is None:
        raise ValueError(f"checklist item {itemId!r} does not apply to visit {number}")
    return setTicked(path, number, [itemId], not ticked)


def writeTeachingCourse(directory) -> Path:
    """Generate the teaching course with the core into ``directory`` (a new or HITIT-owned folder); its course.json."""
    from hitit.course.teaching import write_teaching_course

    return Path(write_teaching_course(directory)["course"])
