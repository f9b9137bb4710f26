"""What the Planner's Plan button costs beyond the core's own planning, on Slicer's real core libraries.

The button (``hitit_slicer.planner.plan``) should spend the core's planning time plus the MRML
conversions: the scene's CT and segments to core arrays, and the plan back as nodes. This prints,
for the teaching case loaded by Slicer's readers (best of ``--repeat`` runs, seconds):

- ``scene -> core``: ``planner.caseFromNodes`` (voxels copied, every segment exported on the CT grid);
- ``core plan``: ``hitit.plan.plan_case`` on that case, as the command line plans;
- ``plan -> scene``: ``planner.showPlan`` (plan.json, lesion table, trajectory lines, accessibility model);
- the button's total and its ratio to ``core plan``.

Usage (needs the ``slicer-core`` wheel, installed by ``make test``)::

    .venv/bin/python tools/bench_slicer_plan.py [--repeat 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def best(function, repeat: int) -> tuple[float, object]:
    """The shortest wall time of ``repeat`` calls (s) and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def main(argv=None) -> int:
    """Print the three parts of the Plan button and its ratio to the core's planning; exit code 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2, help="runs of each step; the best is printed (default 2)")
    args = parser.parse_args(argv)

    import hitit.plan
    from hitit_slicer import planner
    from hitit_slicer.context import createApplicationContext
    from hitit_slicer.teaching_case import loadTeachingCase, writeTeachingCase

    with tempfile.TemporaryDirectory() as folder:
        context = createApplicationContext()
        case = loadTeachingCase(context, paths=writeTeachingCase(Path(folder)))
        parameters = planner.PlannerParameters(
            inputVolume=case.ct,
            structuresSegmentation=case.structures,
            lesionsSegmentation=case.lesions,
            protocol="pv10",
        )
        settings = planner.planSettings(parameters)
        toCore, coreCase = best(
            lambda: planner.caseFromNodes(context, case.ct, case.structures, case.lesions), args.repeat
        )
        core, result = best(lambda: hitit.plan.plan_case(coreCase, settings), args.repeat)
        session = planner.PlannerSession(context)
        toScene, content = best(lambda: planner.showPlan(context, parameters, session, result, coreCase), args.repeat)
        button, _ = best(lambda: planner.plan(context, parameters, session), args.repeat)
        context.scene.Clear(1)
    print(f"teaching case: {len(content['lesions'])} lesions, best of {args.repeat} runs")
    print(f"  scene -> core   {toCore:6.2f} s")
    print(f"  core plan       {core:6.2f} s")
    print(f"  plan -> scene   {toScene:6.2f} s")
    print(
        f"  Plan button     {button:6.2f} s  = {button / core:.2f} x the core's planning "
        f"(core + conversions: {(core + toCore + toScene) / core:.2f} x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
