"""The plan report: one self-contained HTML page that leads with the decision.

First screen: the case (CT, date, protocol, visit, needle), one row per lesion with the decision
(injectable or not and why, the injectate this visit, the chosen path in one line) and the warnings
that matter to the plan, grouped and in words. Then one section per lesion (one printed page each):
measurements, reasons, allocation, the procedure card of the chosen path, its reformats, the skin
accessibility map, the ranked paths and thumbnails of the alternatives.

The report reads the plan's JSON-ready dict (what ``plan.json`` holds) and the case's images.
"""

from __future__ import annotations

import datetime
import re

import numpy as np

from hitit.anatomy.catalogue import Catalogue
from hitit.case import Case
from hitit.masks import mask_box
from hitit.plan.lesion_table import deposit_list
from hitit.plan.procedure import NEARBY_STRUCTURE_MM, entry_side, needle_angles_deg
from hitit.report.figures import render_trajectory
from hitit.report.key_images import CORE_RENDERER, KeyImages
from hitit.report.html import Column, Html, HtmlReport, link, tagged

#: Structures outlined on the chosen path's reformats: those whose needle-surface distance is at
#: most this (mm), "within a few centimetres", nearest first, at most :data:`MAX_OUTLINED_STRUCTURES`.
OUTLINE_WITHIN_MM = 50.0
MAX_OUTLINED_STRUCTURES = 8
#: Legend of the chosen-path views drawn by 3D Slicer (hitit_slicer.rendering's colours).
KEY_IMAGE_LEGEND = "3D Slicer: green line: needle, white points: deposits, segments in their own colours"
#: Alternatives (ranks 2, 3...) shown as thumbnails.
ALTERNATIVE_THUMBNAILS = 2
#: Rule kinds that make a structure critical (its absence or truncation can hide a danger).
CRITICAL_KINDS = ("hard",)

_VERDICT_WORDS = {"yes": "yes", "caution": "caution", "no": "no"}


def readable(text: str) -> str:
    """Structure names and codes in a message made readable: ``'inferior_vena_cava'`` -> inferior vena cava."""
    text = re.sub(r"'([A-Za-z0-9_+]+)'", lambda m: m.group(1), text)
    return re.sub(r"\b[A-Za-z0-9]+(?:_[A-Za-z0-9]+)+\b", lambda m: m.group(0).replace("_", " "), text)


def build_report(
    plan: dict, case: Case, skin_maps: dict[str, bytes] | None = None, key_images: KeyImages | None = None
) -> str:
    """The report page as an HTML string (images embedded).

    ``skin_maps`` holds each lesion's skin accessibility picture (PNG) by lesion id. ``key_images`` are
    views of the chosen paths drawn by another renderer (3D Slicer's displayable managers, see
    :mod:`hitit.report.key_images`); a view it lacks is drawn by the core, and the page names the renderer.
    """
    report = HtmlReport(f"HITIT plan — {plan.get('case_name', 'case')}")
    report.paragraph(
        "A planning aid: every path, angle and volume must be checked by the treating radiologist "
        "on the CT before use.",
        "note",
    )
    patient = plan.get("patient")
    report.paragraph(
        f"Patient {patient.get('name', '')} (id {patient.get('id', '')})."
        if patient
        else "No patient name or id is stored in this plan (hitit plan --include-patient-id adds them).",
        "note",
    )
    report.paragraph(f"Chosen-path figures drawn by {key_images.renderer if key_images else CORE_RENDERER}.", "note")
    _case_summary(report, plan, case)
    _decision_table(report, plan)
    _warnings(report, plan_notices(plan, case))
    for lesion in plan["lesions"]:
        _lesion_section(report, plan, lesion, case, (skin_maps or {}).get(lesion["id"]), key_images)
    return report.render()


