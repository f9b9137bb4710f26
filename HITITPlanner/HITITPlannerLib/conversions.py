"""Pure conversions between what Slicer gives and what the HITIT core takes.

Slicer side: world coordinates are RAS mm; ``slicer.util.arrayFromVolume`` gives a numpy array
indexed ``[k, j, i]``; ``vtkMRMLVolumeNode.GetIJKToRASMatrix`` gives a 4x4 IJK-to-RAS matrix.
Core side: LPS mm, ``hitit.geometry.Grid`` and ``hitit.case.Volume``.

No function here imports ``slicer``; every one is a function of arrays, matrices and dicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from hitit.case import Volume
from hitit.geometry import Grid, lps_to_ras, mask_onto_grid, ras_to_lps

#: Diagonal of the matrix that maps LPS to RAS (and back): negate x and y.
LPS_TO_RAS_DIAGONAL = (-1.0, -1.0, 1.0)

#: Display colours (RGB 0-1) of trajectories by safety.
SAFE_COLOR = (0.15, 0.75, 0.25)
MARGINAL_COLOR = (0.95, 0.75, 0.10)
UNSAFE_COLOR = (0.90, 0.15, 0.15)


# --------------------------------------------------------------------- volumes and masks
def gridFromIJKToRAS(ijkToRAS, arrayShape: Sequence[int]) -> Grid:
    """Grid of an array shaped ``(nk, nj, ni)`` whose 4x4 IJK-to-RAS matrix is ``ijkToRAS``."""
    matrix = np.asarray(ijkToRAS, dtype=float).reshape(4, 4)
    if len(arrayShape) != 3:
        raise ValueError(f"Expected a 3D array (k, j, i), got shape {tuple(arrayShape)}.")
    nk, nj, ni = (int(v) for v in arrayShape)
    return Grid.from_ijk_to_ras(matrix, (ni, nj, nk))


def volumeFromArray(array: np.ndarray, ijkToRAS) -> Volume:
    """Core ``Volume`` (LPS grid) from a Slicer voxel array ``[k, j, i]`` and its IJK-to-RAS matrix.

    The array is copied, so later edits of the Slicer node do not change the core's volume.
    """
    array = np.array(array, copy=True)
    return Volume(gridFromIJKToRAS(ijkToRAS, array.shape), array)


def maskOnGrid(labelArray: np.ndarray, labelIJKToRAS, grid: Grid, name: str = "mask") -> np.ndarray:
    """Boolean mask on ``grid`` from a segment's label array ``[k, j, i]`` and its IJK-to-RAS matrix.

    When the label array already lies on ``grid`` (what ``arrayFromSegmentBinaryLabelmap`` returns
    with a reference volume) the array is used as it is; otherwise it is resampled (nearest
    neighbour) with the core's ``mask_onto_grid``.
    """
    labelArray = np.asarray(labelArray)
    labelGrid = gridFromIJKToRAS(labelIJKToRAS, labelArray.shape)
    if labelGrid.same_as(grid):
        return labelArray > 0
    return mask_onto_grid(labelGrid.image_from_array((labelArray > 0).astype(np.uint8)), grid, name=name)


# --------------------------------------------------------------------- points
def rasFromLPS(pointsLPS) -> np.ndarray:
    """LPS points ``(..., 3)`` (core) to RAS points (Slicer markups)."""
    return lps_to_ras(np.asarray(pointsLPS, dtype=float))


def lpsFromRAS(pointsRAS) -> np.ndarray:
    """RAS points ``(..., 3)`` (Slicer markups) to LPS points (core)."""
    return ras_to_lps(np.asarray(pointsRAS, dtype=float))


def lpsToRASMatrix() -> np.ndarray:
    """4x4 matrix that maps LPS points to RAS (its own inverse); use it to transform core polydata."""
    matrix = np.eye(4)
    matrix[:3, :3] = np.diag(LPS_TO_RAS_DIAGONAL)
    return matrix


# --------------------------------------------------------------------- plan dicts
def safetyColor(feasible: bool, marginSlackMm: float | None, comfortableSlackMm: float) -> tuple[float, float, float]:
    """Colour of a trajectory: red if unsafe, amber if it keeps its margins by less than
    ``comfortableSlackMm`` (the planner's clearance reference), else green."""
    if not feasible or marginSlackMm is None:
        return UNSAFE_COLOR
    if marginSlackMm < comfortableSlackMm:
        return MARGINAL_COLOR
    return SAFE_COLOR


def trajectoryName(lesionId: str, rank: int) -> str:
    """Markups line name of a planned trajectory: ``<lesion>-T<rank>``."""
    return f"{lesionId}-T{int(rank)}"


def _text(value, digits: int = 1) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float, np.floating, np.integer)):
        return f"{float(value):.{digits}f}"
    return str(value)


