"""Report figures: CT reformats along a needle path, and the skin accessibility map as a picture of the patient.

All inputs are LPS mm. A reformat is one plane sampled from the CT with SimpleITK (linear for HU,
nearest neighbour for masks) after cutting the volume to the few voxels around that plane, so an
oblique acquisition or anisotropic voxels need no special case and a figure costs the plane, not
the volume. Axial views are drawn in radiological convention (the patient's right on the image left,
anterior at the top); every view carries orientation letters (R/L, A/P, S/I) at its edges and a scale bar.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass

import matplotlib
import matplotlib.patheffects as path_effects
from matplotlib.lines import Line2D
import numpy as np
import SimpleITK as sitk

from hitit.case import Volume
from hitit.geometry import Grid
from hitit.report.canvas import blank_figure, new_figure
from hitit.trajectories.feasibility import PathReason

#: Display window for soft-tissue CT (level 40 HU, width 400 HU), the usual abdominal window.
SOFT_TISSUE_WINDOW_HU = (-160.0, 240.0)
#: Pixel size of reformatted images (mm); fine enough for 0.7-1 mm CTs, small enough to stay fast.
REFORMAT_PIXEL_MM = 0.75
#: Half-width of the reformatted field of view around the trajectory (mm).
REFORMAT_MARGIN_MM = 40.0
#: Pixel size (mm) of the skin map pictures: the spacing of the skin entry points.
SKIN_PIXEL_MM = 2.0
#: A direction component at least this large (of a unit vector) earns its orientation letter:
#: cos 67.5 deg, so an edge pointing between two axes is named by both ("LA").
LETTER_COMPONENT = 0.38

_LETTERS = (("L", "R"), ("P", "A"), ("S", "I"))
#: Skin map views: (title, direction from the body towards the viewer, LPS).
SKIN_VIEWS = (
    ("front", (0.0, -1.0, 0.0)),
    ("patient's left side", (1.0, 0.0, 0.0)),
    ("back", (0.0, 1.0, 0.0)),
    ("patient's right side", (-1.0, 0.0, 0.0)),
)
_SUPERIOR = np.array([0.0, 0.0, 1.0])
#: Refused skin entries by why (:class:`~hitit.trajectories.feasibility.PathReason`), and their colours.
SKIN_REASON_GROUPS = {
    "blocked by a structure": (PathReason.HARD_STRUCTURE,),
    "outside the angle limits": (PathReason.AXIAL_ANGLE, PathReason.SKIN_ANGLE),
    "other rule (organ path, lung)": (PathReason.ORGAN_PATH, PathReason.LUNG_OUTSIDE_LUNG),
}
SKIN_COLOURS = {
    "blocked by a structure": (0.80, 0.15, 0.20),
    "outside the angle limits": (0.93, 0.72, 0.76),
    "other rule (organ path, lung)": (0.95, 0.60, 0.25),
    "out of needle reach or excluded": (0.86, 0.86, 0.86),
}


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


def trajectory_plane(
    entry_lps: np.ndarray,
    target_lps: np.ndarray,
    kind: str,
    pixel_mm: float = REFORMAT_PIXEL_MM,
    margin_mm: float = REFORMAT_MARGIN_MM,
) -> Plane:
    """The plane to show a trajectory in.

    ``kind`` is ``"axial"`` (the patient axial plane through the target) or ``"oblique"`` (the
    plane containing the needle and the patient's cranio-caudal axis, or the L-R axis when the
    needle runs cranio-caudally), so the whole needle is in view.
    """
    entry = np.asarray(entry_lps, dtype=float)
    target = np.asarray(target_lps, dtype=float)
    axis = _unit(target - entry)
    if kind == "axial":
        u, v = (
            np.array([1.0, 0.0, 0.0]),
            np.array([0.0, 1.0, 0.0]),
        )  # radiological: image right = patient left, anterior up
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


def _plane_corners(plane: Plane) -> np.ndarray:
    extent_u, extent_v = (plane.size[0] - 1) * plane.pixel_mm, (plane.size[1] - 1) * plane.pixel_mm
    return np.array(
        [plane.origin_lps + a * extent_u * plane.u + b * extent_v * plane.v for a in (0, 1) for b in (0, 1)]
    )


def plane_crop(grid: Grid, plane: Plane) -> tuple[slice, slice, slice] | None:
    """Array slices ``[k, j, i]`` of the voxels that linear sampling on ``plane`` can touch (None: none)."""
    ijk = grid.lps_to_index(_plane_corners(plane))
    lo = np.maximum(np.floor(ijk.min(axis=0)).astype(int) - 1, 0)
    hi = np.minimum(np.ceil(ijk.max(axis=0)).astype(int) + 2, np.asarray(grid.size))
    if np.any(hi <= lo):
        return None
    return slice(lo[2], hi[2]), slice(lo[1], hi[1]), slice(lo[0], hi[0])


def _crop_image(grid: Grid, array: np.ndarray, crop: tuple[slice, slice, slice]) -> sitk.Image:
    """SimpleITK image of ``array[crop]`` placed where those voxels lie."""
    sub = np.ascontiguousarray(array[crop])
    image = sitk.GetImageFromArray(sub.astype(np.uint8) if sub.dtype == bool else sub)
    image.SetSpacing(grid.spacing_mm)
    image.SetOrigin(tuple(grid.index_to_lps(np.array([crop[2].start, crop[1].start, crop[0].start], float))))
    image.SetDirection(grid.direction)
    return image


def _reference(plane: Plane) -> sitk.Image:
    w = np.cross(plane.u, plane.v)
    ref = sitk.Image([plane.size[0], plane.size[1], 1], sitk.sitkUInt8)
    ref.SetSpacing((plane.pixel_mm, plane.pixel_mm, 1.0))
    ref.SetOrigin(tuple(plane.origin_lps))
    ref.SetDirection(tuple(np.column_stack([plane.u, plane.v, w]).ravel()))
    return ref


def sample_plane(volume: Volume, plane: Plane, nearest: bool = False, default: float = -1000.0) -> np.ndarray:
    """Sample ``volume`` on ``plane``; returns a (rows=v, cols=u) float array (``default`` outside the volume)."""
    crop = plane_crop(volume.grid, plane)
    if crop is None:
        return np.full((plane.size[1], plane.size[0]), float(default))
    image = _crop_image(volume.grid, volume.array, crop)
    if not nearest:
        image = sitk.Cast(image, sitk.sitkFloat32)
    interpolator = sitk.sitkNearestNeighbor if nearest else sitk.sitkLinear
    out = sitk.Resample(image, _reference(plane), sitk.Transform(), interpolator, default, image.GetPixelID())
    return sitk.GetArrayFromImage(out)[0].astype(float)


def sample_mask(grid: Grid, mask: np.ndarray, plane: Plane) -> np.ndarray:
    """A boolean mask on ``grid`` sampled on ``plane`` (nearest voxel); all False when it misses the plane."""
    crop = plane_crop(grid, plane)
    if crop is None or not mask[crop].any():
        return np.zeros((plane.size[1], plane.size[0]), dtype=bool)
    image = _crop_image(grid, mask, crop)
    out = sitk.Resample(image, _reference(plane), sitk.Transform(), sitk.sitkNearestNeighbor, 0, image.GetPixelID())
    return sitk.GetArrayFromImage(out)[0] > 0


def to_plane_pixels(plane: Plane, points_lps: np.ndarray) -> np.ndarray:
    """LPS points (N, 3) projected to (column, row) pixel coordinates of ``plane``."""
    rel = np.atleast_2d(points_lps) - plane.origin_lps
    return np.column_stack([rel @ plane.u, rel @ plane.v]) / plane.pixel_mm


def orientation_letters(direction_lps) -> str:
    """Anatomical letters of an image direction (LPS unit vector): "L", "A", "RS"... largest component first."""
    d = np.asarray(direction_lps, float)
    order = np.argsort(-np.abs(d), kind="stable")
    return "".join(_LETTERS[a][0 if d[a] > 0 else 1] for a in order if abs(d[a]) >= LETTER_COMPONENT)


def outline(cut: np.ndarray) -> np.ndarray:
    """The boundary pixels of a 2D mask (in the mask, with a 4-neighbour outside it)."""
    padded = np.pad(cut, 1)
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return cut & ~inner


def _outlined(
    ax, rgb: np.ndarray, grid: Grid, plane: Plane, masks: dict[str, np.ndarray], colors: dict[str, object], labels: bool
) -> None:
    """Paint each mask's cut through ``plane`` as an outline into ``rgb`` and write its name on it."""
    for name, mask in masks.items():
        cut = sample_mask(grid, mask, plane)
        if not cut.any():
            continue
        color = matplotlib.colors.to_rgb(colors[name])
        rgb[outline(cut)] = color
        if labels:
            rows, cols = np.nonzero(cut)
            centre = np.array([cols.mean(), rows.mean()])
            nearest = int(np.argmin((cols - centre[0]) ** 2 + (rows - centre[1]) ** 2))  # a pixel on the structure
            text = ax.text(
                cols[nearest], rows[nearest], name.replace("_", " "), color=color, fontsize=6, ha="center", va="center"
            )
            text.set_path_effects([path_effects.withStroke(linewidth=2, foreground="black")])