# --------------------------------------------------------------------------- first screen
def _case_summary(report: HtmlReport, plan: dict, case: Case) -> None:
    grid = case.grid
    planning = plan["config"]["planning"]
    protocol = plan["protocol"]
    oblique = not np.allclose(np.abs(grid.direction_matrix), np.eye(3), atol=1e-3)
    cap = protocol.get("parameters", {}).get("per_visit_cap_ml")
    report.key_values(
        [
            (
                "CT",
                f"{plan.get('case_name', 'case')}: {' × '.join(str(s) for s in grid.size)} voxels of "
                f"{' × '.join(f'{s:g}' for s in grid.spacing_mm)} mm{', oblique acquisition' if oblique else ''}",
            ),
            ("CT date", plan.get("ct_date")),
            ("Planned", f"{datetime.date.today().isoformat()} with HITIT {plan.get('hitit_version', '')}".strip()),
            (
                "Protocol",
                f"{protocol['name']} {protocol.get('version', '')}: {protocol.get('description', '')}".strip(),
            ),
            ("Visit", plan["config"]["visit"]),
            (
                "Needle",
                f"{planning['needle_length_mm']:g} mm, {planning['gauge']} G; at most "
                f"{planning['max_axial_angle_deg'] + planning.get('axial_tolerance_deg', 0):g}° out of the axial plane",
            ),
            (
                "Injectate this visit",
                f"{plan['allocation']['total_injectate_ml']:.2f} mL"
                + (f" (per-visit cap {cap:g} mL)" if cap is not None else " (no per-visit cap)"),
            ),
        ]
    )


def decision(lesion: dict) -> tuple[str, str]:
    """(verdict, why in words) of a lesion."""
    verdict = lesion["injectability"]["verdict"]
    reasons = lesion["injectability"]["reasons"]
    if verdict == "yes":
        return verdict, "meets every rule"
    return verdict, "; ".join(readable(r["message"]) for r in reasons if r["severity"] == verdict)


def chosen_path_line(lesion: dict) -> str:
    """The chosen path in one line: entry side, angles, depth, and the smallest clearance and to what."""
    if not lesion["trajectories"]:
        return "no safe path: " + readable(lesion["message"].removeprefix("No safe path: "))
    t = lesion["trajectories"][0]
    card = t.get("procedure") or {}
    angle, tilt = needle_angles_deg(t["entry_lps"], t["target_lps"])
    side = card.get("entry_side") or entry_side(t["entry_lps"], t["target_lps"])
    words = f"{side}, {abs(angle):.0f}° from vertical" + (
        f" towards the patient's {'left' if angle > 0 else 'right'}" if abs(angle) >= 0.5 else ""
    )
    if abs(tilt) >= 0.5:
        words += f", tilted {abs(tilt):.0f}° towards the {'head' if tilt > 0 else 'feet'}"
    words += f", {t['length_mm']:.0f} mm deep"
    nearest = _nearest_structure(t)
    if nearest:
        words += f"; {t['min_clearance_mm']:.1f} mm from {readable(nearest)}"
    return words


def _nearest_structure(t: dict) -> str | None:
    clearances = {k: v for k, v in (t.get("clearance_by_structure_mm") or {}).items() if v is not None}
    return min(clearances, key=clearances.get) if clearances else None


def _decision_table(report: HtmlReport, plan: dict) -> None:
    rows = []
    for lesion in plan["lesions"]:
        verdict, why = decision(lesion)
        rows.append(
            {
                "lesion": link(lesion["id"], _anchor(lesion)),
                "organ": lesion["measurement"].get("organ") or "no organ",
                "injectable": tagged(_VERDICT_WORDS.get(verdict, verdict), verdict),
                "why": why,
                "injectate": float(lesion["allocation"]["injectate_ml"]),
                "path": chosen_path_line(lesion),
            }
        )
    report.heading("Decision")
    report.table(
        rows,
        [
            Column("lesion", "Lesion"),
            Column("organ", "Organ"),
            Column("injectable", "Injectable"),
            Column("why", "Why"),
            Column("injectate", "Injectate this visit (mL)", 2),
            Column("path", "Chosen path"),
        ],
    )


def _anchor(lesion: dict) -> str:
    return f"lesion-{lesion['id']}"


