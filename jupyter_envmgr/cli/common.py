"""Arguments several verbs share, spelled once: the env, --json and -r, -y, the solve flags.

Each verb module has `add_parsers(subparsers)`, which adds its parsers and sets
`run=<async function taking a Session>` on each; `main` awaits `args.run(session)`.
"""

from __future__ import annotations

import argparse
from typing import TypeAlias

# What `add_parsers` receives: the action returned by `ArgumentParser.add_subparsers()`.
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

JSON_HELP = "print JSON (events as JSON lines)"
# engine/settings.py SOLVERS, spelled here so that parsing the command line imports no engine.
SOLVERS = ("rattler", "libmamba")


def add_env_args(
    p: argparse.ArgumentParser,
    *,
    name_help: str = "environment name",
    prefix_help: str = "environment path",
) -> None:
    """`-n NAME` or `-p PREFIX`, not both."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("-n", "--name", help=name_help)
    g.add_argument("-p", "--prefix", help=prefix_help)


def add_json(p: argparse.ArgumentParser, help: str = JSON_HELP) -> None:
    p.add_argument("--json", action="store_true", help=help)


def add_root_prefix(p: argparse.ArgumentParser) -> None:
    p.add_argument("-r", "--root-prefix", help="root prefix (default: $MAMBA_ROOT_PREFIX)")


def add_common(p: argparse.ArgumentParser) -> None:
    """`--json` and `-r ROOT_PREFIX`."""
    add_json(p)
    add_root_prefix(p)


def add_yes(p: argparse.ArgumentParser) -> None:
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")


def add_solve_args(p: argparse.ArgumentParser) -> None:
    """The env, --json/-r, specs, channels, files, -y, --dry-run and --solver of create/..."""
    add_env_args(p)
    add_common(p)
    p.add_argument("specs", nargs="*", metavar="SPEC", help="package specs, e.g. numpy>=1.26")
    p.add_argument("-c", "--channel", action="append", default=[], help="channel (repeatable)")
    p.add_argument("--override-channels", action="store_true", help="ignore configured channels")
    p.add_argument("-f", "--file", action="append", default=[], help="file with specs")
    add_yes(p)
    p.add_argument("--dry-run", action="store_true", help="only show what would change")
    add_solver(p)


def add_solver(p: argparse.ArgumentParser) -> None:
    """`--solver rattler|libmamba`, as conda's: this command only, over the rc files' `solver`."""
    p.add_argument(
        "--solver",
        choices=SOLVERS,
        help="the solver for this command: rattler (the default) or libmamba (conda's, needs "
        "libmambapy); default: 'solver' in .condarc/.mambarc",
    )
