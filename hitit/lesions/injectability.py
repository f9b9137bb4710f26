"""Can this lesion be injected? A rule set giving "yes", "no" or "caution" with every reason.

Each :class:`Reason` has a code, a severity ("no", "caution" or "info"), a message with the numbers
and the source of the threshold. The verdict is the worst severity: any "no" -> "no", else any
"caution" -> "caution", else "yes". "info" reasons (e.g. depth unknown, trajectory not checked yet)
never change the verdict; they say what was not evaluated.

Decisions documented here:

- Agent-specific findings live in the protocol file as data with their source (``lesion_rules``), each
  interpreted by its declared kind through :data:`LESION_RULE_KINDS`; a copied or renamed protocol keeps
  them. The shipped T-VEC protocol refuses a liver lesion (**"no"**): the label (W&P 5.7) says T-VEC is
  not indicated for transcutaneous intrahepatic administration after hepatic haemorrhage and deaths
  [V] (Imlygic US prescribing information, W&P 5.7); a protocol file may set that rule's severity to
  "caution" instead.
- The depth limit is the needle of the plan (``TrajectoryConfig.needle_length_mm``) minus a reserve, so
  the trajectory engine and this rule always speak of the same needle.
- Abutting a major vessel or hollow organ is a **"caution"**, not an exclusion: protocols exclude
  lesions "abutting" these [R], but whether a safe window exists is for the radiologist and the
  trajectory engine to decide (the ``trajectory_feasible`` hook).
- A lesion injected before the baseline scan is a "caution": under RECIST it is non-measurable
  unless it progressed [V] (RECIST 1.1; PMC4671850), so it cannot serve as a clean target.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from hitit.dosing.protocols import Protocol
from hitit.errors import InputError
from hitit.lesions.measure import RECIST_1_1, LesionMeasurement
from hitit.trajectories.config import TrajectoryConfig

SEVERITY_ORDER = {"info": 0, "caution": 1, "no": 2}

#: TotalSegmentator (total task) names of major vessels.
MAJOR_VESSELS = (
    "aorta",
    "inferior_vena_cava",
    "portal_vein_and_splenic_vein",
    "superior_vena_cava",
    "pulmonary_vein",
    "pulmonary_artery",
    "brachiocephalic_trunk",
    "brachiocephalic_vein_left",
    "brachiocephalic_vein_right",
    "common_carotid_artery_left",
    "common_carotid_artery_right",
    "subclavian_artery_left",
    "subclavian_artery_right",
    "iliac_artery_left",
    "iliac_artery_right",
    "iliac_vena_left",
    "iliac_vena_right",
    "heart",
)
#: TotalSegmentator names of hollow organs (bowel, gallbladder, bladder, oesophagus, stomach).
HOLLOW_ORGANS = ("stomach", "duodenum", "small_bowel", "colon", "gallbladder", "urinary_bladder", "esophagus")


@dataclass(frozen=True)
class Reason:
    """One finding about a lesion: ``code`` (stable, upper-case), ``severity``, ``message``, ``source``."""

    code: str
    severity: str
    message: str
    source: str

    def to_dict(self) -> dict:
        """The reason as a dict."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class InjectabilityConfig:
    """Thresholds of the injectability rules (mm, fractions); each is a configurable default.

    Attributes:
        min_longest_diameter_mm: smallest lesion worth injecting; [R] common protocol requirement
            ">= 10 mm (often 10-20 mm for visceral lesions)".
        max_necrosis_fraction: above this necrotic fraction the lesion is "predominantly necrotic";
            [R] (Bitar 2024, PMID 39456110 [V]: target the solid component).
        needle_reserve_mm: length kept outside the skin for the hub and handling (the lesion's near
            edge must be within the plan's needle length minus this); [D].
        vessel_distance_mm: a lesion closer than this to a major vessel "abuts" it; [D] ~5 mm from
            CT placement accuracy (Busser 2013, PMID 23913308: 3.3-6.7 mm); [R] "not abutting a major vessel".
        hollow_organ_distance_mm: same for bowel, gallbladder, bladder, oesophagus; [R].
        vessel_structures / hollow_structures: structure names (TotalSegmentator) checked.
    """

    min_longest_diameter_mm: float = 10.0
    max_necrosis_fraction: float = 0.5
    needle_reserve_mm: float = 20.0
    vessel_distance_mm: float = 5.0
    hollow_organ_distance_mm: float = 5.0
    vessel_structures: tuple[str, ...] = MAJOR_VESSELS
    hollow_structures: tuple[str, ...] = HOLLOW_ORGANS
    sources: dict = field(
        default_factory=lambda: {
            "min_longest_diameter_mm": "[R] common trial protocol requirement (not verified in a primary source; see "
            "docs/evidence.md)",
            "max_necrosis_fraction": "[R] 'not predominantly necrotic'; target the solid part (Bitar et al., Cancer "
            "Imaging 2024, PMID 39456110 [V])",
            "max_depth_mm": "the plan's needle length ([R] commonly stocked 10/15/20 cm needles) minus "
            "needle_reserve_mm",
            "needle_reserve_mm": "[D] hub and handling length outside the skin",
            "vessel_distance_mm": "[D] from CT needle placement accuracy (Busser et al., Br J Radiol 2013, PMID "
            "23913308); [R] not abutting a major vessel",
            "hollow_organ_distance_mm": "[R] avoid bowel and gallbladder (interventional-radiology teaching)",
            "injected_before_baseline": "[V] locally treated lesions are non-measurable unless progressed: "
            f"{RECIST_1_1}; PMC4671850",
        }
    )

    def max_depth_mm(self, needle_length_mm: float) -> float:
        """Deepest reachable lesion edge (mm from the skin) with a needle of ``needle_length_mm``:
        length minus reserve.
        """
        return needle_length_mm - self.needle_reserve_mm

    def to_dict(self) -> dict:
        """Every threshold and its source."""
        out = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items() if k != "sources"}
        return {**out, "sources": dict(self.sources)}


