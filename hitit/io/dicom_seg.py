"""Read DICOM Segmentation objects (SEG) onto a CT grid: one named boolean mask per segment.

highdicom decodes the object and builds each segment's volume from its frames by each frame's
own Image Position (Patient), so frames stored in any order, with gaps or only where the segment
is present, land where they belong. The volume is then put on the CT grid: by index arithmetic
when its voxel centres are CT voxel centres (the usual case, also when the rows or slices run the
other way), else by nearest-neighbour resampling at physical position.

- Names: each segment's SegmentLabel (else its SegmentDescription), so TotalSegmentator's labels
  ("liver", "vertebrae_L1") map through the structure catalogue as its NIfTI names do.
- Fractional segments (probability or occupancy) become masks where the fraction is at least
  :data:`FRACTIONAL_THRESHOLD` of its maximum.
- Label map segmentations (one label value per segment) are read the same way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hitit.case import MaskSet
from hitit.errors import GeometryError, InputError
from hitit.geometry import Grid, mask_onto_grid
from hitit.io.dicom_files import DicomSeriesRef, check_reference

#: A fractional segment's voxel is in the mask when its fraction is at least this (0-1): half a
#: voxel occupied (or even odds), the usual reading of a fractional SEG as a binary mask.
FRACTIONAL_THRESHOLD = 0.5
#: Largest distance (in voxels) of a segment voxel centre from a CT voxel centre for the two
#: to be taken as the same voxel (DS strings carry about 1e-6 mm of round-off).
ALIGNED_TOLERANCE_VOXELS = 1e-3


def read_dicom_seg(path: Path, dataset, grid: Grid, reference: DicomSeriesRef | None = None) -> MaskSet:
    """Named boolean masks (``[k, j, i]`` on ``grid``) of every segment of a DICOM SEG ``dataset``.

    ``reference`` is the CT's series identity: a SEG of another study or frame of reference is
    refused. A SEG none of whose voxels fall inside the CT raises a GeometryError. Segments with
    no frame are kept as empty masks.
    """
    import highdicom as hd

    check_reference(dataset, path, reference, "segmentation")
    try:
        seg = hd.seg.Segmentation.from_dataset(dataset, copy=False)
    except (ValueError, AttributeError, KeyError, TypeError) as error:
        raise InputError(
            f"Cannot read DICOM SEG {path.name}: {error}. The object is incomplete or not a valid SEG."
        ) from None
    present = _segments_with_frames(dataset)
    names: dict[int, str] = {}
    for number in seg.get_segment_numbers():
        name = _segment_name(seg, number)
        if name in names.values():
            raise InputError(f"Segment label '{name}' appears twice in {path.name}: give each segment its own label.")
        names[number] = name
    masks: MaskSet = {name: np.zeros(grid.shape, dtype=bool) for number, name in names.items() if number not in present}
    voxels_in_file = 0
    for number in (n for n in names if n in present):  # one at a time: a CT-sized volume per segment
        array, seg_grid = _segment_volume(seg, number, path)
        voxels_in_file += int(array.sum())
        masks[names[number]] = place_on_grid(array, seg_grid, grid, f"{path.name}:{names[number]}")
    masks = {name: masks[name] for name in names.values()}  # in segment order
    if voxels_in_file and not any(mask.any() for mask in masks.values()):
        raise GeometryError(
            f"DICOM SEG {path.name} does not overlap the CT (no segment voxel inside the CT grid {grid.describe()}): "
            "use the segmentation made on this CT."
        )
    return masks


def _segments_with_frames(dataset) -> set[int]:
    """Segment numbers that at least one frame refers to (a label map SEG: all of them)."""
    numbers = set()
    for frame in dataset.get("PerFrameFunctionalGroupsSequence", []):
        for item in frame.get("SegmentIdentificationSequence", []):
            numbers.add(int(item.ReferencedSegmentNumber))
    if not numbers:  # label maps identify segments by pixel value, not per frame
        numbers = {int(s.SegmentNumber) for s in dataset.get("SegmentSequence", [])}
    return numbers


def _segment_name(seg, number: int) -> str:
    """The segment's label (else description, else ``segment_<number>``), stripped."""
    description = seg.get_segment_description(number)
    for value in (description.get("SegmentLabel"), description.get("SegmentDescription")):
        if value and str(value).strip():
            return str(value).strip()
    return f"segment_{number}"


