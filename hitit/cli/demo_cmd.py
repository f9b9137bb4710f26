"""``hitit demo``: generate the teaching case, write it, plan it end to end, and report.

:func:`run_demo` is a sequence of steps that each add their results to one dict; planning and
review steps are appended there as they become available, and :func:`run` prints the summary.
"""

from __future__ import annotations

import time
from pathlib import Path

from hitit.phantom import DEFAULT_SPACING_MM, make_teaching_case, write_teaching_case
from hitit.plan import PlanConfig, plan_case, write_plan

#: Sub-folder of the output folder that receives the teaching case files.
CASE_DIR_NAME = "case"
#: Sub-folder that receives the plan.
PLAN_DIR_NAME = "plan"
#: Protocol the demo plans with. PV-10 (volume-based, no per-visit cap) lets every lesion be shown;
#: run ``hitit plan --protocol tvec`` on the written case to see T-VEC's liver warning and 4 mL cap.
DEMO_PROTOCOL = "pv10"


def register(subparsers) -> None:
    """Add the ``demo`` subcommand."""
    parser = subparsers.add_parser(
        "demo",
        help="generate the synthetic teaching case (CT, structures, lesions, truth) and plan it end to end",
        description="Generate the teaching case (NRRD CT + Slicer .seg.nrrd files under OUT/case/) and write its plan "
        "under OUT/plan/.",
    )
    parser.add_argument(
        "--out",
        required=True,
        help="output folder (created if needed); its case/ and plan/ keep files HITIT did not write",
    )
    parser.add_argument(
        "--spacing",
        type=float,
        nargs=3,
        metavar=("X", "Y", "Z"),
        default=list(DEFAULT_SPACING_MM),
        help=f"voxel spacing in mm along i, j, k (default {' '.join(f'{s:g}' for s in DEFAULT_SPACING_MM)})",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the CT noise (the anatomy does not change)")
    parser.add_argument(
        "--course",
        action="store_true",
        help="generate the teaching treatment course instead: baseline, four T-VEC visits (plan, needle and "
        "injectate CTs, review), two follow-ups, course.json, response, course report and truth.json",
    )
    parser.set_defaults(func=run)


def run_demo(out_dir: str | Path, spacing_mm=DEFAULT_SPACING_MM, seed: int = 0) -> dict:
    """Generate and write the teaching case under ``out_dir/case``; return paths and results (JSON-ready)."""
    out = Path(out_dir)
    result: dict = {"frame": "LPS", "out_dir": str(out)}
    start = time.perf_counter()
    teaching_case = make_teaching_case(spacing_mm=tuple(spacing_mm), seed=seed)
    result["generation_s"] = round(time.perf_counter() - start, 3)
    files = write_teaching_case(teaching_case, out / CASE_DIR_NAME)
    result["case_files"] = {name: str(path) for name, path in files.items()}
    result["case"] = teaching_case.to_dict()
    start = time.perf_counter()
    plan = plan_case(teaching_case.case, PlanConfig(protocol=DEMO_PROTOCOL), case_name="HITIT teaching case")
    plan_files = write_plan(plan, teaching_case.case, out / PLAN_DIR_NAME)
    result["planning_s"] = round(time.perf_counter() - start, 3)
    result["plan_files"] = {name: str(path) for name, path in plan_files.items()}
    result["plan"] = plan.to_dict()
    return result


def run_course(args) -> int:
    """Generate the teaching course and print where its parts are and what is due next."""
    from hitit.cli.course_cmd import status_lines
    from hitit.course.record import load_course
    from hitit.course.teaching import write_teaching_course

    start = time.perf_counter()
    paths = write_teaching_course(args.out, args.seed)
    print(f"Teaching course written to {args.out} in {time.perf_counter() - start:.1f} s")
    for name, path in paths.items():
        print(f"  {name}: {path}")
    print("\n".join(status_lines(load_course(paths["course"]))))
    return 0


def run(args) -> int:
    """Generate the case and print its grid, structure sizes and lesion truth."""
    if args.course:
        return run_course(args)
    result = run_demo(args.out, args.spacing, args.seed)
    case = result["case"]
    grid = case["grid"]
    print(
        f"Teaching case written to {Path(result['out_dir']) / CASE_DIR_NAME} (generated in "
        f"{result['generation_s']:.1f} s)"
    )
    print(f"  grid size {grid['size']}  spacing {[round(s, 4) for s in grid['spacing']]} mm")
    print(
        f"  origin (LPS) {[round(o, 2) for o in grid['origin']]} mm  direction "
        f"{[round(d, 4) for d in grid['direction']]}"
    )
    print("  structures:")
    for name, size in case["structures"].items():
        print(f"    {name:<32} {size['voxels']:>10d} voxels {size['volume_ml']:>9.1f} mL")
    print("  lesion truth (analytic; LPS mm):")
    for lesion_id, truth in case["lesions"].items():
        centre = ", ".join(f"{v:g}" for v in truth["centre_lps"])
        necrosis = f", necrotic fraction {truth['necrotic_fraction']:.2f}" if truth["necrotic_core_radius_mm"] else ""
        print(
            f"    {lesion_id} ({truth['organ']}{', nodal' if truth['nodal'] else ''}): {truth['volume_ml']:.2f} mL, "
            f"long axis {truth['longest_axial_diameter_mm']:g} mm, short axis {truth['short_axis_mm']:g} mm, "
            f"max 3D {truth['max_3d_diameter_mm']:g} mm, centre ({centre}){necrosis}"
        )
    for name, path in result["case_files"].items():
        print(f"  {name}: {path}")
    plan = result["plan"]
    print(
        f"Plan ({plan['protocol']['name']}, visit {plan['config']['visit']}) written to "
        f"{Path(result['out_dir']) / PLAN_DIR_NAME} "
        f"in {result['planning_s']:.1f} s:"
    )
    print(
        f"    {'lesion':<6} {'volume':>9} {'LD':>7} {'SA':>7} {'depth':>7} {'injectable':<10} {'injectate':>9}  best "
        "trajectory"
    )
    for lesion in plan["lesions"]:
        m = lesion["measurement"]
        best = lesion["trajectories"][0] if lesion["trajectories"] else None
        path = f"{best['length_mm']:.0f} mm, clearance {best['min_clearance_mm']:.1f} mm" if best else lesion["message"]
        print(
            f"    {lesion['id']:<6} {m['volume_ml']:>6.2f} mL {m['longest_diameter_mm']:>4.1f} mm "
            f"{m['short_axis_mm']:>4.1f} mm "
            f"{m['depth_mm']:>4.0f} mm {lesion['injectability']['verdict']:<10} "
            f"{lesion['allocation']['injectate_ml']:>6.2f} mL  {path}"
        )
    print(f"  report: {result['plan_files']['report']}")
    return 0
