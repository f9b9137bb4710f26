"""Scene nodes to the core's objects and back: volumes, segmentations, markups, tables, node roles.

Geometry is taken in world coordinates: a volume under a linear parent transform is given to the
core where the transform places it, so what HITIT computes lands where the user sees the CT.
"""

from __future__ import annotations

import numpy as np
import slicer
import vtk

from hitit_slicer.context import SlicerContext
from hitit_slicer.coordinates import arrayFromVTKMatrix


# --------------------------------------------------------------------- transforms and volumes
def nodeToWorldMatrix(node) -> np.ndarray:
    """4x4 matrix from a transformable node's own coordinates to world RAS; ValueError for a non-linear transform."""
    transformNode = node.GetParentTransformNode()
    if transformNode is None:
        return np.eye(4)
    if not transformNode.IsTransformToWorldLinear():
        raise ValueError(
            f"{node.GetName()} is under the non-linear transform {transformNode.GetName()}: "
            "harden the transform on it first (Transforms module)"
        )
    matrix = vtk.vtkMatrix4x4()
    transformNode.GetMatrixTransformToWorld(matrix)
    return arrayFromVTKMatrix(matrix)


def worldIJKToRAS(volumeNode) -> np.ndarray:
    """4x4 IJK-to-world-RAS matrix of a volume node (its parent transforms applied)."""
    matrix = vtk.vtkMatrix4x4()
    volumeNode.GetIJKToRASMatrix(matrix)
    return nodeToWorldMatrix(volumeNode) @ arrayFromVTKMatrix(matrix)


def gridOfVolumeNode(volumeNode):
    """The core ``Grid`` (LPS, world) of a volume node."""
    from hitit.geometry import Grid

    ni, nj, nk = volumeNode.GetImageData().GetDimensions()
    return Grid.from_ijk_to_ras(worldIJKToRAS(volumeNode), (ni, nj, nk))


def volumeFromNode(volumeNode):
    """The core ``Volume`` (voxels copied, ``[k, j, i]``, LPS world grid) of a scalar volume node.

    Its ``metadata`` are the header attributes the core reads (e.g. whether contrast was given) of the
    file the node was loaded from, which a volume node does not keep itself; empty for a volume made
    in the scene.
    """
    from hitit.case import Volume

    if volumeNode is None or volumeNode.GetImageData() is None:
        raise ValueError("Select a volume with image data.")
    return Volume(
        gridOfVolumeNode(volumeNode),
        np.array(slicer.util.arrayFromVolume(volumeNode), copy=True),
        metadata=loadedFileHeader(volumeNode),
    )


def loadedFileHeader(volumeNode) -> dict[str, str]:
    """The core's header attributes (:func:`hitit.io.volumes.header_of_file`)
    of the file a volume node was read from.
    """
    from hitit.io.volumes import header_of_file

    storageNode = volumeNode.GetStorageNode()
    fileName = storageNode.GetFileName() if storageNode is not None else None
    return header_of_file(fileName) if fileName else {}


# --------------------------------------------------------------------- segmentations
def segmentNames(segmentationNode) -> list[str]:
    """Segment names in segment order."""
    segmentation = segmentationNode.GetSegmentation()
    return [segmentation.GetNthSegment(index).GetName() for index in range(segmentation.GetNumberOfSegments())]


def segmentMask(context: SlicerContext, segmentationNode, segmentId: str, referenceVolumeNode) -> np.ndarray:
    """Boolean mask ``[k, j, i]`` of one segment on the reference volume's voxels (transforms between them applied).

    Exported the way ``slicer.util.arrayFromSegmentBinaryLabelmap`` does, through a temporary
    labelmap node in ``context.scene``.
    """
    segmentIds = vtk.vtkStringArray()
    segmentIds.InsertNextValue(segmentId)
    labelmapNode = context.scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "__hitit_temp__")
    try:
        if not slicer.vtkSlicerSegmentationsModuleLogic.ExportSegmentsToLabelmapNode(
            segmentationNode, segmentIds, labelmapNode, referenceVolumeNode
        ):
            raise ValueError(f"Slicer cannot export segment {segmentId} of {segmentationNode.GetName()}")
        return slicer.util.arrayFromVolume(labelmapNode) > 0
    finally:
        displayNode = labelmapNode.GetDisplayNode()
        if displayNode is not None:
            context.scene.RemoveNode(displayNode)
        context.scene.RemoveNode(labelmapNode)


def masksFromSegmentation(context: SlicerContext, segmentationNode, referenceVolumeNode) -> dict[str, np.ndarray]:
    """One boolean mask ``[k, j, i]`` per segment, by segment name, on the reference volume's voxels."""
    if segmentationNode is None:
        return {}
    segmentation = segmentationNode.GetSegmentation()
    masks = {}
    for index in range(segmentation.GetNumberOfSegments()):
        name = segmentation.GetNthSegment(index).GetName()
        if name in masks:
            raise ValueError(
                f"{segmentationNode.GetName()} has two segments named {name}: give each segment its own name"
            )
        masks[name] = segmentMask(context, segmentationNode, segmentation.GetNthSegmentID(index), referenceVolumeNode)
    return masks


