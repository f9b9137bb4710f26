"""plan.json: the shipped schema, its format version, checked when written and when read by load_plan."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hitit.errors import InputError
from hitit.phantom import make_teaching_case
from hitit.plan import PlanConfig, plan_case
from hitit.plan.folder import write_plan_folder
from hitit.plan.plan_file import PLAN_FORMAT_VERSION, load_plan, plan_from_dict, plan_schema


@pytest.fixture(scope="module")
def planned():
    teaching = make_teaching_case(spacing_mm=(2.0, 2.0, 3.0))
    settings = PlanConfig(protocol="tvec", visit=2, new_lesions=("L4",), margins_mm={"vessel": 7.0}).with_overrides(
        gauge=19
    )
    plan = plan_case(teaching.case, settings)
    return plan, json.loads(json.dumps(plan.to_dict(), default=float))


def test_the_schema_is_shipped_and_names_the_format_version():
    schema = plan_schema()
    assert schema["properties"]["format_version"]["const"] == PLAN_FORMAT_VERSION
    assert set(schema["required"]) >= {"format_version", "frame", "config", "scenes", "lesions"}


def test_a_written_plan_reads_back_as_typed_objects(planned, tmp_path):
    plan, document = planned
    write_plan_folder(document, tmp_path / "plan", {}, "<html></html>")
    stored = load_plan(tmp_path / "plan")
    assert stored.format_version == PLAN_FORMAT_VERSION and stored.visit == 2
    assert stored.config == plan.settings  # every setting comes back as the planner's own settings object
    assert [lesion.id for lesion in stored.lesions] == [lesion.lesion_id for lesion in plan.lesions]
    for original in plan.lesions:
        lesion = stored.lesion(original.lesion_id)
        assert lesion.injectate_ml == pytest.approx(original.injectate_ml)
        assert [t.rank for t in lesion.trajectories] == list(range(1, len(original.target.trajectories) + 1))
        assert len(lesion.least_bad) == len(original.target.least_bad)
        if original.target.trajectories:
            best = original.target.trajectories[0]
            np.testing.assert_allclose(lesion.chosen.entry_lps, best.entry_lps)
            assert lesion.chosen.check.clearance_by_structure_mm == pytest.approx(
                best.clearance_by_structure_mm, abs=0.01
            )
        else:
            assert lesion.chosen is None
        assert lesion.rules == original.scene.rules  # the rules the paths were judged with
        deposits = [] if original.deposits is None else [d for p in original.deposits.paths for d in p.deposits]
        np.testing.assert_allclose(
            lesion.deposit_points_lps, np.reshape([d.point_lps for d in deposits], (-1, 3)), atol=0.01
        )


def test_the_writer_refuses_a_plan_its_readers_would_refuse(planned, tmp_path):
    _, document = planned
    broken = json.loads(json.dumps(document))
    broken["lesions"][0]["trajectories"] = [{"rank": 1}]
    with pytest.raises(InputError, match=r"lesions\[0\]\.trajectories\[0\]\.entry_lps: missing"):
        write_plan_folder(broken, tmp_path / "plan", {}, "")
    assert not (tmp_path / "plan").exists()


def test_a_plan_of_another_format_version_is_refused_by_number(planned):
    _, document = planned
    with pytest.raises(InputError, match="format_version 2 is not known"):
        plan_from_dict({**document, "format_version": 2})
    old = dict(document)
    del old["format_version"]
    with pytest.raises(InputError, match="format_version is missing"):
        plan_from_dict(old)


def test_a_stored_setting_this_version_does_not_know_is_named(planned):
    _, document = planned
    changed = json.loads(json.dumps(document))
    changed["config"]["injectability"]["max_depth"] = 3
    with pytest.raises(InputError, match=r"config\.injectability\.max_depth: not a setting"):
        plan_from_dict(changed)


def test_the_read_plan_cannot_be_changed(planned):
    _, document = planned
    stored = plan_from_dict(document)
    with pytest.raises(TypeError):
        stored.document["lesions"] = []
    with pytest.raises(TypeError):
        stored.lesions[0].record["allocation"]["injectate_ml"] = 9.0
    assert stored.to_dict() == document  # a plain copy for code that builds on the JSON content
