"""The injection-site review of one visit: needles, volumes, injectate and samples, and its report.

Inputs are the plan written by ``hitit plan`` (``plan.json`` read by :func:`hitit.plan.plan_file.load_plan`), the
intraprocedural CT with the needle(s) in place, and optionally structure/lesion masks on that CT's grid, reviewer-placed
needle lines, a post-injection CT (contrast-tagged injectate) on the same grid, the injection log
and the sampling log. All points are LPS mm; volumes mL; angles degrees.

Lesion masks are the masks named like the plan's lesion ids (``L1`` ...); the rest are structures.
The intraprocedural CT is the baseline for the injectate when the post CT lies on its grid.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np  # noqa: E402

from hitit.case import Volume  # noqa: E402
from hitit.errors import InputError  # noqa: E402
from hitit.io.atomic import write_bytes_atomic, write_text_atomic  # noqa: E402
from hitit.io.outdir import write_output_set  # noqa: E402
from hitit.plan.plan_file import PlanFile, PlannedLesion  # noqa: E402
from hitit.report.figures import (
    SOFT_TISSUE_WINDOW_HU,
    figure_png,
    sample_plane,
    to_plane_pixels,  # noqa: E402
    trajectory_plane,
)
from hitit.report.html import HtmlReport  # noqa: E402
from hitit.review.injectate import InjectateConfig, InjectateResult, injectate_distribution, needle_track_points  # noqa: E402
from hitit.review.needle import (
    NeedleDetectionConfig,
    NeedleReview,
    actual_path_margins,  # noqa: E402
    compare_with_plan,
    detect_needle,
    needle_from_line,
)
from hitit.review.sampling_log import (
    Sample,
    SampleDistance,
    delivered_deposits,
    sample_distances,  # noqa: E402
    samples_from_json,
)
from hitit.review.volumes import InjectionRecord, VisitVolumes, injection_records, review_volumes  # noqa: E402
from hitit.report.canvas import new_figure

#: A needle without a lesion id is assigned to a lesion only within this distance (mm): a detected
#: needle when its segment passes that close to the lesion's planned target, an unnamed reviewer line
#: when its tip lies that close to the lesion's planned path (entry to target). Farther needles belong
#: to another lesion, and a lesion with no needle of its own is "not reviewed". Twice the ~6.7 mm worst
#: double-angulated CT placement error (Busser et al., Br J Radiol 2013, PMID 23913308), rounded up [D].
NEEDLE_MATCH_DISTANCE_MM = 15.0


@dataclass
class Review:
    """Result of :func:`review_visit`. The volumes and masks are kept (not serialised) for the report images."""

    visit: int | None
    needles: list[NeedleReview] = field(default_factory=list)
    needle_notes: dict[str, str] = field(default_factory=dict)
    not_reviewed: dict[str, str] = field(default_factory=dict)
    volumes: VisitVolumes | None = None
    injectate: list[InjectateResult] = field(default_factory=list)
    samples: list[SampleDistance] = field(default_factory=list)
    config: dict = field(default_factory=dict)
    ct: Volume | None = field(default=None, repr=False)
    post_ct: Volume | None = field(default=None, repr=False)
    lesion_masks: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    plan_lines: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict:
        """JSON-ready review (``frame`` LPS, mm, mL, degrees)."""
        return {
            "frame": "LPS",
            "visit": self.visit,
            "config": self.config,
            "needles": [n.to_dict() for n in self.needles],
            "needle_notes": self.needle_notes,
            "not_reviewed": [{"lesion_id": k, "reason": v} for k, v in self.not_reviewed.items()],
            "volumes": None if self.volumes is None else self.volumes.to_dict(),
            "injectate": [r.to_dict() for r in self.injectate],
            "samples": [s.to_dict() for s in self.samples],
        }


# --------------------------------------------------------------------------- needles
def _markup_lines(needle_markup) -> list[tuple[str | None, np.ndarray]]:
    """(name, 2x3 LPS points) of each reviewer line: a Markup, a list of Markups, or a (2, 3) array."""
    if needle_markup is None:
        return []
    items = needle_markup if isinstance(needle_markup, (list, tuple)) else [needle_markup]
    lines = []
    for item in items:
        if hasattr(item, "points_lps"):
            if item.kind == "line":
                lines.append((item.name, np.asarray(item.points_lps, float)))
        else:
            lines.append((None, np.asarray(item, float).reshape(2, 3)))
    if not lines:
        raise InputError("The needle markup holds no line: place a line markup (2 points) along the needle.")
    return lines


def _segment_distance_mm(point: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Distance (mm) from ``point`` to the segment a-b (LPS mm)."""
    ab = b - a
    s = np.clip((point - a) @ ab / max(float(ab @ ab), 1e-12), 0.0, 1.0)
    return float(np.linalg.norm(point - (a + s * ab)))


