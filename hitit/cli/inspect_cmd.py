"""``hitit inspect``: a CT's grid and the size of each named structure on it."""

from __future__ import annotations

import json

from hitit.io.segmentations import read_structures
from hitit.io.volumes import read_volume


def register(subparsers) -> None:
    """Add the ``inspect`` subcommand."""
    parser = subparsers.add_parser(
        "inspect",
        help="print a CT's grid and each structure's voxel count and volume (mL) on it",
        description="Put every structure on the CT grid (by physical position) and report its size.",
    )
    parser.add_argument("--ct", required=True, help="CT volume: NRRD, NIfTI, MHA or a DICOM series folder")
    parser.add_argument(
        "--structures",
        action="append",
        default=[],
        metavar="SEG",
        help=".seg.nrrd, label map, folder of masks, DICOM SEG or RTSTRUCT (repeatable)",
    )
    parser.add_argument(
        "--label-map", help="label -> name map (JSON or CSV) for label maps that are not TotalSegmentator 'total'"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def inspect_files(ct_path: str, structure_paths: list[str], label_map: str | None = None) -> dict:
    """The ``inspect`` result as a JSON-ready dict: CT grid (LPS mm) and each structure's voxel
    count and volume (mL) once put on the CT grid.
    """
    ct = read_volume(ct_path)
    structures = []
    for path in structure_paths:
        for name, mask in read_structures(path, ct.grid, label_map, reference=ct.dicom).items():
            voxels = int(mask.sum())
            structures.append(
                {
                    "name": name,
                    "source": str(path),
                    "voxels": voxels,
                    "volume_ml": round(voxels * ct.grid.voxel_volume_ml, 3),
                }
            )
    return {"frame": "LPS", "ct": ct.grid.to_dict(), "structures": structures}


def run(args) -> int:
    """Print the grid and structure table."""
    result = inspect_files(args.ct, args.structures, args.label_map)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    grid = result["ct"]
    print(f"CT {args.ct}")
    print(f"  size {grid['size']}  spacing {[round(s, 4) for s in grid['spacing']]} mm")
    print(
        f"  origin (LPS) {[round(o, 2) for o in grid['origin']]} mm  direction "
        f"{[round(d, 4) for d in grid['direction']]}"
    )
    for s in result["structures"]:
        note = "  (empty)" if s["voxels"] == 0 else ""
        print(f"  {s['name']:<40} {s['voxels']:>10d} voxels {s['volume_ml']:>10.1f} mL{note}")
    return 0