def setSegmentFromMask(
    context: SlicerContext, segmentationNode, name: str, mask: np.ndarray, referenceVolumeNode, color=None
) -> str:
    """Put a boolean mask ``[k, j, i]`` on the reference volume's voxels into the segment ``name``.

    The segment is replaced when one of that name exists (so repeating an action does not add
    copies); returns the segment id.
    """
    segmentation = segmentationNode.GetSegmentation()
    segmentId = segmentation.GetSegmentIdBySegmentName(name)
    if not segmentId:
        segmentId = segmentation.AddEmptySegment(name, name, list(color) if color is not None else [0.9, 0.4, 0.1])
    labelmapNode = context.moduleLogic("Volumes").CreateAndAddLabelVolume(
        context.scene, referenceVolumeNode, "__hitit_temp__"
    )
    try:
        slicer.util.updateVolumeFromArray(labelmapNode, np.asarray(mask, dtype=np.uint8))
        segmentIds = vtk.vtkStringArray()
        segmentIds.InsertNextValue(segmentId)
        if not slicer.vtkSlicerSegmentationsModuleLogic.ImportLabelmapToSegmentationNode(
            labelmapNode, segmentationNode, segmentIds
        ):
            raise ValueError(f"Slicer cannot import the mask of {name} into {segmentationNode.GetName()}")
    finally:
        displayNode = labelmapNode.GetDisplayNode()
        if displayNode is not None:
            context.scene.RemoveNode(displayNode)
        context.scene.RemoveNode(labelmapNode)
    return segmentId


# --------------------------------------------------------------------- markups
def controlPointsWorld(markupsNode) -> np.ndarray:
    """Defined control points of a markups node, ``N x 3`` RAS world mm."""
    points = []
    for index in range(markupsNode.GetNumberOfControlPoints()):
        if markupsNode.GetNthControlPointPositionStatus(index) != slicer.vtkMRMLMarkupsNode.PositionDefined:
            continue
        point = [0.0, 0.0, 0.0]
        markupsNode.GetNthControlPointPositionWorld(index, point)
        points.append(point)
    return np.asarray(points, dtype=float).reshape(-1, 3)


def addLine(context: SlicerContext, name: str, startRAS, endRAS, color=None, labels=("", ""), locked=True):
    """A line markup from ``startRAS`` to ``endRAS`` (world mm), with a display node in ``color``."""
    lineNode = context.scene.AddNewNodeByClass("vtkMRMLMarkupsLineNode", name)
    lineNode.CreateDefaultDisplayNodes()
    for point, label in zip((startRAS, endRAS), labels):
        lineNode.AddControlPointWorld(vtk.vtkVector3d(*[float(value) for value in point]), label)
    lineNode.SetLocked(bool(locked))
    displayNode = lineNode.GetDisplayNode()
    if color is not None and displayNode is not None:
        displayNode.SetSelectedColor(*color)
        displayNode.SetColor(*color)
    return lineNode


# --------------------------------------------------------------------- tables
def writeTable(tableNode, columns, rows) -> None:
    """Replace a table node's content with string columns and rows; the column names are shown as headers.

    The header row is Slicer's column title, not an editable first row, so editing cells can never
    rename a column.
    """
    wasModified = tableNode.StartModify()
    table = tableNode.GetTable()
    table.Initialize()
    for name in columns:
        array = vtk.vtkStringArray()
        array.SetName(str(name))
        table.AddColumn(array)
    table.SetNumberOfRows(len(rows))
    for rowIndex, row in enumerate(rows):
        for columnIndex, value in enumerate(row):
            table.SetValue(rowIndex, columnIndex, vtk.vtkVariant(str(value)))
    for name in columns:
        tableNode.SetColumnTitle(str(name), str(name))
    tableNode.SetUseColumnTitleAsColumnHeader(True)
    table.Modified()
    tableNode.Modified()
    tableNode.EndModify(wasModified)


def readTable(tableNode) -> tuple[list[str], list[list[str]]]:
    """Column names and rows (strings) of a table node (empty when there is no node)."""
    if tableNode is None:
        return [], []
    columns = [tableNode.GetColumnName(column) for column in range(tableNode.GetNumberOfColumns())]
    rows = [
        [tableNode.GetCellText(row, column) for column in range(len(columns))]
        for row in range(tableNode.GetNumberOfRows())
    ]
    return columns, rows


# --------------------------------------------------------------------- nodes a module created
def nodesWithAttribute(context: SlicerContext, className: str, attribute: str, value: str | None = None) -> list:
    """Nodes of ``className`` carrying ``attribute`` (with ``value`` when given)."""
    found = []
    for node in context.nodesByClass(className):
        current = node.GetAttribute(attribute)
        if current is not None and (value is None or current == value):
            found.append(node)
    return found


def removeNodes(context: SlicerContext, nodes) -> None:
    """Remove nodes and the display and storage nodes that belong to them only."""
    for node in list(nodes):
        if node.GetScene() is None:
            continue
        owned = []
        for getter in ("GetNumberOfDisplayNodes", "GetNumberOfStorageNodes"):
            if hasattr(node, getter):
                nth = getattr(node, getter.replace("GetNumberOf", "GetNth").rstrip("s"))
                owned += [nth(index) for index in range(getattr(node, getter)())]
        context.scene.RemoveNode(node)
        for other in owned:
            if other is not None and other.GetScene() is not None:
                context.scene.RemoveNode(other)
