"""One settings builder: PlanConfig.with_overrides takes numbers, returns a new immutable config, and the
needle it sets is the one both the trajectory engine and the injectability depth limit use.
"""

from dataclasses import FrozenInstanceError

import pytest

from hitit.errors import InputError
from hitit.plan import PlanConfig


def test_overrides_set_the_engine_and_leave_the_original_alone():
    base = PlanConfig(protocol="pv10", visit=2)
    new = base.with_overrides(
        needle_length_mm=90.0, gauge=19, max_axial_angle_deg=20.0, top_k=2, margins_mm={"vessel": 7.0, "aorta": 10.0}
    )
    planning = new.planning
    assert (planning.needle_length_mm, planning.gauge, planning.max_axial_angle_deg, planning.top_k) == (
        90.0,
        19,
        20.0,
        2,
    )
    assert (new.protocol, new.visit) == ("pv10", 2)
    assert base.planning.needle_length_mm == 150.0 and base.margins_mm == {}
    catalogue = new.catalogue()
    assert catalogue.rule("inferior_vena_cava").margin_mm == 7.0 and catalogue.rule("aorta").margin_mm == 10.0
    assert new.to_dict()["margins_mm"] == {"vessel": 7.0, "aorta": 10.0}
    with pytest.raises(FrozenInstanceError):
        new.visit = 3  # type: ignore[misc]


def test_none_keeps_the_current_value_and_margins_accumulate():
    first = PlanConfig().with_overrides(needle_length_mm=100.0, margins_mm={"bone": 3.0})
    second = first.with_overrides(margins_mm={"vessel": 6.0})
    assert second.planning.needle_length_mm == 100.0 and second.planning.gauge == PlanConfig().planning.gauge
    assert second.margins_mm == {"bone": 3.0, "vessel": 6.0}


@pytest.mark.parametrize("margins", [{"vessel": -2.0}, {"aorta": float("inf")}])
def test_a_bad_margin_is_refused_when_the_config_is_built(margins):
    with pytest.raises(InputError, match="Margin"):
        PlanConfig().with_overrides(margins_mm=margins)


def test_the_needle_is_stored_once_and_the_depth_rule_reads_it():
    settings = PlanConfig().with_overrides(needle_length_mm=80.0)
    stored = settings.to_dict()
    assert stored["planning"]["needle_length_mm"] == 80.0 and "needle_length_mm" not in stored["injectability"]
    assert (
        settings.injectability.max_depth_mm(settings.planning.needle_length_mm)
        == 80.0 - settings.injectability.needle_reserve_mm
    )
