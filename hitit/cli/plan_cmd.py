"""``hitit plan``: the whole planning job on files, written as a plan folder."""

from __future__ import annotations

import sys
from pathlib import Path

from hitit.anatomy.catalogue import parse_margin_args
from hitit.case import Case
from hitit.errors import InputError
from hitit.io.outdir import check_output_set
from hitit.io.segmentations import read_lesions, read_structures, require_nonempty_masks
from hitit.io.volumes import read_volume
from hitit.plan import PlanConfig, plan_case, write_plan
from hitit.plan.folder import PLAN_OUTPUT_KIND, plan_file_names


def register(subparsers) -> None:
    """Add the ``plan`` subcommand."""
    parser = subparsers.add_parser(
        "plan",
        help="plan needle trajectories, injectate and deposits for every lesion; write a plan folder",
        description="Measure each lesion, propose safe straight needle paths from the skin, judge injectability, "
        "allocate injectate under the protocol's per-visit cap and plan deposits. Coordinates in the "
        "outputs are LPS mm (markups files say so; Slicer converts them).",
    )
    parser.add_argument("--ct", required=True, help="CT volume: NRRD, NIfTI, MHA or a DICOM series folder")
    parser.add_argument(
        "--structures",
        action="append",
        default=[],
        metavar="SEG",
        help="critical structures: .seg.nrrd, label map, folder of masks, DICOM SEG or RTSTRUCT (repeatable)",
    )
    parser.add_argument(
        "--lesions",
        required=True,
        help="lesions: .seg.nrrd, label map / binary mask (unnamed values: one lesion "
        "each, named <file>-<value>, or <file> for a binary mask), folder, DICOM SEG or RTSTRUCT",
    )
    parser.add_argument("--label-map", help="label -> name map (JSON or CSV) for structure label maps")
    parser.add_argument("--lesion-label-map", help="label -> lesion id map (JSON or CSV) for a lesion label map")
    parser.add_argument(
        "--protocol",
        help="drug protocol name (tvec, pv10, fraction, fixed) or JSON file "
        "(default: the course's protocol with --course, else tvec)",
    )
    parser.add_argument(
        "--visit", type=int, help="treatment visit number (1 = first; default: the course's next visit, else 1)"
    )
    parser.add_argument(
        "--course",
        metavar="COURSE.json",
        help="the patient's course ('hitit course'): lesion ids must be the course's; lesions first seen "
        "after the baseline and never injected are this visit's new lesions",
    )
    parser.add_argument(
        "--new-lesion", action="append", default=[], metavar="ID", help="a lesion first seen at this visit"
    )
    parser.add_argument("--nodal", action="append", default=[], metavar="ID", help="a lesion that is a lymph node")
    parser.add_argument("--needle-length", type=float, metavar="MM", help="usable needle length (mm)")
    parser.add_argument("--gauge", type=int, metavar="G", help="needle gauge (its radius adds to every margin)")
    parser.add_argument(
        "--margin",
        action="append",
        default=[],
        metavar="NAME=MM",
        help="margin override for a category (vessel, bone, ...) or a structure (repeatable)",
    )
    parser.add_argument(
        "--max-axial-angle",
        type=float,
        metavar="DEG",
        help="largest needle angle to the axial plane (default 0: in-plane CT guidance; gantry tilt allows up to about "
        "30)",
    )
    parser.add_argument(
        "--aim",
        choices=("centre", "best"),
        default="centre",
        help="aim at the lesion centre, or at the point inside the lesion with the best safe path",
    )
    parser.add_argument(
        "--side",
        action="append",
        default=[],
        metavar="SIDE",
        help="restrict skin entries to a patient side: left, right, anterior, posterior (repeatable)",
    )
    parser.add_argument(
        "--auto-structures",
        default="",
        metavar="KINDS",
        help="derive missing structures from HU: comma-separated bone,lung",
    )
    parser.add_argument(
        "--contrast",
        choices=("yes", "no"),
        help="whether the CT is contrast-enhanced (default: from the CT header); necrosis is assessed "
        "only on an enhanced CT",
    )
    parser.add_argument(
        "--include-patient-id",
        action="store_true",
        help="write the DICOM CT's patient name and id into plan.json, lesions.csv and the report "
        "(by default none of them carries either)",
    )
    parser.add_argument(
        "--out",
        required=True,
        help="output folder: created if missing; a plan HITIT wrote there before is replaced as a whole, "
        "other files are kept; refused if a plan file would overwrite a file HITIT did not write",
    )
    parser.set_defaults(func=run)


