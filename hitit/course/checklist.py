"""The per-visit workflow checklist (shipped data ``checklist.json``, with the evidence of every item).

The items follow the standard patient workflow of Tselikas et al., Clin Cancer Res 2021,
doi:10.1158/1078-0432.CCR-19-4073, with each item's own source. A visit stores item id -> ticked; an item
it does not list is open. Items marked for some agents only (``agents``: protocol names) or for the first
visit only apply there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from hitit.errors import InputError

PHASES = ("before", "during", "after")


@dataclass(frozen=True)
class ChecklistItem:
    """One workflow item: id, phase (before / during / after), text, evidence, where it applies."""

    id: str
    phase: str
    text: str
    evidence: str
    agents: tuple[str, ...] = ()
    first_visit_only: bool = False

    def applies(self, agent: str, visit_number: int) -> bool:
        """Whether the item applies to a visit with this protocol name and number."""
        return (not self.agents or agent in self.agents) and (visit_number == 1 or not self.first_visit_only)


@lru_cache(maxsize=1)
def checklist_document() -> dict:
    """The shipped checklist (name, source, items)."""
    return json.loads(resources.files("hitit.course").joinpath("checklist.json").read_text(encoding="utf-8"))


def checklist_items() -> tuple[ChecklistItem, ...]:
    """Every item of the shipped checklist, in order."""
    return tuple(
        ChecklistItem(
            i["id"],
            i["phase"],
            i["text"],
            i["evidence"],
            tuple(i.get("agents", ())),
            bool(i.get("first_visit_only", False)),
        )
        for i in checklist_document()["items"]
    )


def items_for(agent: str, visit_number: int) -> tuple[ChecklistItem, ...]:
    """The items that apply to one visit."""
    return tuple(item for item in checklist_items() if item.applies(agent, visit_number))


def tick(checklist: dict[str, bool], ticked: list[str], opened: list[str]) -> dict[str, bool]:
    """``checklist`` with ``ticked`` items set and ``opened`` items left open again; unknown ids refused."""
    known = {item.id for item in checklist_items()}
    unknown = sorted((set(ticked) | set(opened)) - known)
    if unknown:
        raise InputError(f"checklist: unknown item(s) {', '.join(unknown)}; items are {', '.join(sorted(known))}")
    return {**checklist, **{i: True for i in ticked}, **{i: False for i in opened}}


def open_items(agent: str, visit_number: int, checklist: dict[str, bool]) -> list[ChecklistItem]:
    """The items of a visit not ticked."""
    return [item for item in items_for(agent, visit_number) if not checklist.get(item.id)]
