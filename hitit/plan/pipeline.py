"""Plan a case end to end: measure lesions, find trajectories, judge injectability, allocate
injectate under the protocol's per-visit cap, and place deposits along the chosen trajectory.

The order matters: injectability needs the trajectory answer ("no safe path" makes a lesion not
injectable), and only injectable lesions compete for the per-visit volume.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple
from collections.abc import Callable

import numpy as np
import SimpleITK as sitk

from hitit import __version__
from hitit.anatomy.body import axial_array_axis, auto_structures, body_mask, skin_halo_mm, skin_surface
from hitit.case import Case
from hitit.dosing.allocate import Allocation, LesionAllocation, LesionDoseInput, NotInjectable, allocate
from hitit.dosing.deposits import DepositPlan, plan_deposits
from hitit.dosing.protocols import load_protocol
from hitit.errors import HititError, InputError
from hitit.lesions.contrast import Contrast, resolve_contrast
from hitit.lesions.injectability import InjectabilityVerdict, assess_injectability
from hitit.lesions.measure import LesionMeasurement, depth_to_points_mm, measure_lesions
from hitit.lesions.segment import lesions_from_masks
from hitit.masks import box_crop, mask_box, with_box
from hitit.plan.procedure import Landmarks, ProcedureCard, procedure_card
from hitit.plan.config import PlanConfig
from hitit.plan.plan_file import PLAN_FORMAT_VERSION
from hitit.trajectories.check import PathCheck, check_path
from hitit.trajectories.distance import PreparedScene, axial_reach_mm, prepare, reach_crop
from hitit.trajectories.planner import TargetPlan, plan_target

#: A progress callback: fraction done (0-1) and a message.
Progress = Callable[[float, str], None]


class Cancelled(HititError):
    """The user cancelled planning; nothing was written."""


@dataclass(frozen=True)
class LesionPlan:
    """Everything planned for one lesion; built once by :func:`plan_case`, never changed after.

    ``allocation`` is the lesion's share of the visit (a :class:`LesionAllocation`, or :class:`NotInjectable`
    with the reason); ``deposits`` and ``procedure`` are None when nothing is injected or no safe path exists.
    """

    measurement: LesionMeasurement
    target: TargetPlan
    scene: PreparedScene
    mask: np.ndarray
    injectability: InjectabilityVerdict
    allocation: LesionAllocation | NotInjectable
    deposits: DepositPlan | None = None
    procedure: ProcedureCard | None = None

    @property
    def lesion_id(self) -> str:
        """The lesion id."""
        return self.measurement.lesion_id

    @property
    def feasible(self) -> bool:
        """True when at least one safe trajectory was found."""
        return self.target.status == "ok"

    @property
    def injectate_ml(self) -> float:
        """Volume injected into this lesion at this visit (mL): its allocation."""
        return self.allocation.injectate_ml

    def to_dict(self, scene_index: int) -> dict:
        """The plan.json record of this lesion; ``scene_index`` is its scene in the plan's ``scenes``."""
        target = self.target.to_dict()
        if self.procedure is not None:
            target["trajectories"][0]["procedure"] = self.procedure.to_dict()
        return {
            "id": self.lesion_id,
            "status": self.target.status,
            "message": self.target.message,
            "measurement": self.measurement.to_dict(),
            "injectability": self.injectability.to_dict(),
            "allocation": self.allocation.to_dict(),
            "target_lps": target["target_lps"],
            "trajectories": target["trajectories"],
            "least_bad": target["least_bad"],
            "blocking_structures": target["blocking_structures"],
            "entries": target["entries"],
            "timings_s": target["timings_s"],
            "scene_index": scene_index,
            "deposits": None if self.deposits is None else self.deposits.to_dict(),
        }