def edge_letters(plane: Plane) -> dict[str, str]:
    """Orientation letters of the image edges of ``plane`` as drawn (columns along u, rows along v downwards)."""
    return {
        "left": orientation_letters(-plane.u),
        "right": orientation_letters(plane.u),
        "top": orientation_letters(-plane.v),
        "bottom": orientation_letters(plane.v),
    }


def _frame_marks(ax, plane: Plane, scale_mm: float | None) -> None:
    """Orientation letters at the four edges and a scale bar in the lower left corner."""
    stroke = [path_effects.withStroke(linewidth=2.5, foreground="black")]
    style = dict(color="white", fontsize=8, fontweight="bold", ha="center", va="center", path_effects=stroke)
    letters = edge_letters(plane)
    for edge, (x, y) in (("left", (0.03, 0.5)), ("right", (0.97, 0.5)), ("top", (0.5, 0.96)), ("bottom", (0.5, 0.04))):
        ax.text(x, y, letters[edge], transform=ax.transAxes, **style)  # axes y runs up: the image top is y = 1
    if scale_mm:
        width_px, height_px = plane.size
        length = scale_mm / plane.pixel_mm
        x0, y0 = 0.06 * width_px, 0.9 * height_px
        ax.plot([x0, x0 + length], [y0, y0], color="white", linewidth=2.5, solid_capstyle="butt", path_effects=stroke)
        ax.text(
            x0 + length / 2,
            y0 - 0.02 * height_px,
            f"{scale_mm:g} mm",
            color="white",
            fontsize=7,
            ha="center",
            va="bottom",
            path_effects=stroke,
        )


