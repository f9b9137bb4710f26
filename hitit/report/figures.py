"""Report figures: CT reformats through a needle trajectory with structures outlined.

All inputs are LPS mm. A reformat is a plane sampled from the CT with SimpleITK (linear for HU,
nearest neighbour for masks), so oblique acquisitions and anisotropic voxels need no special case.
Images are drawn in radiological convention for axial views (patient's right on the image left).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (backend must be chosen first)
import numpy as np  # noqa: E402
import SimpleITK as sitk  # noqa: E402

from hitit.case import MaskSet, Volume  # noqa: E402

#: Display window for soft-tissue CT (level 40 HU, width 400 HU), the usual abdominal window.
SOFT_TISSUE_WINDOW_HU = (-160.0, 240.0)
#: Pixel size of reformatted images (mm); fine enough for 0.7-1 mm CTs, small enough to stay fast.
REFORMAT_PIXEL_MM = 0.75
#: Half-width of the reformatted field of view around the trajectory (mm).
REFORMAT_MARGIN_MM = 40.0


@dataclass(frozen=True)
class Plane:
    """A rectangular plane in LPS: ``origin`` is the top-left pixel centre, ``u``/``v`` unit axes."""

    origin_lps: np.ndarray
    u: np.ndarray
    v: np.ndarray
    size: tuple[int, int]
    pixel_mm: float


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


def trajectory_plane(entry_lps: np.ndarray, target_lps: np.ndarray, kind: str,
                     pixel_mm: float = REFORMAT_PIXEL_MM, margin_mm: float = REFORMAT_MARGIN_MM) -> Plane:
    """The plane to show a trajectory in.

    ``kind`` is ``"axial"`` (the patient axial plane through the target) or ``"oblique"`` (the
    plane containing the needle and the patient's cranio-caudal axis, or the L-R axis when the
    needle runs cranio-caudally), so the whole needle is in view.
    """
    entry = np.asarray(entry_lps, dtype=float)
    target = np.asarray(target_lps, dtype=float)
    axis = _unit(target - entry)
    if kind == "axial":
        u, v = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])  # radiological: image right = patient left, anterior up
        centre = target
        half_u = half_v = max(np.linalg.norm((target - entry)[:2]), 20.0) + margin_mm
    elif kind == "oblique":
        reference = np.array([0.0, 0.0, 1.0]) if abs(axis[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
        u = axis
        v = _unit(np.cross(np.cross(u, reference), u)) if np.linalg.norm(np.cross(u, reference)) > 1e-6 else reference
        v = -v if v[2] > 0 else v  # superior at the top of the image
        centre = (entry + target) / 2.0
        half_u = np.linalg.norm(target - entry) / 2.0 + margin_mm
        half_v = margin_mm
    else:
        raise ValueError(f"Unknown reformat kind {kind!r}: use 'axial' or 'oblique'.")
    size = (int(np.ceil(2 * half_u / pixel_mm)) + 1, int(np.ceil(2 * half_v / pixel_mm)) + 1)
    origin = centre - u * half_u - v * half_v
    return Plane(origin, u, v, size, pixel_mm)


def _reference(plane: Plane) -> sitk.Image:
    w = np.cross(plane.u, plane.v)
    ref = sitk.Image([plane.size[0], plane.size[1], 1], sitk.sitkUInt8)
    ref.SetSpacing((plane.pixel_mm, plane.pixel_mm, 1.0))
    ref.SetOrigin(tuple(plane.origin_lps))
    ref.SetDirection(tuple(np.column_stack([plane.u, plane.v, w]).ravel()))
    return ref


def sample_plane(volume: Volume, plane: Plane, nearest: bool = False, default: float = -1000.0) -> np.ndarray:
    """Sample ``volume`` on ``plane``; returns a (rows=v, cols=u) float array."""
    image = volume.to_sitk()
    if not nearest:
        image = sitk.Cast(image, sitk.sitkFloat32)
    interpolator = sitk.sitkNearestNeighbor if nearest else sitk.sitkLinear
    out = sitk.Resample(image, _reference(plane), sitk.Transform(), interpolator, default, image.GetPixelID())
    return sitk.GetArrayFromImage(out)[0].astype(float)


def to_plane_pixels(plane: Plane, points_lps: np.ndarray) -> np.ndarray:
    """LPS points (N, 3) projected to (column, row) pixel coordinates of ``plane``."""
    rel = np.atleast_2d(points_lps) - plane.origin_lps
    return np.column_stack([rel @ plane.u, rel @ plane.v]) / plane.pixel_mm


def render_trajectory(ct: Volume, structures: MaskSet, lesion: np.ndarray | None, entry_lps, target_lps,
                      kind: str, title: str, colors: dict[str, tuple] | None = None) -> bytes:
    """PNG of a reformat through a trajectory, structures and lesion outlined, the needle drawn."""
    plane = trajectory_plane(np.asarray(entry_lps), np.asarray(target_lps), kind)
    hu = sample_plane(ct, plane)
    fig, ax = plt.subplots(figsize=(5.2, 5.2 * plane.size[1] / max(plane.size[0], 1) + 0.6), dpi=110)
    ax.imshow(hu, cmap="gray", vmin=SOFT_TISSUE_WINDOW_HU[0], vmax=SOFT_TISSUE_WINDOW_HU[1], interpolation="bilinear")
    palette = plt.get_cmap("tab10")
    outlines = dict(structures)
    if lesion is not None:
        outlines = {"lesion": lesion, **outlines}
    handles = []
    for index, (name, mask) in enumerate(outlines.items()):
        masked = sample_plane(Volume(ct.grid, mask.astype(np.uint8)), plane, nearest=True, default=0)
        if not masked.any():
            continue
        color = (colors or {}).get(name, "yellow" if name == "lesion" else palette(index % 10))
        ax.contour(masked, levels=[0.5], colors=[color], linewidths=1.0)
        handles.append(plt.Line2D([], [], color=color, label=name))
    needle = to_plane_pixels(plane, np.vstack([entry_lps, target_lps]))
    ax.plot(needle[:, 0], needle[:, 1], color="lime", linewidth=1.6)
    ax.plot(*needle[1], marker="+", color="red", markersize=10)
    if handles:
        ax.legend(handles=handles[:8], loc="lower right", fontsize=6, framealpha=0.6)
    ax.set_title(title, fontsize=9)
    ax.set_axis_off()
    return figure_png(fig)


def figure_png(fig) -> bytes:
    """Render a matplotlib figure to PNG bytes and close it."""
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()
