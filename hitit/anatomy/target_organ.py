"""Which structure holds a needle's target, when the user does not say: the organ the needle may enter.

A needle to a liver lesion must cross liver, so the organ holding the target is ``allowed`` for that
target (:meth:`hitit.anatomy.catalogue.Catalogue.rules_for_target`). When the user names no target
organ it is inferred, and the answer always says how:

1. from a lesion: the structure holding most of the lesion's voxels, as ``hitit plan`` finds a
   lesion's host organ (:func:`hitit.lesions.measure.containing_organ`);
2. from the target point: the structures whose mask holds the voxel nearest the target, kept only
   when their category may hold a target (:data:`HOST_CATEGORIES`). A target inside a vessel, bowel,
   bone, the spinal cord or an unknown structure infers nothing: that structure keeps its rule, so the
   path is refused rather than allowed through it;
3. otherwise (the target lies in no structure) no organ is allowed and every structure keeps its rule.

Points are LPS mm; masks ``[k, j, i]`` on the CT grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hitit.anatomy.catalogue import Catalogue
from hitit.case import MaskSet
from hitit.geometry import Grid
from hitit.lesions.measure import containing_organ

#: Catalogue categories that can hold a needle's target and be entered to reach it. Solid organs are
#: the organs whose lesions are injected through their parenchyma (liver, kidney, spleen...); lung stays
#: traversable whatever holds the target, and soft tissue is allowed anyway, so neither needs inferring.
HOST_CATEGORIES = ("solid_organ",)


@dataclass(frozen=True)
class TargetOrgan:
    """The structure(s) allowed because they hold the target, and how that was decided.

    Attributes:
        names: structure names allowed for this target (empty: none).
        how: ``given`` (named by the user), ``lesion`` (host organ of a lesion), ``point`` (holds the
            target point) or ``none`` (nothing inferred).
        detail: one sentence a user can check.
        lesion_id: the lesion the target belongs to, when one was used.
    """

    names: tuple[str, ...]
    how: str
    detail: str
    lesion_id: str | None = None

    def to_dict(self) -> dict:
        """JSON-ready record."""
        return {"names": list(self.names), "how": self.how, "detail": self.detail, "lesion_id": self.lesion_id}


def given_target_organ(name: str) -> TargetOrgan:
    """The target organ named by the user."""
    return TargetOrgan((name,), "given", f"'{name}' named by the user as the structure holding the target")


def structures_at_point(structures: MaskSet, grid: Grid, point_lps) -> list[str]:
    """Names of the structures whose mask holds the voxel nearest ``point_lps`` (empty outside the grid)."""
    ijk = np.rint(grid.lps_to_index(np.asarray(point_lps, dtype=float))).astype(int)
    if not grid.contains_index(ijk, 0.0):
        return []
    return [name for name, mask in structures.items() if mask[ijk[2], ijk[1], ijk[0]]]


def target_organ_at_point(structures: MaskSet, grid: Grid, target_lps, catalogue: Catalogue) -> TargetOrgan:
    """The target organ inferred from the structures holding the target point (see the module docstring)."""
    holding = structures_at_point(structures, grid, target_lps)
    hosts = tuple(n for n in holding if catalogue.rule(n).category in HOST_CATEGORIES)
    others = [n for n in holding if n not in hosts]
    kept = (
        ("; " + ", ".join(f"'{n}' ({catalogue.rule(n).category}) also holds it and keeps its rule" for n in others))
        if others
        else ""
    )
    if hosts:
        names = ", ".join(f"'{n}'" for n in hosts)
        return TargetOrgan(hosts, "point", f"inferred: the target point lies inside {names}{kept}")
    if others:
        return TargetOrgan(
            (),
            "none",
            "nothing inferred: the target point lies inside "
            + ", ".join(f"'{n}' ({catalogue.rule(n).category})" for n in others)
            + ", which never holds a target here: it keeps its rule",
        )
    return TargetOrgan(
        (), "none", "nothing inferred: the target point lies in no structure, every structure keeps its rule"
    )


def target_organ_of_lesion(lesion_id: str, lesion_mask: np.ndarray, structures: MaskSet) -> TargetOrgan:
    """The host organ of a lesion as ``hitit plan`` finds it: the structure holding most of its voxels."""
    organ, fraction = containing_organ(lesion_mask, structures)
    if organ is None:
        return TargetOrgan(
            (),
            "none",
            f"nothing inferred: lesion '{lesion_id}' lies in no structure, every structure keeps its rule",
            lesion_id,
        )
    return TargetOrgan(
        (organ,),
        "lesion",
        f"inferred: host organ of lesion '{lesion_id}' ({100 * fraction:.0f} % of "
        f"its voxels lie in '{organ}'), as hitit plan finds it",
        lesion_id,
    )
