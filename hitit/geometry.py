"""Image grids, index <-> physical transforms, LPS <-> RAS, and putting masks on a CT's grid.

Frame convention (the one used everywhere in the core): physical points are **LPS** millimetres,
as in ITK, DICOM and NRRD. Slicer shows RAS; convert with :func:`lps_to_ras` / :func:`ras_to_lps`
at the edges only.

Index convention: a continuous index ``(i, j, k)`` runs along the grid's columns, rows and
slices; ``(0, 0, 0)`` is the centre of the first voxel. numpy arrays are indexed ``[k, j, i]``
(what ``SimpleITK.GetArrayFromImage`` returns). Oblique and flipped direction matrices and
anisotropic spacing are ordinary input.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Iterable

import numpy as np
import SimpleITK as sitk

from hitit.errors import GeometryError

#: Default tolerance for calling two grids the same, in mm for origins and as a fraction of the
#: spacing for spacings. Small enough that a misregistered mask is caught (it is far below one
#: voxel), large enough to ignore the float round-off of NIfTI/NRRD headers written by other tools.
GRID_TOLERANCE_MM = 1e-3
#: Tolerance on direction cosines when comparing grids (dimensionless).
DIRECTION_TOLERANCE = 1e-4

_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])


@dataclass(frozen=True)
class Grid:
    """A 3D voxel grid placed in LPS space.

    Attributes:
        size: voxel counts ``(ni, nj, nk)``.
        spacing_mm: voxel spacing along i, j, k in mm.
        origin_lps: LPS position (mm) of the centre of voxel ``(0, 0, 0)``.
        direction: 3x3 matrix whose columns are the unit LPS directions of the i, j, k axes.
    """

    size: tuple[int, int, int]
    spacing_mm: tuple[float, float, float]
    origin_lps: tuple[float, float, float]
    direction: tuple[float, ...]  # 9 values, row-major, as SimpleITK's GetDirection()

    def __post_init__(self) -> None:
        object.__setattr__(self, "size", tuple(int(v) for v in self.size))
        object.__setattr__(self, "spacing_mm", tuple(float(v) for v in self.spacing_mm))
        object.__setattr__(self, "origin_lps", tuple(float(v) for v in self.origin_lps))
        object.__setattr__(self, "direction", tuple(float(v) for v in np.asarray(self.direction).ravel()))
        if len(self.size) != 3 or len(self.spacing_mm) != 3 or len(self.origin_lps) != 3 or len(self.direction) != 9:
            raise GeometryError(
                "A grid needs 3 sizes, 3 spacings, 3 origin values and 9 direction values (3D images only)."
            )
        if min(self.size) < 1:
            raise GeometryError(f"Grid size {self.size} has an empty axis.")
        if min(self.spacing_mm) <= 0:
            raise GeometryError(f"Grid spacing {self.spacing_mm} mm must be positive on every axis.")
        if abs(abs(np.linalg.det(self.direction_matrix)) - 1.0) > 1e-3:
            raise GeometryError(f"Direction matrix {self.direction} is not orthonormal.")

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_sitk(cls, image: sitk.Image) -> Grid:
        """The grid of a 3D SimpleITK image (SimpleITK geometry is LPS)."""
        if image.GetDimension() != 3:
            raise GeometryError(f"Expected a 3D image, got {image.GetDimension()}D.")
        return cls(image.GetSize(), image.GetSpacing(), image.GetOrigin(), image.GetDirection())

    @classmethod
    def from_ijk_to_lps(cls, matrix: np.ndarray, size: Iterable[int]) -> Grid:
        """Grid from a 4x4 IJK -> LPS matrix (columns = spacing x direction) and a size ``(ni, nj, nk)``."""
        m = np.asarray(matrix, dtype=float)
        axes = m[:3, :3]
        spacing = np.linalg.norm(axes, axis=0)
        if np.any(spacing <= 0):
            raise GeometryError("IJK-to-physical matrix has a zero-length axis.")
        return cls(tuple(size), tuple(spacing), tuple(m[:3, 3]), tuple((axes / spacing).ravel()))

    @classmethod
    def from_ijk_to_ras(cls, matrix: np.ndarray, size: Iterable[int]) -> Grid:
        """Grid from a 4x4 IJK -> RAS matrix, as Slicer volume nodes give (``GetIJKToRASMatrix``)."""
        m = np.asarray(matrix, dtype=float).copy()
        m[:3, :] = _LPS_TO_RAS @ m[:3, :]
        return cls.from_ijk_to_lps(m, size)

    # ----------------------------------------------------------------- derived
    @property
    def direction_matrix(self) -> np.ndarray:
        """3x3 direction matrix (columns are the i, j, k axis directions in LPS)."""
        return np.asarray(self.direction, dtype=float).reshape(3, 3)

    @property
    def shape(self) -> tuple[int, int, int]:
        """numpy array shape ``(nk, nj, ni)`` of an image on this grid."""
        return (self.size[2], self.size[1], self.size[0])

    @property
    def voxel_volume_ml(self) -> float:
        """Volume of one voxel in mL (1 mL = 1000 mm^3)."""
        return float(np.prod(self.spacing_mm)) / 1000.0

    @property
    def min_spacing_mm(self) -> float:
        """The smallest voxel spacing in mm."""
        return float(min(self.spacing_mm))

    def ijk_to_lps_matrix(self) -> np.ndarray:
        """4x4 homogeneous matrix taking a continuous index ``(i, j, k, 1)`` to LPS mm."""
        m = np.eye(4)
        m[:3, :3] = self.direction_matrix * np.asarray(self.spacing_mm)
        m[:3, 3] = self.origin_lps
        return m

    def ijk_to_ras_matrix(self) -> np.ndarray:
        """4x4 matrix taking ``(i, j, k, 1)`` to RAS mm (what Slicer's ``SetIJKToRASMatrix`` takes)."""
        m = self.ijk_to_lps_matrix()
        m[:3, :] = _LPS_TO_RAS @ m[:3, :]
        return m

    # ----------------------------------------------------------------- transforms
    def index_to_lps(self, ijk: np.ndarray) -> np.ndarray:
        """Continuous indices ``(..., 3)`` in (i, j, k) order -> LPS points ``(..., 3)`` in mm."""
        ijk = np.asarray(ijk, dtype=float)
        axes = self.direction_matrix * np.asarray(self.spacing_mm)
        return ijk @ axes.T + np.asarray(self.origin_lps)

    def lps_to_index(self, points_lps: np.ndarray) -> np.ndarray:
        """LPS points ``(..., 3)`` in mm -> continuous indices ``(..., 3)`` in (i, j, k) order."""
        p = np.asarray(points_lps, dtype=float) - np.asarray(self.origin_lps)
        # direction is orthonormal, so its inverse is its transpose
        return (p @ self.direction_matrix) / np.asarray(self.spacing_mm)

    def contains_index(self, ijk: np.ndarray, margin_voxels: float = 0.5) -> np.ndarray:
        """True where a continuous index lies inside the image (voxel footprints included)."""
        ijk = np.asarray(ijk, dtype=float)
        upper = np.asarray(self.size, dtype=float) - 1 + margin_voxels
        return np.all((ijk >= -margin_voxels) & (ijk <= upper), axis=-1)

    def corners_lps(self) -> np.ndarray:
        """The 8 outer corners of the imaged box (voxel edges, not centres), LPS mm, shape (8, 3)."""
        lo = -0.5
        hi = np.asarray(self.size, dtype=float) - 0.5
        corners = np.array([[x, y, z] for x in (lo, hi[0]) for y in (lo, hi[1]) for z in (lo, hi[2])])
        return self.index_to_lps(corners)

    def bounds_lps(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned LPS bounding box of the imaged region: (min corner, max corner) in mm."""
        c = self.corners_lps()
        return c.min(axis=0), c.max(axis=0)

    # ----------------------------------------------------------------- comparison
    def same_as(self, other: Grid, tolerance_mm: float = GRID_TOLERANCE_MM) -> bool:
        """True when both grids sample the same physical points (within ``tolerance_mm``)."""
        return (
            self.size == other.size
            and np.allclose(self.spacing_mm, other.spacing_mm, rtol=0, atol=tolerance_mm)
            and np.allclose(self.origin_lps, other.origin_lps, rtol=0, atol=tolerance_mm)
            and np.allclose(self.direction, other.direction, rtol=0, atol=DIRECTION_TOLERANCE)
        )

    def overlaps(self, other: Grid) -> bool:
        """True when the two imaged boxes share physical space (tested in this grid's index frame)."""
        ijk = self.lps_to_index(other.corners_lps())
        lo = ijk.min(axis=0)
        hi = ijk.max(axis=0)
        return bool(np.all(hi >= -0.5) and np.all(lo <= np.asarray(self.size) - 0.5))

    def describe(self) -> str:
        """One-line human description, used in error messages."""
        s = ", ".join(f"{v:g}" for v in self.spacing_mm)
        o = ", ".join(f"{v:.1f}" for v in self.origin_lps)
        d = ", ".join(f"{v:.3g}" for v in self.direction)
        return f"size {self.size}, spacing ({s}) mm, origin LPS ({o}) mm, direction ({d})"

    def to_dict(self) -> dict:
        """JSON-ready description (sizes, spacing_mm, origin_lps, row-major direction)."""
        return {
            "size": list(self.size),
            "spacing": list(self.spacing_mm),
            "origin": list(self.origin_lps),
            "direction": list(self.direction),
            "frame": "LPS",
        }

    # ----------------------------------------------------------------- SimpleITK glue
    def apply_to(self, image: sitk.Image) -> sitk.Image:
        """Stamp this grid's geometry on ``image`` (whose size must match) and return it."""
        if tuple(image.GetSize()) != self.size:
            raise GeometryError(f"Image size {image.GetSize()} does not match grid size {self.size}.")
        image.SetSpacing(self.spacing_mm)
        image.SetOrigin(self.origin_lps)
        image.SetDirection(self.direction)
        return image

    def image_from_array(self, array: np.ndarray) -> sitk.Image:
        """A SimpleITK image of ``array`` (shape ``(nk, nj, ni)``) placed on this grid."""
        array = np.asarray(array)
        if array.dtype == bool:
            array = array.astype(np.uint8)
        if array.shape != self.shape:
            raise GeometryError(f"Array shape {array.shape} does not match grid shape (k, j, i) {self.shape}.")
        return self.apply_to(sitk.GetImageFromArray(array))


# --------------------------------------------------------------------- frames
def lps_to_ras(points: np.ndarray) -> np.ndarray:
    """Convert points ``(..., 3)`` between LPS and RAS (negate x and y). The map is its own inverse."""
    p = np.array(points, dtype=float, copy=True)
    p[..., :2] *= -1.0
    return p


ras_to_lps = lps_to_ras


def to_lps(points: np.ndarray, frame: str) -> np.ndarray:
    """Points given in ``frame`` ("LPS" or "RAS") converted to LPS."""
    frame = frame.upper()
    if frame == "LPS":
        return np.asarray(points, dtype=float)
    if frame == "RAS":
        return ras_to_lps(points)
    raise GeometryError(f"Unknown coordinate frame {frame!r}: use LPS or RAS.")


def from_lps(points_lps: np.ndarray, frame: str) -> np.ndarray:
    """LPS points converted to ``frame`` ("LPS" or "RAS")."""
    return to_lps(points_lps, frame)  # the conversion is an involution


# --------------------------------------------------------------------- masks onto a CT grid
def _resample_onto(image: sitk.Image, grid: Grid, what: str, kind: str, tolerance_mm: float) -> np.ndarray:
    """``image`` as an array on ``grid``: as is on the same grid, nearest neighbour by physical
    position on an overlapping one, a :class:`GeometryError` naming both grids otherwise.
    """
    image_grid = Grid.from_sitk(image)
    if image_grid.same_as(grid, tolerance_mm):
        return sitk.GetArrayFromImage(image)
    if not grid.overlaps(image_grid):
        raise GeometryError(
            f"{what} does not overlap the CT: {kind} grid is {image_grid.describe()}; "
            f"CT grid is {grid.describe()}. Check that it was made on this CT."
        )
    reference = grid.image_from_array(np.zeros(grid.shape, dtype=np.uint8))
    resampled = sitk.Resample(image, reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0, image.GetPixelID())
    return sitk.GetArrayFromImage(resampled)


def mask_onto_grid(
    mask: sitk.Image, grid: Grid, name: str = "mask", tolerance_mm: float = GRID_TOLERANCE_MM
) -> np.ndarray:
    """Return ``mask`` as a boolean array on ``grid`` (shape ``grid.shape``).

    Same grid (within ``tolerance_mm``): the voxels are taken as they are. Another grid that
    overlaps: resampled by physical position with nearest neighbour, so a cropped, flipped or
    oblique label map lands where it belongs. No overlap: a :class:`GeometryError` naming both grids.
    """
    return _resample_onto(mask, grid, f"Segmentation '{name}'", "mask", tolerance_mm).astype(bool)


def labels_onto_grid(
    labels: sitk.Image, grid: Grid, name: str = "label map", tolerance_mm: float = GRID_TOLERANCE_MM
) -> np.ndarray:
    """A multi-label image as an integer array on ``grid`` (nearest neighbour; see :func:`mask_onto_grid`)."""
    return _resample_onto(labels, grid, f"Label map '{name}'", "label", tolerance_mm)
