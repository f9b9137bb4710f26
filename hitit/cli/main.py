"""Entry point of the ``hitit`` command.

Each subcommand lives in its own module that exposes ``register(subparsers)``; the parser it adds
sets ``func`` to a handler ``handler(args) -> int``. Errors raised on purpose (:class:`HititError`)
become one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from hitit import __version__
from hitit.errors import HititError

#: Subcommand modules, in the order ``hitit --help`` lists them.
SUBCOMMAND_MODULES = (
    "hitit.cli.bench_cmd",
    "hitit.cli.check_path_cmd",
    "hitit.cli.course_cmd",
    "hitit.cli.demo_cmd",
    "hitit.cli.dose_cmd",
    "hitit.cli.export_dicom_cmd",
    "hitit.cli.inspect_cmd",
    "hitit.cli.lesions_cmd",
    "hitit.cli.plan_cmd",
    "hitit.cli.response_cmd",
    "hitit.cli.review_cmd",
    "hitit.cli.study_from_sr_cmd",
)


def build_parser(modules: tuple[str, ...] | None = None) -> argparse.ArgumentParser:
    """The argument parser with the subcommands of ``modules`` registered (default: every one)."""
    parser = argparse.ArgumentParser(
        prog="hitit",
        description="Plan and review image-guided intratumoral immunotherapy (HIT-IT). Coordinates are LPS mm unless a "
        "command says otherwise.",
    )
    parser.add_argument("--version", action="version", version=f"hitit {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in modules or SUBCOMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def command_name(module_name: str) -> str:
    """The subcommand a module registers: ``hitit.cli.check_path_cmd`` -> ``check-path``."""
    return module_name.rsplit(".", 1)[-1].removesuffix("_cmd").replace("_", "-")


def _modules_for(argv: list[str]) -> tuple[str, ...] | None:
    """The one subcommand module ``argv`` runs, when its first word names one; else None (all of them).

    Importing a subcommand module imports what it computes with (SimpleITK, VTK, matplotlib...), about a
    second for all of them: a command only loads its own.
    """
    first = next((a for a in argv if not a.startswith("-")), None)
    if first is None or argv.index(first) != 0:
        return None
    chosen = tuple(m for m in SUBCOMMAND_MODULES if command_name(m) == first)
    return chosen or None


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(_modules_for(argv)).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except HititError as error:
        print(f"hitit {args.command}: error: {error}", file=sys.stderr)
        return 2
    except (FileNotFoundError, PermissionError, IsADirectoryError) as error:
        print(f"hitit {args.command}: error: {error.strerror}: {error.filename}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
