"""The teaching course: a whole synthetic T-VEC course on the teaching torso, with known truth.

Baseline CT and plan (visit 1); per injection visit a procedure CT with a steel needle whose tip lies a known
vector away from the planned target and a post-injection CT with contrast-tagged injectate of known volume,
part of it outside the lesion (known leak); follow-up CTs in which the lesions change by known factors: the
injected lesion shrinks, a non-injected liver lesion shrinks too (abscopal response) and a new lesion appears
at the last time point. The plans, reviews, mask measurements and response are the HITIT code's own; the
truth is analytic (``truth.json``). Images use a coarse grid (:data:`COURSE_SPACING_MM`) to stay quick.

Under T-VEC the liver lesions L1-L3 are not injectable (label W&P 5.7), so L4 (subcutaneous) is the injected
target, L1 and L2 the non-injected targets and L3 a non-injected non-target. Every figure below is teaching
data, not clinical guidance. Points LPS mm, volumes mL.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
import datetime as dt
import json
import math
from pathlib import Path

import numpy as np

from hitit.case import Case, Volume
from hitit.course.build import add_new_lesion, make_visit, new_course, record_injections
from hitit.course.checklist import tick
from hitit.course.planning import course_visit_settings
from hitit.course.record import Course, Imaging, course_from_dict, save_course
from hitit.course.report import write_course_report
from hitit.course.response import course_study
from hitit.course.timepoint import measurements_from_masks
from hitit.geometry import Grid
from hitit.io.atomic import write_text_atomic
from hitit.io.outdir import write_output_set
from hitit.io.segmentations import write_seg_nrrd
from hitit.io.volumes import write_volume
from hitit.phantom import FAT_HU, LESION_HU, LIVER_HU, LesionTruth, make_teaching_case
from hitit.plan import PlanConfig, plan_case, write_plan
from hitit.plan.plan_file import plan_from_dict
from hitit.response import evaluate_study, write_outputs
from hitit.review.visit import review_visit, write_review
from hitit.review.sampling_log import Sample
from hitit.review.volumes import InjectionRecord
from hitit.plan.lesion_table import deposit_list

#: Grid of the teaching course's CTs (mm along i, j, k): coarse so that the whole course runs in seconds.
COURSE_SPACING_MM = (2.0, 2.0, 3.0)
PATIENT = "TEACHING-01"
PROTOCOL = "tvec"
BASELINE_DATE = dt.date(2026, 1, 5)


@dataclass(frozen=True)
class VisitScript:
    """What happens at one teaching visit: its day from baseline, where the needle tip ends relative to the planned
    target (LPS mm, the known tip error), the fraction of the planned volume delivered, and the shift of the
    injectate sphere from the tip (LPS mm), which puts part of it outside the lesion (the known leak).
    """

    day: int
    tip_offset_mm: tuple[float, float, float]
    delivered_fraction: float
    injectate_shift_mm: tuple[float, float, float]


#: The injection visits. Visits 1-3 follow the T-VEC schedule (days 7, 28 = +3 weeks, 42 = +2 weeks); visit 4
#: comes after a pause, once the new lesion is seen, and plans it first. Visit 1 delivers 90 % (a shortfall).
VISITS = (
    VisitScript(7, (1.5, -1.0, 0.0), 0.9, (0.0, -4.0, 0.0)),
    VisitScript(28, (-1.0, 2.0, 0.0), 1.0, (3.0, 0.0, 0.0)),
    VisitScript(42, (0.0, 1.5, 0.0), 1.0, (0.0, 0.0, 0.0)),
    VisitScript(98, (1.0, 1.0, 0.0), 1.0, (0.0, 0.0, 0.0)),
)
#: Follow-up imaging: id, day from baseline, each changed lesion's size factor (semi-axes x factor) against the
#: baseline. The injected L4 shrinks; the non-injected L1 and L2 shrink too (abscopal response); L3 stays.
FOLLOW_UPS = (("W7", 49, {"L1": 0.5, "L2": 0.7, "L4": 0.5}), ("W13", 91, {"L1": 0.4, "L2": 0.6, "L4": 0.4}))
#: Where the biopsy through the introducer is taken before each injection, from the planned target (LPS mm).
BIOPSY_OFFSET_MM = (0.0, 0.0, 3.0)
#: Needle length outside the skin (mm) and radius (19 G, about 1.1 mm outer diameter, ISO 9626).
NEEDLE_OUTSIDE_MM = 15.0
NEEDLE_RADIUS_MM = 0.6
#: True CT number of steel (far above the stored range) and the top of the 12-bit stored range, where
#: scanners clip metal.
STEEL_HU = 16000.0
CT_MAX_HU = 3071.0
#: Rise of contrast-tagged injectate over the tissue it fills (HU): diluted iodinated contrast.
INJECTATE_TAG_HU = 300.0
#: The new lesion at the last follow-up: a subcutaneous nodule in the right anterior abdominal wall.
NEW_LESION = LesionTruth(
    "L5",
    "subcutaneous_fat",
    "new subcutaneous nodule (last follow-up)",
    (-60.0, -100.0, -20.0),
    (7.0, 6.0, 7.0),
    LESION_HU,
)
NEW_LESION_AT = "W13"
#: Host tissue HU a lesion's old voxels return to when it shrinks.
HOST_HU = {"liver": LIVER_HU, "subcutaneous_fat": FAT_HU}
#: Checklist items ticked at each visit; the rest are left open to show the report's open items.
TICKED = (
    "case_selection",
    "baseline_imaging",
    "lesion_categories",
    "contraindications",
    "consent",
    "plan_checked",
    "anaesthesia_not_in_lesion",
    "single_entry_fanning",
    "volume_and_leak_logged",
)


# --------------------------------------------------------------------------- synthetic images
def _block_points(grid: Grid, lo_lps, hi_lps) -> tuple[tuple[slice, ...], np.ndarray]:
    """Array slices ``[k, j, i]`` of the grid box covering an LPS box, and its voxel centres (LPS mm, (..., 3))."""
    corners = grid.lps_to_index(np.vstack([lo_lps, hi_lps]))
    lo = np.clip(np.floor(corners.min(0)).astype(int) - 1, 0, np.asarray(grid.size) - 1)
    hi = np.clip(np.ceil(corners.max(0)).astype(int) + 2, 1, np.asarray(grid.size))
    kk, jj, ii = np.meshgrid(*(np.arange(lo[a], hi[a]) for a in (2, 1, 0)), indexing="ij")
    points = grid.index_to_lps(np.stack([ii, jj, kk], -1).reshape(-1, 3)).reshape(*ii.shape, 3)
    return (slice(lo[2], hi[2]), slice(lo[1], hi[1]), slice(lo[0], hi[0])), points


def ellipsoid_mask(grid: Grid, centre, semi_axes) -> np.ndarray:
    """Voxels whose centre lies inside an axis-aligned LPS ellipsoid (mm)."""
    centre, semi = np.asarray(centre, float), np.asarray(semi_axes, float)
    mask = np.zeros(grid.shape, dtype=bool)
    slices, points = _block_points(grid, centre - semi, centre + semi)
    mask[slices] = np.sum(((points - centre) / semi) ** 2, axis=-1) <= 1.0
    return mask


def _fraction_inside(points: np.ndarray, grid: Grid, inside, supersample: int = 4) -> np.ndarray:
    """Fraction of each voxel (centres ``points``, (..., 3) LPS) for which ``inside(points)`` holds."""
    offsets = (np.arange(supersample) + 0.5) / supersample - 0.5
    sub = np.stack(np.meshgrid(offsets, offsets, offsets, indexing="ij"), -1).reshape(-1, 3) * np.asarray(
        grid.spacing_mm
    )
    # an axis-aligned grid (the teaching torso's): sub-voxel offsets are spacing-scaled LPS offsets
    return np.mean([inside(points + offset) for offset in sub], axis=0)


def insert_needle(ct: Volume, hub_lps, tip_lps) -> Volume:
    """A copy of ``ct`` with a steel cylinder from hub to tip,
    partial-volume mixed and clipped as a scanner stores it.
    """
    hub, tip = np.asarray(hub_lps, float), np.asarray(tip_lps, float)
    axis = (tip - hub) / np.linalg.norm(tip - hub)
    length = float(np.linalg.norm(tip - hub))
    reach = NEEDLE_RADIUS_MM + max(ct.grid.spacing_mm)
    slices, points = _block_points(ct.grid, np.minimum(hub, tip) - reach, np.maximum(hub, tip) + reach)

    def inside(p):
        t = (p - hub) @ axis
        radial = np.linalg.norm(p - hub - t[..., None] * axis, axis=-1)
        return (radial <= NEEDLE_RADIUS_MM) & (t >= 0) & (t <= length)

    fraction = _fraction_inside(points, ct.grid, inside)
    array = ct.array.astype(np.float32)
    block = array[slices]
    array[slices] = np.minimum(block * (1 - fraction) + STEEL_HU * fraction, np.maximum(block, CT_MAX_HU))
    return Volume(ct.grid, np.rint(array).astype(np.int16), dict(ct.metadata))


def add_injectate(ct: Volume, centre_lps, radius_mm: float) -> Volume:
    """A copy of ``ct`` with contrast-tagged injectate filling a sphere (partial volume), metal left as it is."""
    centre = np.asarray(centre_lps, float)
    slices, points = _block_points(ct.grid, centre - radius_mm - 1, centre + radius_mm + 1)
    fraction = _fraction_inside(points, ct.grid, lambda p: np.linalg.norm(p - centre, axis=-1) <= radius_mm)
    array = ct.array.astype(np.float32)
    block = array[slices]
    array[slices] = np.where(block >= CT_MAX_HU, block, block + INJECTATE_TAG_HU * fraction)
    return Volume(ct.grid, np.rint(array).astype(np.int16), dict(ct.metadata))


def sphere_radius_mm(volume_ml: float) -> float:
    """Radius (mm) of a sphere of ``volume_ml``."""
    return (3.0 * volume_ml * 1000.0 / (4.0 * math.pi)) ** (1.0 / 3.0)


def leaked_ml(lesion: LesionTruth, centre, radius_mm: float, samples: int = 400_000, seed: int = 0) -> float:
    """Monte Carlo volume (mL) of the injectate sphere outside the lesion ellipsoid."""
    rng = np.random.default_rng(seed)
    points = np.asarray(centre) + rng.uniform(-radius_mm, radius_mm, (samples, 3))
    points = points[np.linalg.norm(points - centre, axis=1) <= radius_mm]
    outside = np.sum(((points - lesion.centre_lps) / np.asarray(lesion.semi_axes_mm)) ** 2, axis=1) > 1.0
    return float(outside.mean() * 4.0 / 3.0 * math.pi * radius_mm**3 / 1000.0)


def scaled(lesion: LesionTruth, factor: float) -> LesionTruth:
    """The lesion with every semi-axis times ``factor`` (same centre)."""
    return dataclasses.replace(lesion, semi_axes_mm=tuple(s * factor for s in lesion.semi_axes_mm))


def follow_up_ct(
    baseline: Volume, baseline_masks: dict, lesions: dict[str, LesionTruth], rng: np.random.Generator
) -> tuple[Volume, dict[str, np.ndarray]]:
    """The baseline CT with changed lesions repainted: old voxels back to host tissue, new ellipsoids painted."""
    array = baseline.array.astype(np.float32)
    masks = {}
    for lesion_id, lesion in lesions.items():
        old = baseline_masks.get(lesion_id)
        if old is not None:
            array[old] = HOST_HU[lesion.organ] + rng.normal(0.0, 12.0, int(old.sum()))
        masks[lesion_id] = ellipsoid_mask(baseline.grid, lesion.centre_lps, lesion.semi_axes_mm)
        array[masks[lesion_id]] = lesion.hu + rng.normal(0.0, 12.0, int(masks[lesion_id].sum()))
    return Volume(baseline.grid, np.rint(array).astype(np.int16), dict(baseline.metadata)), masks


# --------------------------------------------------------------------------- the course
def _plan_dict(plan) -> dict:
    """plan.json's content, checked by the plan reader as the review and the course read it."""
    return plan_from_dict(json.loads(json.dumps(plan.to_dict(), default=float)), "teaching course plan").to_dict()