@dataclass(frozen=True)
class InjectabilityVerdict:
    """Verdict for one lesion: "yes", "no" or "caution", with every reason, the rules used and the depth
    limit (mm) they gave with the plan's needle. The rules are stored once per plan (``config.injectability``).
    """

    lesion_id: str
    verdict: str
    reasons: tuple[Reason, ...]
    rules: InjectabilityConfig
    max_depth_mm: float

    def to_dict(self) -> dict:
        """JSON-ready verdict (without the rules, which the plan stores once)."""
        return {"id": self.lesion_id, "verdict": self.verdict, "reasons": [r.to_dict() for r in self.reasons]}


def _size_reasons(m: LesionMeasurement, rules: InjectabilityConfig) -> list[Reason]:
    """Size and necrosis findings."""
    out = []
    if m.longest_diameter_mm < rules.min_longest_diameter_mm:
        out.append(
            Reason(
                "TOO_SMALL",
                "no",
                f"longest diameter {m.longest_diameter_mm:.1f} mm is below {rules.min_longest_diameter_mm:g} mm",
                rules.sources["min_longest_diameter_mm"],
            )
        )
    if m.necrosis_fraction is None:
        out.append(
            Reason("NECROSIS_UNKNOWN", "info", _necrosis_unknown_message(m), rules.sources["max_necrosis_fraction"])
        )
    elif m.necrosis_fraction > rules.max_necrosis_fraction:
        out.append(
            Reason(
                "MOSTLY_NECROTIC",
                "no",
                f"{100 * m.necrosis_fraction:.0f} % of the lesion is necrotic "
                f"(> {100 * rules.max_necrosis_fraction:.0f} %)",
                rules.sources["max_necrosis_fraction"],
            )
        )
    return out


def _necrosis_unknown_message(m: LesionMeasurement) -> str:
    """Why the necrosis rule was neither passed nor failed for a lesion whose necrosis is not known."""
    why = "no CT intensities given" if m.necrosis is None else m.necrosis.reason.removeprefix("necrosis not assessed: ")
    return (
        f"necrosis not assessed ({why}): the rule 'not predominantly necrotic' neither passes nor fails; "
        "judge necrosis on contrast-enhanced imaging"
    )