def _windowed_rgb(hu: np.ndarray) -> np.ndarray:
    """CT values in the soft-tissue window as grey RGB (0-1)."""
    lo, hi = SOFT_TISSUE_WINDOW_HU
    grey = np.clip((hu - lo) / (hi - lo), 0.0, 1.0)
    return np.repeat(grey[..., None], 3, axis=2)


def render_trajectory(
    ct: Volume,
    structures: dict[str, np.ndarray],
    lesion: np.ndarray | None,
    entry_lps,
    target_lps,
    kind: str,
    deposits_lps=None,
    thumbnail: bool = False,
) -> bytes:
    """PNG of a reformat through a needle path: CT, structures and lesion outlined and named, the needle,
    its deposits (yellow dots) and target (red cross), orientation letters and a scale bar.

    ``kind`` is ``"axial"`` or ``"oblique"`` (see :func:`trajectory_plane`); a thumbnail is smaller,
    without names. In the axial view of a tilted needle, the needle drawn is its projection (dashed).
    The caption belongs to the page that shows the figure. The figure is drawn at a fixed size with no layout pass
    (matplotlib's layout dominated the time).
    """
    entry, target = np.asarray(entry_lps, float), np.asarray(target_lps, float)
    plane = trajectory_plane(entry, target, kind, pixel_mm=REFORMAT_PIXEL_MM * (2 if thumbnail else 1))
    rgb = _windowed_rgb(sample_plane(ct, plane))
    width = 2.4 if thumbnail else 4.6
    fig = blank_figure(figsize=(width, width * plane.size[1] / max(plane.size[0], 1)), dpi=110)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    palette = matplotlib.colormaps["tab10"]
    masks = {**({"lesion": lesion} if lesion is not None else {}), **structures}
    # a structure keeps its colour from figure to figure
    colors = {name: ("yellow" if name == "lesion" else palette(zlib.crc32(name.encode()) % 10)) for name in masks}
    _outlined(ax, rgb, ct.grid, plane, masks, colors, labels=not thumbnail)
    ax.imshow(rgb, interpolation="nearest")
    needle = to_plane_pixels(plane, np.vstack([entry, target]))
    tilted = kind == "axial" and abs(_unit(target - entry) @ _SUPERIOR) > 0.05
    ax.plot(needle[:, 0], needle[:, 1], color="lime", linewidth=1.6, linestyle="--" if tilted else "-")
    if deposits_lps is not None and len(deposits_lps):
        dots = to_plane_pixels(plane, np.asarray(deposits_lps, float))
        ax.plot(
            dots[:, 0],
            dots[:, 1],
            "o",
            color="gold",
            markersize=2.5 if thumbnail else 3.5,
            markeredgecolor="black",
            markeredgewidth=0.4,
        )
    ax.plot(*needle[1], marker="+", color="red", markersize=8 if thumbnail else 11, markeredgewidth=1.5)
    ax.set_xlim(-0.5, plane.size[0] - 0.5)
    ax.set_ylim(plane.size[1] - 0.5, -0.5)
    _frame_marks(ax, plane, None if thumbnail else _scale_mm(plane))
    ax.set_axis_off()
    return _png(fig)


