"""Slicer markups files (``.mrk.json``): point lists and lines, read and written in LPS or RAS.

Inside the core every point is LPS. A file states its own frame in ``coordinateSystem``
(missing means LPS, as Slicer reads it). Every file written is validated against Slicer's markups
schema (v1.0.3, shipped in ``hitit/io/schema``) before it reaches the disk.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import jsonschema
import numpy as np

from hitit.errors import InputError
from hitit.geometry import from_lps, to_lps
from hitit.io.atomic import write_text_atomic

#: The ``@schema`` value Slicer writes (it keeps the old ``master`` URL on purpose so that
#: Slicer < 5.1 can read the files; Slicer's reader matches it by file name).
MARKUPS_SCHEMA_URL = "https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/Markups/Resources/Schema/markups-schema-v1.0.3.json#"
_KIND_TO_TYPE = {"points": "Fiducial", "line": "Line"}
_TYPE_TO_KIND = {v: k for k, v in _KIND_TO_TYPE.items()}


@dataclass
class Markup:
    """A point list or a line. ``points_lps`` is (N, 3) in LPS mm; a line has exactly 2 points."""

    kind: str
    name: str
    points_lps: np.ndarray
    labels: list[str] = field(default_factory=list)
    descriptions: list[str] = field(default_factory=list)
    color: tuple[float, float, float] | None = None
    locked: bool = False

    def __post_init__(self) -> None:
        if self.kind not in _KIND_TO_TYPE:
            raise InputError(f"Markup '{self.name}': kind must be 'points' or 'line', not {self.kind!r}.")
        try:
            self.points_lps = np.asarray(self.points_lps, dtype=float).reshape(-1, 3)
        except (TypeError, ValueError):
            raise InputError(f"Markup '{self.name}': points must be numbers, 3 (x, y, z) per point.") from None
        if not np.all(np.isfinite(self.points_lps)):
            raise InputError(f"Markup '{self.name}' has a point that is not a finite number (NaN or infinity).")
        if self.kind == "line" and len(self.points_lps) != 2:
            raise InputError(
                f"Line markup '{self.name}' has {len(self.points_lps)} defined points; a line needs exactly 2."
            )
        self.labels = list(self.labels or []) or [f"{self.name}-{i + 1}" for i in range(len(self.points_lps))]
        self.descriptions = list(self.descriptions or []) or [""] * len(self.points_lps)
        for what, values in (("labels", self.labels), ("descriptions", self.descriptions)):
            if len(values) != len(self.points_lps):
                raise InputError(f"Markup '{self.name}' has {len(values)} {what} for {len(self.points_lps)} points.")
        if self.color is not None:
            self.color = tuple(float(c) for c in self.color)

    def to_dict(self, frame: str = "LPS") -> dict:
        """JSON-ready summary: kind, name, labels, points in ``frame`` (mm), descriptions, colour."""
        return {
            "kind": self.kind,
            "name": self.name,
            "frame": frame.upper(),
            "labels": list(self.labels),
            "points_mm": from_lps(self.points_lps, frame).tolist(),
            "descriptions": list(self.descriptions),
            "color": list(self.color) if self.color is not None else None,
        }

    @property
    def length_mm(self) -> float:
        """Length of a line (mm)."""
        return float(np.linalg.norm(self.points_lps[1] - self.points_lps[0]))


@lru_cache(maxsize=1)
def markups_schema() -> dict:
    """Slicer's markups schema v1.0.3 (shipped copy)."""
    return json.loads(
        resources.files("hitit.io").joinpath("schema/markups-schema-v1.0.3.json").read_text(encoding="utf-8")
    )


