"""HITIT core: planning and review of image-guided intratumoral immunotherapy.

Slicer-free. Coordinates inside the core are **LPS** (x to the patient's Left, y to Posterior,
z to Superior), in millimetres, as in ITK, DICOM and NRRD files. Conversion to RAS (Slicer's world
frame) happens only at the edges: markups files written in RAS and the Slicer modules.

Image arrays are numpy arrays indexed ``[k, j, i]`` (slice, row, column), as returned by
``SimpleITK.GetArrayFromImage``; grid sizes, spacings and indices are given in ``(i, j, k)`` order.
"""

__version__ = "0.1.0"
