"""Whole-process benchmark: ``hitit plan`` on a CT-sized case, files in and plan folder out, against the
ray-cast baseline run as a whole process in the same run (:func:`hitit.trajectories.baseline.baseline_process`).

Both run as separate Python processes on the files of :mod:`hitit.trajectories.bench_case`; each one's
wall time is measured from its start to its exit and its peak memory is its own maximum resident set
size (``wait4``). The stages of ``hitit plan`` are timed from the progress lines it prints (each line
starts a stage), its start-up is a process that only imports the command, and the map and exact-check
times come from the ``timings_s`` its ``plan.json`` stores.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from hitit.trajectories.bench_case import FULL_GRID, SMALL_GRID, bench_case_shapes, write_bench_case

#: Progress messages of ``hitit plan`` that start a stage, and the stage they start (in order).
STAGE_OF_MESSAGE = (
    ("Body and skin", "body_and_skin"),
    ("Measuring lesions", "lesion_measurement"),
    ("Preparing distance maps", "distance_maps"),
    ("Trajectories for", "trajectories"),
    ("Allocating injectate", "allocation_and_deposits"),
    ("Plan complete", "report_and_write"),
)


def _run(command: list[str]) -> tuple[float, float, list[tuple[float, str]], str]:
    """Run ``command``; ``(wall s, peak RSS MB, [(s since start, stderr line)], stdout)``."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[tuple[float, str]] = []

    def collect() -> None:
        for line in process.stderr:
            lines.append((time.perf_counter() - start, line.rstrip()))

    reader = threading.Thread(target=collect)
    reader.start()
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    reader.join()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])} failed: " + "\n".join(line for _, line in lines[-5:]))
    return wall, usage.ru_maxrss / 1024.0, lines, out


def _stages(wall: float, lines: list[tuple[float, str]], startup_s: float, plan: dict) -> dict[str, float]:
    """Stage times (s) of one ``hitit plan`` run from its progress lines and its ``plan.json``."""
    marks: list[tuple[str, float]] = []
    for t, line in lines:
        for message, stage in STAGE_OF_MESSAGE:
            if message in line and stage not in (m[0] for m in marks):
                marks.append((stage, t))
    if not marks:
        return {}
    ends = [t for _, t in marks[1:]] + [wall]
    stages = {"start_up": startup_s, "read": max(marks[0][1] - startup_s, 0.0)}
    stages.update({stage: end - t for (stage, t), end in zip(marks, ends)})
    timing = [lesion["timings_s"] for lesion in plan["lesions"]]
    stages["map"] = sum(t.get("clearance", 0.0) + t.get("metrics", 0.0) for t in timing)
    stages["exact_checks"] = sum(t.get("propose", 0.0) for t in timing)
    stages["trajectories_other"] = max(stages.pop("trajectories", 0.0) - stages["map"] - stages["exact_checks"], 0.0)
    return {k: round(v, 3) for k, v in stages.items()}


def run_process_bench(small: bool = False, repeats: int = 1) -> dict:
    """Time ``hitit plan`` and the baseline as whole processes on the benchmark case (``repeats`` each,
    alternating; medians reported). Returns JSON-ready figures (s, MB).
    """
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="hitit-bench-") as tmp:
        # made by a child process: a child's peak memory counts from its parent's at the fork, so the
        # benchmark process itself stays small
        start = time.perf_counter()
        _run(
            [
                python,
                "-c",
                f"from hitit.trajectories.bench_case import write_bench_case; "
                f"write_bench_case({str(Path(tmp) / 'case')!r}, {small!r})",
            ]
        )
        files = write_bench_case(Path(tmp) / "case", small)  # the paths of the case just written
        case_s = time.perf_counter() - start
        startup = [_run([python, "-c", "import hitit.cli.main, hitit.cli.plan_cmd"])[0] for _ in range(repeats)]
        runs, baselines = [], []
        for n in range(repeats):
            out = Path(tmp) / f"plan-{n}"
            wall, rss, lines, _ = _run(
                [
                    python,
                    "-m",
                    "hitit",
                    "plan",
                    "--ct",
                    str(files.ct),
                    "--structures",
                    str(files.structures),
                    "--lesions",
                    str(files.lesions),
                    "--out",
                    str(out),
                ]
            )
            plan = json.loads((out / "plan.json").read_text())
            runs.append((wall, rss, _stages(wall, lines, statistics.median(startup), plan), plan))
            b_wall, b_rss, _, b_out = _run(
                [python, "-m", "hitit.trajectories.baseline", str(files.ct), str(files.structures), str(files.lesions)]
            )
            baselines.append((b_wall, b_rss, json.loads(b_out)))
    wall, rss, stages, plan = sorted(runs, key=lambda r: r[0])[len(runs) // 2]
    b_wall, b_rss, baseline = sorted(baselines, key=lambda r: r[0])[len(baselines) // 2]
    checked = [t for lesion in plan["lesions"] for t in lesion["trajectories"]]
    return {
        "case": {
            "size": list((SMALL_GRID if small else FULL_GRID)[0]),
            "spacing_mm": list((SMALL_GRID if small else FULL_GRID)[1]),
            "structures": len(bench_case_shapes()),
        },
        "case_generation_s": round(case_s, 2),
        "process_s": round(wall, 3),
        "process_peak_memory_mb": round(rss, 1),
        "stages_s": stages,
        "baseline_process_s": round(b_wall, 3),
        "baseline_peak_memory_mb": round(b_rss, 1),
        "baseline_stages_s": {k: round(v, 3) for k, v in baseline["stages_s"].items()},
        "process_speedup": round(b_wall / wall, 2),
        "process_runs_s": [round(r[0], 3) for r in runs],
        "baseline_runs_s": [round(b[0], 3) for b in baselines],
        "proposed_paths": len(checked),
        "proposed_paths_exactly_safe": sum(bool(t["feasible"]) for t in checked),
        "feasible_entries": sum(lesion["entries"]["feasible"] for lesion in plan["lesions"]),
        "baseline_clear_entries": baseline["clear"],
        "baseline_entries_in_reach": baseline["entries_in_reach"],
    }
