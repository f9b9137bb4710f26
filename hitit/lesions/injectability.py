"""Can this lesion be injected? A rule set giving "yes", "no" or "caution" with every reason.

Each :class:`Reason` has a code, a severity ("no", "caution" or "info"), a message with the numbers
and the source of the threshold. The verdict is the worst severity: any "no" -> "no", else any
"caution" -> "caution", else "yes". "info" reasons (e.g. depth unknown, trajectory not checked yet)
never change the verdict; they say what was not evaluated.

Decisions documented here:

- T-VEC and a liver lesion gives **"no"** (``tvec_liver_severity``): the label (W&P 5.7) says T-VEC is
  not indicated for transcutaneous intrahepatic administration after hepatic haemorrhage and deaths
  [V] §2.2. A protocol can still be overridden by setting the severity to "caution".
- Abutting a major vessel or hollow organ is a **"caution"**, not an exclusion: protocols exclude
  lesions "abutting" these [R] §2.2, but whether a safe window exists is for the radiologist and the
  trajectory engine to decide (the ``trajectory_feasible`` hook).
- A lesion injected before the baseline scan is a "caution": under RECIST it is non-measurable
  unless it progressed [V] §2.1, so it cannot serve as a clean target.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hitit.lesions.measure import DOMAIN, LesionMeasurement

SEVERITY_ORDER = {"info": 0, "caution": 1, "no": 2}

#: TotalSegmentator (total task) names of major vessels.
MAJOR_VESSELS = (
    "aorta", "inferior_vena_cava", "portal_vein_and_splenic_vein", "superior_vena_cava",
    "pulmonary_vein", "pulmonary_artery", "brachiocephalic_trunk", "brachiocephalic_vein_left",
    "brachiocephalic_vein_right", "common_carotid_artery_left", "common_carotid_artery_right",
    "subclavian_artery_left", "subclavian_artery_right", "iliac_artery_left", "iliac_artery_right",
    "iliac_vena_left", "iliac_vena_right", "heart",
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
            ">= 10 mm (often 10-20 mm for visceral lesions)" §2.2.
        max_necrosis_fraction: above this necrotic fraction the lesion is "predominantly necrotic";
            [R] §2.2 (Bitar 2024 [V]: target the solid component).
        needle_length_mm: usable needle length; [R] commonly stocked 10, 15, 20 cm §4.1.
        needle_reserve_mm: length kept outside the skin for the hub and handling (the lesion's near
            edge must be within ``needle_length_mm - needle_reserve_mm``); [D].
        vessel_distance_mm: a lesion closer than this to a major vessel "abuts" it; [D] ~5 mm from
            CT placement accuracy (Busser 2013, 3.3-6.7 mm) §4.1; [R] "not abutting a major vessel" §2.2.
        hollow_organ_distance_mm: same for bowel, gallbladder, bladder, oesophagus; [R] §2.2, §4.2.
        vessel_structures / hollow_structures: structure names (TotalSegmentator) checked.
        tvec_liver_severity: severity of the T-VEC liver warning ("no" or "caution"); [V] label W&P 5.7 §2.2.
    """

    min_longest_diameter_mm: float = 10.0
    max_necrosis_fraction: float = 0.5
    needle_length_mm: float = 150.0
    needle_reserve_mm: float = 20.0
    vessel_distance_mm: float = 5.0
    hollow_organ_distance_mm: float = 5.0
    vessel_structures: tuple[str, ...] = MAJOR_VESSELS
    hollow_structures: tuple[str, ...] = HOLLOW_ORGANS
    tvec_liver_severity: str = "no"
    sources: dict = field(default_factory=lambda: {
        "min_longest_diameter_mm": f"[R] common protocol requirement; {DOMAIN} §2.2",
        "max_necrosis_fraction": f"[R] 'not predominantly necrotic'; Bitar 2024 [V]; {DOMAIN} §2.2",
        "needle_length_mm": f"[R] commonly stocked 10/15/20 cm needles; {DOMAIN} §4.1",
        "needle_reserve_mm": "[D] hub and handling length outside the skin",
        "vessel_distance_mm": f"[D] from CT needle placement accuracy (Busser 2013); [R] §2.2; {DOMAIN} §4.1",
        "hollow_organ_distance_mm": f"[R] avoid bowel/gallbladder; {DOMAIN} §2.2, §4.2",
        "tvec_liver_severity": f"[V] Imlygic US label W&P 5.7 (6/2022); {DOMAIN} §2.2",
        "injected_before_baseline": f"[V] RECIST: locally treated lesions non-measurable unless progressed; {DOMAIN} §2.1",
    })

    @property
    def max_depth_mm(self) -> float:
        """Deepest reachable lesion edge in mm from the skin (needle length minus reserve)."""
        return self.needle_length_mm - self.needle_reserve_mm

    def to_dict(self) -> dict:
        """Every threshold and its source."""
        out = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items() if k != "sources"}
        return {**out, "max_depth_mm": self.max_depth_mm, "sources": dict(self.sources)}