def assign_lines(lines, planned: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, tuple[np.ndarray, str]]:
    """Reviewer lines per lesion: ``{lesion_id: (2x3 LPS points, how it was matched)}``.

    A line named after a lesion id of the plan is that lesion's needle, and only that lesion's. A line
    with any other name (or none) is unnamed: it goes to the lesion whose planned path (entry ->
    target, LPS mm) passes nearest its tip (its end nearer that lesion's target), when that distance is
    at most :data:`NEEDLE_MATCH_DISTANCE_MM`; each line serves one lesion and each lesion gets one
    line, nearest pairs first. Lesions left without a line are not reviewed.
    """
    assigned: dict[str, tuple[np.ndarray, str]] = {}
    unnamed = []
    for name, points in lines:
        if name in planned and name not in assigned:
            assigned[name] = (points, f"reviewer line markup named '{name}'")
        elif name not in planned:
            unnamed.append(points)
    pairs = []
    for index, points in enumerate(unnamed):
        for lesion_id, (entry, target) in planned.items():
            if lesion_id in assigned:
                continue
            tip = points[int(np.argmin(np.linalg.norm(points - target, axis=1)))]
            distance = _segment_distance_mm(tip, entry, target)
            if distance <= NEEDLE_MATCH_DISTANCE_MM:
                pairs.append((distance, index, lesion_id))
    used: set[int] = set()
    for distance, index, lesion_id in sorted(pairs, key=lambda p: p[0]):
        if index not in used and lesion_id not in assigned:
            used.add(index)
            assigned[lesion_id] = (
                unnamed[index],
                f"unnamed reviewer line markup, tip {distance:.1f} mm from the planned path",
            )
    return assigned


def _not_reviewed_reason(lesion_id: str) -> str:
    """Why a lesion got no reviewer line (the matching rule of :func:`assign_lines`)."""
    return (
        f"not reviewed: no needle line named '{lesion_id}' and no unnamed line with its tip within "
        f"{NEEDLE_MATCH_DISTANCE_MM:g} mm of the planned path"
    )


def _detected_needle(ct: Volume, entry, target, config: NeedleDetectionConfig):
    """The lesion's needle found on the CT; (needle or None, note)."""
    try:
        needle = detect_needle(ct, target, config)
    except InputError as error:
        return None, f"not reviewed: {error}"
    if _segment_distance_mm(target, needle.hub_lps, needle.tip_lps) > NEEDLE_MATCH_DISTANCE_MM:
        return None, f"not reviewed: no needle within {NEEDLE_MATCH_DISTANCE_MM:g} mm of the planned target"
    return needle, "detected automatically"


def review_needles(
    plan: PlanFile, ct: Volume, structures: dict, needle_markup=None, config: NeedleDetectionConfig | None = None
) -> tuple[list[NeedleReview], dict[str, str]]:
    """Needle review of every lesion that has its own actual needle; notes say how each needle was found,
    or for a lesion without one, "not reviewed: ..." and why (see :func:`assign_lines`).
    """
    config = config or NeedleDetectionConfig()
    lines = _markup_lines(needle_markup)
    planned, notes = {}, {}
    for lesion in plan.lesions:
        if lesion.chosen is None:
            notes[lesion.id] = "not reviewed: the plan has no trajectory for this lesion"
        else:
            planned[lesion.id] = (lesion.chosen.entry_lps, lesion.chosen.target_lps)
    by_line = assign_lines(lines, planned) if lines else {}
    reviews = []
    for lesion_id, (entry, target) in planned.items():
        if lines:
            points, notes[lesion_id] = by_line.get(lesion_id, (None, _not_reviewed_reason(lesion_id)))
            needle = None if points is None else needle_from_line(points, target)
        else:
            needle, notes[lesion_id] = _detected_needle(ct, entry, target, config)
        if needle is None:
            continue
        margins = actual_path_margins(
            ct.grid, structures, needle.hub_lps, needle.tip_lps, plan.lesion(lesion_id).rules, plan.config.planning
        )
        reviews.append(NeedleReview(lesion_id, needle, compare_with_plan(needle, entry, target), margins))
    return reviews, notes


