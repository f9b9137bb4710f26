"""``hitit dose``: injectate volume per lesion under a protocol and the allocation at one visit."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from hitit.dosing.allocate import LesionDoseInput, allocate
from hitit.dosing.protocols import available_protocols, load_protocol
from hitit.errors import InputError

_TRUE = {"1", "true", "yes", "y", "new"}


def register(subparsers) -> None:
    """Add the ``dose`` subcommand."""
    parser = subparsers.add_parser(
        "dose",
        help="injectate volume (mL) per lesion under a protocol, with the per-visit cap",
        description=f"Allocate injectate at one visit. Shipped protocols: {', '.join(available_protocols())}; "
        "or give a protocol JSON file.",
    )
    parser.add_argument("--protocol", required=True, metavar="NAME|FILE", help="shipped protocol name or protocol file")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--ld", type=float, nargs="+", metavar="MM", help="longest diameters in mm (lesions L1, L2, ...)"
    )
    source.add_argument(
        "--lesions-table", metavar="CSV", help="CSV with columns id, longest_diameter_mm, volume_ml, new"
    )
    parser.add_argument("--visit", type=int, default=1, help="visit number, 1 = first (default 1)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def read_lesions_table(path: str | Path) -> list[LesionDoseInput]:
    """Lesions from a CSV with columns id, longest_diameter_mm and optionally volume_ml, new."""
    path = Path(path)
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    out = []
    for number, row in enumerate(rows, start=2):
        try:
            volume = (row.get("volume_ml") or "").strip()
            out.append(
                LesionDoseInput(
                    row["id"].strip(),
                    float(row["longest_diameter_mm"]),
                    float(volume) if volume else None,
                    (row.get("new") or "").strip().lower() in _TRUE,
                )
            )
        except (KeyError, ValueError, AttributeError) as error:
            raise InputError(
                f"Lesions table {path}, line {number}: {error!s}: need columns id, longest_diameter_mm "
                "(number), optional volume_ml (number) and new (true/false)."
            ) from None
    if not out:
        raise InputError(f"Lesions table {path} has no lesion rows.")
    return out


def dose_result(protocol_ref: str, lds: list[float] | None, table: str | None, visit: int) -> dict:
    """The ``dose`` result as a JSON-ready dict."""
    protocol = load_protocol(protocol_ref)
    if lds is not None:
        if any(v < 0 for v in lds):
            raise InputError(f"Longest diameters must be >= 0 mm, got {lds}.")
        lesions = [LesionDoseInput(f"L{n}", v) for n, v in enumerate(lds, start=1)]
    else:
        lesions = read_lesions_table(table)
    result = allocate(lesions, protocol, visit).to_dict()
    for lesion in result["lesions"]:
        lesion["id"] = lesion.pop("lesion_id")
    return result


def run(args) -> int:
    """Print the allocation."""
    result = dose_result(args.protocol, args.ld, args.lesions_table, args.visit)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    p = result["protocol"]
    cap = result["per_visit_cap_ml"]
    print(
        f"Protocol {p['name']} v{p['version']} ({p['kind']}), visit {result['visit']}, "
        f"cap {'none' if cap is None else f'{cap:g} mL'}"
    )
    for a in result["lesions"]:
        dose = "" if a["dose"] is None else f"  {a['dose']:.3g} {result['dose_unit'] or ''}"
        print(
            f"  {a['id']:<10} LD {a['longest_diameter_mm']:6.1f} mm  needs {a['required_ml']:6.3g} mL  "
            f"{'INJECT' if a['inject'] else 'defer '} {a['injectate_ml']:6.3g} mL{dose}  {a['reason']}"
        )
    print(f"Total {result['total_injectate_ml']:g} mL")
    return 0
