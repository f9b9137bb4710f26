"""The plan.json fields the review reads, checked before use so a wrong file gets one clear line.

A plan written by ``hitit plan`` always passes. A hand-written or foreign JSON file fails with an
:class:`InputError` that names the first field that is missing or has the wrong type (as a JSON
path such as ``lesions[1].trajectories[0].entry_lps``) and what it should be. Only what the review
uses is checked; every other field is ignored.
"""

from __future__ import annotations

import math
from typing import Any

from hitit.anatomy.catalogue import StructureRule
from hitit.errors import InputError

#: What to do when a field is wrong (appended to every message).
_FIX = "point --plan to a plan folder written by 'hitit plan'"


def _fail(where: str, expected: str, value: Any) -> None:
    found = type(value).__name__ if value is not None else "missing"
    raise InputError(f"plan.json: {where} must be {expected} (found {found}); {_FIX}.")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _point(value: Any, where: str) -> None:
    if not (isinstance(value, (list, tuple)) and len(value) == 3 and all(_is_number(v) for v in value)):
        _fail(where, "3 numbers (LPS mm)", value)


def _optional(container: dict, key: str, kind: type | tuple, expected: str, where: str) -> Any:
    value = container.get(key)
    if value is not None and not isinstance(value, kind):
        _fail(f"{where}.{key}" if where else key, expected, value)
    return value


def _trajectories(lesion: dict, where: str) -> None:
    for key in ("trajectories", "least_bad"):
        items = _optional(lesion, key, list, "a list of trajectories", where) or []
        for n, trajectory in enumerate(items):
            at = f"{where}.{key}[{n}]"
            if not isinstance(trajectory, dict):
                _fail(at, "an object with 'entry_lps' and 'target_lps'", trajectory)
            _point(trajectory.get("entry_lps"), f"{at}.entry_lps")
            _point(trajectory.get("target_lps"), f"{at}.target_lps")
            _optional(trajectory, "clearance_by_structure_mm", dict, "an object (structure -> mm)", at)


def _deposits(lesion: dict, where: str) -> None:
    deposits = _optional(lesion, "deposits", dict, "an object with 'paths'", where)
    if deposits is None:
        return
    paths = _optional(deposits, "paths", list, "a list of needle paths", f"{where}.deposits") or []
    for n, path in enumerate(paths):
        at = f"{where}.deposits.paths[{n}]"
        if not isinstance(path, dict) or not isinstance(path.get("deposits"), list):
            _fail(f"{at}.deposits", "a list of deposits", path.get("deposits") if isinstance(path, dict) else path)
        for m, deposit in enumerate(path["deposits"]):
            if not isinstance(deposit, dict):
                _fail(f"{at}.deposits[{m}]", "an object with 'point_lps'", deposit)
            _point(deposit.get("point_lps"), f"{at}.deposits[{m}].point_lps")


def _scene_rules(scene: Any, where: str) -> None:
    if not isinstance(scene, dict):
        _fail(where, "an object", scene)
    rules = _optional(scene, "rules", dict, "an object (structure -> rule)", where)
    fields = set(StructureRule.__dataclass_fields__)
    required = {name for name, f in StructureRule.__dataclass_fields__.items() if f.name != "penalties"}
    for name, rule in (rules or {}).items():
        if not isinstance(rule, dict) or not required <= set(rule) or not set(rule) <= fields:
            _fail(f"{where}.rules.{name}", f"a structure rule with {', '.join(sorted(required))}", rule)


def check_review_fields(plan: Any) -> None:
    """Raise :class:`InputError` (one line) unless ``plan`` has the shape the review reads.

    Checked: an object with a ``lesions`` list; each lesion an object with an ``id``; its
    ``trajectories``/``least_bad`` entries with 3-number ``entry`` and ``target`` (LPS mm); its
    ``deposits.paths[].deposits[].point_lps``; ``allocation.injectate_ml`` a number; ``scene_index`` an index
    into ``scenes``, whose ``rules`` are structure rules; ``config`` and ``config.planning`` objects;
    ``config.visit`` an integer; ``frame`` LPS.
    """
    if not isinstance(plan, dict):
        _fail("the top level", "an object with a 'lesions' list", plan)
    if not isinstance(plan.get("lesions"), list):
        _fail("lesions", "a list of lesion records", plan.get("lesions"))
    frame = plan.get("frame", "LPS")
    if str(frame).upper() != "LPS":
        raise InputError(f"plan.json: frame is {frame!r}; the review reads LPS plans ({_FIX}).")
    config = _optional(plan, "config", dict, "an object", "")
    visit = (config or {}).get("visit")
    if visit is not None and (not isinstance(visit, int) or isinstance(visit, bool)):
        _fail("config.visit", "an integer", visit)
    scenes = _optional(plan, "scenes", list, "a list of scenes", "") or []
    for n, scene in enumerate(scenes):
        _scene_rules(scene, f"scenes[{n}]")
    planning = _optional(config or {}, "planning", dict, "an object", "config")
    _optional(planning or {}, "weights", dict, "an object", "config.planning")
    for n, lesion in enumerate(plan["lesions"]):
        where = f"lesions[{n}]"
        if not isinstance(lesion, dict):
            _fail(where, "an object with an 'id'", lesion)
        if not isinstance(lesion.get("id"), (str, int)) or isinstance(lesion.get("id"), bool):
            _fail(f"{where}.id", "a lesion id (text)", lesion.get("id"))
        allocation = _optional(lesion, "allocation", dict, "an object", where) or {}
        injectate = allocation.get("injectate_ml")
        if injectate is not None and not _is_number(injectate):
            _fail(f"{where}.allocation.injectate_ml", "a number (mL)", injectate)
        index = lesion.get("scene_index")
        if index is not None and (not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(scenes)):
            _fail(f"{where}.scene_index", f"an index into scenes (0 to {len(scenes) - 1})", index)
        _trajectories(lesion, where)
        _deposits(lesion, where)
