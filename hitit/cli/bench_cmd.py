"""``hitit bench``: time the trajectory engine on a CT-sized synthetic scene against the ray-cast baseline."""

from __future__ import annotations

import json


def register(subparsers) -> None:
    """Add the ``bench`` subcommand."""
    parser = subparsers.add_parser("bench", help="benchmark the trajectory engine (prepare, map, check-path, baseline)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--small", action="store_true", help="a small quick scene (for tests), not the 512x512x300 one")
    parser.set_defaults(func=run)


def run(args) -> int:
    """Build the scene, run the benchmark and print its figures."""
    from hitit.trajectories.bench import run_bench
    result = run_bench(small=args.small).to_dict()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0