@dataclass
class InjectabilityVerdict:
    """Verdict for one lesion: "yes", "no" or "caution", with every reason and the rules used."""

    lesion_id: str
    verdict: str
    reasons: list[Reason]
    rules: InjectabilityConfig

    def to_dict(self) -> dict:
        """JSON-ready verdict."""
        return {"id": self.lesion_id, "verdict": self.verdict, "reasons": [r.to_dict() for r in self.reasons],
                "rules": self.rules.to_dict()}


def _size_reasons(m: LesionMeasurement, rules: InjectabilityConfig) -> list[Reason]:
    """Size and necrosis findings."""
    out = []
    if m.longest_diameter_mm < rules.min_longest_diameter_mm:
        out.append(Reason("TOO_SMALL", "no", f"longest diameter {m.longest_diameter_mm:.1f} mm is below "
                          f"{rules.min_longest_diameter_mm:g} mm", rules.sources["min_longest_diameter_mm"]))
    if m.necrosis_fraction is None:
        out.append(Reason("NECROSIS_UNKNOWN", "info", _necrosis_unknown_message(m), rules.sources["max_necrosis_fraction"]))
    elif m.necrosis_fraction > rules.max_necrosis_fraction:
        out.append(Reason("MOSTLY_NECROTIC", "no", f"{100 * m.necrosis_fraction:.0f} % of the lesion is necrotic "
                          f"(> {100 * rules.max_necrosis_fraction:.0f} %)", rules.sources["max_necrosis_fraction"]))
    return out


def _necrosis_unknown_message(m: LesionMeasurement) -> str:
    """Why the necrosis rule was neither passed nor failed for a lesion whose necrosis is not known."""
    why = "no CT intensities given" if m.necrosis is None else m.necrosis.reason.removeprefix("necrosis not assessed: ")
    return (f"necrosis not assessed ({why}): the rule 'not predominantly necrotic' neither passes nor fails; "
            "judge necrosis on contrast-enhanced imaging")


def _access_reasons(m: LesionMeasurement, rules: InjectabilityConfig, trajectory_feasible: bool | None) -> list[Reason]:
    """Depth and trajectory findings."""
    out = []
    if m.depth_mm is None:
        out.append(Reason("DEPTH_UNKNOWN", "info", "depth not measured (no body mask given)", ""))
    elif m.depth_mm > rules.max_depth_mm:
        out.append(Reason("TOO_DEEP", "no", f"lesion is {m.depth_mm:.0f} mm below the skin, beyond the usable "
                          f"needle length {rules.max_depth_mm:g} mm ({rules.needle_length_mm:g} mm needle - "
                          f"{rules.needle_reserve_mm:g} mm reserve)", rules.sources["needle_length_mm"]))
    if trajectory_feasible is None:
        out.append(Reason("TRAJECTORY_NOT_CHECKED", "info", "no trajectory evaluated yet", ""))
    elif not trajectory_feasible:
        out.append(Reason("NO_SAFE_TRAJECTORY", "no", "no needle path satisfies the safety constraints",
                          f"trajectory engine; {DOMAIN} §4"))
    return out


def _neighbour_reasons(m: LesionMeasurement, rules: InjectabilityConfig) -> list[Reason]:
    """Abutment of major vessels and hollow organs (from the measured distances)."""
    out = []
    groups = (("ABUTS_VESSEL", "major vessel", rules.vessel_structures, rules.vessel_distance_mm, "vessel_distance_mm"),
              ("ABUTS_HOLLOW_ORGAN", "hollow organ", rules.hollow_structures, rules.hollow_organ_distance_mm,
               "hollow_organ_distance_mm"))
    for code, kind, names, limit, key in groups:
        for name in names:
            d = m.distance_to_structures_mm.get(name)
            if d is not None and d < limit:
                out.append(Reason(code, "caution", f"{d:.1f} mm from {kind} '{name}' (< {limit:g} mm)",
                                  rules.sources[key]))
    return out


def assess_injectability(m: LesionMeasurement, rules: InjectabilityConfig = InjectabilityConfig(),
                         protocol_name: str | None = None, trajectory_feasible: bool | None = None,
                         injected_before_baseline: bool = False) -> InjectabilityVerdict:
    """Apply every rule to a measured lesion.

    ``protocol_name``: the dosing protocol ("tvec" triggers the liver warning); ``trajectory_feasible``:
    the trajectory engine's answer (None = not checked); ``injected_before_baseline``: the lesion was
    injected before the baseline scan.
    """
    reasons = _size_reasons(m, rules) + _access_reasons(m, rules, trajectory_feasible) + _neighbour_reasons(m, rules)
    if protocol_name and protocol_name.lower() == "tvec" and m.organ == "liver":
        reasons.append(Reason("TVEC_LIVER", rules.tvec_liver_severity,
                              "T-VEC is not indicated for transcutaneous intrahepatic injection (label W&P 5.7: "
                              "hepatic haemorrhage and deaths)", rules.sources["tvec_liver_severity"]))
    if injected_before_baseline:
        reasons.append(Reason("INJECTED_BEFORE_BASELINE", "caution", "lesion was injected before the baseline scan: "
                              "not measurable for response unless it progressed", rules.sources["injected_before_baseline"]))
    worst = max((SEVERITY_ORDER[r.severity] for r in reasons), default=0)
    verdict = {0: "yes", 1: "caution", 2: "no"}[worst]
    return InjectabilityVerdict(m.lesion_id, verdict, reasons, rules)
