"""``hitit check-path``: verdict and metrics of one straight needle path (entry -> target)."""

from __future__ import annotations

import json

import numpy as np

from hitit.errors import InputError


def register(subparsers) -> None:
    """Add the ``check-path`` subcommand."""
    p = subparsers.add_parser("check-path", help="check one needle path against the critical structures")
    p.add_argument("--ct", required=True, help="CT volume (NRRD, NIfTI, MHA or DICOM folder)")
    p.add_argument("--structures", required=True, nargs="+", help="segmentation(s): .seg.nrrd, label map, mask folder, DICOM SEG or RTSTRUCT")
    p.add_argument("--label-map", default=None, help="label -> name JSON for a label map (default: TotalSegmentator total)")
    p.add_argument("--entry", required=True, nargs=3, type=float, metavar=("X", "Y", "Z"), help="skin entry point (mm)")
    p.add_argument("--target", required=True, nargs=3, type=float, metavar=("X", "Y", "Z"), help="target point (mm)")
    p.add_argument("--frame", default="LPS", choices=("LPS", "RAS"), help="frame of --entry/--target and of the output")
    p.add_argument("--margin", action="append", default=[], metavar="NAME=MM", help="margin override (category or structure)")
    p.add_argument("--needle-length", type=float, default=None, help="usable needle length (mm), default 150")
    p.add_argument("--gauge", type=int, default=None, help="needle gauge (its radius adds to every margin), default 17")
    p.add_argument("--target-organ", default=None, help="structure holding the target (allowed to be crossed)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    """Read the images, prepare the scene around the target and check the path; exit 0 (feasible) or 1."""
    from dataclasses import replace

    from hitit.anatomy.catalogue import Catalogue
    from hitit.geometry import from_lps, to_lps
    from hitit.io.segmentations import read_structures
    from hitit.io.volumes import read_volume
    from hitit.trajectories import TrajectoryConfig, check_path, prepare

    ct = read_volume(args.ct)
    masks = {}
    for path in args.structures:
        masks.update(read_structures(path, ct.grid, args.label_map, reference=ct.dicom))
    if not masks:
        raise InputError("No structure was read from --structures.")
    entry, target = to_lps(np.asarray(args.entry), args.frame), to_lps(np.asarray(args.target), args.frame)
    config = TrajectoryConfig()
    if args.needle_length is not None:
        config = replace(config, needle_length_mm=args.needle_length)
    if args.gauge is not None:
        config = replace(config, gauge=args.gauge)
    warnings: list[str] = []
    rules = Catalogue.default().with_margin_args(args.margin).rules_for_target(list(masks), args.target_organ, warnings)
    scene = prepare((ct.grid, masks), rules, config, target)
    result = check_path(scene, entry, target).to_dict()
    result["entry"] = from_lps(np.asarray(result["entry"]), args.frame).tolist()
    result["target"] = from_lps(np.asarray(result["target"]), args.frame).tolist()
    result["frame"] = args.frame
    result["warnings"] = warnings + scene.warnings
    result["config"] = config.to_dict()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{'FEASIBLE' if result['feasible'] else 'NOT FEASIBLE'}: length {result['length_mm']} mm, "
              f"min clearance {result['min_clearance_mm']} mm ({args.frame})")
        for v in result["violations"]:
            print(f"  - {v}")
    return 0 if result["feasible"] else 1
