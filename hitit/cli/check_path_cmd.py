"""``hitit check-path``: verdict and metrics of one straight needle path (entry -> target)."""

from __future__ import annotations

import json

import numpy as np

from hitit.errors import InputError


def register(subparsers) -> None:
    """Add the ``check-path`` subcommand."""
    p = subparsers.add_parser("check-path", help="check one needle path against the critical structures")
    p.add_argument("--ct", required=True, help="CT volume (NRRD, NIfTI, MHA or DICOM folder)")
    p.add_argument(
        "--structures",
        required=True,
        nargs="+",
        help="segmentation(s): .seg.nrrd, label map, mask folder, DICOM SEG or RTSTRUCT",
    )
    p.add_argument(
        "--label-map", default=None, help="label -> name JSON for a label map (default: TotalSegmentator total)"
    )
    p.add_argument("--entry", required=True, nargs=3, type=float, metavar=("X", "Y", "Z"), help="skin entry point (mm)")
    p.add_argument("--target", required=True, nargs=3, type=float, metavar=("X", "Y", "Z"), help="target point (mm)")
    p.add_argument(
        "--frame",
        default="LPS",
        choices=("LPS", "RAS"),
        help="frame of --entry/--target; with RAS the JSON adds entry_ras/target_ras beside entry_lps/target_lps",
    )
    p.add_argument(
        "--margin", action="append", default=[], metavar="NAME=MM", help="margin override (category or structure)"
    )
    p.add_argument("--needle-length", type=float, default=None, help="usable needle length (mm), default 150")
    p.add_argument("--gauge", type=int, default=None, help="needle gauge (its radius adds to every margin), default 17")
    p.add_argument(
        "--target-organ",
        default=None,
        help="structure holding the target (allowed to be crossed); default: inferred from --lesions, "
        "else from the structure holding the target point",
    )
    p.add_argument(
        "--lesions",
        default=None,
        help="lesion segmentation: the target's lesion sets the host organ "
        "(as hitit plan finds it) and the normal-tissue-before-lesion rule",
    )
    p.add_argument(
        "--lesion-label-map", default=None, help="label -> lesion id map (JSON or CSV) for a lesion label map"
    )
    p.add_argument(
        "--lesion",
        default=None,
        metavar="ID",
        help="the lesion the path aims at (default: the lesion holding the target, else the nearest one)",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    """Read the images, prepare the scene around the target and check the path; exit 0 (feasible) or 1."""
    from hitit.anatomy.catalogue import parse_margin_args
    from hitit.anatomy.target_organ import given_target_organ, target_organ_at_point, target_organ_of_lesion
    from hitit.geometry import from_lps, to_lps
    from hitit.io.segmentations import read_structures
    from hitit.io.volumes import read_volume
    from hitit.plan import PlanConfig
    from hitit.trajectories import check_path, prepare

    ct = read_volume(args.ct)
    masks = {}
    for path in args.structures:
        masks.update(read_structures(path, ct.grid, args.label_map, reference=ct.dicom))
    if not masks:
        raise InputError("No structure was read from --structures.")
    entry, target = to_lps(np.asarray(args.entry), args.frame), to_lps(np.asarray(args.target), args.frame)
    settings = PlanConfig().with_overrides(
        needle_length_mm=args.needle_length, gauge=args.gauge, margins_mm=parse_margin_args(args.margin)
    )
    config = settings.planning
    warnings: list[str] = []
    catalogue = settings.catalogue()
    lesion_id, lesion_mask = _target_lesion(args, ct.grid, target)
    if args.target_organ:
        organ = given_target_organ(args.target_organ)
    elif lesion_mask is not None:
        organ = target_organ_of_lesion(lesion_id, lesion_mask, masks)
    else:
        organ = target_organ_at_point(masks, ct.grid, target, catalogue)
    rules = catalogue.rules_for_target(list(masks), organ.names, warnings)
    scene = prepare((ct.grid, masks), rules, config, target)
    result = check_path(scene, entry, target, lesion_mask=lesion_mask).to_dict()
    result["target_organ"] = organ.to_dict()
    if args.frame == "RAS":
        # the record keeps its LPS points; the points in the frame they were given in are added under their own keys
        result["entry_ras"] = from_lps(np.asarray(result["entry_lps"]), "RAS").tolist()
        result["target_ras"] = from_lps(np.asarray(result["target_lps"]), "RAS").tolist()
    result["warnings"] = warnings + scene.warnings
    result["config"] = config.to_dict()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{'FEASIBLE' if result['feasible'] else 'NOT FEASIBLE'}: length {result['length_mm']} mm, "
            f"min clearance {result['min_clearance_mm']} mm"
        )
        print(f"  target organ: {', '.join(organ.names) or 'none'} ({organ.detail})")
        for v in result["violations"]:
            print(f"  - {v}")
    return 0 if result["feasible"] else 1


def _target_lesion(args, grid, target_lps) -> tuple[str | None, np.ndarray | None]:
    """The lesion the path aims at (id and mask on the CT grid), or (None, None) without ``--lesions``.

    ``--lesion`` names it; otherwise the lesion holding the target's voxel, else the one whose centre
    is nearest the target (as a plan judges a drawn path).
    """
    if not args.lesions:
        if args.lesion:
            raise InputError("--lesion needs --lesions (the lesion segmentation).")
        return None, None
    from hitit.anatomy.target_organ import structures_at_point
    from hitit.io.segmentations import read_lesions, require_nonempty_masks

    lesions = require_nonempty_masks(read_lesions(args.lesions, grid, args.lesion_label_map), "lesion")
    if args.lesion:
        if args.lesion not in lesions:
            raise InputError(
                f"No lesion '{args.lesion}' in {args.lesions}; the lesions there are: {', '.join(lesions)}."
            )
        return args.lesion, lesions[args.lesion]
    holding = structures_at_point(lesions, grid, target_lps)
    if holding:
        return holding[0], lesions[holding[0]]

    def centre_distance(name: str) -> float:
        k, j, i = np.nonzero(lesions[name])
        return float(np.linalg.norm(grid.index_to_lps(np.array([i.mean(), j.mean(), k.mean()])) - target_lps))

    nearest = min(lesions, key=centre_distance)
    return nearest, lesions[nearest]
