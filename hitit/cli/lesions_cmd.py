"""``hitit lesions``: the lesion measurement table (volume, RECIST diameters, depth, organ, necrosis)."""

from __future__ import annotations

import json

from hitit.anatomy.body import body_mask
from hitit.case import MaskSet
from hitit.io.segmentations import read_lesions, read_structures
from hitit.io.volumes import read_volume
from hitit.lesions.contrast import resolve_contrast
from hitit.lesions.measure import MeasurementConfig, measure_lesions
from hitit.lesions.necrosis import NecrosisConfig
from hitit.lesions.segment import lesions_from_masks


def register(subparsers) -> None:
    """Add the ``lesions`` subcommand."""
    parser = subparsers.add_parser(
        "lesions",
        help="measure lesions: volume (mL), RECIST diameters (mm), depth, organ, necrosis",
        description="Measure every lesion segment on the CT grid. Diameters are in the acquired slices (LPS mm).",
    )
    parser.add_argument("--ct", required=True, help="CT volume: NRRD, NIfTI, MHA or a DICOM series folder")
    parser.add_argument(
        "--lesions",
        required=True,
        help="lesion segmentation: .seg.nrrd, label map / binary mask "
        "(unnamed values: one lesion each, named after the file), mask folder, DICOM SEG or RTSTRUCT",
    )
    parser.add_argument("--lesion-label-map", help="label -> name map (JSON or CSV) for a lesion label map")
    parser.add_argument(
        "--structures",
        action="append",
        default=[],
        metavar="SEG",
        help="structures for organ and distances: .seg.nrrd, label map, folder, DICOM SEG or RTSTRUCT (repeatable)",
    )
    parser.add_argument("--label-map", help="label -> name map (JSON or CSV) for structure label maps")
    parser.add_argument(
        "--nodal", action="append", default=[], metavar="ID", help="lesion id that is a lymph node (repeatable)"
    )
    parser.add_argument(
        "--necrosis-hu",
        type=float,
        default=NecrosisConfig.fluid_max_hu,
        help="upper end (HU) of the non-enhancing fluid range counted as necrosis (default %(default)s)",
    )
    parser.add_argument(
        "--contrast",
        choices=("yes", "no"),
        help="whether the CT is contrast-enhanced (default: from the CT header); necrosis is assessed "
        "only on an enhanced CT",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def lesion_table(
    ct_path: str,
    lesion_path: str,
    structure_paths: list[str],
    label_map: str | None = None,
    lesion_label_map: str | None = None,
    nodal: list[str] = (),
    necrosis_hu: float = NecrosisConfig.fluid_max_hu,
    contrast: str | None = None,
) -> dict:
    """The ``lesions`` result as a JSON-ready dict (frame LPS); ``contrast`` is the user's yes/no, else the header's."""
    ct = read_volume(ct_path)
    masks = read_lesions(lesion_path, ct.grid, lesion_label_map, reference=ct.dicom)
    structures: MaskSet = {}
    for path in structure_paths:
        structures.update(read_structures(path, ct.grid, label_map, reference=ct.dicom))
    lesions = lesions_from_masks(masks, set(nodal))
    config = MeasurementConfig(necrosis=NecrosisConfig(fluid_max_hu=necrosis_hu))
    state, warnings = resolve_contrast(contrast, ct.metadata)
    results = measure_lesions(lesions, ct.grid, ct.array, body_mask(ct), structures or None, config, state)
    return {
        "frame": "LPS",
        "ct": ct.grid.to_dict(),
        "contrast": state.to_dict(),
        "warnings": warnings,
        "config": config.to_dict(),
        "lesions": [m.to_dict() for m in results],
    }


def run(args) -> int:
    """Print the lesion table."""
    result = lesion_table(
        args.ct,
        args.lesions,
        args.structures,
        args.label_map,
        args.lesion_label_map,
        args.nodal,
        args.necrosis_hu,
        args.contrast,
    )
    if args.json:
        print(json.dumps(result, indent=2))
        return 0

    def f(v, fmt):
        return "-" if v is None else format(v, fmt)

    enhanced = {True: "contrast-enhanced", False: "not contrast-enhanced", None: "contrast unknown"}
    print(f"CT: {enhanced[result['contrast']['enhanced']]} ({result['contrast']['source']})")
    for warning in result["warnings"]:
        print(f"warning: {warning}")
    print(
        f"{'id':<12} {'volume mL':>10} {'LD mm':>7} {'SA mm':>7} {'3D mm':>7} {'depth mm':>9} {'necrosis':>9}  organ / "
        "RECIST"
    )
    for m in result["lesions"]:
        print(
            f"{m['id']:<12} {m['volume_ml']:>10.2f} {m['longest_diameter_mm']:>7.1f} {m['short_axis_mm']:>7.1f} "
            f"{m['max_3d_diameter_mm']:>7.1f} {f(m['depth_mm'], '9.1f')} "
            f"{'n/a' if m['necrosis_fraction'] is None else format(m['necrosis_fraction'], '.2f'):>9}  "
            f"{m['organ'] or '-'} / {m['recist_category']}"
        )
    for m in result["lesions"]:
        if m["necrosis"] is not None and m["necrosis"]["status"] != "assessed":
            print(f"{m['id']}: {m['necrosis']['reason']}")
    return 0