def _access_reasons(
    m: LesionMeasurement, rules: InjectabilityConfig, needle_length_mm: float, trajectory_feasible: bool | None
) -> list[Reason]:
    """Depth (against the needle of ``needle_length_mm``) and trajectory findings."""
    out = []
    max_depth = rules.max_depth_mm(needle_length_mm)
    if m.depth_mm is None:
        out.append(Reason("DEPTH_UNKNOWN", "info", "depth not measured (no body mask given)", ""))
    elif m.depth_mm > max_depth:
        out.append(
            Reason(
                "TOO_DEEP",
                "no",
                f"lesion is {m.depth_mm:.0f} mm below the skin, beyond the usable "
                f"needle length {max_depth:g} mm ({needle_length_mm:g} mm needle - "
                f"{rules.needle_reserve_mm:g} mm reserve)",
                rules.sources["max_depth_mm"],
            )
        )
    if trajectory_feasible is None:
        out.append(Reason("TRAJECTORY_NOT_CHECKED", "info", "no trajectory evaluated yet", ""))
    elif not trajectory_feasible:
        out.append(
            Reason(
                "NO_SAFE_TRAJECTORY",
                "no",
                "no needle path satisfies the safety constraints",
                "trajectory engine (rules in hitit/anatomy/catalogue.json)",
            )
        )
    return out


def _neighbour_reasons(m: LesionMeasurement, rules: InjectabilityConfig) -> list[Reason]:
    """Abutment of major vessels and hollow organs (from the measured distances)."""
    out = []
    groups = (
        ("ABUTS_VESSEL", "major vessel", rules.vessel_structures, rules.vessel_distance_mm, "vessel_distance_mm"),
        (
            "ABUTS_HOLLOW_ORGAN",
            "hollow organ",
            rules.hollow_structures,
            rules.hollow_organ_distance_mm,
            "hollow_organ_distance_mm",
        ),
    )
    for code, kind, names, limit, key in groups:
        for name in names:
            d = m.distance_to_structures_mm.get(name)
            if d is not None and d < limit:
                out.append(
                    Reason(code, "caution", f"{d:.1f} mm from {kind} '{name}' (< {limit:g} mm)", rules.sources[key])
                )
    return out


def _in_host_organ(rule: Mapping, m: LesionMeasurement) -> bool:
    """Kind ``host_organ``: the lesion lies in the organ ``rule["organ"]``."""
    return m.organ == rule["organ"]


#: Interpreters of the protocols' ``lesion_rules`` by declared kind (the kinds of ``protocol.schema.json``):
#: each says whether the rule applies to a measured lesion.
LESION_RULE_KINDS: dict[str, Callable[[Mapping, LesionMeasurement], bool]] = {"host_organ": _in_host_organ}


def protocol_reasons(protocol: Protocol, m: LesionMeasurement) -> list[Reason]:
    """The findings of the protocol's agent-specific ``lesion_rules`` that apply to lesion ``m``."""
    out = []
    for rule in protocol.lesion_rules:
        applies = LESION_RULE_KINDS.get(rule["kind"])
        if applies is None:
            raise InputError(
                f"Protocol {protocol.name}: lesion rule kind '{rule['kind']}' is unknown; known kinds: "
                f"{', '.join(LESION_RULE_KINDS)}."
            )
        if applies(rule, m):
            out.append(Reason(rule["code"], rule["severity"], rule["message"], rule["source"]))
    return out


def assess_injectability(
    m: LesionMeasurement,
    rules: InjectabilityConfig = InjectabilityConfig(),
    protocol: Protocol | None = None,
    trajectory_feasible: bool | None = None,
    injected_before_baseline: bool = False,
    needle_length_mm: float = TrajectoryConfig.needle_length_mm,
) -> InjectabilityVerdict:
    """Apply every rule to a measured lesion.

    ``protocol``: the dosing protocol, whose ``lesion_rules`` add agent-specific findings (T-VEC: not
    in the liver); ``trajectory_feasible``: the trajectory engine's answer (None = not checked);
    ``injected_before_baseline``: the lesion was injected before the baseline scan;
    ``needle_length_mm``: the plan's needle (``PlanConfig.planning.needle_length_mm``), which sets the depth limit.
    """
    reasons = (
        _size_reasons(m, rules)
        + _access_reasons(m, rules, needle_length_mm, trajectory_feasible)
        + _neighbour_reasons(m, rules)
    )
    if protocol is not None:
        reasons += protocol_reasons(protocol, m)
    if injected_before_baseline:
        reasons.append(
            Reason(
                "INJECTED_BEFORE_BASELINE",
                "caution",
                "lesion was injected before the baseline scan: not measurable for response unless it progressed",
                rules.sources["injected_before_baseline"],
            )
        )
    worst = max((SEVERITY_ORDER[r.severity] for r in reasons), default=0)
    verdict = {0: "yes", 1: "caution", 2: "no"}[worst]
    return InjectabilityVerdict(m.lesion_id, verdict, tuple(reasons), rules, rules.max_depth_mm(needle_length_mm))
