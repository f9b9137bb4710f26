"""``hitit study-from-sr``: a response study from TID 1500 measurement reports, one per time point."""

from __future__ import annotations

import json
import sys


def register(subparsers) -> None:
    """Add the ``study-from-sr`` subcommand."""
    parser = subparsers.add_parser(
        "study-from-sr",
        help="build a response study (study.json) from DICOM SR TID 1500 measurement reports",
        description="One measurement report per time point (OHIF, QuantitativeReporting or 'hitit export-dicom'); "
        "lesions matched by Tracking Unique Identifier, named by Tracking Identifier; time points by date. "
        "Lengths in mm.",
    )
    parser.add_argument("reports", nargs="+", metavar="SR.dcm", help="TID 1500 measurement report files")
    parser.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="ID",
        help="time point id for each report, in the order given (default: the report's study date)",
    )
    parser.add_argument(
        "--roles", metavar="FILE", help="CSV lesion_id,role,nodal,injected_from[,organ] filling in what reports lack"
    )
    parser.add_argument("--out", required=True, help="study file to write (JSON, the input of 'hitit response')")
    parser.set_defaults(func=run)


def run(args) -> int:
    """Read the reports, build and validate the study, write it, print what to fill in."""
    from hitit.dicom.measurement_reports import read_measurement_report
    from hitit.dicom.study_from_sr import read_roles, study_from_reports
    from hitit.io.atomic import write_text_atomic

    reports = [read_measurement_report(path) for path in args.reports]
    result = study_from_reports(reports, args.label or None, read_roles(args.roles) if args.roles else None)
    write_text_atomic(args.out, json.dumps(result.study, indent=1) + "\n")
    for message in result.messages:
        print(message, file=sys.stderr)
    print(
        f"wrote {args.out}: {len(result.study['timepoints'])} time points, {len(result.study['lesions'])} baseline "
        f"lesions, {len(result.study['new_lesions'])} new lesions"
    )
    return 0
