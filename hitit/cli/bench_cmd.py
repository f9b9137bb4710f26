"""``hitit bench``: the whole ``hitit plan`` process on a CT-sized case against a ray-cast planner run as a
whole process, and the trajectory engine's own figures (prepare, map, check-path) against the ray-cast map.
"""

from __future__ import annotations

import json


def register(subparsers) -> None:
    """Add the ``bench`` subcommand."""
    parser = subparsers.add_parser(
        "bench", help="benchmark hitit plan as a whole process, and the trajectory engine, against a ray-cast baseline"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--small", action="store_true", help="a small quick case and scene (for tests), not the 512x512x300 ones"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="run each whole process N times, alternating, and report the medians (default 1)",
    )
    parser.add_argument("--engine-only", action="store_true", help="only the trajectory engine's figures")
    parser.set_defaults(func=run)


def run(args) -> int:
    """Run the benchmarks and print their figures."""
    from hitit.trajectories.bench import run_bench

    result = {}
    if not args.engine_only:
        from hitit.trajectories.process_bench import run_process_bench

        result.update(run_process_bench(small=args.small, repeats=max(1, args.repeat)))
    result.update(run_bench(small=args.small).to_dict())
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    if not args.engine_only:
        _print_process(result)
    for key, value in result.items():
        if not key.startswith(
            (
                "process",
                "baseline_process",
                "baseline_peak",
                "stages",
                "baseline_stages",
                "case",
                "proposed",
                "feasible_entries",
                "baseline_clear",
                "baseline_entries",
            )
        ):
            print(f"{key}: {value}")
    return 0


def _print_process(result: dict) -> None:
    """The whole-process comparison as a few readable lines."""
    case = result["case"]
    print(
        f"whole process on a {'x'.join(map(str, case['size']))} CT ({'x'.join(map(str, case['spacing_mm']))} mm, "
        f"{case['structures']} structures, one lesion; case made in {result['case_generation_s']} s):"
    )
    print(f"  hitit plan    {result['process_s']:7.2f} s   peak {result['process_peak_memory_mb']:7.0f} MB")
    print(f"  ray-cast      {result['baseline_process_s']:7.2f} s   peak {result['baseline_peak_memory_mb']:7.0f} MB")
    print(
        f"  speedup       {result['process_speedup']:7.2f} x  (runs: hitit {result['process_runs_s']}, "
        f"ray-cast {result['baseline_runs_s']})"
    )
    print("  hitit plan stages (s): " + ", ".join(f"{k} {v}" for k, v in result["stages_s"].items()))
    print("  ray-cast stages (s): " + ", ".join(f"{k} {v}" for k, v in result["baseline_stages_s"].items()))
    print(
        f"  proposed paths {result['proposed_paths']}, exactly safe {result['proposed_paths_exactly_safe']}; "
        f"feasible entries {result['feasible_entries']} (ray-cast: {result['baseline_clear_entries']} clear of "
        f"{result['baseline_entries_in_reach']} in reach, no angle rules)"
    )