def _injection_visit(number: int, course: Course, teaching, case: Case, out: Path, truth: dict) -> None:
    """Plan visit ``number`` on the current ``case`` from the course, place needle and injectate as scripted,
    review, and add the visit to the course.
    """
    script = VISITS[number - 1]
    protocol, visit, new = course_visit_settings(course, PROTOCOL, number, ())
    plan = plan_case(case, PlanConfig(protocol=protocol, visit=visit, new_lesions=new), case_name="teaching course")
    folder = out / f"visit{number}"
    write_plan(plan, case, folder / "plan")
    plan_dict = _plan_dict(plan)
    needle_ct, injections, records, samples, visit_truth = case.ct, [], [], [], {}
    for lesion in plan.lesions:
        if not lesion.allocation.inject:
            continue
        best = lesion.target.trajectories[0]
        entry, target = np.asarray(best.entry_lps), np.asarray(best.target_lps)
        tip = target + np.asarray(script.tip_offset_mm)
        direction = (target - entry) / np.linalg.norm(target - entry)
        needle_ct = insert_needle(
            needle_ct, tip - direction * (np.linalg.norm(target - entry) + NEEDLE_OUTSIDE_MM), tip
        )
        delivered = round(lesion.allocation.injectate_ml * script.delivered_fraction, 4)
        centre, radius = tip + np.asarray(script.injectate_shift_mm), sphere_radius_mm(delivered)
        injections.append((centre, radius))
        records.append(InjectionRecord(lesion.lesion_id, delivered, "19 G", 1, False, number))
        biopsy = Sample(f"B{number}-{lesion.lesion_id}", lesion.lesion_id, f"visit {number}", target + BIOPSY_OFFSET_MM)
        samples.append(biopsy)
        record = next(item for item in plan_dict["lesions"] if item["id"] == lesion.lesion_id)
        deposits = np.array([d["point_lps"] for d in deposit_list(record)])
        visit_truth[lesion.lesion_id] = {
            "tip_error_mm": round(float(np.linalg.norm(script.tip_offset_mm)), 4),
            "delivered_ml": delivered,
            "injectate_ml": round(4.0 / 3.0 * math.pi * radius**3 / 1000.0, 4),
            "leaked_ml": round(leaked_ml(teaching[lesion.lesion_id], centre, radius), 4),
            "planned_ml": lesion.allocation.injectate_ml,
            "new": lesion.lesion_id in new,
            "samples": {biopsy.sample_id: round(float(np.min(np.linalg.norm(deposits - biopsy.point_lps, axis=1))), 3)},
        }
    post_ct = needle_ct
    for centre, radius in injections:
        post_ct = add_injectate(post_ct, centre, radius)
    write_volume(needle_ct, folder / "procedure_ct.nrrd")
    write_volume(post_ct, folder / "post_injection_ct.nrrd")
    review = review_visit(
        plan_from_dict(plan_dict),
        needle_ct,
        {**case.structures, **case.lesions},
        post_ct=post_ct,
        injection_log=records,
        sampling_log=samples,
    )
    write_review(review, folder / "review")
    date = BASELINE_DATE + dt.timedelta(days=script.day)
    entry = make_visit(
        course, number, date, plan_dict, review.to_dict(), f"visit{number}/plan", f"visit{number}/review"
    )
    entry.checklist = tick({}, list(TICKED), [])
    course.add(entry)
    record_injections(course, entry)
    truth["visits"][str(number)] = {
        "date": date.isoformat(),
        "concentration_per_ml": entry.concentration_per_ml,
        "new_lesions": list(new),
        "lesions": visit_truth,
    }


