"""The critical-structure catalogue: coverage of TotalSegmentator names, safe defaults, target organ, overrides."""

import json
import re
from pathlib import Path

import pytest

from hitit.anatomy.catalogue import Catalogue, load_catalogue, parse_margin_args, rules_for_target
from hitit.errors import InputError

PACKAGED = Path(__file__).parents[1] / "hitit" / "io" / "totalsegmentator_total_v2.json"


def total_names() -> list[str]:
    """TotalSegmentator v2 'total' class names (the class map shipped in hitit.io, with its source)."""
    return list(json.loads(PACKAGED.read_text(encoding="utf-8"))["labels"].values())


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return Catalogue.default()


def test_every_totalsegmentator_total_name_has_a_category(cat):
    names = total_names()
    assert len(names) == 117
    assert [n for n in names if cat.category_of(n) is None] == []
    assert cat.warnings_for(names) == []


@pytest.mark.parametrize(
    "name, category",
    [
        ("aorta", "vessel"),
        ("iliac_vena_left", "vessel"),
        ("portal_vein_and_splenic_vein", "vessel"),
        ("heart", "heart"),
        ("atrial_appendage_left", "heart"),
        ("stomach", "hollow_organ"),
        ("duodenum", "hollow_organ"),
        ("colon", "hollow_organ"),
        ("small_bowel", "hollow_organ"),
        ("gallbladder", "hollow_organ"),
        ("urinary_bladder", "hollow_organ"),
        ("esophagus", "hollow_organ"),
        ("trachea", "airway"),
        ("spinal_cord", "nerve"),
        ("brain", "nerve"),
        ("rib_left_7", "bone"),
        ("vertebrae_L1", "bone"),
        ("sternum", "bone"),
        ("costal_cartilages", "bone"),
        ("spleen", "solid_organ"),
        ("kidney_left", "solid_organ"),
        ("pancreas", "solid_organ"),
        ("adrenal_gland_right", "solid_organ"),
        ("liver", "solid_organ"),
        ("prostate", "solid_organ"),
        ("thyroid_gland", "solid_organ"),
        ("lung_middle_lobe_right", "lung"),
        ("autochthon_left", "soft_tissue"),
        ("gluteus_maximus_right", "soft_tissue"),
        ("iliopsoas_left", "soft_tissue"),
        # synonyms, other TotalSegmentator tasks, patterns and spelling variants
        ("IVC", "vessel"),
        ("Small Bowel", "hollow_organ"),
        ("gall-bladder", "hollow_organ"),
        ("lung_arteries", "vessel"),
        ("lung_airways", "airway"),
        ("liver_segment_4", "solid_organ"),
        ("heart_ventricle_left", "heart"),
        ("rib_3", "bone"),
        ("auto_bone", "bone"),
        ("auto_lung", "lung"),
        ("skeletal_muscle", "soft_tissue"),
        ("subcutaneous_fat", "soft_tissue"),
    ],
)
def test_names_resolve_to_their_category(cat, name, category):
    assert cat.category_of(name) == category


def test_default_margins_and_kinds_meet_the_minimums(cat):
    for name in (
        "aorta",
        "heart",
        "colon",
        "stomach",
        "duodenum",
        "gallbladder",
        "urinary_bladder",
        "esophagus",
        "trachea",
        "spinal_cord",
        "small_bowel",
    ):
        rule = cat.rule(name)
        assert rule.kind == "hard" and rule.margin_mm >= 5.0, rule
    for name in ("rib_left_10", "vertebrae_T12", "hip_left", "auto_bone"):
        rule = cat.rule(name)
        assert rule.kind == "hard" and rule.margin_mm >= 2.0, rule
    for name in ("spleen", "kidney_right", "pancreas", "adrenal_gland_left", "liver"):
        rule = cat.rule(name)
        assert rule.kind == "hard" and rule.margin_mm >= 0.0, rule
    lung = cat.rule("lung_lower_lobe_left")
    assert (
        lung.kind == "traversable"
        and lung.penalties["per_fissure_crossing"] > lung.penalties["per_extra_pleural_puncture"] > 0
    )
    assert cat.rule("autochthon_right").kind == "allowed"
    for rule in cat.categories.values():
        # every default carries its evidence tag and a published identifier unless it is our own derivation
        assert re.search(r"\[(V|R|D)\]", rule.source), rule
        assert re.search(r"PMID \d+|PMC\d+|doi:10\.", rule.source) or "[D]" in rule.source, rule


