"""``hitit response STUDY.json --out DIR``: RECIST 1.1, iRECIST and itRECIST over a study."""

from __future__ import annotations

import argparse

from hitit.response import evaluate_study, load_study, write_outputs
from hitit.response.evaluate import IRECIST_NAME, ITRECIST_NAME, NOT_ASSESSABLE, RECIST_NAME, StudyResponse


def register(subparsers) -> None:
    """Add the ``response`` subcommand."""
    parser = subparsers.add_parser(
        "response",
        help="tumour response over time (RECIST 1.1, iRECIST, itRECIST)",
        description="Assess a study file (JSON; schema hitit/response/study.schema.json) with RECIST 1.1, iRECIST "
        "and itRECIST, and write response.json, response.csv, waterfall/spider plots (PNG, SVG) "
        "and response.html into the output folder.",
    )
    parser.add_argument(
        "study", help="study JSON file, or a course file (course.json: its imaging time points and lesion ids)"
    )
    parser.add_argument(
        "--out",
        required=True,
        help="output folder (created if missing; an earlier response there is replaced, other files are kept)",
    )
    baseline = parser.add_mutually_exclusive_group()
    baseline.add_argument(
        "--warn-baseline",
        action="store_true",
        help="assess every criterion even when the baseline breaks its target-selection rules, "
        "listing each broken rule as a warning",
    )
    baseline.add_argument(
        "--strict",
        action="store_true",
        help="refuse the whole study when the baseline breaks any criterion's rules (trial use); "
        "by default such a criterion is reported 'not assessable' and the others as usual",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate, write the outputs, print a summary; 0 when at least one criterion was assessed."""
    response = evaluate_study(read_study(args.study), warn_baseline=args.warn_baseline, strict=args.strict)
    paths = write_outputs(response, args.out)
    print(summary(response))
    print(f"wrote {len(paths)} files to {args.out} (open {paths['html'].name})")
    return 0


def read_study(path: str):
    """The study of a study file, or the response study of a course file (same lesion ids as its plans)."""
    from hitit.course.record import is_course_document, load_course
    from hitit.course.response import course_study
    from hitit.io.jsonfile import read_json

    if is_course_document(read_json(path, "study or course file")):
        return course_study(load_course(path))
    return load_study(path)


def summary(response: StudyResponse) -> str:
    """One line per follow-up time point plus the best overall responses, criteria not assessable and warnings."""
    lines = [f"warning: {warning}" for warning in response.warnings]
    lines += [f"{name}: {NOT_ASSESSABLE} ({response.reason(name)})" for name in response.not_assessable]
    recist, irecist, itrecist = (response.result(name) for name in (RECIST_NAME, IRECIST_NAME, ITRECIST_NAME))
    for index, timepoint in enumerate(response.study.timepoints[1:], start=1):
        parts = []
        if recist is not None:
            row = recist.timepoints[index]
            change = "n/a" if row.change_from_baseline_pct is None else f"{row.change_from_baseline_pct:+.1f} %"
            parts.append(f"{RECIST_NAME} {row.overall} (sum {change} from baseline)")
        else:
            parts.append(f"{RECIST_NAME} {NOT_ASSESSABLE}")
        parts.append(f"{IRECIST_NAME} {irecist.timepoints[index].overall if irecist is not None else NOT_ASSESSABLE}")
        if itrecist is not None:
            row = itrecist.timepoints[index]
            parts.append(
                f"{ITRECIST_NAME} overall {row.overall} / injected {row.injected} / non-injected {row.non_injected}"
            )
        else:
            parts.append(f"{ITRECIST_NAME} {NOT_ASSESSABLE}")
        lines.append(f"{timepoint.id} {timepoint.date}: " + ", ".join(parts))
    best = response.to_dict()["best_overall_response"]
    lines.append(
        "best overall response (unconfirmed / confirmed): "
        f"{RECIST_NAME} {best[RECIST_NAME]['unconfirmed']} / {best[RECIST_NAME]['confirmed']}, "
        f"{IRECIST_NAME} {best[IRECIST_NAME]['unconfirmed']} / {best[IRECIST_NAME]['confirmed']}, "
        + ", ".join(
            f"{ITRECIST_NAME} {name} {value['unconfirmed']} / {value['confirmed']}"
            for name, value in best[ITRECIST_NAME].items()
        )
    )
    return "\n".join(lines)