@dataclass(frozen=True)
class Plan:
    """A whole plan: settings, per-lesion results, the visit's allocation, warnings, and whether the CT is
    contrast-enhanced (and how that is known; necrosis rests on it).
    """

    settings: PlanConfig
    lesions: tuple[LesionPlan, ...]
    allocation: Allocation
    warnings: tuple[str, ...] = ()
    case_name: str = "case"
    contrast: Contrast | None = None

    def lesion(self, lesion_id: str) -> LesionPlan:
        """The plan of one lesion by id."""
        for lesion in self.lesions:
            if lesion.lesion_id == lesion_id:
                return lesion
        raise InputError(f"No lesion '{lesion_id}' in the plan.")

    def check_path(self, entry_lps, target_lps, lesion_id: str | None = None) -> PathCheck:
        """Check a drawn path (LPS mm) against the plan's safety model, as the planner judged its own paths.

        The path is judged with the rules of ``lesion_id``'s target (default: the lesion whose centre
        is nearest the path's tip); the skin normal is the one of the skin point nearest the entry.
        """
        target = np.asarray(target_lps, dtype=float)
        lesion = (
            self.lesion(lesion_id)
            if lesion_id
            else min(self.lesions, key=lambda p: float(np.linalg.norm(np.subtract(p.measurement.centroid_lps, target))))
        )
        skin = lesion.target.skin
        entry = np.asarray(entry_lps, dtype=float)
        nearest = int(np.argmin(np.linalg.norm(skin.points_lps - entry, axis=1)))
        close = np.linalg.norm(skin.points_lps[nearest] - entry) <= 2 * self.settings.planning.entry_spacing_mm
        return check_path(lesion.scene, entry, target, skin.normals_lps[nearest] if close else None, lesion.mask)

    def scenes(self) -> list[PreparedScene]:
        """The distinct prepared scenes of the plan (one per host organ), in lesion order."""
        distinct: dict[int, PreparedScene] = {}
        for lesion in self.lesions:
            distinct.setdefault(id(lesion.scene), lesion.scene)
        return list(distinct.values())

    def to_dict(self) -> dict:
        """The content of ``plan.json`` (coordinates LPS mm), each value once: the settings, the protocol and
        each scene's structure rules are stored once per plan, not per lesion.
        """
        scenes = self.scenes()
        index = {id(scene): n for n, scene in enumerate(scenes)}
        return {
            "format_version": PLAN_FORMAT_VERSION,
            "frame": "LPS",
            "hitit_version": __version__,
            "case_name": self.case_name,
            "contrast": None if self.contrast is None else self.contrast.to_dict(),
            "protocol": self.allocation.protocol.to_dict(),
            "config": self.settings.to_dict(),
            "warnings": list(self.warnings),
            "allocation": self.allocation.summary_dict(),
            "scenes": [scene.to_dict() for scene in scenes],
            "lesions": [lesion.to_dict(index[id(lesion.scene)]) for lesion in self.lesions],
        }


def _report(progress: Progress | None, cancel: Callable[[], bool] | None, fraction: float, message: str) -> None:
    if cancel is not None and cancel():
        raise Cancelled("Planning cancelled.")
    if progress is not None:
        progress(fraction, message)


