"""Critical-structure catalogue: structure name -> category -> kind (hard / traversable / allowed) and margin.

The defaults live in ``catalogue.json`` next to this module, each category with the source of its
numbers (published source and evidence tag [V]/[R]/[D] as in ``docs/evidence.md``). Every TotalSegmentator
v2 "total" class name resolves, as do common synonyms and name patterns (``rib_*``, ``vertebrae_*``,
``lung_*``, ``iliac_*``...). A name the catalogue does not know gets the safe default (hard, 5 mm)
and a warning, returned to the caller, never printed.

Kinds:

- ``hard``: the needle never enters the structure and keeps ``margin_mm`` from it;
- ``traversable``: the needle may cross it with a penalty (aerated lung: pleural punctures and
  fissures between lobes are counted; the weights are in ``penalties``);
- ``allowed``: no constraint (muscle, fat, and the organ that holds the target).

Margins are mm of clearance from the mask surface; the trajectory engine adds the needle radius.
"""

from __future__ import annotations

import fnmatch
import json
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from collections.abc import Iterable, Mapping

from hitit.errors import InputError

CATALOGUE_PATH = Path(__file__).with_name("catalogue.json")
KINDS = ("hard", "traversable", "allowed")
#: Category of names the catalogue does not know.
UNKNOWN = "unknown"
#: The category that stays traversable even when it holds the target: the needle still punctures the
#: pleura and may cross fissures on its way to a lung lesion, so its penalties keep applying.
LUNG = "lung"


