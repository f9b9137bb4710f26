"""``python -m hitit_slicer.render`` where Slicer cannot draw: the plan is written with the core's figures and the
report and the console say why (no slicer-core tier marker: this is the machine without Slicer's libraries).
"""

from __future__ import annotations

import sys
import types

import hitit_slicer
from hitit.phantom import make_teaching_case, write_teaching_case
from hitit_slicer import render
from plan_command import plan_args


def test_without_slicers_core_the_report_keeps_the_cores_figures_and_says_so(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "hitit_slicer.rendering", None)  # "import hitit_slicer.rendering" fails
    monkeypatch.delattr(hitit_slicer, "rendering", raising=False)
    paths = write_teaching_case(make_teaching_case(), tmp_path / "case")
    out = tmp_path / "plan"
    code = render.main(plan_args(paths, out))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "note: the report keeps the core's figures: Slicer's core libraries are not installed" in captured.err
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Chosen-path figures drawn by the HITIT core (matplotlib" in html and "drawn by 3D Slicer" not in html


def test_without_off_screen_opengl_the_reason_is_given(monkeypatch):
    probe = types.ModuleType("hitit_slicer.rendering")
    probe.offscreenRenderingProblem = lambda: "no off-screen OpenGL (libOSMesa not found)"
    monkeypatch.setitem(sys.modules, "hitit_slicer.rendering", probe)
    monkeypatch.setattr(hitit_slicer, "rendering", probe, raising=False)
    assert render.slicerRenderingProblem() == "no off-screen OpenGL (libOSMesa not found)"
