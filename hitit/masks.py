"""Full-grid masks that know their bounding box, so that work on a mask is done on its box only.

A structure of a CT-sized label map covers a few percent of the grid. :func:`boxed_mask` builds the
usual bool array ``[k, j, i]`` on the whole grid (every existing caller keeps working), but

- the array is allocated with ``np.zeros`` (calloc), and only the pages holding the box are written:
  pages never written are not resident, so 30 full-grid masks of a 512 x 512 x 300 CT cost about the
  memory of their boxes, not 30 x 79 MB;
- its box travels with it (:class:`BoxedMask`, read-only so the box can never go stale), and
  :func:`mask_box` / :func:`box_crop` give the box without scanning the grid; a plain array's box is
  found by scanning it.
"""

from __future__ import annotations

import numpy as np

#: A box in array order: ``(lo, hi)`` with ``lo = (k0, j0, i0)`` and ``hi`` exclusive.
Box = tuple[tuple[int, int, int], tuple[int, int, int]]


class BoxedMask(np.ndarray):
    """A read-only full-grid bool mask whose True voxels all lie in ``box`` (array order, hi exclusive)."""

    box: Box | None

    def __array_finalize__(self, obj) -> None:
        # views and results of operations are plain masks as far as the box goes: only boxed_mask sets it
        self.box = None

    def any(self, axis=None, out=None, keepdims=False, **kwargs):  # noqa: D102 - numpy's
        if axis is None and out is None and not keepdims and not kwargs and self.box is not None:
            return bool(self[_slices(self.box)].view(np.ndarray).any())
        return np.ndarray.any(self.view(np.ndarray), axis=axis, out=out, keepdims=keepdims, **kwargs)


def _slices(box: Box) -> tuple[slice, slice, slice]:
    return tuple(slice(lo, hi) for lo, hi in zip(*box))


def _huge_pages(enabled: bool) -> bool:
    """Turn numpy's transparent-huge-page advice for new large arrays on or off; returns the previous state.

    numpy advises the kernel to back large arrays with 2 MB pages: a mask whose box spans every slice would
    then touch (and zero) nearly all of its 79 MB. With 4 kB pages only the box's pages are ever allocated.
    """
    setter = getattr(getattr(np, "_core", getattr(np, "core", None)).multiarray, "_set_madvise_hugepage", None)
    return bool(setter(enabled)) if setter is not None else False


def boxed_mask(shape: tuple[int, int, int], box: Box, crop: np.ndarray) -> BoxedMask:
    """The full-grid mask of ``shape`` that is ``crop`` (bool, the box's shape) inside ``box`` and False elsewhere."""
    before = _huge_pages(False)
    try:
        full = np.zeros(shape, dtype=bool)
    finally:
        _huge_pages(before)
    full[_slices(box)] = crop
    mask = full.view(BoxedMask)
    mask.box = (tuple(int(v) for v in box[0]), tuple(int(v) for v in box[1]))
    mask.flags.writeable = False
    return mask


def with_box(mask: np.ndarray) -> BoxedMask:
    """``mask`` as a :class:`BoxedMask`: itself when it is one, else a read-only view of it whose box is found
    by scanning it once (the array itself is not copied and stays writable).
    """
    if isinstance(mask, BoxedMask) and mask.box is not None:
        return mask
    box = scan_box(np.asarray(mask))
    view = np.asarray(mask, dtype=bool).view(BoxedMask)
    view.box = box if box is not None else ((0, 0, 0), (0, 0, 0))
    view.flags.writeable = False
    return view


def mask_box(mask: np.ndarray) -> Box | None:
    """Bounding box (array order, hi exclusive) of the True voxels of ``mask``; None when it is empty.

    A :class:`BoxedMask` answers from its box (tightened to its True voxels); other arrays are scanned.
    """
    box = getattr(mask, "box", None)
    if box is not None:
        sub = np.asarray(mask[_slices(box)])
        inner = scan_box(sub)
        return (
            None
            if inner is None
            else (tuple(a + b for a, b in zip(box[0], inner[0])), tuple(a + b for a, b in zip(box[0], inner[1])))
        )
    return scan_box(np.asarray(mask))


def scan_box(mask: np.ndarray) -> Box | None:
    """Bounding box of the non-zero voxels of any array, by scanning it (None when all are zero)."""
    nz = [np.flatnonzero(np.any(mask, axis=a)) for a in ((1, 2), (0, 2), (0, 1))]
    if any(len(n) == 0 for n in nz):
        return None
    return tuple(int(n[0]) for n in nz), tuple(int(n[-1]) + 1 for n in nz)


def box_crop(mask: np.ndarray, pad: int = 0) -> tuple[np.ndarray, tuple[int, int, int]] | None:
    """``(crop, lo)``: the sub-array of ``mask`` over its bounding box widened by ``pad`` voxels (clipped to
    the array), and the (k, j, i) index of its first voxel; None when the mask is empty.
    """
    box = mask_box(mask)
    if box is None:
        return None
    lo = tuple(max(v - pad, 0) for v in box[0])
    hi = tuple(min(v + pad, s) for v, s in zip(box[1], mask.shape))
    return np.asarray(mask[_slices((lo, hi))]), lo
