"""Read files into the scene with Slicer's own readers (the module logics and storage nodes).

These are the calls Slicer's application makes when a user opens a file (``slicer.util.loadVolume``
and friends go through the application's IO manager to the same logics), so what loads here loads
in Slicer. Each function raises ValueError naming the file when Slicer cannot read it.
"""

from __future__ import annotations

import os

import slicer

from hitit_slicer.context import SlicerContext

#: ``vtkSlicerVolumesLogic.AddArchetypeVolume`` loading option: a single file, not a numbered series.
_SINGLE_FILE = 1 << 2


def _messages():
    return slicer.vtkMRMLMessageCollection()


def _fail(kind: str, path, messages) -> ValueError:
    details = messages.GetAllMessagesAsString() if messages is not None else ""
    return ValueError(
        f"Slicer cannot read {kind} {os.fspath(path)!r}{': ' + details.strip() if details.strip() else ''}"
    )


def loadVolume(context: SlicerContext, path, name: str | None = None):
    """A scalar volume node read from ``path`` (NRRD, NIfTI, ...) by the Volumes module's archetype reader."""
    messages = _messages()
    node = context.moduleLogic("Volumes").AddArchetypeVolume(
        os.fspath(path), name or os.path.basename(os.fspath(path)).split(".")[0], _SINGLE_FILE, None, messages
    )
    if node is None:
        raise _fail("the volume", path, messages)
    return node


def loadSegmentation(context: SlicerContext, path, name: str | None = None):
    """A segmentation node read from ``path`` (``.seg.nrrd``) by the Segmentations module's reader."""
    messages = _messages()
    node = context.moduleLogic("Segmentations").LoadSegmentationFromFile(os.fspath(path), True, name, None, messages)
    if node is None:
        raise _fail("the segmentation", path, messages)
    return node


def loadMarkups(context: SlicerContext, path) -> list:
    """Every markup of a ``.mrk.json`` file, one node each, in file order, read by Slicer's markups JSON storage node.

    Slicer's markups reader (what drag and drop calls) makes a node of the first markup only. When
    the file holds several, the nodes are left without a storage node, so that saving the scene
    writes each to a file of its own instead of overwriting the whole file with one markup.
    """
    path = os.fspath(path)
    reader = context.scene.AddNewNodeByClass("vtkMRMLMarkupsJsonStorageNode")
    types: list[str] = []
    reader.GetMarkupsTypesInFile(path, types)
    if not types:
        context.scene.RemoveNode(reader)
        raise ValueError(f"Slicer finds no markup in {path!r}")
    nodes = []
    for index in range(len(types)):
        node = reader.AddNewMarkupsNodeFromFile(path, None, index)
        if node is None:
            raise ValueError(f"Slicer cannot read markup {index + 1} of {path!r}")
        nodes.append(node)
    if len(nodes) > 1:
        for node in nodes:
            node.SetAndObserveStorageNodeID(None)
        context.scene.RemoveNode(reader)
    return nodes


def loadModel(context: SlicerContext, path, name: str | None = None):
    """A model node read from ``path`` (``.vtk``, ``.vtp``, ...; LPS unless the file says otherwise) by the Models
    module.
    """
    messages = _messages()
    node = context.moduleLogic("Models").AddModel(
        os.fspath(path), slicer.vtkMRMLStorageNode.CoordinateSystemLPS, messages
    )
    if node is None:
        raise _fail("the model", path, messages)
    if name:
        node.SetName(name)
    return node


def loadStructuresWithCore(context: SlicerContext, path, referenceVolumeNode, name: str | None = None):
    """A segmentation node of every structure the core reads from ``path``, on the reference volume's voxels.

    For what Slicer's segmentation reader does not open: DICOM SEG and RTSTRUCT files (read by the
    core's readers, frames and contours placed by position), label maps with a name map, folders of
    one mask per structure. Empty structures become empty segments. Raises the core's InputError
    (one line saying what to fix) for a file the core refuses.
    """
    from hitit.io.segmentations import read_structures
    from hitit_slicer.nodes import gridOfVolumeNode, setSegmentFromMask

    masks = read_structures(path, gridOfVolumeNode(referenceVolumeNode))
    node = context.scene.AddNewNodeByClass(
        "vtkMRMLSegmentationNode", name or os.path.basename(os.fspath(path)).split(".")[0]
    )
    node.CreateDefaultDisplayNodes()
    node.SetReferenceImageGeometryParameterFromVolumeNode(referenceVolumeNode)
    for structure, mask in masks.items():
        if mask.any():
            setSegmentFromMask(context, node, structure, mask, referenceVolumeNode)
        else:
            node.GetSegmentation().AddEmptySegment(structure, structure)
    return node