def plan_case(
    case: Case,
    settings: PlanConfig | None = None,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
    case_name: str = "case",
    crop: bool = True,
) -> Plan:
    """Plan every lesion of ``case`` (masks on the CT grid) under ``settings``.

    Entries are the skin points a needle can reach: within the needle length of an aim point and, while a
    lesion has a safe path, within the axial-angle limit (:class:`_Region`); when some lesion has none, the
    lesions are planned again over everything the needle reaches at any angle, so the least-bad paths and
    blocking structures come from every reachable entry. With ``crop`` (the default) the body, the skin and
    its normals are computed only there; ``crop=False`` computes them on the whole CT (the reference the crop
    equals: same entries, feasible set, scores and proposed paths). Distance maps are cropped the same way in
    both (:func:`hitit.trajectories.distance.prepare` with ``axial_limited`` says why that is exact).

    Returns a :class:`Plan`: per lesion its measurement (mm, mL), ranked trajectories (points LPS mm, lengths
    and clearances mm, angles deg), injectability, injectate (mL) and deposits (LPS mm, mL); the settings
    are stored with it. InputError names what to fix (no lesion, an empty segment, a lesion outside the body).

    Example, the teaching case on a coarse grid (about a second):

    >>> from hitit.phantom import make_teaching_case
    >>> from hitit.plan import PlanConfig, plan_case
    >>> teaching = make_teaching_case(spacing_mm=(4.0, 4.0, 5.0))
    >>> plan = plan_case(teaching.case, PlanConfig(protocol="pv10"))
    >>> [(lesion.lesion_id, lesion.target.status) for lesion in plan.lesions]
    [('L1', 'ok'), ('L2', 'ok'), ('L3', 'ok'), ('L4', 'ok')]
    >>> best = plan.lesion("L1").target.trajectories[0]  # rank 1: entry_lps, target_lps in LPS mm
    >>> best.feasible and best.length_mm <= plan.settings.planning.needle_length_mm
    True
    >>> l1 = plan.lesion("L1")  # PV-10: 0.5 mL of injectate per mL of lesion
    >>> round(l1.injectate_ml / l1.measurement.volume_ml, 2)
    0.5
    """
    whole = not crop
    plan = _plan_case(case, settings, progress, cancel, case_name, "axial", whole)
    if any(not lesion.feasible for lesion in plan.lesions) and _angle_limited(plan.settings):
        plan = _plan_case(case, settings, progress, cancel, case_name, "needle", whole)
    return plan


def _angle_limited(settings: PlanConfig) -> bool:
    """True when the axial-angle limit makes the planning region thinner than the needle's reach."""
    return settings.planning.axial_limit_deg < 90.0


def _plan_case(
    case: Case,
    settings: PlanConfig | None,
    progress: Progress | None,
    cancel: Callable[[], bool] | None,
    case_name: str,
    reach: str,
    whole: bool,
) -> Plan:
    """:func:`plan_case` over the entries of ``reach`` (``axial`` or ``needle``, see :class:`_Region`), computed
    on the region around them, or on the whole CT when ``whole``.
    """
    settings = settings or PlanConfig()
    protocol = load_protocol(settings.protocol)
    if not case.lesions:
        raise InputError("The case has no lesion: give a lesion segmentation (one segment per lesion).")
    # every mask's box found once: the steps below work on the boxes
    case = Case(
        case.ct, {n: with_box(m) for n, m in case.structures.items()}, {n: with_box(m) for n, m in case.lesions.items()}
    )
    lesions = lesions_from_masks(case.lesions, set(settings.nodal_lesions), settings.lesion_organs)
    empty = sorted(set(case.lesions) - {lesion.lesion_id for lesion in lesions})
    if empty:
        raise InputError(f"Lesion segment(s) {', '.join(empty)} are empty: segment them or remove them.")

    warnings: list[str] = []
    contrast, contrast_warnings = resolve_contrast(settings.contrast, case.ct.metadata)
    warnings.extend(contrast_warnings)
    centres = {lesion.lesion_id: _centroid_lps(lesion.mask, case.grid) for lesion in lesions}
    aims = {lesion.lesion_id: _aims(lesion, centres[lesion.lesion_id], case.grid, settings) for lesion in lesions}
    region = _Region.around(case.grid, lesions, aims, settings, axial=reach == "axial", whole=whole)
    structures, skin = _body_and_skin(case, lesions, settings, region, progress, cancel)

    _report(progress, cancel, 0.15, "Measuring lesions")
    measurements = measure_lesions(lesions, case.grid, case.ct.array, None, structures, settings.measurement, contrast)
    measurements = [
        replace(m, depth_mm=depth_to_points_mm(lesion.mask, case.grid, skin.points_lps))
        for lesion, m in zip(lesions, measurements)
    ]

    _report(progress, cancel, 0.3, "Preparing distance maps")
    scenes = _prepare_scenes(case, structures, lesions, measurements, aims, settings, warnings, reach == "axial")
    assessed: list[_Assessed] = []
    for index, (lesion, m) in enumerate(zip(lesions, measurements)):
        _report(progress, cancel, 0.4 + 0.45 * index / len(lesions), f"Trajectories for {lesion.lesion_id}")
        scene = scenes[m.organ]
        target = max(
            (plan_target(scene, aim, skin, lesion.lesion_id, lesion.mask) for aim in aims[lesion.lesion_id]),
            key=_aim_quality,
        )
        verdict = assess_injectability(
            m,
            settings.injectability,
            protocol,
            target.status == "ok",
            needle_length_mm=settings.planning.needle_length_mm,
        )
        assessed.append(_Assessed(m, target, scene, lesion.mask, verdict))

    _report(progress, cancel, 0.88, "Allocating injectate")
    allocation, shares = _allocate(assessed, protocol, settings)
    _report(progress, cancel, 0.92, "Planning deposits")
    landmarks = Landmarks.from_case(structures, case.grid, skin.points_lps, settings.planning.entry_spacing_mm)
    plans = tuple(_finish(a, shares[a.measurement.lesion_id], case, landmarks, settings) for a in assessed)
    _report(progress, cancel, 1.0, "Plan complete")
    return Plan(settings, plans, allocation, tuple(warnings), case_name, contrast)


