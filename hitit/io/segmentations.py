"""Read named structure/lesion masks and put them on a CT grid; write Slicer ``.seg.nrrd`` files.

Accepted inputs (see :func:`read_structures`):

- a Slicer segmentation ``.seg.nrrd`` (segment names, label values, shared layers, 4D layers);
- a multi-label NIfTI/NRRD plus a label-name map (JSON ``{"1": "liver"}`` or CSV ``label,name``);
  without a map, the TotalSegmentator "total" v2 class map is used when the labels fit it;
- a folder of one-mask-per-structure NIfTI files named after the structure (TotalSegmentator's
  default output, ``liver.nii.gz``...).

Masks on another grid are resampled by physical position (nearest neighbour) onto the CT grid.
"""

from __future__ import annotations

import csv
import json
from importlib import resources
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import slicerio

from hitit.case import MaskSet
from hitit.errors import InputError
from hitit.geometry import Grid, labels_onto_grid, mask_onto_grid
from hitit.io.atomic import atomic_path
from hitit.io.volumes import VOLUME_SUFFIXES, _read_file

#: Colour (RGB 0-1) for segments written without one: a neutral grey, as Slicer uses.
DEFAULT_SEGMENT_COLOR = (0.5, 0.5, 0.5)


def totalsegmentator_total_map() -> dict[int, str]:
    """The TotalSegmentator "total" task (v2) label -> class name map shipped with HITIT."""
    data = json.loads(resources.files("hitit.io").joinpath("totalsegmentator_total_v2.json").read_text())
    return {int(k): v for k, v in data["labels"].items()}


def read_label_map_file(path: str | Path) -> dict[int, str]:
    """Read a label -> name map from JSON (``{"1": "liver"}``) or CSV (columns ``label,name``)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Label map file not found: {path}.")
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_text())
            if not isinstance(data, dict):
                raise ValueError("top level is not an object")
            return {int(k): str(v) for k, v in data.items()}
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        return {int(row["label"]): row["name"].strip() for row in rows}
    except (ValueError, KeyError, TypeError, json.JSONDecodeError) as error:
        raise InputError(
            f"Cannot read label map {path} ({error}): use JSON {{\"1\": \"liver\", ...}} or CSV with columns label,name."
        ) from None


def read_structures(path: str | Path, grid: Grid, label_map: str | Path | dict[int, str] | None = None) -> MaskSet:
    """Named boolean masks (arrays ``[k, j, i]`` on ``grid``) from a segmentation file or folder."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"Segmentation not found: {path}. Check the path.")
    if path.is_dir():
        return _read_mask_folder(path, grid)
    if path.name.endswith(".seg.nrrd"):
        return _read_seg_nrrd(path, grid)
    if not any(path.name.endswith(s) for s in VOLUME_SUFFIXES):
        raise InputError(f"{path} is not a segmentation: use .seg.nrrd, a label map (.nii.gz/.nrrd) or a folder of masks.")
    return _read_label_map(path, grid, label_map)


def _read_seg_nrrd(path: Path, grid: Grid) -> MaskSet:
    try:
        segmentation = slicerio.read_segmentation(str(path))
    except Exception as error:  # slicerio raises plain exceptions of many kinds on corrupt files
        raise InputError(f"Cannot read Slicer segmentation {path} ({error}). The file may be corrupt.") from None
    voxels = segmentation["voxels"]  # (i, j, k) or (layer, i, j, k)
    seg_grid = Grid.from_ijk_to_lps(segmentation["ijkToLPS"], voxels.shape[-3:])
    masks: MaskSet = {}
    for segment in segmentation["segments"]:
        name = segment.get("name", segment["id"])
        mask_ijk = slicerio.segment_mask(segmentation, segment)
        image = seg_grid.image_from_array(np.ascontiguousarray(mask_ijk.transpose(2, 1, 0)))
        masks[name] = mask_onto_grid(image, grid, name=f"{path.name}:{name}")
    return masks


def _read_label_map(path: Path, grid: Grid, label_map) -> MaskSet:
    image = _read_file(path)
    if image.GetDimension() != 3:
        raise InputError(f"Label map {path} is {image.GetDimension()}D: a label map must be a 3D image.")
    pixel = sitk.GetArrayViewFromImage(image)
    if np.issubdtype(pixel.dtype, np.floating) and not np.all(np.mod(pixel, 1) == 0):
        raise InputError(f"{path} has non-integer values: it is an image, not a label map.")
    labels = labels_onto_grid(image, grid, name=path.name)
    present = [int(v) for v in np.unique(labels) if v != 0]
    names = _label_names(path, present, label_map)
    return {names[value]: labels == value for value in present}