@dataclass(frozen=True)
class CategoryRule:
    """Default rule of one category: kind, margin (mm) and where the numbers come from."""

    name: str
    kind: str
    margin_mm: float
    source: str
    penalties: Mapping[str, float | str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready record."""
        return {
            "kind": self.kind,
            "margin_mm": self.margin_mm,
            "source": self.source,
            "penalties": dict(self.penalties),
        }


@dataclass(frozen=True)
class StructureRule:
    """The rule the trajectory engine applies to one structure mask.

    Attributes:
        name: the structure name as given (mask name).
        category: catalogue category (``unknown`` when not recognised).
        kind: ``hard``, ``traversable`` or ``allowed``.
        margin_mm: clearance (mm) to keep from the mask surface, needle radius not included.
        source: why this rule (category default with its reference, user override, target organ...).
        penalties: scoring weights of a traversable category (lung), else empty.
    """

    name: str
    category: str
    kind: str
    margin_mm: float
    source: str
    penalties: Mapping[str, float | str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready record."""
        return {
            "name": self.name,
            "category": self.category,
            "kind": self.kind,
            "margin_mm": self.margin_mm,
            "source": self.source,
            "penalties": dict(self.penalties),
        }


def normalise_name(name: str) -> str:
    """Lower-case ``name`` with runs of spaces, hyphens and dots turned into one underscore."""
    return re.sub(r"[\s\-.]+", "_", name.strip().lower())


def _check_margin(label: str, margin_mm: float) -> float:
    """``margin_mm`` as a float; an :class:`InputError` if it is not a finite number >= 0."""
    try:
        value = float(margin_mm)
    except (TypeError, ValueError):
        raise InputError(f"Margin for '{label}' must be a number of mm, got {margin_mm!r}.") from None
    if not math.isfinite(value) or value < 0:
        raise InputError(f"Margin for '{label}' must be a finite number of mm >= 0, got {margin_mm!r}.")
    return value


def parse_margin_args(args: Iterable[str]) -> dict[str, float]:
    """Margins (mm) by category or structure name from command-line ``NAME=MM`` strings
    (``--margin vessel=7 --margin aorta=10``), checked; for :meth:`Catalogue.with_margins`.
    """
    margins: dict[str, float] = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep or not key.strip():
            raise InputError(f"Margin '{arg}' must read CATEGORY=MM or STRUCTURE=MM, e.g. vessel=7.")
        margins[key.strip()] = _check_margin(key.strip(), value)
    return margins


def _check_kind(label: str, kind: str) -> str:
    """``kind`` if it is one of :data:`KINDS`, else an :class:`InputError`."""
    if kind not in KINDS:
        raise InputError(f"Kind for '{label}' must be one of {', '.join(KINDS)}, got {kind!r}.")
    return kind


@dataclass(frozen=True)
class Catalogue:
    """Categories with their default rules, the name -> category map, and the user's overrides.

    Build it with :meth:`default` (or :func:`load_catalogue`), then derive overridden copies with
    :meth:`with_category_margins`, :meth:`with_structure_override` or :meth:`with_margins`.
    ``notes`` records every override (and a warning when one weakens a default) for the plan.
    """

    categories: Mapping[str, CategoryRule]
    unknown: CategoryRule
    names: Mapping[str, str]
    patterns: tuple[tuple[str, str], ...]
    structure_overrides: Mapping[str, StructureRule] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    # ------------------------------------------------------------------ construction
    @classmethod
    def default(cls) -> Catalogue:
        """The built-in catalogue (``catalogue.json``)."""
        return load_catalogue(CATALOGUE_PATH)

    # ------------------------------------------------------------------ lookup
    def category_of(self, name: str) -> str | None:
        """Category of ``name`` (exact name or synonym first, then patterns in order); None if unknown."""
        key = normalise_name(name)
        if key in self.names:
            return self.names[key]
        for pattern, category in self.patterns:
            if fnmatch.fnmatchcase(key, pattern):
                return category
        return None

    def rule(self, name: str) -> StructureRule:
        """The rule for structure ``name``: a per-structure override, its category's default, or the safe default."""
        override = self.structure_overrides.get(normalise_name(name))
        if override is not None:
            return replace(override, name=name)
        category = self.category_of(name)
        base = self.unknown if category is None else self.categories[category]
        source = f"category '{base.name}' default: {base.source}"
        return StructureRule(name, base.name, base.kind, base.margin_mm, source, dict(base.penalties))

    def warnings_for(self, names: Iterable[str]) -> list[str]:
        """One warning per name that falls back to the safe default (unknown to the catalogue)."""
        return [
            f"Structure '{name}' is not in the catalogue: treated as hard with a {self.unknown.margin_mm:g} mm margin "
            "(map it with a per-structure override if this is wrong)."
            for name in names
            if normalise_name(name) not in self.structure_overrides and self.category_of(name) is None
        ]

    def rules_for_target(
        self,
        structure_names: Iterable[str],
        target_organ: str | Iterable[str] | None = None,
        warnings: list[str] | None = None,
    ) -> dict[str, StructureRule]:
        """Rules for every structure when planning a needle to a target held by ``target_organ``.

        The structure(s) named by ``target_organ`` (one name or several, e.g. liver segments) become
        ``allowed`` for this target, except aerated lung, which stays traversable because its pleura
        and fissures are crossed whatever lobe holds the target. Unknown names get the safe default;
        their warnings (and one for a target organ in a category other than solid organ) are appended
        to ``warnings`` when a list is given.
        """
        names = list(structure_names)
        hosts = {normalise_name(n) for n in ([target_organ] if isinstance(target_organ, str) else target_organ or ())}
        rules = {name: self.rule(name) for name in names}
        notes = self.warnings_for(names)
        for name, rule in rules.items():
            if normalise_name(name) not in hosts or rule.category == LUNG:
                continue
            if rule.category != "solid_organ":
                notes.append(
                    f"Target organ '{name}' is a {rule.category} ({rule.kind}); it is allowed for this target "
                    "only because the target lies in it: check the target organ."
                )
            rules[name] = replace(
                rule,
                kind="allowed",
                margin_mm=0.0,
                source=f"holds the target (was {rule.kind} {rule.margin_mm:g} mm): {rule.source}",
            )
        if warnings is not None:
            warnings.extend(notes)
        return rules

    # ------------------------------------------------------------------ overrides
    def with_category_margins(self, margins_mm: Mapping[str, float]) -> Catalogue:
        """A copy with new default margins (mm) for the named categories (e.g. ``{"vessel": 7}``)."""
        categories = dict(self.categories)
        notes = list(self.notes)
        for category, margin in margins_mm.items():
            if category not in categories:
                raise InputError(f"Unknown category '{category}'; categories: {', '.join(sorted(categories))}.")
            value = _check_margin(category, margin)
            old = categories[category]
            categories[category] = replace(
                old,
                margin_mm=value,
                source=f"user override {category}={value:g} mm; default {old.margin_mm:g} mm: {old.source}",
            )
            notes.append(f"margin {category}={value:g} mm (default {old.margin_mm:g} mm)")
            if value < old.margin_mm:
                notes.append(f"warning: margin for {category} lowered below its default {old.margin_mm:g} mm")
        return replace(self, categories=categories, notes=tuple(notes))

    def with_structure_override(
        self, name: str, margin_mm: float | None = None, kind: str | None = None, category: str | None = None
    ) -> Catalogue:
        """A copy where structure ``name`` gets its own margin (mm), kind and/or category."""
        base = self.rule(name)
        if category is not None:
            if category not in self.categories:
                raise InputError(
                    f"Unknown category '{category}' for '{name}'; categories: {', '.join(sorted(self.categories))}."
                )
            cat = self.categories[category]
            base = replace(
                base, category=category, kind=cat.kind, margin_mm=cat.margin_mm, penalties=dict(cat.penalties)
            )
        new = replace(
            base,
            kind=base.kind if kind is None else _check_kind(name, kind),
            margin_mm=base.margin_mm if margin_mm is None else _check_margin(name, margin_mm),
        )
        changes = ", ".join(
            f"{k}={v}" for k, v in (("category", category), ("kind", kind), ("margin_mm", margin_mm)) if v is not None
        )
        new = replace(new, source=f"user override for '{name}' ({changes}); was: {base.source}")
        old = self.rule(name)
        notes = [*self.notes, f"structure {name}: {changes}"]
        if new.margin_mm < old.margin_mm or KINDS.index(new.kind) > KINDS.index(old.kind):
            notes.append(
                f"warning: structure {name} weakened from {old.kind} {old.margin_mm:g} mm to {new.kind} "
                f"{new.margin_mm:g} mm"
            )
        overrides = {**self.structure_overrides, normalise_name(name): new}
        return replace(self, structure_overrides=overrides, notes=tuple(notes))

    def with_margins(self, margins_mm: Mapping[str, float]) -> Catalogue:
        """A copy with margins (mm) by name: a category's default when the name is a category
        (``{"vessel": 7}``), otherwise that structure's own margin (``{"aorta": 10}``).
        """
        categories = {name: mm for name, mm in margins_mm.items() if name in self.categories}
        catalogue = self.with_category_margins(categories)
        for name, margin in margins_mm.items():
            if name not in categories:
                catalogue = catalogue.with_structure_override(name, margin_mm=_check_margin(name, margin))
        return catalogue

    # ------------------------------------------------------------------ storage
    def to_dict(self) -> dict:
        """Everything needed to reproduce the rules of a plan (stored in plan.json)."""
        return {
            "categories": {name: rule.to_dict() for name, rule in self.categories.items()},
            "unknown": self.unknown.to_dict(),
            "names": dict(self.names),
            "patterns": [list(p) for p in self.patterns],
            "structure_overrides": {name: rule.to_dict() for name, rule in self.structure_overrides.items()},
            "notes": list(self.notes),
        }


def load_catalogue(path: str | Path = CATALOGUE_PATH) -> Catalogue:
    """Read a catalogue JSON file (the format of the built-in ``catalogue.json``); checks kinds and margins."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))

    def category(name: str, entry: dict) -> CategoryRule:
        return CategoryRule(
            name,
            _check_kind(name, entry["kind"]),
            _check_margin(name, entry["margin_mm"]),
            entry["source"],
            dict(entry.get("penalties", {})),
        )

    categories = {name: category(name, entry) for name, entry in data["categories"].items()}
    names: dict[str, str] = {}
    for cat, members in data["names"].items():
        if cat not in categories:
            raise InputError(f"Catalogue {path}: names listed under unknown category '{cat}'.")
        names.update({normalise_name(n): cat for n in members})
    patterns = tuple((normalise_name(p), c) for p, c in data["patterns"])
    bad = sorted({c for _, c in patterns} - set(categories))
    if bad:
        raise InputError(f"Catalogue {path}: patterns map to unknown categories {bad}.")
    return Catalogue(categories, category(UNKNOWN, data["unknown"]), names, patterns)


def rules_for_target(
    structure_names: Iterable[str],
    target_organ: str | Iterable[str] | None = None,
    warnings: list[str] | None = None,
    catalogue: Catalogue | None = None,
) -> dict[str, StructureRule]:
    """:meth:`Catalogue.rules_for_target` with the built-in catalogue unless ``catalogue`` is given."""
    return (catalogue or Catalogue.default()).rules_for_target(structure_names, target_organ, warnings)