class _Assessed(NamedTuple):
    """A lesion measured, its trajectories found and its injectability judged (before the allocation)."""

    measurement: LesionMeasurement
    target: TargetPlan
    scene: PreparedScene
    mask: np.ndarray
    injectability: InjectabilityVerdict


def _finish(
    a: _Assessed, share: LesionAllocation | NotInjectable, case: Case, landmarks: Landmarks, settings: PlanConfig
) -> LesionPlan:
    """The lesion's plan: deposits along its best path when it is injected, the procedure card of that path."""
    deposits = procedure = None
    if a.target.status == "ok":
        best = a.target.trajectories[0]
        if share.injectate_ml > 0:
            deposits = plan_deposits(
                a.mask, case.grid, best.entry_lps, best.target_lps, share.injectate_ml, settings.deposits
            )
        paths = deposits.to_dict()["paths"] if deposits is not None else []
        procedure = procedure_card(
            best.to_dict(),
            paths,
            case.grid,
            a.mask,
            landmarks,
            settings.planning.needle_length_mm,
            settings.planning.gauge,
        )
    return LesionPlan(*a, share, deposits, procedure)


def _aims(lesion, centre_lps: np.ndarray, grid, settings: PlanConfig) -> np.ndarray:
    """Aim points (N, 3) LPS of one lesion: its centre, or with ``aim="best"`` the candidates of
    :func:`aim_candidates` (the planner keeps the one with the best safe trajectory).
    """
    centre = np.asarray(centre_lps, dtype=float)[None]
    if settings.aim == "centre":
        return centre
    return aim_candidates(lesion.mask, grid, centre[0], settings.deposits.margin_mm)


def _centroid_lps(mask: np.ndarray, grid) -> np.ndarray:
    """Centre (LPS mm) of a mask's voxel centres, as the lesion measurement computes it."""
    crop, lo = box_crop(mask)
    k, j, i = (axis + offset for axis, offset in zip(np.nonzero(crop), lo))
    return grid.index_to_lps(np.array([i.mean(), j.mean(), k.mean()]))


