"""Anatomy inputs of trajectory planning: the critical-structure catalogue, the body and its skin, CT-derived bone and
lung.

- :mod:`hitit.anatomy.catalogue`: structure name -> category, kind (hard/traversable/allowed), margin (mm).
- :mod:`hitit.anatomy.body`: body mask, skin entry points with outward normals (LPS mm), auto bone/lung.
"""

from hitit.anatomy.body import (
    AutoStructureConfig,
    BodyConfig,
    SkinConfig,
    SkinSurface,
    auto_structures,
    body_mask,
    skin_surface,
)
from hitit.anatomy.catalogue import Catalogue, CategoryRule, StructureRule, load_catalogue, rules_for_target

__all__ = [
    "AutoStructureConfig",
    "BodyConfig",
    "Catalogue",
    "CategoryRule",
    "SkinConfig",
    "SkinSurface",
    "StructureRule",
    "auto_structures",
    "body_mask",
    "load_catalogue",
    "rules_for_target",
    "skin_surface",
]
