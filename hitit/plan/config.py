"""Everything a plan depends on, in one object stored with the plan (``plan.json`` → ``config``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from hitit.anatomy.body import BodyConfig, SkinConfig
from hitit.anatomy.catalogue import Catalogue
from hitit.dosing.deposits import DepositConfig
from hitit.errors import InputError
from hitit.lesions.contrast import STATEMENTS
from hitit.lesions.injectability import InjectabilityConfig
from hitit.lesions.measure import MeasurementConfig
from hitit.trajectories.config import TrajectoryConfig

#: How the needle target inside a lesion is chosen (see :attr:`PlanConfig.aim`).
AIMS = ("centre", "best")


@dataclass(frozen=True)
class PlanConfig:
    """The planner's inputs besides the images.

    Attributes:
        protocol: drug protocol name (``tvec``, ``pv10``, ``fraction``, ``fixed``) or a protocol file path.
        visit: treatment visit number (1 = first), which sets priorities and concentration.
        new_lesions: ids of lesions first seen at this visit (they come first at later T-VEC visits).
        nodal_lesions: ids of lesions that are lymph nodes (RECIST measures their short axis).
        lesion_organs: organ per lesion id when the user knows it (else found from the structures).
        margins_mm: margin (mm) overrides of the catalogue by category (``vessel``) or structure name.
        auto_structures: structures to derive from HU when not segmented (``bone``, ``lung``).
        contrast: ``yes`` or ``no`` when the user states whether the CT is contrast-enhanced; None reads it
            from the CT header (:mod:`hitit.lesions.contrast`). Necrosis is assessed only on an enhanced CT.
        aim: ``centre`` aims every needle at the lesion's centre; ``best`` also tries the deepest
            interior point and points half-way to the boundary along the lesion's axes (each at least
            the deposit margin inside the lesion) and keeps the aim with the best safe trajectory.
        entry_sides: patient sides the needle may enter from (``left``, ``right``, ``anterior``,
            ``posterior``...; empty = anywhere on the skin).
        planning: trajectory engine settings (needle, angles, weights, tolerances).
        injectability, measurement, deposits, body, skin: the other stages' settings.
    """

    protocol: str = "tvec"
    visit: int = 1
    new_lesions: tuple[str, ...] = ()
    nodal_lesions: tuple[str, ...] = ()
    lesion_organs: dict[str, str] = field(default_factory=dict)
    margins_mm: dict[str, float] = field(default_factory=dict)
    auto_structures: tuple[str, ...] = ()
    entry_sides: tuple[str, ...] = ()
    aim: str = "centre"
    contrast: str | None = None
    planning: TrajectoryConfig = field(default_factory=TrajectoryConfig)
    injectability: InjectabilityConfig = field(default_factory=InjectabilityConfig)
    measurement: MeasurementConfig = field(default_factory=MeasurementConfig)
    deposits: DepositConfig = field(default_factory=DepositConfig)
    body: BodyConfig = field(default_factory=BodyConfig)
    skin: SkinConfig = field(default_factory=SkinConfig)

    def __post_init__(self) -> None:
        if self.aim not in AIMS:
            raise InputError(f"Unknown aim {self.aim!r}: use {' or '.join(AIMS)}.")
        if self.contrast not in (None, *STATEMENTS):
            raise InputError(
                f"Unknown contrast statement {self.contrast!r}: use yes or no (or leave it to the CT header)."
            )
        self.catalogue()  # a bad margin override is refused here, not halfway through planning

    def with_overrides(
        self,
        *,
        needle_length_mm: float | None = None,
        gauge: int | None = None,
        max_axial_angle_deg: float | None = None,
        top_k: int | None = None,
        margins_mm: Mapping[str, float] | None = None,
    ) -> PlanConfig:
        """A copy with the settings a user commonly changes (None keeps the current value).

        ``needle_length_mm``: usable needle length (mm), used by the trajectory engine and the
        injectability depth limit alike; ``gauge``: needle gauge (its outer radius adds to every margin);
        ``max_axial_angle_deg``: largest angle to the axial plane; ``top_k``: trajectories proposed per
        lesion; ``margins_mm``: margin overrides (mm) by category or structure name, added to the current ones.
        """
        changes = {
            name: value
            for name, value in (
                ("needle_length_mm", needle_length_mm),
                ("gauge", gauge),
                ("max_axial_angle_deg", max_axial_angle_deg),
                ("top_k", top_k),
            )
            if value is not None
        }
        margins = {**self.margins_mm, **(margins_mm or {})}
        return replace(self, planning=replace(self.planning, **changes), margins_mm=margins)

    @classmethod
    def from_dict(cls, values: dict, where: str = "config") -> PlanConfig:
        """The settings of a stored plan (``plan.json`` ``config``, as :meth:`to_dict` writes it); an
        :class:`InputError` naming ``where.<field>`` for a setting this HITIT does not know.
        """
        from hitit.plan.plan_file import settings_from_dict

        return settings_from_dict(cls, values, where)

    def catalogue(self) -> Catalogue:
        """The structure catalogue with the user's margin overrides applied."""
        return Catalogue.default().with_margins(self.margins_mm)

    def to_dict(self) -> dict:
        """Every parameter used, with sources where the stage records them."""
        return {
            "protocol": self.protocol,
            "visit": self.visit,
            "new_lesions": list(self.new_lesions),
            "nodal_lesions": list(self.nodal_lesions),
            "lesion_organs": dict(self.lesion_organs),
            "margins_mm": dict(self.margins_mm),
            "auto_structures": list(self.auto_structures),
            "entry_sides": list(self.entry_sides),
            "aim": self.aim,
            "contrast": self.contrast,
            "planning": self.planning.to_dict(),
            "injectability": self.injectability.to_dict(),
            "measurement": self.measurement.to_dict(),
            "deposits": self.deposits.to_dict(),
            "body": self.body.to_dict(),
            "skin": self.skin.to_dict(),
        }