# --------------------------------------------------------------------------- the whole review
def review_visit(
    plan: PlanFile,
    ct: Volume,
    structures: dict | None = None,
    needle_markup=None,
    post_ct: Volume | None = None,
    injection_log=None,
    sampling_log=None,
    needle_config: NeedleDetectionConfig | None = None,
    injectate_config: InjectateConfig | None = None,
) -> Review:
    """Review one visit of ``plan`` (see the module docstring).

    ``injection_log`` is a list of :class:`InjectionRecord` or a parsed JSON log; ``sampling_log``
    a list of :class:`Sample` or a parsed JSON log; ``needle_markup`` a Markup, a list of them or
    a (2, 3) LPS array. Points are LPS mm, distances mm, angles deg, volumes mL.

    Example, a needle placed along L1's chosen path of a teaching-case plan but 3 mm too deep:

    >>> import numpy as np
    >>> from hitit.phantom import make_teaching_case
    >>> from hitit.plan import PlanConfig, plan_case
    >>> from hitit.plan.plan_file import plan_from_dict
    >>> from hitit.review.visit import review_visit
    >>> teaching = make_teaching_case(spacing_mm=(4.0, 4.0, 5.0))
    >>> plan = plan_from_dict(  # as load_plan reads plan.json
    ...     plan_case(teaching.case, PlanConfig(protocol="pv10")).to_dict()
    ... )
    >>> path = plan.lesions[0].chosen
    >>> entry, target = path.entry_lps, path.target_lps
    >>> tip = target + 3.0 * (target - entry) / np.linalg.norm(target - entry)
    >>> masks = {**teaching.case.structures, **teaching.case.lesions}
    >>> review = review_visit(plan, teaching.case.ct, masks, needle_markup=np.array([entry, tip]))
    >>> (needle,) = review.needles  # the unnamed line ends on L1's path: it is L1's needle
    >>> needle.lesion_id, needle.margins["kept"]
    ('L1', True)
    >>> round(needle.deviation.tip_to_target_mm, 1), round(needle.deviation.angle_deg, 1)
    (3.0, 0.0)
    """
    masks = structures or {}
    lesion_ids = [lesion.id for lesion in plan.lesions]
    lesion_masks = {k: v for k, v in masks.items() if k in lesion_ids}
    organ_masks = {k: v for k, v in masks.items() if k not in lesion_ids}
    needle_config = needle_config or NeedleDetectionConfig()
    injectate_config = injectate_config or InjectateConfig()
    needles, notes = review_needles(plan, ct, organ_masks, needle_markup, needle_config)
    not_reviewed = {k: v for k, v in notes.items() if k not in {n.lesion_id for n in needles}}
    review = Review(
        plan.visit,
        needles,
        notes,
        not_reviewed,
        ct=ct,
        post_ct=post_ct,
        lesion_masks=lesion_masks,
        config={
            "needle_detection": needle_config.to_dict(),
            "injectate": injectate_config.to_dict(),
            "needle_match_distance_mm": NEEDLE_MATCH_DISTANCE_MM,
        },
    )
    for lesion in plan.lesions:
        if lesion.chosen is not None:
            review.plan_lines[lesion.id] = (lesion.chosen.entry_lps, lesion.chosen.target_lps)
    if injection_log is not None:
        records = injection_log if _is_list_of(injection_log, InjectionRecord) else injection_records(injection_log)
        review.volumes = review_volumes(plan, records)
    delivered = _delivered_deposits(plan, needles)
    if post_ct is not None:
        review.injectate = _review_injectate(
            plan, post_ct, ct, masks, lesion_masks, needles, delivered, injectate_config
        )
    if sampling_log is not None:
        samples = sampling_log if _is_list_of(sampling_log, Sample) else samples_from_json(sampling_log)
        planned = {lesion.id: lesion.deposit_points_lps for lesion in plan.lesions}
        review.samples = sample_distances(samples, planned, delivered)
    return review


def _is_list_of(value, cls) -> bool:
    """True for a non-empty list whose items are all ``cls`` (an already-parsed log)."""
    return isinstance(value, list) and bool(value) and all(isinstance(item, cls) for item in value)


def _delivered_deposits(plan: PlanFile, needles: list[NeedleReview]) -> dict[str, np.ndarray]:
    """Planned deposits moved with each lesion's actual needle (lesion id -> (N, 3) LPS mm)."""
    delivered = {}
    for needle_review in needles:
        lesion: PlannedLesion = plan.lesion(needle_review.lesion_id)
        delivered[needle_review.lesion_id] = delivered_deposits(
            lesion.deposit_points_lps,
            lesion.chosen.entry_lps,
            lesion.chosen.target_lps,
            needle_review.needle.tip_lps,
            needle_review.needle.axis,
        )
    return delivered