def test_target_organ_becomes_allowed_only_for_its_target(cat):
    names = ["liver", "spleen", "kidney_right", "aorta", "lung_lower_lobe_right"]
    rules = cat.rules_for_target(names, "liver")
    assert rules["liver"].kind == "allowed" and "holds the target" in rules["liver"].source
    assert rules["spleen"].kind == "hard" and rules["kidney_right"].kind == "hard" and rules["aorta"].margin_mm >= 5
    assert cat.rules_for_target(names, "spleen")["liver"].kind == "hard"
    assert cat.rules_for_target(names, None)["liver"].kind == "hard"
    # a lung lesion: the lobe keeps its pleura and fissure penalties
    assert cat.rules_for_target(names, "lung_lower_lobe_right")["lung_lower_lobe_right"].kind == "traversable"
    # several names may hold the target (liver segments), and the module-level helper uses the built-in catalogue
    seg = rules_for_target(
        ["liver_segment_7", "liver_segment_8", "kidney_right"], ["liver_segment_7", "liver_segment_8"]
    )
    assert (
        seg["liver_segment_7"].kind == seg["liver_segment_8"].kind == "allowed" and seg["kidney_right"].kind == "hard"
    )


def test_a_target_organ_that_is_not_a_solid_organ_is_flagged(cat):
    warnings: list[str] = []
    rules = cat.rules_for_target(["colon"], "colon", warnings)
    assert rules["colon"].kind == "allowed"
    assert len(warnings) == 1 and "colon" in warnings[0]


def test_unknown_name_gets_the_safe_default_and_a_warning(cat):
    warnings: list[str] = []
    rules = cat.rules_for_target(["mystery_blob", "aorta"], "liver", warnings)
    assert rules["mystery_blob"].kind == "hard" and rules["mystery_blob"].margin_mm >= 5.0
    assert rules["mystery_blob"].category == "unknown"
    assert len(warnings) == 1 and "mystery_blob" in warnings[0]


def test_category_and_structure_overrides(cat):
    new = cat.with_margins(parse_margin_args(["vessel=7", "aorta=10", "solid_organ=3.5"]))
    assert new.rule("inferior_vena_cava").margin_mm == 7.0
    assert new.rule("aorta").margin_mm == 10.0 and "user override" in new.rule("aorta").source
    assert new.rule("spleen").margin_mm == 3.5
    assert cat.rule("aorta").margin_mm == 5.0  # the original is unchanged
    weaker = cat.with_category_margins({"vessel": 3})
    assert any("lowered" in n for n in weaker.notes)
    mapped = cat.with_structure_override("mystery_blob", category="soft_tissue")
    assert mapped.rule("mystery_blob").kind == "allowed" and mapped.warnings_for(["mystery_blob"]) == []
    assert any("weakened" in n for n in mapped.notes)
    stored = json.loads(json.dumps(new.to_dict()))
    assert (
        stored["categories"]["vessel"]["margin_mm"] == 7.0
        and stored["structure_overrides"]["aorta"]["margin_mm"] == 10.0
    )
    assert stored["notes"]


@pytest.mark.parametrize("args", [["vessel=-1"], ["vessel=abc"], ["vessel"], ["=4"], ["vessel=nan"]])
def test_bad_overrides_are_refused(cat, args):
    with pytest.raises(InputError):
        cat.with_margins(parse_margin_args(args))


@pytest.mark.parametrize("margins", [{"vessel": -1.0}, {"aorta": float("nan")}, {"vessel": "abc"}])
def test_bad_numeric_margins_are_refused(cat, margins):
    with pytest.raises(InputError):
        cat.with_margins(margins)


def test_bad_kind_or_category_refused(cat):
    with pytest.raises(InputError):
        cat.with_structure_override("aorta", kind="sometimes")
    with pytest.raises(InputError):
        cat.with_structure_override("aorta", category="spaghetti")
    with pytest.raises(InputError):
        cat.with_category_margins({"spaghetti": 3})


def test_catalogue_file_round_trip(tmp_path, cat):
    data = json.loads((Path(__file__).parents[1] / "hitit" / "anatomy" / "catalogue.json").read_text(encoding="utf-8"))
    data["categories"]["vessel"]["margin_mm"] = 6.0
    path = tmp_path / "cat.json"
    path.write_text(json.dumps(data))
    assert load_catalogue(path).rule("aorta").margin_mm == 6.0