@dataclass(frozen=True)
class _Region:
    """Where a plan computes: ``keep`` holds every skin entry a path may start from, ``known`` the slab of
    whole axial slices the body is computed on (``keep`` widened by the skin halo). Boxes are array order.

    Why the crop is exact. A path is feasible only if it is at most the needle length L long and at most the
    axial limit a (the limit plus the in-plane tolerance) from the axial plane, so its entry lies in the box
    target +- (L, L, L sin a) (``axial``; ``needle`` drops the angle: target +- L). Entries outside that box
    cannot be feasible and are not made. Inside it, each entry's point, normal and validity depend on the
    body within the skin halo only (:func:`skin_halo_mm`), which ``known`` covers, and the distance maps are
    cropped likewise (:func:`hitit.trajectories.distance.prepare` with ``axial_limited``). Whole slices keep
    the per-slice hole filling exact; the largest component is the slab's (see :func:`body_mask`).
    """

    keep: tuple
    known: tuple

    @classmethod
    def around(cls, grid, lesions, aims: dict, settings: PlanConfig, axial: bool, whole: bool = False) -> _Region:
        """The region of the aims of ``lesions`` (and the lesions themselves); ``axial``: with the angle limit;
        ``whole``: ``known`` is the whole CT (the uncropped reference).
        """
        cfg = settings.planning
        reach = axial_reach_mm(cfg, cfg.needle_length_mm) if axial else cfg.needle_length_mm
        lo, hi = reach_crop(grid, np.vstack(list(aims.values())), reach)
        boxes = [mask_box(lesion.mask) for lesion in lesions]
        lo = np.minimum(lo[::-1], np.min([b[0] for b in boxes], axis=0))
        hi = np.maximum(hi[::-1], np.max([b[1] for b in boxes], axis=0))
        axis = axial_array_axis(grid)
        halo = int(np.ceil(skin_halo_mm(settings.skin, settings.body, grid) / grid.spacing_mm[2 - axis]))
        keep_lo, keep_hi, known_lo, known_hi = [0, 0, 0], list(grid.shape), [0, 0, 0], list(grid.shape)
        keep_lo[axis], keep_hi[axis] = int(lo[axis]), int(hi[axis])
        if not whole:
            known_lo[axis], known_hi[axis] = max(int(lo[axis]) - halo, 0), min(int(hi[axis]) + halo, grid.shape[axis])
        return cls((tuple(keep_lo), tuple(keep_hi)), (tuple(known_lo), tuple(known_hi)))


def _body_and_skin(case: Case, lesions, settings: PlanConfig, region: _Region, progress, cancel):
    """The structures (with the CT-derived ones) and the skin entries of the region's ``keep`` box, from the
    body computed on the region's slab.
    """
    _report(progress, cancel, 0.02, "Body and skin")
    axis = axial_array_axis(case.grid)
    slab = (region.known[0][axis], region.known[1][axis])
    body = body_mask(case.ct, settings.body.threshold_hu, settings.body.opening_radius_mm, slab)
    _check_inside_body(lesions, body)
    structures = dict(case.structures)
    if settings.auto_structures:
        structures.update(auto_structures(case.ct, body, settings.auto_structures))
    skin = skin_surface(
        case.ct,
        spacing_mm=settings.planning.entry_spacing_mm,
        side=settings.entry_sides or None,
        body=body,
        params=settings.skin,
        known=region.known,
        keep=region.keep,
    )
    return structures, skin


def aim_candidates(mask: np.ndarray, grid, centre_lps: np.ndarray, inner_margin_mm: float) -> np.ndarray:
    """Candidate aim points (LPS mm) inside a lesion: the centre first, then the deepest interior point
    and the points half-way from the centre to the boundary along the lesion's principal axes, each
    kept only when it lies at least ``inner_margin_mm`` inside the lesion (so a deposit there stays in).
    """
    k, j, i = np.nonzero(mask)
    lo = np.array([i.min(), j.min(), k.min()]) - 1
    crop = np.zeros(tuple((np.array([k.max(), j.max(), i.max()]) - lo[::-1] + 2).tolist()), dtype=np.uint8)
    crop[k - lo[2], j - lo[1], i - lo[0]] = 1
    image = sitk.GetImageFromArray(crop)
    image.SetSpacing(grid.spacing_mm)
    inside = -sitk.GetArrayFromImage(
        sitk.SignedMaurerDistanceMap(image, insideIsPositive=False, squaredDistance=False, useImageSpacing=True)
    )
    points = grid.index_to_lps(np.column_stack([i, j, k]).astype(float))
    depth = inside[k - lo[2], j - lo[1], i - lo[0]]
    offsets = points - centre_lps
    _, _, axes = np.linalg.svd(offsets - offsets.mean(axis=0), full_matrices=False)
    extents = np.abs(offsets @ axes.T).max(axis=0)
    candidates = [points[int(np.argmax(depth))]]
    candidates += [centre_lps + sign * 0.5 * extent * axis for axis, extent in zip(axes, extents) for sign in (1, -1)]
    keep = []
    for point in candidates:
        index = np.rint(grid.lps_to_index(point)).astype(int) - lo
        inside_crop = np.all(index >= 0) and np.all(index < np.array(crop.shape[::-1]))
        if inside_crop and inside[index[2], index[1], index[0]] >= inner_margin_mm:
            keep.append(point)
    return np.vstack([centre_lps[None], *[p[None] for p in keep]])