def _label_names(path: Path, present: list[int], label_map) -> dict[int, str]:
    if isinstance(label_map, dict):
        names = {int(k): v for k, v in label_map.items()}
    elif label_map is not None:
        names = read_label_map_file(label_map)
    else:
        names = totalsegmentator_total_map()
    unknown = [v for v in present if v not in names]
    if unknown:
        source = "the label map given" if label_map is not None else "the built-in TotalSegmentator 'total' v2 map"
        raise InputError(
            f"Label values {unknown[:10]} in {path.name} are not in {source}: pass a label map file "
            "(--label-map, JSON {\"1\": \"liver\"} or CSV label,name) that names every label."
        )
    return names


def _read_mask_folder(folder: Path, grid: Grid) -> MaskSet:
    files = sorted(p for p in folder.iterdir() if any(p.name.endswith(s) for s in VOLUME_SUFFIXES))
    if not files:
        raise InputError(f"Folder {folder} holds no mask files (.nii.gz/.nrrd): give one file per structure.")
    masks: MaskSet = {}
    for file in files:
        name = file.name
        for suffix in VOLUME_SUFFIXES:
            if name.endswith(suffix):
                name = name[: -len(suffix)]
                break
        masks[name] = mask_onto_grid(_read_file(file) != 0, grid, name=file.name)
    return masks


def empty_masks(masks: MaskSet) -> list[str]:
    """Names of the masks that have no voxel set."""
    return [name for name, mask in masks.items() if not mask.any()]


def require_nonempty_masks(masks: MaskSet, kind: str = "segment") -> MaskSet:
    """Return ``masks`` unchanged, or raise :class:`InputError` naming every empty one."""
    empty = empty_masks(masks)
    if empty:
        raise InputError(f"The {kind}(s) {', '.join(empty)} are empty (no voxel set): segment them or remove them.")
    if not masks:
        raise InputError(f"No {kind} found: the segmentation holds none.")
    return masks


def write_seg_nrrd(path: str | Path, grid: Grid, masks: MaskSet,
                   colors: dict[str, tuple[float, float, float]] | None = None) -> Path:
    """Write ``masks`` (arrays ``[k, j, i]`` on ``grid``) as a Slicer ``.seg.nrrd``, atomically.

    Non-overlapping segments share one layer; overlapping ones go to further layers, as Slicer
    stores them. Geometry is written in LPS, with the reference image geometry Slicer expects.
    """
    path = Path(path)
    if not path.name.endswith(".seg.nrrd"):
        raise InputError(f"Cannot write {path}: a Slicer segmentation file name ends with .seg.nrrd.")
    segmentation = slicerio.create_segmentation(grid.size, grid.ijk_to_lps_matrix())
    for index, (name, mask) in enumerate(masks.items()):
        if mask.shape != grid.shape:
            raise InputError(f"Segment '{name}' has shape {mask.shape}, not the grid's {grid.shape}.")
        color = (colors or {}).get(name, DEFAULT_SEGMENT_COLOR)
        slicerio.add_segment(
            segmentation,
            np.asarray(mask, dtype=bool).transpose(2, 1, 0),
            {"id": f"Segment_{index + 1}", "name": name, "color": [float(c) for c in color]},
        )
    segmentation["conversionParameters"] = _reference_geometry_parameters(grid)
    segmentation["containedRepresentationNames"] = ["Binary labelmap"]
    segmentation["masterRepresentation"] = "Binary labelmap"
    with atomic_path(path) as tmp:
        slicerio.write_segmentation(str(tmp), segmentation)
    return path


def _reference_geometry_parameters(grid: Grid) -> list[dict]:
    """Slicer's "Reference image geometry" conversion parameter: IJK->RAS row-major + extent."""
    ras = grid.ijk_to_ras_matrix()
    extent = [v for n in grid.size for v in (0, n - 1)]
    value = ";".join(f"{x:.17g}" for x in ras.ravel()) + ";" + ";".join(str(v) for v in extent) + ";"
    return [{"name": "Reference image geometry", "value": value, "description": "Image geometry description string determining the geometry of the labelmap that is created in course of conversion. Can be copied from a volume, using the button."}]
