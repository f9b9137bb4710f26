"""What the teaching course adds to ``make demo``: the teaching case demo and the teaching course, timed.

``make demo`` runs ``hitit demo`` (the teaching case at its default grid, planned end to end) and then
``hitit demo --course`` (baseline, four T-VEC visits each planned and reviewed, two follow-ups measured from
masks, response, course report, truth). This prints both wall times (seconds, one run each, written into a
temporary folder), the course's extra time and its ratio to the demo's; the course is meant to add under a
minute.

Usage::

    .venv/bin/python tools/bench_teaching_course.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def timed(function, *args) -> float:
    """Wall time of one call (s)."""
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def main() -> int:
    """Time the demo and the teaching course; print the figures."""
    from hitit.cli.demo_cmd import run_demo
    from hitit.course.teaching import write_teaching_course

    with tempfile.TemporaryDirectory() as folder:
        demo_s = timed(run_demo, Path(folder) / "demo")
        course_s = timed(write_teaching_course, Path(folder) / "course")
    print(f"hitit demo           {demo_s:6.1f} s")
    print(
        f"hitit demo --course  {course_s:6.1f} s  (adds {course_s:.1f} s to make demo, {course_s / demo_s:.2f} x the "
        "demo)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
