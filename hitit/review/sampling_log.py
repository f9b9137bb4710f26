"""Biopsy and sampling log: where pharmacodynamic samples were taken relative to where the drug went.

Log format (JSON): ``{"frame": "LPS" | "RAS", "samples": [{"id", "lesion_id", "timepoint",
"point": [x, y, z], "frame", "kind", "note"}]}`` or a bare list of samples. A sample's own
``frame`` overrides the file's; points are converted to LPS mm on reading. Serial biopsies of
injected and non-injected lesions relate the drug's effect to its site (Marabelle et al., Ann Oncol 2018,
PMC6290929).

Each sample gets its distance (mm) to the nearest planned deposit of its lesion and, when the
actual needle is known, to the nearest delivered deposit (the planned deposits moved with the
needle, see :func:`delivered_deposits`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hitit.errors import GeometryError, InputError
from hitit.geometry import to_lps
from hitit.io.jsonfile import read_json


@dataclass
class Sample:
    """One biopsy or sample: ``point_lps`` in LPS mm."""

    sample_id: str
    lesion_id: str
    timepoint: str
    point_lps: np.ndarray
    kind: str = "biopsy"
    note: str | None = None


@dataclass
class SampleDistance:
    """A sample and its distances (mm) to the nearest planned and delivered deposit of its lesion."""

    sample: Sample
    nearest_planned_deposit_mm: float | None
    nearest_delivered_deposit_mm: float | None

    def to_dict(self) -> dict:
        """JSON-ready record (LPS mm)."""
        s = self.sample
        return {
            "id": s.sample_id,
            "lesion_id": s.lesion_id,
            "timepoint": s.timepoint,
            "kind": s.kind,
            "note": s.note,
            "point_lps": [round(float(v), 3) for v in s.point_lps],
            "nearest_planned_deposit_mm": _round(self.nearest_planned_deposit_mm),
            "nearest_delivered_deposit_mm": _round(self.nearest_delivered_deposit_mm),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


def read_sampling_log(path: str | Path) -> list[Sample]:
    """Read a JSON sampling log (see the module docstring); points come back in LPS."""
    return samples_from_json(read_json(path, "sampling log"), str(path))


def samples_from_json(document, where: str = "sampling log") -> list[Sample]:
    """Samples from a parsed sampling log (dict with ``samples`` or a list)."""
    items = document.get("samples") if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise InputError(f'{where}: expected a list of samples or {{"samples": [...]}}.')
    default_frame = document.get("frame", "LPS") if isinstance(document, dict) else "LPS"
    samples = []
    for n, item in enumerate(items):
        try:
            point = np.asarray(item["point"], dtype=float).reshape(3)
            point_lps = to_lps(point, item.get("frame", default_frame))
            samples.append(
                Sample(
                    str(item.get("id", f"S{n + 1}")),
                    str(item["lesion_id"]),
                    str(item["timepoint"]),
                    point_lps,
                    str(item.get("kind", "biopsy")),
                    item.get("note"),
                )
            )
        except KeyError as missing:
            raise InputError(
                f"{where} sample {n + 1}: missing {missing} (needs lesion_id, timepoint, point)."
            ) from None
        except (TypeError, ValueError, GeometryError) as error:
            raise InputError(f"{where} sample {n + 1}: point must be 3 numbers in LPS or RAS ({error}).") from None
    return samples


def delivered_deposits(planned_lps: np.ndarray, entry_lps, target_lps, tip_lps, needle_axis) -> np.ndarray:
    """Planned deposits (N, 3 LPS mm) moved rigidly with the needle.

    The rigid motion takes the planned target onto the actual tip and turns the planned axis
    (entry -> target) onto the actual needle axis by the smallest rotation, so a deposit planned
    5 mm short of the target is placed 5 mm short of the actual tip on the actual needle.
    """
    planned = np.asarray(planned_lps, float).reshape(-1, 3)
    target = np.asarray(target_lps, float)
    p = target - np.asarray(entry_lps, float)
    p /= np.linalg.norm(p)
    a = np.asarray(needle_axis, float) / np.linalg.norm(needle_axis)
    rotation = _rotation_between(p, a)
    return (planned - target) @ rotation.T + np.asarray(tip_lps, float)


def _rotation_between(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The smallest rotation (3x3) taking unit vector ``u`` onto unit vector ``v`` (Rodrigues)."""
    axis = np.cross(u, v)
    sine, cosine = np.linalg.norm(axis), float(u @ v)
    if sine < 1e-12:
        if cosine > 0:
            return np.eye(3)
        ortho = np.cross(u, [1.0, 0.0, 0.0] if abs(u[0]) < 0.9 else [0.0, 1.0, 0.0])
        ortho /= np.linalg.norm(ortho)
        return 2.0 * np.outer(ortho, ortho) - np.eye(3)
    k = axis / sine
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + sine * kx + (1 - cosine) * kx @ kx


def _nearest_mm(point: np.ndarray, deposits: np.ndarray | None) -> float | None:
    if deposits is None or len(deposits) == 0:
        return None
    return float(np.min(np.linalg.norm(np.asarray(deposits) - point, axis=1)))


def sample_distances(
    samples: list[Sample], planned: dict[str, np.ndarray], delivered: dict[str, np.ndarray] | None = None
) -> list[SampleDistance]:
    """Each sample's distance to the nearest planned / delivered deposit of its lesion (dicts lesion id -> (N, 3) LPS
    mm).

    A non-injected lesion (no deposits) gives None distances.
    """
    delivered = delivered or {}
    return [
        SampleDistance(
            s, _nearest_mm(s.point_lps, planned.get(s.lesion_id)), _nearest_mm(s.point_lps, delivered.get(s.lesion_id))
        )
        for s in samples
    ]
