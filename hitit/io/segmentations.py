"""Read named structure/lesion masks and put them on a CT grid; write Slicer ``.seg.nrrd`` files.

Accepted inputs (see :func:`read_structures` and :func:`read_lesions`):

- a Slicer segmentation ``.seg.nrrd`` (segment names, label values, shared layers, 4D layers,
  segment extents; also when saved under a plain ``.nrrd`` name);
- a multi-label NIfTI/NRRD plus a label-name map (JSON ``{"1": "liver"}`` or CSV ``label,name``).
  Without a map: the label table a TotalSegmentator NIfTI carries in its header extension, else
  for structures the built-in TotalSegmentator "total" v2 class map (NIfTI only, and only when it
  names every label), for lesions one lesion per label value named after the file;
- a folder of one-mask-per-structure NIfTI/NRRD files named after the structure (TotalSegmentator's
  default output, ``liver.nii.gz``...);
- a DICOM Segmentation (``hitit.io.dicom_seg``) or RT Structure Set (``hitit.io.rtstruct``) file,
  recognised by its SOP Class UID, or a folder holding exactly one of them.

Masks on another grid are resampled by physical position (nearest neighbour) onto the CT grid.
Empty segments are kept; :func:`empty_masks` lists them and :func:`require_nonempty_masks` refuses them.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
import struct
import xml.etree.ElementTree as ElementTree
import zlib
from importlib import resources
from pathlib import Path

import cc3d
import nrrd
import numpy as np
import SimpleITK as sitk
import slicerio

from hitit.case import MaskSet
from hitit.errors import InputError
from hitit.geometry import Grid, labels_onto_grid, mask_onto_grid
from hitit.io.atomic import atomic_path
from hitit.io.dicom_files import STRUCTURE_KINDS, dicom_sop_class, is_dicom_file, read_dicom_object, structure_kind
from hitit.io.volumes import VOLUME_SUFFIXES, read_image_file
from hitit.masks import Box, scan_box, boxed_mask, mask_box

#: Colour (RGB 0-1) for segments written without one: a neutral grey, as Slicer uses.
DEFAULT_SEGMENT_COLOR = (0.5, 0.5, 0.5)
_REFERENCE_GEOMETRY_DESCRIPTION = (
    "Image geometry description string determining the geometry of the labelmap that is created in course of "
    "conversion. Can be copied from a volume, using the button."
)


# --------------------------------------------------------------------- label names
def totalsegmentator_total_map() -> dict[int, str]:
    """The TotalSegmentator "total" task (v2) label -> class name map shipped with HITIT."""
    data = json.loads(
        resources.files("hitit.io").joinpath("totalsegmentator_total_v2.json").read_text(encoding="utf-8")
    )
    return {int(k): v for k, v in data["labels"].items()}


def read_label_map_file(path: str | Path) -> dict[int, str]:
    """Read a label -> name map from JSON (``{"1": "liver"}``) or CSV (columns ``label,name``)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Label map file not found: {path}.")
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("top level is not an object")
            names = {int(k): str(v).strip() for k, v in data.items()}
        else:
            with path.open(newline="", encoding="utf-8") as handle:
                names = {int(row["label"]): row["name"].strip() for row in csv.DictReader(handle)}
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as error:
        raise InputError(
            f'Cannot read label map {path} ({error}): use JSON {{"1": "liver", ...}} or CSV with columns label,name.'
        ) from None
    if not names or not all(names.values()):
        raise InputError(f"Label map {path} is empty or has a label without a name.")
    return names


def nifti_label_table(path: str | Path) -> dict[int, str]:
    """The label table a NIfTI file carries in a header extension (``<Label Key="5">liver</Label>``,
    as TotalSegmentator writes), or ``{}`` when it has none.
    """
    path = Path(path)
    if not path.name.endswith((".nii", ".nii.gz")):
        return {}
    header = _nifti_header_bytes(path)
    table: dict[int, str] = {}
    for code_data in _nifti_extensions(header):
        if b"<Label" not in code_data:
            continue
        try:
            root = ElementTree.fromstring(code_data.rstrip(b"\x00").decode("utf-8", "replace"))
        except ElementTree.ParseError:
            continue
        for label in root.iter("Label"):
            if label.get("Key") is not None and (label.text or "").strip():
                table[int(label.get("Key"))] = label.text.strip()
    return table