def lesionTableRows(planDict: Mapping) -> tuple[list[str], list[list[str]]]:
    """Column names and rows (strings) of the lesion table: the same rows as the plan's ``lesions.csv``."""
    from hitit.plan.lesion_table import LESION_COLUMNS, lesion_rows

    rows = [[_text(row.get(column), 2 if column.endswith("_ml") else 1) for column in LESION_COLUMNS]
            for row in lesion_rows(planDict)]
    return list(LESION_COLUMNS), rows


def trajectoryLines(planDict: Mapping, lesionId: str | None = None) -> list[dict]:
    """Planned trajectories as markups line specs: name, RAS entry/target, colour, and the record.

    ``lesionId`` restricts the result to one lesion.
    """
    comfortable = float(planDict["config"]["planning"]["clearance_reference_mm"])
    lines = []
    for lesion in planDict["lesions"]:
        if lesionId is not None and lesion["id"] != lesionId:
            continue
        for trajectory in lesion["trajectories"]:
            lines.append({
                "name": trajectoryName(lesion["id"], trajectory["rank"]),
                "lesion": lesion["id"],
                "rank": int(trajectory["rank"]),
                "entryRAS": rasFromLPS(trajectory["entry"]).tolist(),
                "targetRAS": rasFromLPS(trajectory["target"]).tolist(),
                "color": safetyColor(bool(trajectory["feasible"]), trajectory.get("margin_slack_mm"), comfortable),
                "record": dict(trajectory),
            })
    return lines


def depositPoints(planDict: Mapping, lesionId: str) -> list[dict]:
    """Deposits of one lesion as point specs: RAS position, label with the needle depth from the skin, volume."""
    points = []
    for lesion in planDict["lesions"]:
        if lesion["id"] != lesionId or not lesion.get("deposits"):
            continue
        deposits = [d for path in lesion["deposits"]["paths"] for d in path["deposits"]]
        for index, deposit in enumerate(deposits, start=1):
            depth = float(deposit["needle_depth_mm"])
            points.append({"label": f"{lesionId}-D{index} {depth:.0f} mm",
                           "positionRAS": rasFromLPS(deposit["point_lps"]).tolist(),
                           "depthMm": depth, "volumeMl": deposit["volume_ml"]})
    return points


def pathCheckSummary(check: Mapping) -> dict:
    """Short, display-ready summary of a ``PathCheck.to_dict()``: verdict, length, clearances, crossed."""
    clearances = check.get("clearance_by_structure_mm") or {}
    closest = sorted(clearances.items(), key=lambda item: item[1])[:5]
    return {
        "verdict": "SAFE" if check.get("feasible") else "UNSAFE",
        "feasible": bool(check.get("feasible")),
        "lengthMm": check.get("length_mm"),
        "minClearanceMm": check.get("min_clearance_mm"),
        "closest": closest,
        "blocking": list(check.get("blocking") or []),
        "angles": {k: v for k, v in check.items() if "angle" in k},
    }
