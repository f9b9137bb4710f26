"""``hitit course``: one patient's treatment course (``course.json``) from baseline plan to response.

Sub-commands: ``new`` (from a baseline plan), ``add-visit`` (a visit's plan and/or review, checklist ticks),
``add-timepoint`` (measurements from a study file, line markups or lesion masks), ``status`` (what is due
next) and ``report`` (one page per lesion and the itRECIST streams).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from hitit.course.build import add_new_lesion, make_visit, merge_visit, new_course, record_injections
from hitit.course.checklist import open_items, tick
from hitit.course.record import Course, Imaging, load_course, save_course
from hitit.course.schedule import course_status
from hitit.errors import InputError
from hitit.io.jsonfile import read_json


def register(subparsers) -> None:
    """Add the ``course`` subcommand and its own sub-commands."""
    parser = subparsers.add_parser(
        "course",
        help="a patient's treatment course: lesions, visits and imaging in one record (course.json)",
        description="Keep one patient's course: lesions with stable ids and itRECIST categories, every injection visit "
        "(plan, review, checklist) and imaging time point; say what is due next; report it.",
    )
    commands = parser.add_subparsers(dest="course_command", metavar="ACTION", required=True)
    _register_new(commands)
    _register_add_visit(commands)
    _register_add_timepoint(commands)
    status = commands.add_parser("status", help="what is due next: visit date, lesions and volumes, next imaging")
    status.add_argument("course", help="course.json")
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    status.set_defaults(func=run_status)
    report = commands.add_parser("report", help="write the course report (HTML, one page per lesion) into a folder")
    report.add_argument("course", help="course.json")
    report.add_argument(
        "--out", required=True, help="output folder (an earlier course report there is replaced, other files are kept)"
    )
    report.set_defaults(func=run_report)


def _register_new(commands) -> None:
    parser = commands.add_parser("new", help="start a course from the baseline plan")
    parser.add_argument("--patient", required=True, help="patient or study subject id")
    parser.add_argument(
        "--baseline-plan", required=True, metavar="PLAN_DIR", help="plan folder of the baseline CT ('hitit plan')"
    )
    parser.add_argument(
        "--baseline-date", required=True, type=_date, metavar="YYYY-MM-DD", help="date of the baseline imaging"
    )
    parser.add_argument(
        "--non-target",
        action="append",
        default=[],
        metavar="ID",
        help="a measurable lesion followed as a non-target (default: every measurable lesion is a target)",
    )
    parser.add_argument(
        "--organ",
        action="append",
        default=[],
        metavar="ID=ORGAN",
        help="host organ of a lesion when the plan did not find it (e.g. L4=subcutaneous_fat)",
    )
    parser.add_argument("--out", required=True, metavar="COURSE.json", help="course file to create (never overwritten)")
    parser.set_defaults(func=run_new)


def _register_add_visit(commands) -> None:
    parser = commands.add_parser(
        "add-visit", help="add (or complete) an injection visit: its plan, review and checklist"
    )
    parser.add_argument("course", help="course.json (updated in place)")
    parser.add_argument("--date", type=_date, metavar="YYYY-MM-DD", help="visit date (required for a new visit)")
    parser.add_argument(
        "--number", type=int, help="visit number (default: the next one; an existing number completes that visit)"
    )
    parser.add_argument(
        "--plan", metavar="PLAN_DIR", help="the visit's plan folder ('hitit plan --course ... --visit N')"
    )
    parser.add_argument(
        "--review", metavar="REVIEW_DIR", help="the visit's review folder ('hitit review', holds review.json)"
    )
    parser.add_argument("--agent", help="agent given (default: the course protocol's name)")
    parser.add_argument(
        "--tick", action="append", default=[], metavar="ITEM", help="workflow checklist item done (repeatable)"
    )
    parser.add_argument(
        "--untick", action="append", default=[], metavar="ITEM", help="checklist item left open again (repeatable)"
    )
    parser.set_defaults(func=run_add_visit)


def _register_add_timepoint(commands) -> None:
    parser = commands.add_parser("add-timepoint", help="add an imaging time point with its measurements")
    parser.add_argument("course", help="course.json (updated in place)")
    parser.add_argument("--id", required=True, help="time point id (e.g. W6)")
    parser.add_argument("--date", required=True, type=_date, metavar="YYYY-MM-DD", help="imaging date")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--study", metavar="STUDY.json", help="study-like JSON; its time point --study-timepoint (default --id)"
    )
    source.add_argument("--markups", metavar="LINES.mrk.json", help="line markups named after the lesions (diameters)")
    source.add_argument(
        "--masks", metavar="SEG", help="lesion masks on --ct's grid, one segment per lesion id (measured)"
    )
    parser.add_argument("--study-timepoint", help="the study's time point to read (default: --id)")
    parser.add_argument("--ct", help="CT of the time point (the grid of --masks)")
    parser.add_argument(
        "--new", action="append", default=[], metavar="ID=ORGAN", help="a lesion first seen at this time point"
    )
    parser.add_argument(
        "--new-non-measurable", action="append", default=[], metavar="ID", help="a new lesion that is not measurable"
    )
    parser.add_argument(
        "--status",
        action="append",
        default=[],
        metavar="ID=STATUS",
        help="qualitative status of a non-target lesion (present, absent, unequivocal-progression, increased)",
    )
    parser.set_defaults(func=run_add_timepoint)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{text!r} is not a date: write YYYY-MM-DD.") from None


def _pairs(items: list[str], option: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise InputError(f"{option} {item!r}: write ID=VALUE.")
        out[key] = value
    return out


def read_plan_folder(folder: str) -> dict:
    """``plan.json`` of a plan folder, checked by the one plan reader (:func:`hitit.plan.plan_file.load_plan`)."""
    from hitit.plan.plan_file import load_plan

    return load_plan(folder).to_dict()


def read_review_folder(folder: str) -> dict:
    """``review.json`` of a review folder (or the file)."""
    path = Path(folder)
    return read_json(path / "review.json" if path.is_dir() else path, "review.json")


# --------------------------------------------------------------------------- handlers
def run_new(args) -> int:
    """``hitit course new``: a course from the baseline plan, written once."""
    plan = read_plan_folder(args.baseline_plan)
    course = new_course(
        args.patient,
        plan,
        args.baseline_date,
        str(args.baseline_plan),
        tuple(args.non_target),
        organs=_pairs(args.organ, "--organ"),
    )
    save_course(course, args.out, new=True)
    print(
        f"course of {course.patient} ({course.protocol}): {len(course.lesions)} lesions at baseline "
        f"{course.baseline.id} {course.baseline.date}: "
        + ", ".join(f"{item.id} {item.category_history[0]['category']}" for item in course.lesions)
    )
    print(f"wrote {args.out}")
    return 0


def run_add_visit(args) -> int:
    """``hitit course add-visit``: add the next visit or complete an earlier one; update the categories."""
    course = load_course(args.course)
    number = args.number or len(course.visits) + 1
    old = course.visit(number)
    if old is None and number != len(course.visits) + 1:
        raise InputError(f"visit {number}: the next visit is {len(course.visits) + 1}; visits are added in order")
    date = args.date or (old.date if old else None)
    if date is None:
        raise InputError(f"visit {number}, field date: give --date for a new visit")
    plan = read_plan_folder(args.plan) if args.plan else None
    review = read_review_folder(args.review) if args.review else None
    visit = make_visit(course, number, date, plan, review, args.plan or "", args.review or "", args.agent)
    if old is not None:
        course.timeline.remove(old)
        visit = merge_visit(old, visit)
    visit.checklist = tick(visit.checklist, args.tick, args.untick)
    course.add(visit)
    changed = record_injections(course, visit)
    save_course(course, args.course)
    print(
        f"visit {number} on {date}: {len(visit.lesions)} lesions"
        + (f"; injected for the first time: {', '.join(changed)}" if changed else "")
    )
    left = open_items(visit.agent, number, visit.checklist)
    print(f"checklist: {len(left)} item(s) open" + (": " + ", ".join(i.id for i in left) if left else ""))
    return 0


def _timepoint_measurements(args, course: Course, new_ids: dict[str, str]) -> tuple[dict, dict, str]:
    """(measurements, statuses, source) of the time point from the chosen input."""
    if args.study:
        from hitit.course.timepoint import measurements_from_study
        from hitit.response.study import load_study

        measurements, status = measurements_from_study(load_study(args.study), args.study_timepoint or args.id)
        return measurements, status, f"study {args.study}"
    if args.markups:
        from hitit.course.timepoint import measurements_from_lines
        from hitit.io.markups import read_markups

        return measurements_from_lines(read_markups(args.markups)), {}, f"line markups {args.markups}"
    if not args.ct:
        raise InputError("--masks needs --ct (the CT whose grid the masks are on).")
    from hitit.course.timepoint import measurements_from_masks
    from hitit.io.segmentations import read_lesions
    from hitit.io.volumes import read_volume

    ct = read_volume(args.ct)
    masks = read_lesions(args.masks, ct.grid, reference=ct.dicom)
    return measurements_from_masks(course, masks, ct.grid), {}, f"lesion masks {args.masks} measured on {args.ct}"


def run_add_timepoint(args) -> int:
    """``hitit course add-timepoint``: an imaging time point and the new lesions first seen at it."""
    course = load_course(args.course)
    new_ids = _pairs(args.new, "--new")
    for lesion_id in args.new_non_measurable:
        new_ids.setdefault(lesion_id, "unknown")
    measurements, status, source = _timepoint_measurements(args, course, new_ids)
    status.update(_pairs(args.status, "--status"))
    course.add(Imaging(args.id, args.date, measurements, status, source))
    for lesion_id, organ in new_ids.items():
        add_new_lesion(course, lesion_id, organ, args.id, lesion_id not in args.new_non_measurable)
    save_course(course, args.course)
    print(
        f"time point {args.id} on {args.date}: {len(measurements)} measured, {len(status)} assessed by status"
        + (f", new: {', '.join(new_ids)}" if new_ids else "")
    )
    return 0


def status_lines(course: Course) -> list[str]:
    """The status as printed: next visit and date, lesions in priority order with volumes, next imaging."""
    status = course_status(course)
    when = status.next_visit_date.isoformat() if status.next_visit_date else "no date"
    lines = [f"next: visit {status.next_visit} {when} ({status.date_rule})"]
    allocation = status.allocation
    cap = allocation.protocol.per_visit_cap_ml
    lines.append(
        f"  lesions in priority order ({allocation.protocol.priority(status.next_visit)}"
        f"{'' if cap is None else f', cap {cap:g} mL'}):"
    )
    for row in sorted(allocation.lesions, key=lambda a: a.priority_rank):
        lines.append(
            f"    {row.priority_rank}. {row.lesion_id}{' (new)' if row.new else ''}: LD {row.longest_diameter_mm:.1f} "
            f"mm, {row.injectate_ml:g} mL  {row.reason}"
        )
    for item in status.not_eligible:
        lines.append(f"    -  {item.lesion_id}: {item.reason}")
    lines.append(
        f"  total {allocation.total_injectate_ml:g} mL"
        + (
            ""
            if allocation.concentration_per_ml is None
            else f" at {allocation.concentration_per_ml:.0e} {allocation.dose_unit or 'units'}/mL"
        )
    )
    lines.extend(f"  {note}" for note in status.notes)
    lines.append(
        f"next imaging: {status.next_imaging_date} (every {(status.next_imaging_date - course.imaging[-1].date).days} "
        "days)"
    )
    return lines


def run_status(args) -> int:
    """``hitit course status``: what is due next, as text or JSON."""
    course = load_course(args.course)
    if args.json:
        print(json.dumps(course_status(course).to_dict(), indent=1))
    else:
        print("\n".join(status_lines(course)))
    return 0


def run_report(args) -> int:
    """``hitit course report``: the course report folder."""
    from hitit.course.report import write_course_report

    course = load_course(args.course)
    paths = write_course_report(course, args.out)
    print(f"wrote {len(paths)} files to {args.out} (open {paths['html'].name})")
    return 0
