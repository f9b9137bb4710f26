"""Small plan.json documents built by hand for reader tests: every field the schema requires, filled around the
lesion records a test gives (its trajectories, deposits, allocation), with the catalogue's rules for the named
structures, so that a test states only what it is about and the plan still passes ``check_plan``.
"""

from __future__ import annotations

import numpy as np

from hitit.dosing.protocols import load_protocol
from hitit.plan.config import PlanConfig
from hitit.plan.plan_file import PLAN_FORMAT_VERSION


def trajectory_record(entry_lps, target_lps, rank: int = 1, **values) -> dict:
    """A trajectory record of a safe path from ``entry_lps`` to ``target_lps`` (LPS mm)."""
    entry, target = np.asarray(entry_lps, float), np.asarray(target_lps, float)
    return {
        "rank": rank,
        "entry_lps": entry.tolist(),
        "target_lps": target.tolist(),
        "feasible": True,
        "length_mm": float(np.linalg.norm(target - entry)),
        "min_clearance_mm": None,
        "margin_slack_mm": None,
        "clearance_by_structure_mm": {},
        "blocking": [],
        "violations": [],
        "axial_angle_deg": None,
        "skin_angle_deg": None,
        **values,
    }


def deposits_record(*point_depth_volume) -> dict:
    """The deposits record of one needle path with deposits (point LPS mm, needle depth mm, volume mL)."""
    return {
        "paths": [
            {
                "entry_lps": [0.0, 0.0, 0.0],
                "direction_lps": [0.0, 1.0, 0.0],
                "deposits": [
                    {"point_lps": list(map(float, p)), "needle_depth_mm": float(d), "volume_ml": float(v)}
                    for p, d, v in point_depth_volume
                ],
            }
        ]
    }


def lesion_record(lesion_id: str, trajectories=(), deposits=None, injectate_ml: float | None = None, **values) -> dict:
    """A lesion record; ``injectate_ml`` defaults to the sum of the deposits' volumes (as the planner allocates)."""
    trajectories = list(trajectories)
    if injectate_ml is None:
        injectate_ml = sum(d["volume_ml"] for path in (deposits or {"paths": []})["paths"] for d in path["deposits"])
    target = trajectories[0]["target_lps"] if trajectories else [0.0, 0.0, 0.0]
    return {
        "id": lesion_id,
        "status": "ok" if trajectories else "no_safe_path",
        "message": "",
        "measurement": {
            "volume_ml": 1.0,
            "longest_diameter_mm": 12.0,
            "short_axis_mm": 10.0,
            "max_3d_diameter_mm": 13.0,
            "centroid_lps": target,
            "nodal": False,
            "measurable": True,
            "recist_category": "target",
        },
        "injectability": {"verdict": "yes", "reasons": []},
        "allocation": {"inject": injectate_ml > 0, "injectate_ml": float(injectate_ml), "reason": ""},
        "target_lps": target,
        "trajectories": trajectories,
        "least_bad": [],
        "blocking_structures": {},
        "scene_index": 0,
        "deposits": deposits,
        **values,
    }


def plan_document(lesions: list[dict], visit: int = 1, structures=(), host_organ: str | None = None) -> dict:
    """A whole plan.json document around ``lesions``: default settings at ``visit``, the pv10 protocol, one scene
    with the catalogue's rules for ``structures`` (``host_organ`` allowed, as the planner sets it).
    """
    config = PlanConfig(protocol="pv10", visit=visit)
    rules = config.catalogue().rules_for_target(list(structures), host_organ)
    return {
        "format_version": PLAN_FORMAT_VERSION,
        "frame": "LPS",
        "hitit_version": "test",
        "case_name": "test",
        "contrast": None,
        "protocol": load_protocol("pv10").to_dict(),
        "config": config.to_dict(),
        "warnings": [],
        "allocation": {
            "policy": "test",
            "total_injectate_ml": sum(lesion["allocation"]["injectate_ml"] for lesion in lesions),
        },
        "scenes": [
            {
                "frame": "LPS",
                "needle_radius_mm": config.planning.needle_radius_mm,
                "tolerance_mm": 0.5,
                "rules": {name: rule.to_dict() for name, rule in rules.items()},
            }
        ],
        "lesions": lesions,
    }