def _review_injectate(
    plan: PlanFile, post_ct, ct, masks, lesion_masks, needles, delivered, config
) -> list[InjectateResult]:
    """Injectate per lesion that has a mask and deposits or a needle; seeds are deposits plus the needle track."""
    baseline = ct if ct.grid.same_as(post_ct.grid) else None
    if any(m.shape != post_ct.grid.shape for m in masks.values()):
        raise InputError(
            "The structure masks are not on the post-injection CT's grid: give a post CT on the "
            "intraprocedural CT's grid (register and resample it first)."
        )
    tracks = {
        n.lesion_id: needle_track_points(n.needle.hub_lps, n.needle.tip_lps, post_ct.grid.min_spacing_mm)
        for n in needles
    }
    results = []
    for lesion in plan.lesions:
        lesion_id = lesion.id
        seeds = [
            lesion.deposit_points_lps,
            delivered.get(lesion_id, np.empty((0, 3))),
            tracks.get(lesion_id, np.empty((0, 3))),
        ]
        seeds = np.vstack(seeds)
        if lesion_id not in lesion_masks or len(seeds) == 0:
            continue
        results.append(
            injectate_distribution(lesion_id, post_ct, lesion_masks[lesion_id], seeds, masks, baseline, config)
        )
    return results


# --------------------------------------------------------------------------- report
def _needle_figure(review: Review, needle_review: NeedleReview) -> bytes:
    """Oblique reformat through the actual needle, the planned line overlaid (projected on the plane)."""
    needle = needle_review.needle
    plane = trajectory_plane(needle.hub_lps, needle.tip_lps, "oblique")
    hu = sample_plane(review.ct, plane)
    fig, ax = new_figure(figsize=(5.6, 5.6 * plane.size[1] / max(plane.size[0], 1) + 0.8), dpi=110)
    ax.imshow(hu, cmap="gray", vmin=SOFT_TISSUE_WINDOW_HU[0], vmax=SOFT_TISSUE_WINDOW_HU[1], interpolation="bilinear")
    lesion = review.lesion_masks.get(needle_review.lesion_id)
    if lesion is not None:
        outline = sample_plane(Volume(review.ct.grid, lesion.astype(np.uint8)), plane, nearest=True, default=0)
        if outline.any():
            ax.contour(outline, levels=[0.5], colors=["yellow"], linewidths=1.0)
    entry, target = review.plan_lines[needle_review.lesion_id]
    planned = to_plane_pixels(plane, np.vstack([entry, target]))
    actual = to_plane_pixels(plane, np.vstack([needle.hub_lps, needle.tip_lps]))
    ax.plot(planned[:, 0], planned[:, 1], "--", color="deepskyblue", linewidth=1.4, label="planned (projected)")
    ax.plot(actual[:, 0], actual[:, 1], color="red", linewidth=0.8, alpha=0.8, label=f"actual ({needle.source})")
    ax.plot(*planned[1], marker="x", color="deepskyblue", markersize=8)
    ax.plot(*actual[1], marker="+", color="red", markersize=10)
    ax.set_xlim(0, plane.size[0] - 1)
    ax.set_ylim(plane.size[1] - 1, 0)
    ax.legend(loc="lower right", fontsize=6, framealpha=0.6)
    d = needle_review.deviation
    ax.set_title(
        f"{needle_review.lesion_id}: tip-target {d.tip_to_target_mm:.1f} mm, angle {d.angle_deg:.1f} deg", fontsize=9
    )
    ax.set_axis_off()
    return figure_png(fig)


def _injectate_figure(review: Review, result: InjectateResult) -> bytes:
    """Axial post-injection CT through the injectate centroid, injectate in colour, lesion outlined."""
    grid = review.post_ct.grid
    mask = result.mask
    centre = grid.index_to_lps(np.argwhere(mask)[:, ::-1].mean(axis=0)) if mask.any() else None
    if centre is None:
        centre = grid.index_to_lps(np.argwhere(review.lesion_masks[result.lesion_id])[:, ::-1].mean(axis=0))
    plane = trajectory_plane(centre - np.array([0.0, 30.0, 0.0]), centre, "axial")
    hu = sample_plane(review.post_ct, plane)
    tagged = sample_plane(Volume(grid, mask.astype(np.uint8)), plane, nearest=True, default=0)
    lesion = sample_plane(
        Volume(grid, review.lesion_masks[result.lesion_id].astype(np.uint8)), plane, nearest=True, default=0
    )
    fig, ax = new_figure(figsize=(5.2, 5.6), dpi=110)
    ax.imshow(hu, cmap="gray", vmin=SOFT_TISSUE_WINDOW_HU[0], vmax=SOFT_TISSUE_WINDOW_HU[1], interpolation="bilinear")
    ax.imshow(np.ma.masked_where(tagged < 0.5, tagged), cmap="autumn", alpha=0.5, interpolation="nearest")
    if lesion.any():
        ax.contour(lesion, levels=[0.5], colors=["yellow"], linewidths=1.0)
    fraction = result.covered_fraction or 0.0
    ax.set_title(
        f"{result.lesion_id}: injectate {result.injectate_ml:.2f} mL, lesion covered {100 * fraction:.0f} %, "
        f"leaked {result.leaked_ml:.2f} mL",
        fontsize=8,
    )
    ax.set_axis_off()
    return figure_png(fig)