def course_from_args(args):
    """The course named by ``--course`` (validated), None without one."""
    if not getattr(args, "course", None):
        return None
    from hitit.course.record import load_course  # imported only for a course: keeps start-up short

    return load_course(args.course)


def settings_from_args(args, course=None) -> PlanConfig:
    """Plan settings from command-line arguments (and ``course``'s protocol, visit and new lesions when given)."""
    protocol, visit, new_lesions = args.protocol or "tvec", args.visit or 1, tuple(args.new_lesion)
    if course is not None:
        from hitit.course.planning import course_visit_settings

        protocol, visit, new_lesions = course_visit_settings(course, args.protocol, args.visit, new_lesions)
    settings = PlanConfig(
        protocol=protocol,
        visit=visit,
        new_lesions=new_lesions,
        nodal_lesions=tuple(args.nodal),
        entry_sides=tuple(args.side),
        aim=args.aim,
        contrast=args.contrast,
        auto_structures=tuple(k.strip() for k in args.auto_structures.split(",") if k.strip()),
    )
    return settings.with_overrides(
        needle_length_mm=args.needle_length,
        gauge=args.gauge,
        max_axial_angle_deg=args.max_axial_angle,
        margins_mm=parse_margin_args(args.margin),
    )


def plan_from_args(args):
    """Read the inputs named by the arguments and plan them: ``(plan, case, patient)`` (patient None
    unless ``--include-patient-id``).
    """
    course = course_from_args(args)  # read first: a bad course file is refused before the long part
    ct = read_volume(args.ct)
    patient = _patient(ct) if args.include_patient_id else None  # checked before the long part
    structures = {}
    for path in args.structures:
        structures.update(read_structures(path, ct.grid, args.label_map, reference=ct.dicom))
    lesions = require_nonempty_masks(
        read_lesions(args.lesions, ct.grid, args.lesion_label_map, reference=ct.dicom), "lesion"
    )
    overlap = sorted(set(lesions) & set(structures))
    if overlap:
        raise InputError(f"Names {overlap} are both structures and lesions: rename the lesion segments.")
    if course is not None:
        from hitit.course.planning import check_course_lesions

        for line in check_course_lesions(course, list(lesions)):
            print(line, file=sys.stderr)
    check_output_set(args.out, PLAN_OUTPUT_KIND, plan_file_names(list(lesions)))
    case = Case(ct, structures, lesions)
    plan = plan_case(
        case,
        settings_from_args(args, course),
        progress=lambda f, m: print(f"[{f:4.0%}] {m}", file=sys.stderr),
        case_name=Path(args.ct).name,
    )
    return plan, case, patient


def print_summary(plan, files: dict) -> None:
    """One line per lesion (verdict, injectate, best path) and where the plan was written."""
    for lesion in plan.lesions:
        best = lesion.target.trajectories[0] if lesion.target.trajectories else None
        path = (
            f"best path {best.length_mm:.0f} mm, clearance {best.min_clearance_mm:.1f} mm"
            if best is not None
            else f"NO SAFE PATH: {lesion.target.message}"
        )
        print(f"{lesion.lesion_id}: {lesion.injectability.verdict:<7} {lesion.injectate_ml:5.2f} mL  {path}")
    print(f"plan written to {files['plan'].parent}")


def run(args) -> int:
    """Read the inputs, plan, write the folder, print a summary."""
    plan, case, patient = plan_from_args(args)
    print_summary(plan, write_plan(plan, case, args.out, patient))
    return 0


def _patient(ct) -> dict[str, str]:
    """The patient name and id of a DICOM CT; an InputError when the CT has neither."""
    series = ct.dicom
    if series is None or not (series.patient_id or series.patient_name):
        raise InputError("--include-patient-id needs a DICOM CT series that carries a Patient ID or Patient Name.")
    return {"id": series.patient_id, "name": series.patient_name}