def _nifti_header_bytes(path: Path) -> bytes:
    """The NIfTI-1 header and its extensions (everything before the voxel data)."""
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            head = handle.read(352)
            if len(head) < 352:
                return b""
            order = "<" if struct.unpack("<i", head[:4])[0] == 348 else ">"
            vox_offset = int(struct.unpack(f"{order}f", head[108:112])[0])
            return head + handle.read(max(vox_offset - 352, 0))
    except (OSError, EOFError, zlib.error):
        return b""  # an unreadable file is reported by the image reader


def _nifti_extensions(header: bytes) -> list[bytes]:
    """The data of each NIfTI-1 header extension (after the 8-byte size/code prefix)."""
    if len(header) < 352 or header[348] == 0:
        return []
    order = "<" if struct.unpack("<i", header[:4])[0] == 348 else ">"
    out, offset = [], 352
    while offset + 8 <= len(header):
        size, _code = struct.unpack(f"{order}ii", header[offset : offset + 8])
        if size < 8 or offset + size > len(header):
            break
        out.append(header[offset + 8 : offset + size])
        offset += size
    return out


# --------------------------------------------------------------------- reading
def read_structures(
    path: str | Path, grid: Grid, label_map: str | Path | dict[int, str] | None = None, reference=None
) -> MaskSet:
    """Named boolean masks (arrays ``[k, j, i]`` on ``grid``) from a segmentation file or folder.

    ``path`` is a ``.seg.nrrd``, a multi-label NIfTI/NRRD (names from ``label_map``, a JSON/CSV
    file or a dict, else from the file's own label table, else the TotalSegmentator "total" v2
    map for NIfTI), a folder of one mask per structure, or a DICOM SEG / RTSTRUCT file.
    Masks on another grid are placed by physical position; a mask that does not overlap ``grid``
    raises a GeometryError. ``reference`` is the CT's DICOM series identity (``Volume.dicom``):
    a DICOM object of another study or frame of reference is refused. Empty segments are kept
    (see :func:`empty_masks`).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"Segmentation not found: {path}. Check the path.")
    if path.is_dir():
        dicom_objects = _dicom_structure_files(path)
        if dicom_objects:
            return _read_dicom_structures(dicom_objects[0], grid, reference)
        return _read_mask_folder(path, grid)
    if not path.name.endswith(VOLUME_SUFFIXES) and is_dicom_file(path):
        return _read_dicom_structures(path, grid, reference)
    if _is_slicer_segmentation(path):
        return _read_seg_nrrd(path, grid)
    if not path.name.endswith(VOLUME_SUFFIXES):
        raise InputError(
            f"{path} is not a segmentation: use .seg.nrrd, a label map (.nii.gz/.nrrd) or a folder of masks."
        )
    return _read_label_map(path, grid, label_map)


def _read_dicom_structures(path: Path, grid: Grid, reference) -> MaskSet:
    """Masks of a DICOM SEG or RTSTRUCT file, dispatched by its SOP Class UID."""
    from hitit.io.dicom_seg import read_dicom_seg
    from hitit.io.rtstruct import read_rtstruct

    dataset = read_dicom_object(path)
    reader = read_dicom_seg if structure_kind(dataset, path) == "seg" else read_rtstruct
    return reader(path, dataset, grid, reference)


def _dicom_structure_files(folder: Path) -> list[Path]:
    """The one DICOM SEG/RTSTRUCT file of a folder that holds DICOM files and no mask files, else [].

    A folder of DICOM files that is not exactly one such object (a CT series, several
    segmentations) gets an :class:`InputError` saying what to pass instead.
    """
    files = [p for p in sorted(folder.iterdir()) if p.is_file()]
    if any(p.name.endswith(VOLUME_SUFFIXES) for p in files):
        return []
    dicom = [p for p in files if is_dicom_file(p)]
    if not dicom:
        return []
    kinds = {p: dicom_sop_class(p) for p in dicom}
    structures = [p for p, sop in kinds.items() if sop in STRUCTURE_KINDS]
    if len(structures) == 1:
        return structures
    if structures:
        raise InputError(f"Folder {folder} holds {len(structures)} DICOM segmentations: pass one file at a time.")
    raise InputError(
        f"Folder {folder} holds DICOM files but no segmentation (no DICOM SEG or RT Structure Set): "
        "a CT series goes to --ct; pass the SEG or RTSTRUCT file as structures or lesions."
    )


def read_lesions(
    path: str | Path, grid: Grid, label_map: str | Path | dict[int, str] | None = None, reference=None
) -> MaskSet:
    """Named lesion masks (arrays ``[k, j, i]`` on ``grid``): a lesion mask is a lesion whatever its label values.

    ``.seg.nrrd`` files, mask folders, DICOM SEG and RTSTRUCT are read as :func:`read_structures` reads them. A label
    map (or binary mask) takes its names from ``label_map`` or from the table stored in the file; without
    either, each non-zero value is one lesion named after the file: ``<stem>`` when there is one value
    (a binary mask), ``<stem>-<value>`` when there are several. The TotalSegmentator class map names
    structures only, never lesions. ``reference`` as for :func:`read_structures` (DICOM SEG / RTSTRUCT).
    """
    path = Path(path)
    if path.is_file() and path.name.endswith(VOLUME_SUFFIXES) and not _is_slicer_segmentation(path):
        return _read_label_map(path, grid, label_map, unnamed=_names_from_file)
    return read_structures(path, grid, label_map, reference)


def _names_from_file(path: Path, present: list[int]) -> tuple[dict[int, str], str]:
    """Lesion names for an unnamed label map: the file stem, with the value when there are several."""
    stem = file_stem(path.name)
    if len(present) == 1:
        return {present[0]: stem}, "the file name"
    return {value: f"{stem}-{value}" for value in present}, "the file name"


def file_stem(name: str) -> str:
    """``liver.nii.gz`` -> ``liver``; ``lesions.seg.nrrd`` -> ``lesions`` (every image suffix HITIT reads)."""
    return re.sub(r"(\.seg)?(\.nii\.gz|\.nii|\.nrrd|\.nhdr|\.mha|\.mhd)$", "", name)


def _is_slicer_segmentation(path: Path) -> bool:
    """Whether a ``.nrrd`` file is a Slicer segmentation (segment fields in its header) whatever its name."""
    if not path.name.endswith(".nrrd"):
        return False
    if path.name.endswith(".seg.nrrd"):
        return True
    try:
        header = nrrd.read_header(str(path))
    except Exception:  # pynrrd raises several types on damaged headers; the image reader reports them
        return False
    return "Segment0_ID" in header or "Segment0_Name" in header


def _read_seg_nrrd(path: Path, grid: Grid) -> MaskSet:
    """Segments of a Slicer ``.seg.nrrd``, each clipped to its stored extent, on ``grid``."""
    try:
        segmentation = slicerio.read_segmentation(str(path))
    except Exception as error:  # pynrrd/slicerio raise many exception types on corrupt files
        raise InputError(f"Cannot read Slicer segmentation {path} ({error}). The file may be corrupt.") from None
    voxels = segmentation["voxels"]  # (i, j, k) or (layer, i, j, k)
    if voxels.ndim not in (3, 4):
        raise InputError(f"Slicer segmentation {path} has {voxels.ndim} dimensions; expected 3 or 4 (layers).")
    # the NRRD space origin places stored voxel 0; Segmentation_ReferenceImageExtentOffset only
    # relates the stored grid to Slicer's reference grid, so physical positions need no offset
    seg_grid = Grid.from_ijk_to_lps(segmentation["ijkToLPS"], voxels.shape[-3:])
    masks: MaskSet = {}
    for segment in segmentation["segments"]:
        name = segment.get("name") or segment["id"]
        if name in masks:
            raise InputError(f"Segment name '{name}' appears twice in {path}: rename one of them in Slicer.")
        mask_ijk = _clip_to_extent(slicerio.segment_mask(segmentation, segment), segment.get("extent"))
        image = seg_grid.image_from_array(np.ascontiguousarray(mask_ijk.transpose(2, 1, 0)))
        masks[name] = mask_onto_grid(image, grid, name=f"{path.name}:{name}")
    return masks


def _clip_to_extent(mask_ijk: np.ndarray, extent: list[int] | None) -> np.ndarray:
    """``mask_ijk`` (i, j, k) outside the segment extent ``[i0, i1, j0, j1, k0, k1]`` cleared, as Slicer reads it."""
    if extent is None:
        return mask_ijk
    i0, i1, j0, j1, k0, k1 = extent
    clipped = np.zeros_like(mask_ijk)
    if i0 <= i1 and j0 <= j1 and k0 <= k1:  # an inverted extent means an empty segment
        window = (slice(max(i0, 0), i1 + 1), slice(max(j0, 0), j1 + 1), slice(max(k0, 0), k1 + 1))
        clipped[window] = mask_ijk[window]
    return clipped


def _read_label_map(path: Path, grid: Grid, label_map, unnamed=None) -> MaskSet:
    """One mask per label of a multi-label image; labels named by :func:`_label_names` (``unnamed``:
    how to name the labels of a file that carries no names, see :func:`_label_names`).
    """
    image = read_image_file(path)
    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(f"Label map {path} is not a single-component 3D image.")
    pixel = sitk.GetArrayViewFromImage(image)
    if np.issubdtype(pixel.dtype, np.floating) and not np.all(np.mod(pixel, 1) == 0):
        raise InputError(f"{path} has non-integer values: it is an image, not a label map.")
    labels = labels_onto_grid(image, grid, name=path.name)
    boxes = label_boxes(labels)
    names = _label_names(path, list(boxes), label_map, unnamed)
    by_name: dict[str, list[int]] = {}
    for value in boxes:  # several labels mapped to one name are merged into one mask
        by_name.setdefault(names[value], []).append(value)
    return {name: _label_mask(labels, values, [boxes[v] for v in values]) for name, values in by_name.items()}


def label_boxes(labels: np.ndarray) -> dict[int, Box]:
    """``{label value: bounding box}`` (array order, hi exclusive) of every non-zero value, in one pass over
    the array (connected-components-3d's statistics), in increasing label order.
    """
    if labels.size == 0:
        return {}
    if labels.min() < 0:
        raise InputError("A label map has negative label values: labels are 0 (background) and positive integers.")
    top = int(labels.max())
    if top <= 1:  # a binary mask (a lesion file): its box from three projections
        box = scan_box(labels)
        return {} if box is None else {1: box}
    values = labels if labels.dtype.kind == "u" else labels.astype(np.min_scalar_type(top))
    stats = cc3d.statistics(np.ascontiguousarray(values))
    out: dict[int, Box] = {}
    for value, (box, count) in enumerate(zip(stats["bounding_boxes"], stats["voxel_counts"])):
        if value and box is not None and count:
            out[value] = (tuple(s.start for s in box), tuple(s.stop for s in box))
    return out


def _label_mask(labels: np.ndarray, values: list[int], boxes: list[Box]) -> np.ndarray:
    """Full-grid mask of the voxels holding any of ``values``, each compared only inside its box."""
    lo = tuple(min(b[0][a] for b in boxes) for a in range(3))
    hi = tuple(max(b[1][a] for b in boxes) for a in range(3))
    window = labels[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
    crop = window == values[0] if len(values) == 1 else np.isin(window, values)
    return boxed_mask(labels.shape, (lo, hi), crop)


def _label_names(path: Path, present: list[int], label_map, unnamed=None) -> dict[int, str]:
    """Label -> name for ``path``: the map given, the file's own table, else ``unnamed(path, present)``
    (lesions: named after the file) or, for structures, the TotalSegmentator v2 map (NIfTI only).
    """
    if isinstance(label_map, dict):
        names, source = {int(k): str(v) for k, v in label_map.items()}, "the label map given"
    elif label_map is not None:
        names, source = read_label_map_file(label_map), f"label map {Path(label_map).name}"
    elif table := nifti_label_table(path):
        names, source = table, "the label table stored in the file"
    elif unnamed is not None:
        names, source = unnamed(path, present)
    elif path.name.endswith((".nii", ".nii.gz")):
        names, source = totalsegmentator_total_map(), "the built-in TotalSegmentator 'total' v2 map"
    else:
        raise InputError(
            f'Label map {path.name} names no labels: pass a label map file (--label-map, JSON {{"1": "liver"}} '
            "or CSV label,name) saying what each label value is."
        )
    unknown = [v for v in present if v not in names]
    if unknown:
        raise InputError(
            f"Label values {unknown[:10]} in {path.name} are not in {source}: pass a label map file "
            '(--label-map, JSON {"1": "liver"} or CSV label,name) that names every label.'
        )
    return names


def _read_mask_folder(folder: Path, grid: Grid) -> MaskSet:
    """One binary mask per file, named after the file (``liver.nii.gz`` -> ``liver``)."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(VOLUME_SUFFIXES))
    if not files:
        raise InputError(f"Folder {folder} holds no mask files (.nii.gz/.nrrd): give one file per structure.")
    masks: MaskSet = {}
    for file in files:
        name = file_stem(file.name)
        if name in masks:
            raise InputError(f"Folder {folder} has two files for structure '{name}': keep one.")
        image = read_image_file(file)
        values = sitk.GetArrayViewFromImage(image)
        if values.size and (values.min() < 0 or values.max() > 1):
            raise InputError(
                f"{file} is not a binary mask (values {values.min()} to {values.max()}): "
                "a mask folder holds one 0/1 file per structure; read label maps as files."
            )
        masks[name] = mask_onto_grid(image, grid, name=file.name)
    return masks


# --------------------------------------------------------------------- empty segments
def empty_masks(masks: MaskSet) -> list[str]:
    """Names of the masks that have no voxel set."""
    return [name for name, mask in masks.items() if not mask.any()]


def require_nonempty_masks(masks: MaskSet, kind: str = "segment") -> MaskSet:
    """Return ``masks`` unchanged, or raise :class:`InputError` naming every empty one.

    ``kind`` names what the masks are ("segment", "lesion segment"...) in the message.
    """
    if not masks:
        raise InputError(f"No {kind} found: the segmentation holds none.")
    empty = empty_masks(masks)
    if empty:
        quoted = ", ".join(f"'{name}'" for name in empty)
        verb = "is" if len(empty) == 1 else "are"
        raise InputError(f"{kind} {quoted} {verb} empty (no voxel set): segment it or remove it.")
    return masks


# --------------------------------------------------------------------- writing
def write_seg_nrrd(
    path: str | Path,
    grid: Grid,
    masks: MaskSet,
    colors: dict[str, tuple[float, float, float]] | None = None,
    crop: bool = False,
) -> Path:
    """Write ``masks`` (arrays ``[k, j, i]`` on ``grid``) as a Slicer ``.seg.nrrd``, atomically.

    Non-overlapping segments share one layer; overlapping ones go to further layers (a 4D
    ``list domain domain domain`` image), as Slicer stores them. Geometry is LPS; the "Reference
    image geometry" conversion parameter is the grid's IJK->RAS matrix, as Slicer writes it.
    ``colors`` are RGB in 0-1 per segment name (missing -> grey). ``crop``: store only the box holding
    every segment (as Slicer does by default): the NRRD space origin places it and
    ``Segmentation_ReferenceImageExtentOffset`` gives its first voxel on ``grid`` (a few lesions of a
    CT-sized grid are then kilobytes, not the whole grid).
    """
    path = Path(path)
    if not path.name.endswith(".seg.nrrd"):
        raise InputError(f"Cannot write {path}: a Slicer segmentation file name ends with .seg.nrrd.")
    if not masks:
        raise InputError(f"Cannot write {path}: no segment given.")
    for name, mask in masks.items():
        _check_segment(name, mask, grid, (colors or {}).get(name, DEFAULT_SEGMENT_COLOR))
    lo, hi = _union_box(masks.values(), grid.shape) if crop else ((0, 0, 0), grid.shape)
    window = tuple(slice(a, b) for a, b in zip(lo, hi))
    stored = Grid(
        tuple(b - a for a, b in zip(lo[::-1], hi[::-1])),
        grid.spacing_mm,
        tuple(grid.index_to_lps(np.asarray(lo[::-1], dtype=float))),
        grid.direction,
    )
    segmentation = slicerio.create_segmentation(stored.size, stored.ijk_to_lps_matrix())
    for index, (name, mask) in enumerate(masks.items()):
        color = [float(c) for c in (colors or {}).get(name, DEFAULT_SEGMENT_COLOR)]
        slicerio.add_segment(
            segmentation,
            np.asarray(mask[window], dtype=bool).transpose(2, 1, 0),
            {
                "id": f"Segment_{index + 1}",
                "name": name,
                "color": color,
                "nameAutoGenerated": False,
                "colorAutoGenerated": name not in (colors or {}),
            },
        )
    # written as a raw header field so that it ends with "&": Slicer only parses "&"-terminated parameters
    segmentation["Segmentation_ConversionParameters"] = _reference_geometry_parameter(grid)
    segmentation["containedRepresentationNames"] = ["Binary labelmap"]
    segmentation["masterRepresentation"] = "Binary labelmap"
    segmentation["referenceImageExtentOffset"] = [int(v) for v in lo[::-1]]
    with atomic_path(path) as tmp:
        slicerio.write_segmentation(str(tmp), segmentation)
    return path


def _union_box(masks, shape) -> Box:
    """Array-order box holding every voxel of ``masks`` (one voxel when all are empty)."""
    boxes = [b for b in (mask_box(m) for m in masks) if b is not None]
    if not boxes:
        return (0, 0, 0), (1, 1, 1)
    return (tuple(min(b[0][a] for b in boxes) for a in range(3)), tuple(max(b[1][a] for b in boxes) for a in range(3)))


def _check_segment(name: str, mask: np.ndarray, grid: Grid, color) -> None:
    """InputError unless ``mask`` fits ``grid`` and ``name``/``color`` can be stored in a NRRD header."""
    if not name or any(c in name for c in "\n\r|"):
        raise InputError(f"Segment name {name!r} cannot be stored: use a non-empty name without line breaks or '|'.")
    if np.shape(mask) != grid.shape:
        raise InputError(f"Segment '{name}' has shape {np.shape(mask)}, not the grid's {grid.shape}.")
    if len(color) != 3 or not all(0.0 <= float(c) <= 1.0 for c in color):
        raise InputError(f"Segment '{name}' colour {tuple(color)} must be 3 values between 0 and 1.")


def _reference_geometry_parameter(grid: Grid) -> str:
    """Slicer's ``Segmentation_ConversionParameters`` value holding the reference image geometry
    (IJK->RAS row-major, then the extent ``0 ni-1 0 nj-1 0 nk-1``), ``&``-terminated.
    """
    ras = grid.ijk_to_ras_matrix()
    extent = [v for n in grid.size for v in (0, n - 1)]
    value = ";".join(f"{x:.17g}" for x in ras.ravel()) + ";" + ";".join(str(v) for v in extent) + ";"
    return f"Reference image geometry|{value}|{_REFERENCE_GEOMETRY_DESCRIPTION}&"


def _reference_grid(parameters: str) -> Grid | None:
    """The grid of a "Reference image geometry" conversion parameter (IJK->RAS, then the extent), or None."""
    for item in parameters.split("&"):
        fields = item.split("|")
        if fields[0] == "Reference image geometry" and len(fields) > 1:
            values = [v for v in fields[1].split(";") if v.strip()]
            if len(values) < 22:
                return None
            ras = np.asarray(values[:16], dtype=float).reshape(4, 4)
            extent = [int(float(v)) for v in values[16:22]]
            lps = np.diag([-1.0, -1.0, 1.0, 1.0]) @ ras
            lps[:3, 3] += lps[:3, :3] @ np.array(extent[0::2], dtype=float)
            return Grid.from_ijk_to_lps(
                lps, [extent[1] - extent[0] + 1, extent[3] - extent[2] + 1, extent[5] - extent[4] + 1]
            )
    return None


def seg_nrrd_grid(path: str | Path) -> Grid:
    """The grid (LPS) a Slicer ``.seg.nrrd`` belongs to, read from its header only: its reference image
    geometry when it stores one (a cropped file), else the grid its voxels are stored on.
    """
    import nrrd

    try:
        header = nrrd.read_header(str(path))
        reference = _reference_grid(header.get("Segmentation_ConversionParameters", ""))
        if reference is not None:
            return reference
        directions = [
            d for d in header["space directions"] if d is not None and np.all(np.isfinite(np.asarray(d, dtype=float)))
        ]
        matrix = np.eye(4)
        matrix[:3, :3] = np.asarray(directions, dtype=float).T
        matrix[:3, 3] = np.asarray(header["space origin"], dtype=float)
        if str(header.get("space", "")).lower() in ("right-anterior-superior", "ras"):
            matrix[:2, :] *= -1
        return Grid.from_ijk_to_lps(matrix, [int(v) for v in header["sizes"][-3:]])
    except (OSError, KeyError, ValueError, nrrd.NRRDError) as error:
        raise InputError(f"Cannot read the grid of {path} ({error}): the file is corrupt; write it again.") from None
