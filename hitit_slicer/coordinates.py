"""LPS (the core, files) and RAS (Slicer's world) in one place: negate x and y; the map is its own inverse."""

from __future__ import annotations

import numpy as np

from hitit.geometry import lps_to_ras, ras_to_lps

#: 4x4 matrix taking LPS points to RAS (and RAS to LPS).
LPS_TO_RAS_MATRIX = np.diag([-1.0, -1.0, 1.0, 1.0])


def rasFromLPS(pointsLPS) -> np.ndarray:
    """LPS points ``(..., 3)`` in mm (core) as RAS mm (Slicer)."""
    return lps_to_ras(np.asarray(pointsLPS, dtype=float))


def lpsFromRAS(pointsRAS) -> np.ndarray:
    """RAS points ``(..., 3)`` in mm (Slicer) as LPS mm (core)."""
    return ras_to_lps(np.asarray(pointsRAS, dtype=float))


def vtkMatrixFromArray(matrix):
    """A ``vtkMatrix4x4`` holding a 4x4 numpy matrix."""
    import vtk

    result = vtk.vtkMatrix4x4()
    for row in range(4):
        for column in range(4):
            result.SetElement(row, column, float(matrix[row][column]))
    return result


def arrayFromVTKMatrix(matrix) -> np.ndarray:
    """A ``vtkMatrix4x4`` as a 4x4 numpy matrix."""
    return np.array([[matrix.GetElement(row, column) for column in range(4)] for row in range(4)])
