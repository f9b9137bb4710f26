"""The plan file, ``plan.json``: its JSON Schema, its format version, and :func:`load_plan`, the one reader.

``plan.schema.json`` beside this module documents every field. The writer (:mod:`hitit.plan.folder`)
checks a plan against it before anything reaches the disk, and every reader (``hitit review``,
``hitit export-dicom``, the Slicer modules) goes through :func:`load_plan` or :func:`plan_from_dict`,
which check it again and return typed objects. A file that does not fit gets one :class:`InputError`
naming the field (a JSON path such as ``lesions[1].trajectories[0].entry_lps``) and what to do; a file of
another ``format_version`` is refused by that number. There is no second way of reading a plan.

All points are LPS mm; lengths mm, volumes mL, angles degrees.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jsonschema
import numpy as np

from hitit.anatomy.catalogue import StructureRule
from hitit.errors import InputError
from hitit.trajectories.check import PathCheck

#: Version of the plan file format this HITIT writes and reads. Raise it when a field changes meaning
#: or disappears, so that an older reader refuses a newer file instead of misreading it.
PLAN_FORMAT_VERSION = 1
#: Name of the plan file in a plan folder.
PLAN_FILE_NAME = "plan.json"
#: What to do about a plan that does not fit (ends every message).
_FIX = "use a plan folder written by 'hitit plan' or the HITIT Planner"


@lru_cache(maxsize=1)
def plan_schema() -> dict:
    """The JSON Schema of ``plan.json`` (shipped with the package)."""
    return json.loads(resources.files("hitit.plan").joinpath("plan.schema.json").read_text(encoding="utf-8"))


def check_plan(document: Any, source: str = PLAN_FILE_NAME) -> None:
    """Raise :class:`InputError` (one line naming the field) unless ``document`` is a plan of this format.

    Checked: the ``format_version``, the schema, and what a schema cannot say (each lesion's
    ``scene_index`` points at one of the ``scenes``).
    """
    if not isinstance(document, dict):
        raise InputError(f"{source}: the top level must be a plan object (found {type(document).__name__}); {_FIX}.")
    version = document.get("format_version")
    if version is None:
        raise InputError(f"{source}: format_version is missing: not a plan file of this HITIT; {_FIX}.")
    if version != PLAN_FORMAT_VERSION:
        raise InputError(
            f"{source}: format_version {version!r} is not known to this HITIT (it reads "
            f"{PLAN_FORMAT_VERSION}); {_FIX}, or read it with the HITIT version that wrote it."
        )
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(plan_schema()).iter_errors(document))
    if error is not None:
        raise InputError(f"{source}: {_field(error)}: {_what(error)}; {_FIX}.")
    scenes = len(document["scenes"])
    for n, lesion in enumerate(document["lesions"]):
        if lesion["scene_index"] >= scenes:
            indices = f"0 to {scenes - 1}" if scenes else "the plan has none"
            raise InputError(
                f"{source}: lesions[{n}].scene_index: {lesion['scene_index']} is not an index into scenes "
                f"({indices}); {_FIX}."
            )


def _field(error: jsonschema.ValidationError) -> str:
    """JSON path of a schema error (``lesions[0].deposits.paths[0]``), with the missing key of a ``required`` error."""
    parts = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        parts.append(next(name for name in error.validator_value if name not in error.instance))
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "the top level"


#: How a failed schema keyword reads in a message (its value is filled in).
_EXPECTED = {
    "type": "must be of type {}",
    "const": "must be {}",
    "enum": "must be one of {}",
    "minItems": "must have at least {} items",
    "maxItems": "must have at most {} items",
    "minimum": "must be at least {}",
    "exclusiveMinimum": "must be more than {}",
    "minLength": "must not be empty",
}


def _what(error: jsonschema.ValidationError) -> str:
    """What is wrong, shortly: a missing field, or what the value must be and what it is."""
    if error.validator == "required":
        return "missing"
    if error.validator in _EXPECTED:
        expected = _EXPECTED[error.validator].format(json.dumps(error.validator_value))
        return f"{expected} (found {json.dumps(error.instance)[:60]})"
    return error.message[:200]


# ------------------------------------------------------------------------------------------ typed records
@dataclass(frozen=True)
class PlannedTrajectory:
    """One ranked path of a lesion: the exact check it passed or failed (LPS mm) and, for the chosen path of a
    safe lesion, its procedure card (``plan.json`` ``procedure``, see :mod:`hitit.plan.procedure`).
    """

    rank: int
    check: PathCheck
    procedure: Mapping | None = None

    @property
    def entry_lps(self) -> np.ndarray:
        """Skin entry point (LPS mm)."""
        return np.asarray(self.check.entry_lps, dtype=float)

    @property
    def target_lps(self) -> np.ndarray:
        """Target point (LPS mm)."""
        return np.asarray(self.check.target_lps, dtype=float)


@dataclass(frozen=True)
class PlannedDeposit:
    """One planned deposit: where (LPS mm), at which needle depth from the skin (mm), how much (mL)."""

    point_lps: tuple[float, float, float]
    needle_depth_mm: float
    volume_ml: float


@dataclass(frozen=True)
class PlannedLesion:
    """What a plan holds for one lesion. ``record`` is its whole ``plan.json`` record (read only), for the
    readers that show every field (measurement, injectability reasons, procedure card).
    """

    id: str
    status: str
    injectate_ml: float
    target_lps: np.ndarray
    trajectories: tuple[PlannedTrajectory, ...]
    least_bad: tuple[PlannedTrajectory, ...]
    deposits: tuple[PlannedDeposit, ...]
    rules: Mapping[str, StructureRule]
    record: Mapping

    @property
    def chosen(self) -> PlannedTrajectory | None:
        """The chosen path (rank 1 of the safe paths), None when the lesion has no safe path."""
        return min(self.trajectories, key=lambda t: t.rank, default=None)

    @property
    def deposit_points_lps(self) -> np.ndarray:
        """The planned deposit points (N, 3), LPS mm; (0, 3) when none."""
        return np.asarray([d.point_lps for d in self.deposits], dtype=float).reshape(-1, 3)


@dataclass(frozen=True)
class PlanFile:
    """A checked ``plan.json``: the settings as :class:`~hitit.plan.config.PlanConfig`, one
    :class:`PlannedLesion` per lesion, and the checked document itself (``document``, read only).
    """

    format_version: int
    hitit_version: str
    case_name: str
    config: Any  # hitit.plan.config.PlanConfig (imported lazily: the config imports the whole pipeline's settings)
    lesions: tuple[PlannedLesion, ...]
    warnings: tuple[str, ...]
    document: Mapping

    @property
    def visit(self) -> int:
        """The treatment visit the plan is for (1 = first)."""
        return self.config.visit

    def to_dict(self) -> dict:
        """A plain (changeable) copy of the checked document, for code that builds on the JSON content."""
        return _plain(self.document)

    def lesion(self, lesion_id: str) -> PlannedLesion:
        """The lesion of this id."""
        for lesion in self.lesions:
            if lesion.id == lesion_id:
                return lesion
        raise InputError(
            f"No lesion '{lesion_id}' in the plan (it has {', '.join(other.id for other in self.lesions)})."
        )


def load_plan(path: str | Path) -> PlanFile:
    """Read and check ``plan.json`` of a plan folder (or the file itself); see the module docstring."""
    path = Path(path)
    file = path / PLAN_FILE_NAME if path.is_dir() else path
    if not file.is_file():
        raise InputError(f"No {PLAN_FILE_NAME} in {path}: {_FIX}.")
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputError(f"{file} is not valid JSON ({error.msg} at line {error.lineno}); {_FIX}.") from None
    return plan_from_dict(document, str(file))


def plan_from_dict(document: Any, source: str = PLAN_FILE_NAME) -> PlanFile:
    """The typed plan of a decoded ``plan.json`` document (checked first, see :func:`check_plan`)."""
    from hitit.plan.config import PlanConfig

    check_plan(document, source)
    config = PlanConfig.from_dict(document["config"], f"{source}: config")
    scenes = [
        MappingProxyType({name: StructureRule(**rule) for name, rule in scene["rules"].items()})
        for scene in document["scenes"]
    ]
    lesions = tuple(_lesion(record, scenes[record["scene_index"]]) for record in document["lesions"])
    return PlanFile(
        document["format_version"],
        document["hitit_version"],
        document["case_name"],
        config,
        lesions,
        tuple(document["warnings"]),
        _read_only(document),
    )


def _lesion(record: dict, rules: Mapping[str, StructureRule]) -> PlannedLesion:
    deposits = tuple(
        PlannedDeposit(tuple(float(v) for v in d["point_lps"]), float(d["needle_depth_mm"]), float(d["volume_ml"]))
        for path in (record["deposits"] or {"paths": []})["paths"]
        for d in path["deposits"]
    )
    return PlannedLesion(
        str(record["id"]),
        record["status"],
        float(record["allocation"]["injectate_ml"]),
        np.asarray(record["target_lps"], dtype=float),
        _trajectories(record["trajectories"]),
        _trajectories(record["least_bad"]),
        deposits,
        rules,
        _read_only(record),
    )


def _trajectories(records: list[dict]) -> tuple[PlannedTrajectory, ...]:
    known = {f.name for f in fields(PathCheck)}
    return tuple(
        PlannedTrajectory(
            int(r["rank"]),
            PathCheck(**{k: v for k, v in r.items() if k in known}),
            _read_only(r["procedure"]) if r.get("procedure") else None,
        )
        for r in records
    )


def _read_only(value: Any) -> Any:
    """A read-only view of a decoded JSON value (mappings become MappingProxyType, lists tuples)."""
    if isinstance(value, dict):
        return MappingProxyType({k: _read_only(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_read_only(v) for v in value)
    return value


def _plain(value: Any) -> Any:
    """A plain JSON value (dicts and lists) of a read-only view made by :func:`_read_only`."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def settings_from_dict(cls: type, values: Any, where: str) -> Any:
    """A settings dataclass ``cls`` rebuilt from its ``to_dict`` record (nested settings, tuples and numbers
    restored by the field types); an :class:`InputError` naming ``where.<field>`` for an unknown or missing one.
    """
    if not isinstance(values, dict):
        raise InputError(f"{where}: must be an object of settings (found {type(values).__name__}).")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls) if f.init}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InputError(f"{where}.{unknown[0]}: not a setting of this HITIT ({_FIX}).")
    kwargs = {}
    for name, value in values.items():
        kind = _settings_type(hints[name])
        if is_dataclass(kind):
            value = settings_from_dict(kind, value, f"{where}.{name}")
        elif kind is tuple and isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except TypeError as error:
        raise InputError(f"{where}: {error}; {_FIX}.") from None


def _settings_type(hint: Any) -> Any:
    """The class a field holds (``X | None`` -> X, ``tuple[str, ...]`` -> tuple)."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and len(args) == 1:
        return _settings_type(args[0])
    return typing.get_origin(hint) or hint
