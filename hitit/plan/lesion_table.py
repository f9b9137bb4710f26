"""The lesions table of a plan (``lesions.csv``, the report and the Slicer module show the same rows),
read from the plan's JSON-ready dict (the content of ``plan.json``).
"""

from __future__ import annotations

LESION_COLUMNS = [
    "id",
    "organ",
    "volume_ml",
    "longest_diameter_mm",
    "short_axis_mm",
    "max_3d_diameter_mm",
    "depth_mm",
    "necrosis_fraction",
    "necrosis",
    "measurable",
    "recist_category",
    "injectable",
    "reasons",
    "status",
    "trajectories_feasible",
    "best_length_mm",
    "best_min_clearance_mm",
    "injectate_ml",
    "inject",
    "dose_reason",
    "deposits",
    "coverage_fraction",
]


def necrosis_status(measurement: dict) -> str:
    """Either "assessed" or "not assessed: why" (the measurement's necrosis record; older plans: from the fraction)."""
    record = measurement.get("necrosis")
    if record is None:
        return "assessed" if measurement.get("necrosis_fraction") is not None else "not assessed"
    return (
        "assessed"
        if record["status"] == "assessed"
        else record["reason"].replace("necrosis not assessed", "not assessed")
    )


def lesion_rows(plan: dict) -> list[dict]:
    """One flat row per lesion (the lesions table of the CSV, the report and the Slicer module)."""
    rows = []
    for lesion in plan["lesions"]:
        m = lesion["measurement"]
        best = lesion["trajectories"][0] if lesion["trajectories"] else {}
        allocation = lesion.get("allocation") or {}
        deposits = lesion.get("deposits") or {}
        rows.append(
            {
                "id": lesion["id"],
                "organ": m.get("organ"),
                "volume_ml": m["volume_ml"],
                "longest_diameter_mm": m["longest_diameter_mm"],
                "short_axis_mm": m["short_axis_mm"],
                "max_3d_diameter_mm": m["max_3d_diameter_mm"],
                "depth_mm": m.get("depth_mm"),
                "necrosis_fraction": m.get("necrosis_fraction"),
                "necrosis": necrosis_status(m),
                "measurable": m["measurable"],
                "recist_category": m["recist_category"],
                "injectable": lesion["injectability"]["verdict"],
                "reasons": "; ".join(
                    r["message"] for r in lesion["injectability"]["reasons"] if r["severity"] != "info"
                ),
                "status": lesion["status"],
                "trajectories_feasible": sum(1 for t in lesion["trajectories"] if t["feasible"]),
                "best_length_mm": best.get("length_mm"),
                "best_min_clearance_mm": best.get("min_clearance_mm"),
                "injectate_ml": allocation.get("injectate_ml", 0.0),
                "inject": allocation.get("inject", False),
                "dose_reason": allocation.get("reason", ""),
                "deposits": len(deposit_list(lesion)),
                "coverage_fraction": deposits.get("coverage_fraction"),
            }
        )
    return rows


def deposit_list(lesion: dict) -> list[dict]:
    """Every deposit of a plan.json lesion record, over all its needle paths (fanned paths included)."""
    return [d for path in (lesion.get("deposits") or {}).get("paths", []) for d in path["deposits"]]
