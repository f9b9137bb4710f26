"""``hitit export-dicom``: a plan's lesions as DICOM SEG and SR TID 1500, in the CT's study."""

from __future__ import annotations


def register(subparsers) -> None:
    """Add the ``export-dicom`` subcommand."""
    parser = subparsers.add_parser(
        "export-dicom",
        help="write a plan's lesions as DICOM SEG + SR TID 1500 measurements, in the CT's study",
        description="Write lesions.seg.dcm (one segment per lesion) and measurements.sr.dcm (TID 1500: volume, long "
        "axis, short axis and planned injectate per lesion, with tracking identifiers) for PACS. Patient "
        "and study attributes are copied from the CT series; nothing else identifying is added.",
    )
    parser.add_argument(
        "--plan", required=True, help="plan folder written by 'hitit plan' (plan.json, lesions.seg.nrrd)"
    )
    parser.add_argument("--ct", required=True, help="folder of the CT series the plan was made on, with its DICOM UIDs")
    parser.add_argument("--out", required=True, help="output folder for lesions.seg.dcm and measurements.sr.dcm")
    parser.add_argument(
        "--tracking-seed",
        metavar="TEXT",
        help="text mixed into the lesions' tracking UIDs; needed when the CT has no Patient ID "
        "(use the same text at every visit of the patient)",
    )
    parser.set_defaults(func=run)


def run(args) -> int:
    """Export and print what was written."""
    from hitit.dicom.export import export_dicom

    paths = export_dicom(args.plan, args.ct, args.out, args.tracking_seed)
    print(f"wrote {paths['seg']} and {paths['sr']}")
    return 0