def _scale_mm(plane: Plane) -> float:
    """A round scale-bar length, about a fifth of the image width."""
    width = plane.size[0] * plane.pixel_mm
    return 10.0 if width < 100 else 20.0 if width < 200 else 50.0


# --------------------------------------------------------------------------- skin map
def surface_view(
    points_lps: np.ndarray,
    normals_lps: np.ndarray,
    towards_viewer,
    pixel_mm: float = SKIN_PIXEL_MM,
    bounds: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which surface point each pixel of an orthographic view shows (z-buffer of the points facing the viewer).

    The view looks at the body along ``-towards_viewer`` with the patient's head up; returns the
    ``(rows, cols)`` index image of the visible point (-1: background), the image's right axis and
    its up axis (LPS unit vectors). ``bounds`` (LPS min, max corners) fixes the field of view.
    """
    w = _unit(np.asarray(towards_viewer, float))
    right = _unit(np.cross(_SUPERIOR, w))
    lo, hi = bounds if bounds is not None else (points_lps.min(axis=0), points_lps.max(axis=0))
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    u_range, v_range = corners @ right, corners @ _SUPERIOR
    cols = int(np.ceil((u_range.max() - u_range.min()) / pixel_mm)) + 1
    rows = int(np.ceil((v_range.max() - v_range.min()) / pixel_mm)) + 1
    facing = np.flatnonzero(normals_lps @ w > 0.05)
    p = points_lps[facing]
    c = np.clip(((p @ right - u_range.min()) / pixel_mm).astype(int), 0, cols - 1)
    r = np.clip(((v_range.max() - p @ _SUPERIOR) / pixel_mm).astype(int), 0, rows - 1)
    depth = p @ w
    pixel = r * cols + c
    order = np.lexsort((-depth, pixel))
    first = order[np.r_[True, pixel[order][1:] != pixel[order][:-1]]]
    image = np.full(rows * cols, -1, dtype=np.int64)
    image[pixel[first]] = facing[first]
    image = image.reshape(rows, cols)
    depth_all = points_lps @ w
    for _ in range(2):  # fill the pixels between points with the nearest visible neighbour
        image = _fill_from_neighbours(image, depth_all)
    return image, right, _SUPERIOR.copy()


def _fill_from_neighbours(image: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Empty pixels take the frontmost of their filled 4-neighbours, where at least two are filled."""
    padded = np.pad(image, 1, constant_values=-1)
    neighbours = np.stack([padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:]])
    filled = neighbours >= 0
    score = np.where(filled, depth[np.maximum(neighbours, 0)], -np.inf)
    best = np.take_along_axis(neighbours, score.argmax(axis=0)[None], axis=0)[0]
    out = image.copy()
    take = (image < 0) & (filled.sum(axis=0) >= 2)
    out[take] = best[take]
    return out


