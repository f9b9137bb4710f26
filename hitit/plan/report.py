"""The plan report: one self-contained HTML page with the tables a radiologist checks and the
images to check them on (axial and oblique reformats along each trajectory, the accessibility map).
"""

from __future__ import annotations

from hitit.case import Case
from hitit.plan.lesion_table import deposit_list, lesion_rows
from hitit.report.figures import render_trajectory
from hitit.report.html import HtmlReport

#: Structures outlined on the reformats: at most this many, nearest to the path first, so the
#: images stay readable on a case with a hundred TotalSegmentator labels.
MAX_OUTLINED_STRUCTURES = 6
#: Trajectories per lesion drawn in the report (the top ranks).
REPORT_TRAJECTORIES = 2

TRAJECTORY_COLUMNS = ["rank", "feasible", "length_mm", "min_clearance_mm", "closest_structure",
                      "axial_angle_deg", "skin_angle_deg", "pleural_punctures", "fissure_crossings", "score", "blocking"]


def _closest_structures(trajectory: dict) -> list[str]:
    clearances = trajectory.get("clearance_by_structure_mm") or {}
    ordered = sorted((v, k) for k, v in clearances.items() if v is not None)
    return [name for _, name in ordered[:MAX_OUTLINED_STRUCTURES]]


def _trajectory_row(t: dict) -> dict:
    clearances = t.get("clearance_by_structure_mm") or {}
    closest = min(clearances.items(), key=lambda kv: kv[1])[0] if clearances else None
    return {**t, "closest_structure": closest, "blocking": ", ".join(t.get("blocking") or []) or None}


def build_report(plan: dict, case: Case, accessibility_png: dict[str, bytes]) -> str:
    """The report page as an HTML string (images embedded)."""
    report = HtmlReport(f"HITIT plan — {plan.get('case_name', 'case')}")
    report.paragraph(
        f"Frame {plan['frame']} (mm). Protocol {plan['protocol']['name']} v{plan['protocol']['version']}, "
        f"visit {plan['visit']}. Needle {plan['config']['planning'].get('needle_length_mm')} mm. "
        "Every plan must be checked by the treating radiologist.", "note")
    for warning in plan.get("warnings", []):
        report.paragraph(f"Warning: {warning}", "warn")
    report.heading("Lesions")
    report.table(lesion_rows(plan))
    report.heading("Injectate allocation")
    report.paragraph(f"Total this visit: {plan['allocation']['total_injectate_ml']:.2f} mL "
                     f"(cap {plan['allocation'].get('per_visit_cap_ml')} mL).")
    report.table(plan["allocation"]["lesions"], ["lesion_id", "longest_diameter_mm", "required_ml",
                                                 "injectate_ml", "inject", "reason", "dose"])
    for lesion in plan["lesions"]:
        report.heading(f"Lesion {lesion['id']}: {lesion['status'].replace('_', ' ')}")
        for reason in lesion["injectability"]["reasons"]:
            css = {"no": "bad", "caution": "warn"}.get(reason["severity"], "note")
            report.paragraph(f"[{reason['severity']}] {reason['message']}", css)
        report.paragraph(lesion["message"], "bad" if lesion["status"] != "ok" else "note")
        report.table([_trajectory_row(t) for t in lesion["trajectories"]], TRAJECTORY_COLUMNS)
        if lesion["least_bad"]:
            report.paragraph("Least-bad paths (NOT safe; their violations are listed):", "bad")
            report.table([{**_trajectory_row(t), "violations": "; ".join(t["violations"])} for t in lesion["least_bad"]],
                         TRAJECTORY_COLUMNS + ["violations"])
        deposits = deposit_list(lesion)
        if deposits:
            report.table(deposits, ["needle_depth_mm", "volume_ml", "distance_to_boundary_mm", "point_lps"])
        for t in (lesion["trajectories"] or lesion["least_bad"])[:REPORT_TRAJECTORIES]:
            outlined = {name: case.structures[name] for name in _closest_structures(t) if name in case.structures}
            for kind in ("axial", "oblique"):
                png = render_trajectory(case.ct, outlined, case.lesions.get(lesion["id"]), t["entry"], t["target"],
                                        kind, f"{lesion['id']}-T{t['rank']} {kind}")
                report.image(png, f"{lesion['id']} trajectory {t['rank']} ({'safe' if t['feasible'] else 'UNSAFE'}), {kind} reformat")
        if lesion["id"] in accessibility_png:
            report.image(accessibility_png[lesion["id"]], f"{lesion['id']} skin accessibility map")
    return report.render()