# --------------------------------------------------------------------------- warnings
def plan_notices(plan: dict, case: Case) -> dict[str, list[str]]:
    """The warnings that matter to the plan, grouped by title, in words.

    Kept: critical (hard) structures that are empty, critical structures cut by the edge of the scan
    where a lesion's path runs close to that edge, rules that could not be assessed (no vessel or hollow organ
    segmented, necrosis or depth not measured), and changed or assumed rules. A structure that is
    merely outside the needle's reach is not a warning.
    """
    catalogue = Catalogue.default().with_margins(plan["config"].get("margins_mm", {}))
    critical = {n: m for n, m in case.structures.items() if catalogue.rule(n).kind in CRITICAL_KINDS}
    groups: dict[str, list[str]] = {}
    empty = sorted(n for n, m in critical.items() if not m.any())
    if empty:
        groups["Critical structures missing"] = [
            f"{readable(n)} is in the segmentation but empty: its margin could not be checked." for n in empty
        ]
    cut = [
        f"{readable(name)} is cut by the edge of the scan {gap:.0f} mm from the needle path of {lesion_id}: "
        "the part outside the scan was not checked."
        for name, mask in sorted(critical.items())
        if mask.any()
        for lesion_id, gap in _cut_near_paths(mask, case.grid, plan)
    ]
    if cut:
        groups["Cut by the field of view"] = cut
    not_assessed = _unassessed_rules(plan, case, catalogue)
    if not_assessed:
        groups["Rules not assessed"] = not_assessed
    changed = [readable(w) for w in plan.get("warnings", []) if "outside the needle's reach" not in w]
    if changed:
        groups["Rules changed or assumed"] = changed
    return groups


def _cut_near_paths(mask: np.ndarray, grid, plan: dict) -> list[tuple[str, float]]:
    """(lesion id, mm) for each lesion whose first path passes within :data:`NEARBY_STRUCTURE_MM` of a face of
    the scan where ``mask`` is cut, with ``mask``'s cut within :data:`OUTLINE_WITHIN_MM` of that path: what lies
    beyond the face could then be within the nearby distance of the needle.
    """
    found: dict[str, float] = {}
    box = mask_box(mask)
    for axis, array_axis in ((0, 2), (1, 1), (2, 0)):  # index i, j, k and their array axes
        for index in (0, grid.size[axis] - 1):
            if box is None or not box[0][array_axis] <= index < box[1][array_axis]:
                continue  # the mask does not reach this face
            face = np.take(mask, index, axis=array_axis)
            if not face.any():
                continue
            a, b = np.nonzero(face)
            ijk = np.zeros((len(a), 3))
            ijk[:, axis] = index
            ijk[:, [x for x in range(3) if x != axis]] = np.column_stack([b, a])  # array order (k, j, i) reversed
            cut = grid.index_to_lps(ijk)
            edge = index - 0.5 if index == 0 else index + 0.5
            for lesion in plan["lesions"]:
                paths = lesion["trajectories"] or lesion.get("least_bad") or []
                if not paths:
                    continue
                ends = np.array([paths[0]["entry_lps"], paths[0]["target_lps"]], float)
                gap = float(np.min(np.abs(grid.lps_to_index(ends)[:, axis] - edge)) * grid.spacing_mm[axis])
                if gap <= NEARBY_STRUCTURE_MM and _segment_distance(cut, ends[0], ends[1]).min() <= OUTLINE_WITHIN_MM:
                    found[lesion["id"]] = min(gap, found.get(lesion["id"], np.inf))
    return sorted(found.items())