def _aim_quality(target: TargetPlan) -> tuple:
    """Order of aim points: a safe trajectory first, then the best score of the top trajectory."""
    return (target.status == "ok", target.trajectories[0].score if target.trajectories else 0.0)


def _prepare_scenes(
    case: Case,
    structures,
    lesions,
    measurements,
    aims: dict,
    settings: PlanConfig,
    warnings: list[str],
    axial_limited: bool,
) -> dict:
    """One prepared scene per host organ: the organ holding a target is allowed for that target only.

    Each scene's crop also covers its lesions (the organ-path rule measures them); ``axial_limited``: see
    :func:`hitit.trajectories.distance.prepare`.
    """
    catalogue = settings.catalogue()
    warnings.extend(catalogue.notes)
    scenes = {}
    for organ in dict.fromkeys(m.organ for m in measurements):
        found: list[str] = []
        rules = catalogue.rules_for_target(list(structures), organ, found)
        warnings.extend(w for w in found if w not in warnings)
        targets = np.vstack([aims[m.lesion_id] for m in measurements if m.organ == organ])
        boxes = [mask_box(lesion.mask) for lesion, m in zip(lesions, measurements) if m.organ == organ]
        include = (tuple(np.min([b[0] for b in boxes], axis=0)), tuple(np.max([b[1] for b in boxes], axis=0)))
        scenes[organ] = prepare(
            (case.grid, structures), rules, settings.planning, targets, axial_limited=axial_limited, include=include
        )
        warnings.extend(w for w in scenes[organ].warnings if w not in warnings)
    return scenes


def _check_inside_body(lesions, body: np.ndarray) -> None:
    """A lesion outside the patient is a registration or labelling error: refuse it by name."""
    for lesion in lesions:
        inside = float(body[lesion.mask].mean())
        if inside < 0.5:
            raise InputError(
                f"Lesion '{lesion.lesion_id}' lies outside the body ({100 * (1 - inside):.0f} % of its voxels "
                "are in air or outside the patient): check that the lesion segmentation belongs to this CT."
            )


def _allocate(
    assessed: list[_Assessed], protocol, settings: PlanConfig
) -> tuple[Allocation, dict[str, LesionAllocation | NotInjectable]]:
    """Allocate injectate among the lesions that can be injected; the others get none, with the reason."""
    candidates = [a for a in assessed if a.injectability.verdict != "no"]
    allocation = allocate(
        [
            LesionDoseInput(
                a.measurement.lesion_id,
                a.measurement.longest_diameter_mm,
                a.measurement.volume_ml,
                a.measurement.lesion_id in settings.new_lesions,
            )
            for a in candidates
        ],
        protocol,
        settings.visit,
    )
    shares: dict[str, LesionAllocation | NotInjectable] = {a.lesion_id: a for a in allocation.lesions}
    for a in assessed:
        if a.measurement.lesion_id not in shares:
            reasons = "; ".join(r.message for r in a.injectability.reasons if r.severity == "no")
            shares[a.measurement.lesion_id] = NotInjectable(a.measurement.lesion_id, f"not injectable: {reasons}")
    return allocation, shares