def _follow_up(
    timepoint_id: str,
    day: int,
    factors: dict,
    course: Course,
    teaching,
    out: Path,
    truth: dict,
    rng: np.random.Generator,
) -> tuple[Case, dict[str, LesionTruth]]:
    """A follow-up CT with the scripted lesion changes, measured from its masks into the course; return the
    case on it (for the visits that follow) and the lesions' truth there.
    """
    baseline = teaching.case
    lesions = {lesion_id: scaled(teaching.truth[lesion_id], f) for lesion_id, f in factors.items()}
    if timepoint_id == NEW_LESION_AT:
        lesions[NEW_LESION.lesion_id] = NEW_LESION
        add_new_lesion(course, NEW_LESION.lesion_id, NEW_LESION.organ, timepoint_id, True)
    ct, changed = follow_up_ct(baseline.ct, baseline.lesions, lesions, rng)
    masks = {**baseline.lesions, **changed}
    folder = out / f"followup-{timepoint_id}"
    write_volume(ct, folder / "ct.nrrd")
    write_seg_nrrd(folder / "lesions.seg.nrrd", ct.grid, masks)
    date = BASELINE_DATE + dt.timedelta(days=day)
    course.add(
        Imaging(
            timepoint_id,
            date,
            measurements_from_masks(course, masks, ct.grid),
            {},
            f"lesion masks followup-{timepoint_id}/lesions.seg.nrrd",
        )
    )
    current = {**teaching.truth, **lesions}
    truth["timepoints"][timepoint_id] = {
        "date": date.isoformat(),
        "diameters_mm": {lesion_id: current[lesion_id].longest_axial_diameter_mm for lesion_id in masks},
    }
    return Case(ct, baseline.structures, masks), current