def _segment_volume(seg, number: int, path: Path) -> tuple[np.ndarray, Grid]:
    """One segment as a boolean array ``[k, j, i]`` on its own grid (frames placed by position)."""
    try:
        volume = seg.get_volume(segment_numbers=[number], combine_segments=False, rescale_fractional=True)
    except (ValueError, RuntimeError) as error:
        raise InputError(
            f"Cannot place the frames of segment {number} of {path.name} in space ({error}): "
            "the frames do not form a volume of parallel, evenly spaced slices."
        ) from None
    values = np.asarray(volume.array)[..., 0]  # (slice, row, column)
    fractional = str(seg.SegmentationType) == "FRACTIONAL"
    affine = np.asarray(volume.affine, dtype=float)
    ijk_to_lps = np.eye(4)
    ijk_to_lps[:3, :3] = affine[:3, [2, 1, 0]]  # i = column, j = row, k = slice
    ijk_to_lps[:3, 3] = affine[:3, 3]
    grid = Grid.from_ijk_to_lps(ijk_to_lps, (values.shape[2], values.shape[1], values.shape[0]))
    return (values >= FRACTIONAL_THRESHOLD if fractional else values != 0), grid


def place_on_grid(array: np.ndarray, source: Grid, target: Grid, name: str) -> np.ndarray:
    """Boolean ``array`` (``[k, j, i]`` on ``source``) as a mask on ``target``.

    When every source voxel centre is a target voxel centre (axes permuted or flipped allowed),
    the voxels are copied by index; otherwise they are resampled at physical position (nearest
    neighbour). Voxels outside ``target`` are dropped.
    """
    mapping = _aligned_mapping(source, target)
    if mapping is None:
        if not target.overlaps(source):
            return np.zeros(target.shape, dtype=bool)
        return mask_onto_grid(source.image_from_array(array), target, name=name)
    axes, signs, starts = mapping
    values = np.asarray(array, dtype=bool).transpose(2, 1, 0).transpose(axes)  # (i, j, k) in target axis order
    for axis, sign in enumerate(signs):
        if sign < 0:
            values = np.flip(values, axis=axis)
    out = np.zeros(target.size, dtype=bool)  # (i, j, k)
    src, dst = [], []
    for axis in range(3):
        lo, hi = starts[axis], starts[axis] + values.shape[axis]
        clip_lo, clip_hi = max(lo, 0), min(hi, target.size[axis])
        if clip_lo >= clip_hi:
            return np.zeros(target.shape, dtype=bool)
        src.append(slice(clip_lo - lo, clip_hi - lo))
        dst.append(slice(clip_lo, clip_hi))
    out[tuple(dst)] = values[tuple(src)]
    return np.ascontiguousarray(out.transpose(2, 1, 0))


def _aligned_mapping(source: Grid, target: Grid):
    """``(axes, signs, starts)`` when source voxel centres are target voxel centres, else None.

    Target index ``a`` = ``signs[a]`` x source index ``axes[a]`` + offset; ``starts[a]`` is the
    target index of the first element after the source axes are reordered and flipped.
    """
    to_target = np.linalg.inv(target.ijk_to_lps_matrix()) @ source.ijk_to_lps_matrix()
    linear, offset = to_target[:3, :3], to_target[:3, 3]
    rounded = np.rint(linear)
    if (
        np.abs(linear - rounded).max() > ALIGNED_TOLERANCE_VOXELS
        or np.abs(offset - np.rint(offset)).max() > ALIGNED_TOLERANCE_VOXELS
    ):
        return None
    if not (np.all(np.abs(rounded).sum(axis=0) == 1) and np.all(np.abs(rounded).sum(axis=1) == 1)):
        return None  # not a signed permutation: the voxels differ in size or the axes are oblique
    axes = [int(np.flatnonzero(rounded[a])[0]) for a in range(3)]
    signs = [int(rounded[a, axes[a]]) for a in range(3)]
    offset = np.rint(offset).astype(int)
    starts = [int(offset[a]) if signs[a] > 0 else int(offset[a]) - (source.size[axes[a]] - 1) for a in range(3)]
    return axes, signs, starts
