"""Measurements of straight needle paths shared by the map over every skin entry (:mod:`planner`) and the
exact check of one path (:mod:`check`): angles, lung crossings, normal organ tissue before the lesion,
the soft cost.

Frames: every point and direction is LPS mm, angles degrees. A path runs from a skin ``entry`` to a
``target``; functions take ``entries`` (N, 3) and one target and return one value per path.
"""

from __future__ import annotations

import numpy as np

from hitit.trajectories.distance import PreparedScene
from hitit.trajectories.sampling import FieldLookup

#: LPS direction of the patient's superior axis; the axial plane is perpendicular to it.
SUPERIOR_LPS = np.array([0.0, 0.0, 1.0])


def axial_angle_deg(entries: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Angle (deg, 0-90) between each path and the patient's axial plane (0 = in-plane)."""
    u = np.asarray(target, float) - np.atleast_2d(entries)
    norm = np.maximum(np.sqrt(np.einsum("ij,ij->i", u, u)), 1e-12)
    return np.degrees(np.arcsin(np.clip(np.abs(u @ SUPERIOR_LPS) / norm, 0.0, 1.0)))


def skin_angle_deg(entries: np.ndarray, target: np.ndarray, normals: np.ndarray | None) -> np.ndarray:
    """Angle (deg, 0-180) between the outward skin normal and the direction target -> entry (0 = perpendicular entry).

    NaN where no normal is known.
    """
    entries = np.atleast_2d(entries)
    if normals is None:
        return np.full(len(entries), np.nan)
    back = entries - np.asarray(target, float)
    n = np.atleast_2d(np.asarray(normals, float))
    norms = np.maximum(np.sqrt(np.einsum("ij,ij->i", back, back)), 1e-12) * np.maximum(
        np.sqrt(np.einsum("ij,ij->i", n, n)), 1e-12
    )
    return np.degrees(np.arccos(np.clip(np.einsum("ij,ij->i", back, n) / norms, -1.0, 1.0)))


def _sample_voxels(
    scene: PreparedScene, entries: np.ndarray, target: np.ndarray, step_mm: float, back_mm: float | None = None
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    """Nearest crop voxels (i, j, k), each (N, S) int, of samples about ``step_mm`` apart on each path, and their
    spacing (N,) mm.

    Samples run from the entry to the target, or only over the last ``back_mm`` before the target,
    both ends included. Positions are computed in float32 index space (the point ``s`` mm before
    the target is ``x - s (x - e) / L``).
    """
    target = np.asarray(target, float)
    entries = np.atleast_2d(np.asarray(entries, float))
    look = FieldLookup.of(scene)
    length = np.linalg.norm(target - entries, axis=1)
    span = length if back_mm is None else np.minimum(length, back_mm)
    count = int(np.ceil(span.max(initial=0.0) / step_mm)) + 1
    before = np.linspace(1.0, 0.0, count).astype(np.float32)  # fraction of the span before the target
    e = look.index(entries)
    x = look.index(target[None, :])[0]
    ratio = span / np.maximum(length, 1e-12)
    coords = []
    for a in range(3):
        c = ((x[a] - e[:, a]) * ratio).astype(np.float32)[:, None] * before[None, :]
        np.subtract(np.float32(x[a]), c, out=c)
        np.rint(c, out=c)
        np.clip(c, 0, look.size[a] - 1, out=c)
        coords.append(c.astype(look.itype))
    dt = span / (count - 1) if count > 1 else np.zeros(len(entries))
    return tuple(coords), dt


def _lookup(volume: np.ndarray, voxels: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """Values of ``volume`` (crop, [k, j, i]) at integer voxels (i, j, k) from :func:`_sample_voxels`."""
    flat, (si, sj, sk) = _flat_view(volume)
    i, j, k = voxels
    index = k.astype(np.intp) * sk
    index += j * sj
    index += i * si
    return np.take(flat, index)


def _labels_along(
    scene: PreparedScene,
    volume: np.ndarray,
    entries: np.ndarray,
    target: np.ndarray,
    step_mm: float,
    back_mm: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest-voxel values of ``volume`` (crop) at samples about ``step_mm`` apart (N, S), and the sample spacing (N,)
    mm.

    Samples run from the entry to the target, or only over the last ``back_mm`` before the target.
    """
    voxels, dt = _sample_voxels(scene, entries, target, step_mm, back_mm)
    return _lookup(volume, voxels), dt


def _flat_view(volume: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int]]:
    """A 1-D view of ``volume``'s memory and the element strides of its (i, j, k)
    axes (no copy for C-ordered slices).
    """
    item = volume.itemsize
    if volume.ndim == 3 and all(s > 0 and s % item == 0 for s in volume.strides):
        sk, sj, si = (s // item for s in volume.strides)
        extent = 1 + sum((n - 1) * s for n, s in zip(volume.shape, (sk, sj, si)))
        flat = np.lib.stride_tricks.as_strided(volume, shape=(extent,), strides=(item,), writeable=False)
        return flat, (si, sj, sk)
    dense = np.ascontiguousarray(volume)
    return dense.reshape(-1), (1, dense.shape[2], dense.shape[1] * dense.shape[2])


def lung_crossings(scene: PreparedScene, entries: np.ndarray, target: np.ndarray) -> dict[str, np.ndarray]:
    """Pleural punctures, fissure crossings and aerated-lung length (mm) along each path, sampled every
    ``lung_step_mm``.

    A puncture is an entry into aerated lung from outside it; re-entering a *different* lobe after
    a gap shorter than ``fissure_gap_mm`` (or passing straight from one lobe's mask into another's)
    is a fissure crossing instead. Resolution: the sampling step (0.5 mm default).
    """
    entries = np.atleast_2d(entries)
    n = len(entries)
    zeros = {
        "pleural_punctures": np.zeros(n, dtype=int),
        "fissure_crossings": np.zeros(n, dtype=int),
        "aerated_lung_mm": np.zeros(n),
    }
    if not scene.lung_names or n == 0:
        return zeros
    step = scene.config.lung_step_mm
    near = _segments_meet_box(scene, entries, target)
    if not near.any():
        return zeros
    sub, spacing = _labels_along(scene, scene.lung_labels, entries[near], target, step)
    labels = np.zeros((n, sub.shape[1]), dtype=np.uint8)
    labels[near] = sub
    dt = np.zeros((n, 1))
    dt[near, 0] = spacing
    inside = labels > 0
    idx = np.broadcast_to(np.arange(labels.shape[1]), labels.shape)
    last = np.maximum.accumulate(np.where(inside, idx, -1), axis=1)
    prev_last = np.c_[np.full(n, -1), last[:, :-1]]
    prev_label = np.take_along_axis(labels, np.maximum(prev_last, 0), axis=1)
    gap_mm = (idx - prev_last - 1) * dt
    starts = inside & ~np.c_[np.zeros(n, dtype=bool), inside[:, :-1]]
    direct = inside & np.c_[np.zeros(n, dtype=bool), inside[:, :-1]] & (labels != np.c_[labels[:, :1], labels[:, :-1]])
    near_other = starts & (prev_last >= 0) & (gap_mm < scene.config.fissure_gap_mm) & (prev_label != labels)
    near_same = starts & (prev_last >= 0) & (gap_mm < scene.config.fissure_gap_mm) & (prev_label == labels)
    fissures = (near_other | direct).sum(axis=1)
    punctures = (starts & ~near_other & ~near_same).sum(axis=1)
    return {
        "pleural_punctures": punctures,
        "fissure_crossings": fissures,
        "aerated_lung_mm": inside.sum(axis=1) * dt[:, 0],
    }


def _segments_meet_box(scene: PreparedScene, entries: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(N,) True where segment entry -> target meets the index bounding box of the lung labels (slab test)."""
    if scene.lung_box is None:
        return np.zeros(len(entries), dtype=bool)
    lo, hi = scene.lung_box
    a = scene.crop_grid.lps_to_index(entries)
    d = scene.crop_grid.lps_to_index(np.asarray(target, float)) - a
    with np.errstate(divide="ignore", invalid="ignore"):
        t1, t2 = (lo - a) / d, (hi - a) / d
    inside = (a >= lo) & (a <= hi)
    tmin = np.where(d == 0, np.where(inside, -np.inf, np.inf), np.minimum(t1, t2)).max(axis=1)
    tmax = np.where(d == 0, np.where(inside, np.inf, -np.inf), np.maximum(t1, t2)).min(axis=1)
    return (tmin <= tmax) & (tmax >= 0) & (tmin <= 1)


def organ_path_before_lesion(
    scene: PreparedScene,
    entries: np.ndarray,
    target: np.ndarray,
    lesion: np.ndarray | None,
    lesion_extent_mm: float | None = None,
) -> tuple[np.ndarray, str | None, float]:
    """Length (mm) of host-organ tissue crossed just before the lesion (or the target), the host name and its rule.

    The host is the organ with a minimum-path rule that contains the target's voxel; without one
    the lengths are NaN and the rule 0. ``lesion`` is the lesion mask on the crop grid (or None:
    the path counts up to the target point); ``lesion_extent_mm`` its bounding-box diagonal when
    the caller knows it (:func:`lesion_extent_mm`), else it is measured here.
    """
    entries = np.atleast_2d(entries)
    host = host_organ(scene, target)
    if host is None or len(entries) == 0:
        return np.full(len(entries), np.nan), None, 0.0
    rule = min_path_rule(scene, host)
    # only the stretch just before the target matters: the rule length plus the lesion's extent
    extent = 0.0
    if lesion is not None:
        extent = lesion_extent(scene, lesion) if lesion_extent_mm is None else float(lesion_extent_mm)
    back = rule + extent + 2.0 * scene.config.lung_step_mm
    voxels, dt = _sample_voxels(scene, entries, target, scene.config.lung_step_mm, back)
    organ = _lookup(scene.organ_masks[host], voxels).astype(bool)
    samples = organ.shape[1]
    if lesion is not None:
        in_lesion = _lookup(lesion, voxels).astype(bool)
        organ &= ~in_lesion
        # samples strictly before the lesion's first sample (or up to the target, which is in the organ)
        end = np.where(in_lesion.any(axis=1), in_lesion.argmax(axis=1), samples - 1) - 1
    else:
        end = np.full(len(entries), samples - 1)
    end = np.maximum(end, 0)
    # last sample outside the organ at or before ``end`` (-1 when none): the run of organ samples follows it
    outside = ~organ
    if lesion is not None:
        outside &= np.arange(samples)[None, :] <= end[:, None]
    flipped = outside[:, ::-1]
    last_out = np.where(flipped.any(axis=1), samples - 1 - flipped.argmax(axis=1), -1)
    run = end - last_out
    return np.maximum(run, 0) * dt, host, rule


def lesion_extent(scene: PreparedScene, lesion: np.ndarray) -> float:
    """Bounding-box diagonal (mm) of a lesion mask on the crop grid (0 when empty)."""
    nz = [np.flatnonzero(np.any(lesion, axis=a)) for a in ((1, 2), (0, 2), (0, 1))]
    if any(len(v) == 0 for v in nz):
        return 0.0
    size = np.array([v[-1] - v[0] + 1 for v in nz], float)  # k, j, i
    return float(np.linalg.norm(size * np.asarray(scene.crop_grid.spacing_mm)[::-1]))


def target_in_lung(scene: PreparedScene, target: np.ndarray) -> bool:
    """True when the target's nearest voxel lies in a traversable (lung) structure."""
    ijk = np.rint(scene.crop_grid.lps_to_index(np.asarray(target, float))).astype(int)
    return bool(scene.crop_grid.contains_index(ijk, 0.0) and scene.lung_labels[ijk[2], ijk[1], ijk[0]] > 0)


def host_organ(scene: PreparedScene, target: np.ndarray) -> str | None:
    """The organ with a minimum-path rule whose mask holds the target's nearest voxel, or None."""
    ijk = np.rint(scene.crop_grid.lps_to_index(np.asarray(target, float))).astype(int)
    if not scene.crop_grid.contains_index(ijk, 0.0):
        return None
    for name, mask in scene.organ_masks.items():
        if mask[ijk[2], ijk[1], ijk[0]]:
            return name
    return None


def min_path_rule(scene: PreparedScene, host: str) -> float:
    """The minimum normal-tissue path (mm) configured for organ ``host`` (longest matching key)."""
    from hitit.anatomy.catalogue import normalise_name

    key = normalise_name(host)
    matches = [
        (len(k), v)
        for k, v in scene.config.min_organ_path_mm.items()
        if key == normalise_name(k) or key.startswith(normalise_name(k) + "_")
    ]
    return float(max(matches)[1]) if matches else 0.0


def soft_cost(scene: PreparedScene, length_mm, slack_mm, axial_deg, skin_deg, lung: dict) -> np.ndarray:
    """Weighted sum of the soft criteria (dimensionless, lower is better); see :class:`ScoreWeights`."""
    cfg = scene.config
    w = cfg.weights
    penalties = {}
    for name in scene.lung_names:
        penalties = dict(scene.rules[name].penalties)
        break
    per_fissure = float(penalties.get("per_fissure_crossing", 0.0))
    per_puncture = float(penalties.get("per_extra_pleural_puncture", 0.0))
    per_30mm = float(penalties.get("per_30mm_aerated_lung", 0.0))
    lung_cost = (
        per_fissure * lung["fissure_crossings"]
        + per_puncture * np.maximum(lung["pleural_punctures"] - 1, 0)
        + per_30mm * lung["aerated_lung_mm"] / 30.0
    )
    missing = np.clip(1.0 - np.asarray(slack_mm, float) / cfg.margin_slack_reference_mm, 0.0, 1.0)
    skin = np.nan_to_num(np.asarray(skin_deg, float), nan=0.0)
    return (
        w.length * np.asarray(length_mm, float) / cfg.needle_length_mm
        + w.margin_slack * missing
        + w.axial_angle * np.asarray(axial_deg, float) / 90.0
        + w.skin_angle * skin / 90.0
        + w.lung * lung_cost
    )


def crop_mask(scene: PreparedScene, mask: np.ndarray) -> np.ndarray:
    """A full-grid mask cut to the scene's crop."""
    lo = scene.crop_lo
    hi = [lo[a] + scene.crop_grid.size[a] for a in range(3)]
    return mask[lo[2] : hi[2], lo[1] : hi[1], lo[0] : hi[0]]
