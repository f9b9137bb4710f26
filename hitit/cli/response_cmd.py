"""``hitit response STUDY.json --out DIR``: RECIST 1.1, iRECIST and itRECIST over a study."""

from __future__ import annotations

import argparse

from hitit.response import evaluate_study, load_study, write_outputs
from hitit.response.evaluate import IRECIST_NAME, ITRECIST_NAME, RECIST_NAME, StudyResponse


def register(subparsers) -> None:
    """Add the ``response`` subcommand."""
    parser = subparsers.add_parser(
        "response",
        help="tumour response over time (RECIST 1.1, iRECIST, itRECIST)",
        description="Assess a study file (JSON; schema hitit/response/study.schema.json) with RECIST 1.1, iRECIST "
                    "and itRECIST, and write response.json, response.csv, waterfall/spider plots (PNG, SVG) "
                    "and response.html into the output folder.",
    )
    parser.add_argument("study", help="study JSON file")
    parser.add_argument("--out", required=True, help="output folder (created if missing; an earlier response there is replaced, other files are kept)")
    parser.add_argument("--warn-baseline", action="store_true",
                        help="continue when the baseline breaks a target-selection rule, listing it as a warning")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate, write the outputs, print a summary; 0 on success."""
    response = evaluate_study(load_study(args.study), warn_baseline=args.warn_baseline)
    paths = write_outputs(response, args.out)
    print(summary(response))
    print(f"wrote {len(paths)} files to {args.out} (open {paths['html'].name})")
    return 0


def summary(response: StudyResponse) -> str:
    """One line per follow-up time point plus the best overall responses and warnings."""
    lines = [f"warning: {warning}" for warning in response.warnings]
    for index, timepoint in enumerate(response.study.timepoints[1:], start=1):
        recist = response.recist.timepoints[index]
        irecist = response.irecist.timepoints[index]
        itrecist = response.itrecist.timepoints[index]
        change = "n/a" if recist.change_from_baseline_pct is None else f"{recist.change_from_baseline_pct:+.1f} %"
        lines.append(f"{timepoint.id} {timepoint.date}: {RECIST_NAME} {recist.overall} (sum {change} from baseline), "
                     f"{IRECIST_NAME} {irecist.overall}, {ITRECIST_NAME} overall {itrecist.overall} / "
                     f"injected {itrecist.injected} / non-injected {itrecist.non_injected}")
    best = response.to_dict()["best_overall_response"]
    lines.append(f"best overall response (unconfirmed / confirmed): {RECIST_NAME} {best[RECIST_NAME]['unconfirmed']} / "
                 f"{best[RECIST_NAME]['confirmed']}, {IRECIST_NAME} {best[IRECIST_NAME]['unconfirmed']} / "
                 f"{best[IRECIST_NAME]['confirmed']}, " + ", ".join(
                     f"{ITRECIST_NAME} {name} {value['unconfirmed']} / {value['confirmed']}"
                     for name, value in best[ITRECIST_NAME].items()))
    return "\n".join(lines)
