"""``hitit review``: planned vs actual needle, delivered volume, injectate and samples of one visit."""

from __future__ import annotations

from hitit.io.markups import read_markups
from hitit.io.segmentations import read_structures
from hitit.io.volumes import read_volume
from hitit.plan.plan_file import load_plan
from hitit.review.visit import review_visit, write_review
from hitit.review.sampling_log import read_sampling_log
from hitit.review.volumes import read_injection_log


def register(subparsers) -> None:
    """Add the ``review`` subcommand."""
    parser = subparsers.add_parser(
        "review",
        help="review injection sites: planned vs actual needle, delivered volume, injectate, samples",
        description="Compare a plan written by 'hitit plan' with the intraprocedural CT (needle found automatically "
        "or from a line markup), the injection log, a contrast-tagged post-injection CT and the sampling "
        "log. Writes review.json (LPS mm, mL, degrees) and review.html with PNG images.",
    )
    parser.add_argument("--plan", required=True, help="plan folder written by 'hitit plan' (holds plan.json)")
    parser.add_argument("--ct", required=True, help="intraprocedural CT with the needle in place")
    parser.add_argument(
        "--structures",
        action="append",
        default=[],
        metavar="SEG",
        help="structures and lesion segments on the CT (.seg.nrrd, label map, mask folder, DICOM SEG or RTSTRUCT; "
        "repeatable); segments named like the plan's lesion ids are the lesions",
    )
    parser.add_argument(
        "--needle", metavar="LINE.mrk.json", help="reviewer-placed needle line(s) instead of automatic detection"
    )
    parser.add_argument("--post-ct", help="post-injection CT (injectate mixed with contrast) on the CT's grid")
    parser.add_argument(
        "--injection-log", help="injection log, JSON or CSV (lesion_id, delivered_ml, needle, passes, leakage_seen)"
    )
    parser.add_argument("--sampling-log", help="biopsy/sampling log, JSON (lesion_id, timepoint, point, frame)")
    parser.add_argument(
        "--out",
        required=True,
        help="output folder for review.json, review.html and images (an earlier review there is replaced, other files "
        "are kept)",
    )
    parser.set_defaults(func=run)


def run(args) -> int:
    """Run the review and print a one-line summary per needle."""
    plan = load_plan(args.plan)
    ct = read_volume(args.ct)
    structures = {}
    for path in args.structures:
        structures.update(read_structures(path, ct.grid, reference=ct.dicom))
    review = review_visit(
        plan,
        ct,
        structures,
        needle_markup=read_markups(args.needle) if args.needle else None,
        post_ct=read_volume(args.post_ct) if args.post_ct else None,
        injection_log=read_injection_log(args.injection_log) if args.injection_log else None,
        sampling_log=read_sampling_log(args.sampling_log) if args.sampling_log else None,
    )
    paths = write_review(review, args.out)
    for needle in review.needles:
        d = needle.deviation
        print(
            f"{needle.lesion_id}: tip-target {d.tip_to_target_mm:.1f} mm, angle {d.angle_deg:.1f} deg, "
            f"margins {'kept' if needle.margins['kept'] else 'NOT kept'} ({needle.needle.source})"
        )
    for lesion_id, reason in review.not_reviewed.items():
        print(f"{lesion_id}: {reason}")
    print(f"wrote {paths['json']} and {paths['html']}")
    return 0