def _truth_streams(course: Course, truth: dict) -> dict:
    """The itRECIST categories from the analytic diameters (the same engine, fed with the truth)."""
    data = json.loads(json.dumps(course.to_dict()))
    for entry in data["timeline"]:
        diameters = truth["timepoints"].get(entry.get("id"), {}).get("diameters_mm", {})
        for lesion_id, measurement in entry.get("measurements", {}).items():
            measurement["diameter_mm"] = diameters[lesion_id]
    result = evaluate_study(course_study(course_from_dict(data)), warn_baseline=True).itrecist
    return {
        tp.id: {"overall": row.overall, "injected": row.injected, "non_injected": row.non_injected}
        for tp, row in zip(course.imaging[1:], result.timepoints[1:])
    }


def _write_course(staging: Path, seed: int) -> dict[str, Path]:
    teaching = make_teaching_case(spacing_mm=COURSE_SPACING_MM, seed=seed)
    case = teaching.case
    write_volume(case.ct, staging / "baseline" / "ct.nrrd")
    write_seg_nrrd(staging / "baseline" / "structures.seg.nrrd", case.grid, case.structures)
    write_seg_nrrd(staging / "baseline" / "lesions.seg.nrrd", case.grid, case.lesions)
    baseline_plan = plan_case(case, PlanConfig(protocol=PROTOCOL, visit=1), case_name="teaching course baseline")
    write_plan(baseline_plan, case, staging / "baseline" / "plan")
    course = new_course(
        PATIENT,
        _plan_dict(baseline_plan),
        BASELINE_DATE,
        "baseline/plan",
        non_targets=("L3",),
        organs={lesion_id: t.organ for lesion_id, t in teaching.truth.items()},
    )
    truth: dict = {
        "frame": "LPS",
        "patient": PATIENT,
        "protocol": PROTOCOL,
        "visits": {},
        "timepoints": {
            "BL": {
                "date": BASELINE_DATE.isoformat(),
                "diameters_mm": {lesion_id: t.longest_axial_diameter_mm for lesion_id, t in teaching.truth.items()},
            }
        },
    }
    # the timeline in date order: each visit is planned and reviewed on the latest CT
    events = sorted(
        [(script.day, "visit", number) for number, script in enumerate(VISITS, start=1)]
        + [(day, "imaging", index) for index, (_, day, _) in enumerate(FOLLOW_UPS)]
    )
    current_case, current_truth = case, dict(teaching.truth)
    rng = np.random.default_rng(seed + 1)
    for _, kind, index in events:
        if kind == "visit":
            _injection_visit(index, course, current_truth, current_case, staging, truth)
        else:
            timepoint_id, day, factors = FOLLOW_UPS[index]
            current_case, current_truth = _follow_up(timepoint_id, day, factors, course, teaching, staging, truth, rng)
    truth["itrecist"] = _truth_streams(course, truth)
    paths = {
        "course": save_course(course, staging / "course.json", new=True),
        "truth": write_text_atomic(staging / "truth.json", json.dumps(truth, indent=1) + "\n"),
    }
    response = evaluate_study(course_study(course))
    paths["response"] = write_outputs(response, staging / "response")["html"]
    paths["report"] = write_course_report(course, staging / "report")["html"]
    return paths


def write_teaching_course(out_dir: str | Path, seed: int = 0) -> dict[str, Path]:
    """Generate the teaching course into ``out_dir`` (one output set): the CTs, plans, reviews, follow-ups,
    ``course.json``, the response, the course report and ``truth.json``; return the main paths.
    """
    return write_output_set(out_dir, "teaching-course", lambda staging: _write_course(staging, seed))