def _html_image(report: HtmlReport, file_name: str, caption: str) -> None:
    report.raw(
        f'<figure><img src="{html.escape(file_name)}" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _needle_rows(review: Review) -> list[dict]:
    rows = []
    for n in review.needles:
        d = n.deviation
        rows.append(
            {
                "lesion": n.lesion_id,
                "needle": n.needle.source,
                "tip to target (mm)": d.tip_to_target_mm,
                "angle (deg)": d.angle_deg,
                "depth error (mm, + = too deep)": d.depth_error_mm,
                "lateral at target depth (mm)": d.lateral_at_target_depth_mm,
                "kept margins": "yes" if n.margins.get("kept") else "NO",
            }
        )
    return rows


def write_review(review: Review, out_dir: str | Path) -> dict[str, Path]:
    """Write ``review.json``, ``review.html`` and its PNG images into ``out_dir`` as one output set (a previous
    review there is replaced as a whole, the user's files are never touched); return the paths.
    """
    return write_output_set(out_dir, "review", lambda staging: _write_review_files(review, staging))


def _write_review_files(review: Review, out: Path) -> dict[str, Path]:
    """Write the review's files into the (staging) folder ``out``."""
    paths = {"json": write_text_atomic(out / "review.json", json.dumps(review.to_dict(), indent=2))}
    report = HtmlReport(f"Injection-site review{'' if review.visit is None else f', visit {review.visit}'}")
    report.heading("Planned vs actual needle")
    report.paragraph(
        "Depth error is the tip's offset along the planned axis; lateral deviation is measured in the "
        "plane through the planned target perpendicular to the planned axis. Coordinates LPS mm.",
        "note",
    )
    report.table(_needle_rows(review))
    for n in review.needles:
        report.paragraph(f"{n.lesion_id}: {review.needle_notes.get(n.lesion_id, '')}", "note")
    if review.not_reviewed:
        report.heading("Not reviewed")
        report.paragraph(
            "These lesions have no actual needle of their own, so no placement error is reported for them.", "note"
        )
        report.table([{"lesion": k, "reason": v} for k, v in review.not_reviewed.items()])
    for n in review.needles:
        name = f"needle_{n.lesion_id}.png"
        paths[name] = write_bytes_atomic(out / name, _needle_figure(review, n))
        _html_image(report, name, f"{n.lesion_id}: actual needle (red) and planned path (blue, dashed)")
    if review.volumes is not None:
        report.heading("Delivered vs prescribed volume")
        report.table(
            [row.to_dict() for row in review.volumes.lesions],
            [
                "lesion_id",
                "prescribed_ml",
                "delivered_ml",
                "shortfall_ml",
                "technical_success",
                "passes",
                "leakage_seen",
            ],
        )
        report.paragraph(
            f"Visit technical success: {review.volumes.technical_success} (full prescribed volume "
            f"delivered, tolerance {review.volumes.tolerance_ml} mL; Sheth 2020)."
        )
    if review.injectate:
        report.heading("Injectate distribution (contrast-tagged)")
        report.table(
            [r.to_dict() for r in review.injectate],
            ["lesion_id", "injectate_ml", "covered_ml", "covered_fraction", "leaked_ml", "leaked_by_structure_ml"],
        )
        for result in review.injectate:
            name = f"injectate_{result.lesion_id}.png"
            paths[name] = write_bytes_atomic(out / name, _injectate_figure(review, result))
            _html_image(report, name, f"{result.lesion_id}: injectate (orange) and lesion (yellow)")
    if review.samples:
        report.heading("Biopsy and sampling log")
        report.table(
            [s.to_dict() for s in review.samples],
            ["id", "lesion_id", "timepoint", "kind", "nearest_planned_deposit_mm", "nearest_delivered_deposit_mm"],
        )
    paths["html"] = report.write(out / "review.html")
    return paths