def markups_to_json(markups: list[Markup], frame: str = "LPS") -> dict:
    """The JSON document for ``markups`` with positions in ``frame`` ("LPS" or "RAS")."""
    frame = frame.upper()
    documents = []
    for markup in markups:
        points = from_lps(markup.points_lps, frame)
        control_points = []
        for index, point in enumerate(points):
            control_points.append(
                {
                    "id": str(index + 1),
                    "label": markup.labels[index],
                    "description": markup.descriptions[index],
                    "associatedNodeID": "",
                    "position": [float(v) for v in point],
                    "orientation": [-1.0, -0.0, -0.0, -0.0, -1.0, -0.0, 0.0, 0.0, 1.0]
                    if frame == "LPS"
                    else [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
                    "selected": True,
                    "locked": markup.locked,
                    "visibility": True,
                    "positionStatus": "defined",
                }
            )
        document = {
            "type": _KIND_TO_TYPE[markup.kind],
            "name": markup.name,
            "coordinateSystem": frame,
            "coordinateUnits": "mm",
            "locked": markup.locked,
            "fixedNumberOfControlPoints": markup.kind == "line",
            "labelFormat": "%N-%d",
            "lastUsedControlPointNumber": len(control_points),
            "controlPoints": control_points,
        }
        if markup.kind == "line":
            document["measurements"] = [
                {
                    "name": "length",
                    "enabled": True,
                    "value": markup.length_mm,
                    "units": "mm",
                    "printFormat": "%-#4.4g%s",
                }
            ]
        if markup.color is not None:
            color = [float(c) for c in markup.color]
            document["display"] = {
                "visibility": True,
                "opacity": 1.0,
                "color": color,
                "selectedColor": color,
                "propertiesLabelVisibility": True,
                "pointLabelsVisibility": True,
            }
        documents.append(document)
    return {"@schema": MARKUPS_SCHEMA_URL, "markups": documents}


def write_markups(path: str | Path, markups: list[Markup], frame: str = "LPS") -> Path:
    """Write ``markups`` to a ``.mrk.json`` with positions in ``frame`` ("LPS" or "RAS"), atomically.

    The document is validated against Slicer's schema first, so an invalid file is never written.
    Slicer writes one markup per file but loads every markup of a file, each as its own node.
    """
    if str(frame).upper() not in ("LPS", "RAS"):
        raise InputError(f"Unknown coordinate frame {frame!r}: use LPS or RAS.")
    if not markups:
        raise InputError(f"Cannot write {path}: no markup given.")
    document = markups_to_json(markups, frame)
    try:
        jsonschema.validate(document, markups_schema())
    except jsonschema.ValidationError as error:
        where = "/".join(str(p) for p in error.absolute_path)
        raise InputError(f"Markups for {path} do not fit Slicer's schema at '{where}': {error.message}.") from None
    return write_text_atomic(path, json.dumps(document, indent=2, allow_nan=False) + "\n")


def write_points(
    path: str | Path,
    name: str,
    points_lps: np.ndarray,
    labels: list[str] | None = None,
    color: tuple[float, float, float] | None = None,
    frame: str = "LPS",
) -> Path:
    """Write one point list (``points_lps`` (N, 3), LPS mm) to a ``.mrk.json`` in ``frame``."""
    return write_markups(path, [Markup("points", name, points_lps, labels=labels or [], color=color)], frame)


def write_line(
    path: str | Path,
    name: str,
    start_lps: np.ndarray,
    end_lps: np.ndarray,
    color: tuple[float, float, float] | None = None,
    frame: str = "LPS",
) -> Path:
    """Write one line from ``start_lps`` to ``end_lps`` (LPS mm) to a ``.mrk.json`` in ``frame``."""
    return write_markups(path, [Markup("line", name, np.vstack([start_lps, end_lps]), color=color)], frame)


def write_lines(
    path: str | Path,
    lines: dict[str, np.ndarray],
    colors: dict[str, tuple[float, float, float]] | None = None,
    frame: str = "LPS",
) -> Path:
    """Write several lines ``{name: (2, 3) LPS mm}`` into one ``.mrk.json`` (Slicer loads one node each)."""
    markups = [Markup("line", name, points, color=(colors or {}).get(name)) for name, points in lines.items()]
    return write_markups(path, markups, frame)


def read_markups(path: str | Path) -> list[Markup]:
    """Read point lists and lines from a ``.mrk.json`` file; points are returned in LPS.

    Undefined points (``"position": ""``, which Slicer writes) are skipped. Other markup types
    (curves, planes...) are refused with a clear message.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Markups file not found: {path}.")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        items = document["markups"]
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise TypeError("markups is not a list of objects")
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError):
        raise InputError(f"{path} is not a Slicer markups file (.mrk.json with a 'markups' list).") from None
    default_name = path.name.split(".")[0]
    return [_markup_from_json(item, default_name, path) for item in items]


def _markup_from_json(item: dict, default_name: str, path: Path) -> Markup:
    """One markup of a ``.mrk.json`` document as a :class:`Markup` (points converted to LPS)."""
    kind = _TYPE_TO_KIND.get(item.get("type"))
    if kind is None:
        raise InputError(f"{path}: markup type {item.get('type')!r} is not supported; use point lists or lines.")
    frame = item.get("coordinateSystem") or "LPS"
    if str(frame).upper() not in ("LPS", "RAS"):
        raise InputError(f"{path}: coordinateSystem {frame!r} is not LPS or RAS.")
    points, labels, descriptions = [], [], []
    for point in item.get("controlPoints") or []:
        position = point.get("position")
        if position in ("", None) or point.get("positionStatus") in ("undefined", "missing"):
            continue  # undefined position: Slicer writes "" (or leaves the key out)
        if not isinstance(position, list) or len(position) != 3:
            raise InputError(
                f"{path}: control point {point.get('label', '?')!r} has position {position!r}, not [x, y, z]."
            )
        points.append(position)
        labels.append(str(point.get("label", "")))
        descriptions.append(str(point.get("description", "")))
    display = item.get("display") or {}
    # Slicer draws selected points (the default) in selectedColor, so it is the colour users see
    color = display.get("selectedColor") or display.get("color")
    try:
        points_lps = to_lps(np.asarray(points, dtype=float).reshape(-1, 3), frame)
    except (TypeError, ValueError):
        raise InputError(f"{path}: a control point position is not three numbers.") from None
    return Markup(
        kind=kind,
        name=item.get("name") or default_name,
        points_lps=points_lps,
        labels=labels,
        descriptions=descriptions,
        color=tuple(color) if color else None,
        locked=bool(item.get("locked", False)),
    )