def _segment_distance(points: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Distance (mm) of each point (N, 3) to the segment start-end."""
    d = end - start
    t = np.clip((points - start) @ d / max(float(d @ d), 1e-12), 0.0, 1.0)
    return np.linalg.norm(points - (start + t[:, None] * d), axis=1)


def _unassessed_rules(plan: dict, case: Case, catalogue: Catalogue) -> list[str]:
    present = {n for n, m in case.structures.items() if m.any()}
    rules = plan["config"]["injectability"]
    out = []
    for kind, key, category in (
        ("major vessel", "vessel_structures", "vessel"),
        ("hollow organ", "hollow_structures", "hollow_organ"),
    ):
        if not any(n in present for n in rules.get(key, ())) and not any(
            catalogue.category_of(n) == category for n in present
        ):
            out.append(f"No {kind} is segmented: the distance of each lesion to a {kind} could not be assessed.")
    unknown: dict[str, list[str]] = {}
    for lesion in plan["lesions"]:
        for reason in lesion["injectability"]["reasons"]:
            if reason["severity"] == "info" and reason["code"] != "TRAJECTORY_NOT_CHECKED":
                unknown.setdefault(reason["message"], []).append(lesion["id"])
    out += [f"{message[0].upper()}{message[1:]} for {', '.join(ids)}." for message, ids in unknown.items()]
    return out


def _warnings(report: HtmlReport, groups: dict[str, list[str]]) -> None:
    if not groups:
        return
    report.raw('<div class="box">')
    report.heading("Warnings", 3)
    for title, items in groups.items():
        report.paragraph(title, "warn")
        report.bullets(items)
    report.raw("</div>")


# --------------------------------------------------------------------------- one lesion
def _lesion_section(
    report: HtmlReport,
    plan: dict,
    lesion: dict,
    case: Case,
    skin_map: bytes | None,
    key_images: KeyImages | None = None,
) -> None:
    verdict, why = decision(lesion)
    m = lesion["measurement"]
    title = f"Lesion {lesion['id']} — {m.get('organ') or 'no organ'} — injectable: {verdict}"
    with report.section(_anchor(lesion), title):
        report.paragraph(Html(f"Decision: {tagged(verdict, verdict)}, {why}."))
        report.table(
            [
                {
                    **m,
                    "necrosis_pct": None if m.get("necrosis_fraction") is None else 100 * m["necrosis_fraction"],
                    "recist": readable(m.get("recist_category") or ""),
                }
            ],
            [
                Column("volume_ml", "Volume (mL)", 1),
                Column("longest_diameter_mm", "Longest diameter (mm)", 1),
                Column("short_axis_mm", "Short axis (mm)", 1),
                Column("max_3d_diameter_mm", "Largest 3D diameter (mm)", 1),
                Column("depth_mm", "Depth below the skin (mm)", 0),
                Column("necrosis_pct", "Necrotic (%)", 0),
                Column("recist", "RECIST"),
            ],
        )
        reasons = [f"{r['severity']}: {readable(r['message'])}" for r in lesion["injectability"]["reasons"]]
        if reasons:
            report.heading("Reasons", 3)
            report.bullets(reasons)
        _allocation(report, plan, lesion)
        if lesion["trajectories"]:
            chosen = lesion["trajectories"][0]
            report.heading(f"Procedure card — chosen path ({chosen_path_line(lesion)})", 3)
            if chosen.get("procedure"):
                _procedure_card(report, chosen["procedure"])
            _chosen_figures(report, lesion, chosen, case, key_images)
        else:
            report.paragraph(readable(lesion["message"]), "bad")
        if skin_map is not None:
            report.image(
                skin_map,
                f"{lesion['id']}: where on the skin a safe needle can enter (numbered: the ranked paths)",
                "wide",
            )
        _ranked_paths(report, lesion, case)


def _allocation(report: HtmlReport, plan: dict, lesion: dict) -> None:
    a = lesion.get("allocation") or {}
    ranks = sum(1 for other in plan["lesions"] if (other.get("allocation") or {}).get("priority_rank") is not None)
    dose = a.get("dose")
    unit = plan["allocation"].get("dose_unit")
    report.heading("Allocation", 3)
    report.key_values(
        [
            ("Injectate this visit", f"{a.get('injectate_ml', 0.0):.2f} mL"),
            ("Required by the protocol", None if a.get("required_ml") is None else f"{a['required_ml']:.2f} mL"),
            ("Priority", None if a.get("priority_rank") is None else f"{a['priority_rank']} of {ranks}"),
            ("Why", readable(a.get("reason", "")) or None),
            *([("Dose", f"{dose:.3g} {unit or ''}".strip())] if dose is not None else []),
        ]
    )


def _procedure_card(report: HtmlReport, card: dict) -> None:
    """The console parameters of the chosen path (see :mod:`hitit.plan.procedure`)."""

    def mm(value, digits=0):
        return None if value is None else f"{value:.{digits}f} mm"

    angle, tilt = card["angle_from_vertical_deg"], card["craniocaudal_angle_deg"]
    slices = f"slice {card['slice_index']}"
    if card["target_slice_index"] != card["slice_index"]:
        slices += f" (target on slice {card['target_slice_index']}, z = {card['target_table_position_mm']:.1f} mm)"
    offset = card.get("midline_offset_mm")
    midline = (
        None
        if offset is None
        else (
            f"{abs(offset):.0f} mm {card['midline_side'] or 'on the midline'}"
            f"{' of the midline' if card['midline_side'] else ''} ({readable(card['midline_reference'])})"
        )
    )
    nearby = ", ".join(f"{readable(s['name'])} {s['distance_mm']:.1f} mm" for s in card["nearby_structures"])
    report.key_values(
        [
            ("Patient position", card["patient_position"]),
            ("Table position of the entry", f"z = {card['table_position_mm']:.1f} mm, {slices}"),
            (
                "Entry on the skin",
                f"{card['entry_side']}; {midline or 'midline not found'}; "
                f"{mm(card.get('height_above_table_mm')) or '—'} above the table top",
            ),
            (
                "Needle angle",
                f"{abs(angle):.1f}° from vertical"
                + (f", tip towards the {card['angle_towards']}" if card["angle_towards"] else "")
                + f"; craniocaudal {abs(tilt):.1f}°"
                + (
                    f" towards the {card['craniocaudal_towards']}" if card["craniocaudal_towards"] else " (axial plane)"
                ),
            ),
            (
                "Depth from the skin",
                f"{card['depth_to_target_mm']:.0f} mm to the target, "
                f"{mm(card.get('depth_to_lesion_edge_mm')) or '—'} to the lesion's near edge",
            ),
            (
                "Needle",
                f"{card['needle_length_mm']:g} mm, {card['needle_gauge']} G "
                f"({card['needle_outer_diameter_mm']:.2f} mm); depth mark at {card['depth_mark_mm']:.0f} mm "
                f"({card['needle_outside_skin_mm']:.0f} mm stays outside)",
            ),
            (
                "Total injectate",
                f"{card['total_injectate_ml']:.2f} mL in {len(card['deposits'])} deposits"
                if card["deposits"]
                else "none this visit",
            ),
            (f"Within {card['nearby_limit_mm']:g} mm of the needle", nearby or "no critical structure"),
        ]
    )
    if card["deposits"]:
        report.table(
            _deposit_rows(card["deposits"]),
            [
                Column("path", "Needle path"),
                Column("depths", "Depth marks, deepest first (mm)"),
                Column("each", "Volume each (mL)", 2),
                Column("total", "Path total (mL)", 2),
            ],
        )
        report.paragraph(
            "Advance to the deepest mark, inject, withdraw to the next mark; fanned paths leave from "
            "the same skin entry, tilted by the angle given.",
            "note",
        )


def _deposit_rows(deposits: list[dict]) -> list[dict]:
    """One row per needle path: its depth marks, the volume of each deposit (or the range) and the total."""
    rows = []
    for path in dict.fromkeys(d["path"] for d in deposits):
        own = [d for d in deposits if d["path"] == path]
        volumes = sorted({d["volume_ml"] for d in own})
        tilt = own[0]["tilt_deg"]
        rows.append(
            {
                "path": f"{path}" + (f" (fanned {tilt:.0f}°)" if path > 1 else ""),
                "depths": ", ".join(f"{d['needle_depth_mm']:.0f}" for d in own),
                "each": volumes[0] if len(volumes) == 1 else f"{volumes[0]:.2f}–{volumes[-1]:.2f}",
                "total": sum(d["volume_ml"] for d in own),
            }
        )
    return rows


def _outlined_structures(t: dict, case: Case, organ: str | None) -> dict[str, np.ndarray]:
    """The structures to outline on a path's reformats: the host organ and the nearest critical ones."""
    clearances = {
        k: v for k, v in (t.get("clearance_by_structure_mm") or {}).items() if v is not None and v <= OUTLINE_WITHIN_MM
    }
    names = sorted(clearances, key=clearances.get)[:MAX_OUTLINED_STRUCTURES]
    if organ and organ in case.structures and organ not in names:
        names.append(organ)
    return {n: case.structures[n] for n in names if n in case.structures}


def _chosen_figures(report: HtmlReport, lesion: dict, t: dict, case: Case, key_images: KeyImages | None = None) -> None:
    masks = _outlined_structures(t, case, lesion["measurement"].get("organ"))
    deposits = np.array([d["point_lps"] for d in deposit_list(lesion)]) if deposit_list(lesion) else None
    mask = case.lesions.get(lesion["id"])
    for kind, words in (
        ("axial", "axial plane through the target"),
        ("oblique", "plane along the needle"),
        ("3d", "3D view"),
    ):
        drawn = key_images.get(lesion["id"], t["rank"], kind) if key_images else None
        if drawn is not None:
            report.image(drawn, f"{lesion['id']} chosen path: {words} (drawn by {KEY_IMAGE_LEGEND})", "half")
        elif kind != "3d":  # the core draws no 3D view
            png = render_trajectory(case.ct, masks, mask, t["entry_lps"], t["target_lps"], kind, deposits)
            report.image(
                png, f"{lesion['id']} chosen path: {words} (green: needle, red +: target, yellow: deposits)", "half"
            )


def _ranked_paths(report: HtmlReport, lesion: dict, case: Case) -> None:
    safe = bool(lesion["trajectories"])
    paths = lesion["trajectories"] or lesion.get("least_bad") or []
    if not paths:
        return
    report.heading("Ranked paths" if safe else "Least-bad paths (none is safe)", 3)
    rows = []
    for t in paths:
        angle, tilt = needle_angles_deg(t["entry_lps"], t["target_lps"])
        nearest = _nearest_structure(t)
        rows.append(
            {
                "rank": t["rank"],
                "side": entry_side(t["entry_lps"], t["target_lps"]),
                "length": t["length_mm"],
                "clearance": t["min_clearance_mm"],
                "nearest": readable(nearest) if nearest else None,
                "angle": angle,
                "tilt": tilt,
                "skin": t.get("skin_angle_deg"),
                "pleura": t.get("pleural_punctures"),
                "verdict": tagged("safe", "yes")
                if t["feasible"]
                else Html(f"{tagged('unsafe', 'no')}: {'; '.join(readable(v) for v in t['violations'])}"),
            }
        )
    report.table(
        rows,
        [
            Column("rank", "Rank"),
            Column("side", "Entry"),
            Column("length", "Length (mm)", 0),
            Column("clearance", "Smallest clearance (mm)", 1),
            Column("nearest", "Nearest structure"),
            Column("angle", "From vertical (°, + left)", 0),
            Column("tilt", "Craniocaudal (°, + head)", 0),
            Column("skin", "To the skin normal (°)", 0),
            Column("pleura", "Pleural crossings"),
            Column("verdict", "Verdict"),
        ],
    )
    alternatives = paths[1 : 1 + ALTERNATIVE_THUMBNAILS] if safe else paths[:ALTERNATIVE_THUMBNAILS]
    mask = case.lesions.get(lesion["id"])
    for t in alternatives:
        masks = _outlined_structures(t, case, lesion["measurement"].get("organ"))
        png = render_trajectory(case.ct, masks, mask, t["entry_lps"], t["target_lps"], "axial", thumbnail=True)
        report.image(
            png, f"{lesion['id']} path {t['rank']} ({'safe' if t['feasible'] else 'NOT SAFE'}), axial", "quarter"
        )
