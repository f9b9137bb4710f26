"""Lesions: marking them (segment, click-and-grow, diameters), measuring them (RECIST 1.1 sizes,
volume, depth, organ, distances, necrosis) and deciding whether they can be injected.

Frames and units: points are LPS mm; masks are boolean arrays ``[k, j, i]`` on the CT grid.
"""

from hitit.lesions.segment import Lesion, grow_lesion_from_seed, lesion_from_diameters, lesions_from_masks
from hitit.lesions.measure import LesionMeasurement, MeasurementConfig, measure_lesion, measure_lesions
from hitit.lesions.injectability import InjectabilityConfig, InjectabilityVerdict, Reason, assess_injectability

__all__ = [
    "Lesion",
    "grow_lesion_from_seed",
    "lesion_from_diameters",
    "lesions_from_masks",
    "LesionMeasurement",
    "MeasurementConfig",
    "measure_lesion",
    "measure_lesions",
    "InjectabilityConfig",
    "InjectabilityVerdict",
    "Reason",
    "assess_injectability",
]
