"""Every number the trajectory engine uses, in one dataclass stored with each plan.

Each default names its published source and evidence tag as in ``docs/evidence.md`` ([V] verified,
[R] recalled, [D] derived). Structure margins are not here: they come from the structure
catalogue (``hitit.anatomy.catalogue``); the engine adds the needle's outer radius to each.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from hitit.errors import InputError

#: Nominal outer diameter (mm) of hypodermic/biopsy needle tubing by Birmingham gauge, as tabulated
#: in ISO 9626 (stainless steel needle tubing, "normal wall" nominal sizes) [R]; consistent with
#: [V] "19 G ~ 1 mm and 22 G ~ 0.7 mm OD" (learnir.org needle gauge table).
GAUGE_OUTER_DIAMETER_MM = {
    14: 2.108,
    15: 1.829,
    16: 1.651,
    17: 1.473,
    18: 1.270,
    19: 1.067,
    20: 0.908,
    21: 0.819,
    22: 0.718,
    23: 0.642,
    25: 0.515,
}


def needle_radius_mm(gauge: int) -> float:
    """Outer radius (mm) of a needle of ``gauge`` (Birmingham gauge, see :data:`GAUGE_OUTER_DIAMETER_MM`)."""
    if int(gauge) not in GAUGE_OUTER_DIAMETER_MM:
        raise InputError(f"Unknown needle gauge {gauge!r}; known gauges: {sorted(GAUGE_OUTER_DIAMETER_MM)}.")
    return GAUGE_OUTER_DIAMETER_MM[int(gauge)] / 2.0


@dataclass
class ScoreWeights:
    """Weights of the soft criteria; a path's cost is their weighted sum and its score ``exp(-cost)``.

    [D] no standard weight set exists across published planners (Baegert 2007, doi:10.3109/10929080701312000,
    weighted sum; Seitel 2011, Med Phys, Pareto), so the weights are exposed and stored with each plan.

    Attributes:
        length: per needle length of path (length_mm / needle_length_mm); shorter is better
            ([V] lesion depth is a pneumothorax risk factor, lung biopsy meta-analysis, PMC7362905; [R] short path,
            Baegert 2007).
        margin_slack: per unit of missing margin slack (clearance beyond the margin) below
            ``TrajectoryConfig.margin_slack_reference_mm`` ([R] distance from vital structures is a soft criterion,
            Baegert 2007).
        axial_angle: per 90 degrees of angle to the axial plane ([V] accuracy 3.3 mm in-plane
            vs 6.7 mm double-angulated, Busser 2013, PMID 23913308).
        skin_angle: per 90 degrees of angle to the skin normal ([R] near-perpendicular entry, Baegert 2007).
        lung: multiplies the lung log-odds penalties of the catalogue ([V] lung biopsy meta-analysis, PMC7362905).
    """

    length: float = 1.0
    margin_slack: float = 1.0
    axial_angle: float = 1.0
    skin_angle: float = 0.5
    lung: float = 1.0

    def to_dict(self) -> dict:
        """JSON-ready record."""
        return asdict(self)


@dataclass
class TrajectoryConfig:
    """Trajectory-engine settings (mm, degrees). Stored with every plan through :meth:`to_dict`.

    Attributes:
        needle_length_mm: usable needle length; a target farther than this from the skin entry is
            out of reach. Default 150 mm: [R] commonly stocked lengths 10, 15 and 20 cm.
        gauge: needle gauge (Birmingham); its outer radius is added to every margin. Default 17 G:
            the coaxial introducer of a 17/18 G pair ([V] Maturen et al., AJR 2006; [D] coaxial by
            default, fewer complications and less track seeding, PMC7599171), the thickest tube that follows the track,
            so the conservative choice.
        max_axial_angle_deg: largest angle between the needle and the axial plane. Default 0 deg,
            i.e. in-plane ([D] in-plane paths are the most accurate, Busser 2013, PMID 23913308; up to 30 deg as an
            option).
        axial_tolerance_deg: angle to the axial plane still counted as in-plane. Default 3 deg [D]:
            over a 100 mm path it keeps the needle within about 5 mm of one slice plane.
        max_skin_angle_deg: largest angle between the needle and the outward skin normal. Default
            60 deg [D]: steeper entries skid on the skin; the needle-pleura angle is a soft score
            only ([D]: Shiekh 2019, PMC6479149, and Lee & Lee 2020 disagree).
        entry_spacing_mm: spacing of candidate skin entry points, no coarser than 2 mm [D] (a coarser
            grid could skip a safe entry window).
        top_k: number of distinct trajectories proposed per target.
        min_entry_separation_mm: proposed entries are at least this far apart on the skin [D]
            (about two needle placement errors, [V] Busser 2013, PMID 23913308), so they are real alternatives.
        tolerance_mm: safety tolerance: a feasible path keeps clearance >= margin - tolerance from
            every hard structure. None means half the smallest voxel spacing, which is also the
            largest value accepted [D] (a safe verdict must hold on the voxel grid, never by approximation).
        margin_slack_reference_mm: margin slack (clearance beyond margin + needle radius) above which no
            score penalty applies [D] (one more default margin of 5 mm, from Busser 2013, PMID 23913308).
        margin_slack_cap_mm: distance maps are computed only up to margin + radius + this cap; larger
            margin slacks are reported as this cap (they do not change a verdict or a score) [D].
        min_organ_path_mm: minimum length of normal organ tissue crossed before the lesion, per organ
            category or structure name. Liver 10 mm: [R] cross >= 1 cm of normal liver (biopsy and ablation teaching).
        fissure_gap_mm: a stretch outside lung shorter than this between two different lung lobes is
            a fissure crossing, not a new pleural puncture [D] (fissures are 1-3 voxels thick).
        lung_step_mm: sampling step (mm) for lung crossings and organ path length [D] (half of 1 mm).
        coarse_step_mm: first sampling step of the hierarchical clearance search [D] (a speed knob only;
            the safety proof holds for any value).
        fine_step_mm: finest sampling step; an interval still uncertain at this step is refused
            (conservative) [D]. Together with the tolerance it sets the false-unsafe band.
        weights: soft-criteria weights (:class:`ScoreWeights`).
        least_bad_k: number of least-bad paths offered when a target has no safe path.
        avoid_lung_outside_lung: refuse paths that puncture the pleura to reach a target outside
            aerated lung ([R] hard-avoid the pleural recess for subdiaphragmatic paths).
        source: where the defaults come from (each one's evidence tag is in this docstring).
    """

    needle_length_mm: float = 150.0
    gauge: int = 17
    max_axial_angle_deg: float = 0.0
    axial_tolerance_deg: float = 3.0
    max_skin_angle_deg: float = 60.0
    entry_spacing_mm: float = 2.0
    top_k: int = 3
    min_entry_separation_mm: float = 10.0
    tolerance_mm: float | None = None
    margin_slack_reference_mm: float = 5.0
    margin_slack_cap_mm: float = 20.0
    min_organ_path_mm: dict[str, float] = field(default_factory=lambda: {"liver": 10.0})
    fissure_gap_mm: float = 3.0
    lung_step_mm: float = 0.5
    coarse_step_mm: float = 4.0
    fine_step_mm: float = 0.25
    weights: ScoreWeights = field(default_factory=ScoreWeights)
    least_bad_k: int = 3
    avoid_lung_outside_lung: bool = True
    source: str = (
        "needle placement error: Busser et al., Br J Radiol 2013, PMID 23913308; lung: meta-analysis PMC7362905; "
        "planning criteria: Baegert et al., Comput Aided Surg 2007, doi:10.3109/10929080701312000; "
        "each default's evidence tag in hitit.trajectories.config and docs/evidence.md"
    )

    def __post_init__(self) -> None:
        needle_radius_mm(self.gauge)
        if not self.needle_length_mm > 0:
            raise InputError(f"Needle length must be a positive number of mm, got {self.needle_length_mm!r}.")
        if self.entry_spacing_mm > 2.0 or self.entry_spacing_mm <= 0:
            raise InputError(
                "Entry spacing must be in (0, 2] mm (a coarser grid could skip a safe entry), got "
                f"{self.entry_spacing_mm!r}."
            )
        if not 0 < self.fine_step_mm <= self.coarse_step_mm:
            raise InputError("Sampling steps need 0 < fine_step_mm <= coarse_step_mm.")
        if self.tolerance_mm is not None and self.tolerance_mm < 0:
            raise InputError(f"Safety tolerance must be >= 0 mm, got {self.tolerance_mm!r}.")

    @property
    def needle_radius_mm(self) -> float:
        """Outer radius (mm) of the configured gauge."""
        return needle_radius_mm(self.gauge)

    @property
    def axial_limit_deg(self) -> float:
        """The angle to the axial plane actually allowed: the limit plus the in-plane tolerance."""
        return self.max_axial_angle_deg + self.axial_tolerance_deg

    def tolerance_for(self, min_spacing_mm: float) -> float:
        """Safety tolerance (mm) on a grid whose smallest spacing is ``min_spacing_mm``: never above half of it."""
        half = 0.5 * float(min_spacing_mm)
        return half if self.tolerance_mm is None else min(float(self.tolerance_mm), half)

    def to_dict(self) -> dict:
        """JSON-ready record of every setting (the needle radius follows from the gauge)."""
        return asdict(self)