def render_skin_map(
    points_lps: np.ndarray,
    normals_lps: np.ndarray,
    score: np.ndarray,
    reason: np.ndarray,
    marks: list[tuple[str, np.ndarray]],
    title: str,
) -> bytes:
    """PNG of the patient's skin seen from the front, left, back and right, coloured by entry quality.

    Safe entries are coloured by score (viridis, 1 = best), refused ones by why (:data:`SKIN_REASON_GROUPS`),
    skin out of reach or excluded light grey; shading follows the surface.
    ``marks`` are numbered entry points (label, LPS point), drawn where the view faces them.
    """
    points_lps, normals_lps = np.asarray(points_lps, float), np.asarray(normals_lps, float)
    cmap = matplotlib.colormaps["viridis"]
    base = np.tile(np.array(SKIN_COLOURS["out of needle reach or excluded"]), (len(points_lps), 1))
    for name, codes in SKIN_REASON_GROUPS.items():
        base[np.isin(reason, codes)] = SKIN_COLOURS[name]
    safe = reason == 0
    base[safe] = cmap(np.clip(score[safe], 0, 1))[:, :3]
    bounds = (points_lps.min(axis=0), points_lps.max(axis=0))
    views = [(name, *surface_view(points_lps, normals_lps, w, bounds=bounds), np.asarray(w)) for name, w in SKIN_VIEWS]
    widths = [v[1].shape[1] for v in views]
    height_px = views[0][1].shape[0]
    fig, axes = new_figure(
        ncols=4, figsize=(10.0, 10.0 * height_px / sum(widths) + 1.1), dpi=100, gridspec_kw={"width_ratios": widths}
    )
    for ax, (name, image, right, up, w) in zip(axes, views):
        visible = image >= 0
        shade = np.clip(normals_lps @ w, 0.0, 1.0) * 0.55 + 0.45
        rgb = np.ones((*image.shape, 3))
        rgb[visible] = base[image[visible]] * shade[image[visible], None]
        ax.imshow(rgb, interpolation="nearest")
        u0 = min(c @ right for c in _box(bounds))
        v0 = max(c @ up for c in _box(bounds))
        for label, point in marks:
            point = np.asarray(point, float)
            if _faces(points_lps, normals_lps, point, w):
                col, row = (point @ right - u0) / SKIN_PIXEL_MM, (v0 - point @ up) / SKIN_PIXEL_MM
                ax.plot(col, row, "o", markersize=9, markerfacecolor="none", markeredgecolor="red", markeredgewidth=1.5)
                ax.text(col + 6, row - 6, label, color="red", fontsize=8, fontweight="bold")
        style = dict(transform=ax.transAxes, fontsize=8, fontweight="bold", ha="center", va="center", color="0.2")
        ax.text(0.04, 0.5, orientation_letters(-right), **style)
        ax.text(0.96, 0.5, orientation_letters(right), **style)
        ax.text(0.5, 0.98, orientation_letters(up), **style)
        ax.set_title(name, fontsize=8)
        ax.set_axis_off()
    handles = [
        Line2D([], [], marker="s", linestyle="", color=cmap(0.2), label="safe entry, poorer score"),
        Line2D([], [], marker="s", linestyle="", color=cmap(0.95), label="safe entry, best score"),
    ]
    handles += [Line2D([], [], marker="s", linestyle="", color=c, label=n) for n, c in SKIN_COLOURS.items()]
    handles.append(
        Line2D([], [], marker="o", linestyle="", markerfacecolor="none", markeredgecolor="red", label="ranked entries")
    )
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=9)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.88, bottom=0.16, wspace=0.04)
    return _png(fig)


def _box(bounds) -> np.ndarray:
    lo, hi = bounds
    return np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])


def _faces(points_lps: np.ndarray, normals_lps: np.ndarray, point: np.ndarray, towards_viewer: np.ndarray) -> bool:
    """True when the skin at ``point`` (its nearest surface point) faces the viewer."""
    nearest = int(np.argmin(np.einsum("ij,ij->i", points_lps - point, points_lps - point)))
    return bool(normals_lps[nearest] @ towards_viewer > 0.3)


def _png(fig) -> bytes:
    """Render a matplotlib figure as it is laid out to PNG bytes and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def figure_png(fig) -> bytes:
    """Lay out a matplotlib figure (tight layout), render it to PNG bytes and close it."""
    fig.tight_layout()
    return _png(fig)
