"""Injectate-volume protocols: JSON data files validated against ``protocol.schema.json`` on load.

Shipped protocols live in ``hitit/dosing/protocols/<name>.json`` (``tvec``, ``pv10``, ``fraction``,
``fixed``); a user's own file in the same format is loaded by path. Every error names the file and
the offending field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jsonschema

from hitit.errors import InputError

_PACKAGE = resources.files("hitit.dosing")


@dataclass(frozen=True)
class Protocol:
    """A validated protocol: ``kind`` is size_table, per_volume, fraction or fixed; ``parameters`` as in the file;
    ``lesion_rules`` the agent-specific findings on a lesion (as in the file, interpreted by
    :func:`hitit.lesions.injectability.protocol_reasons`); ``schedule`` the visits' timing in days with its
    source (None when the protocol's source gives none; read by :mod:`hitit.course.schedule`).
    """

    name: str
    version: str
    source: str
    description: str
    kind: str
    parameters: dict
    path: str
    lesion_rules: tuple[dict, ...] = ()
    schedule: dict | None = None

    @property
    def per_visit_cap_ml(self) -> float | None:
        """Maximum total injectate per visit in mL (None = no cap)."""
        return self.parameters.get("per_visit_cap_ml")

    def concentration_per_ml(self, visit: int) -> float | None:
        """Agent concentration (dose units per mL) at visit number ``visit`` (1 = first), or None."""
        key = "concentration_first_visit_per_ml" if visit == 1 else "concentration_later_visits_per_ml"
        return self.parameters.get(key)

    def priority(self, visit: int) -> str:
        """Priority rule at this visit (largest_first, new_first_then_largest or input_order)."""
        if visit == 1:
            return self.parameters.get("priority_first_visit", "largest_first")
        return self.parameters.get("priority_later_visits", "largest_first")

    def to_dict(self) -> dict:
        """Name, version, source, kind, every parameter and the lesion rules."""
        return {
            "name": self.name,
            "version": self.version,
            "source": self.source,
            "description": self.description,
            "kind": self.kind,
            "parameters": self.parameters,
            "lesion_rules": [dict(r) for r in self.lesion_rules],
            "schedule": None if self.schedule is None else dict(self.schedule),
            "path": self.path,
        }


def available_protocols() -> list[str]:
    """Names of the protocols shipped with HITIT."""
    return sorted(p.name[:-5] for p in (_PACKAGE / "protocols").iterdir() if p.name.endswith(".json"))


def _schema() -> dict:
    return json.loads((_PACKAGE / "protocol.schema.json").read_text(encoding="utf-8"))


def load_protocol(name_or_path: str | Path) -> Protocol:
    """Load a shipped protocol by name (e.g. ``"tvec"``) or a protocol file by path, validated."""
    text_path = str(name_or_path)
    shipped = _PACKAGE / "protocols" / f"{text_path}.json"
    if "/" not in text_path and "\\" not in text_path and shipped.is_file():
        return parse_protocol(shipped.read_text(encoding="utf-8"), f"shipped protocol '{text_path}'")
    path = Path(name_or_path)
    if not path.is_file():
        raise InputError(
            f"No protocol '{text_path}': give a shipped name ({', '.join(available_protocols())}) "
            "or the path of a protocol JSON file."
        )
    return parse_protocol(path.read_text(encoding="utf-8"), str(path))


def parse_protocol(text: str, origin: str) -> Protocol:
    """Parse and validate protocol JSON text; ``origin`` names it in error messages."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"Protocol {origin} is not valid JSON: {error}.") from None
    errors = sorted(jsonschema.Draft202012Validator(_schema()).iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        parts = [str(p) for p in error.absolute_path]
        if error.validator == "required" and isinstance(error.instance, dict):
            parts += [next(name for name in error.validator_value if name not in error.instance)]
        field = "/".join(parts) or "(top level)"
        raise InputError(f"Protocol {origin}: field '{field}': {error.message}.")
    _check_consistency(data, origin)
    return Protocol(
        data["name"],
        data["version"],
        data["source"],
        data.get("description", ""),
        data["kind"],
        data["parameters"],
        origin,
        tuple(data.get("lesion_rules", ())),
        data.get("schedule"),
    )


def _check_consistency(data: dict, origin: str) -> None:
    """Rules JSON Schema cannot state: ascending table bounds, first row from 0, min <= max."""
    params = data["parameters"]
    table = params.get("table")
    if table is not None:
        bounds = [row["above_mm"] for row in table]
        if bounds[0] != 0 or any(b <= a for a, b in zip(bounds, bounds[1:])):
            raise InputError(
                f"Protocol {origin}: field 'parameters/table': rows must start at above_mm 0 and "
                f"increase strictly, got {bounds}."
            )
    if params.get("min_ml") is not None and params.get("max_ml") is not None and params["min_ml"] > params["max_ml"]:
        raise InputError(
            f"Protocol {origin}: field 'parameters/min_ml': {params['min_ml']} is above max_ml {params['max_ml']}."
        )
