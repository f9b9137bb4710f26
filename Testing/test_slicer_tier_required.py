"""Where the real-core tier must run (CI sets HITIT_REQUIRE_SLICER_TIER=1), what would skip it fails instead."""

from __future__ import annotations

import pytest

import slicer_core_tier


def test_a_tier_module_skips_with_its_reason_by_default(monkeypatch):
    monkeypatch.delenv(slicer_core_tier.REQUIRED_VARIABLE, raising=False)
    with pytest.raises(pytest.skip.Exception, match="no off-screen OpenGL"):
        slicer_core_tier.skip_module("no off-screen OpenGL")


def test_where_the_tier_is_required_the_run_fails_with_the_reason(monkeypatch):
    monkeypatch.setenv(slicer_core_tier.REQUIRED_VARIABLE, "1")
    with pytest.raises(pytest.fail.Exception, match="HITIT_REQUIRE_SLICER_TIER=1 but no off-screen OpenGL"):
        slicer_core_tier.skip_module("no off-screen OpenGL")


def test_ci_requires_the_tier_and_installs_off_screen_opengl():
    from slicer_modules import REPO

    workflow = (REPO / ".github" / "workflows" / "slicer-selftest.yml").read_text(encoding="utf-8")
    core_job = workflow.split("slicer-selftest:", 1)[0]
    assert f'{slicer_core_tier.REQUIRED_VARIABLE}: "1"' in core_job and "apt-get install -y libosmesa6" in core_job
    assert 'python-version: "3.11"' in core_job  # the slicer-core wheels are CPython 3.11
