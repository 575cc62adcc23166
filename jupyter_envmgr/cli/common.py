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
# The channel_priority values of the rc files (engine/settings.py).
PRIORITIES = ("strict", "flexible", "disabled")


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
    p.add_argument("-d", "--dry-run", action="store_true", help="only show what would change")
    add_solver(p)
    add_channel_priority(p)
    add_output_args(p)
    add_rc_args(p)


def add_output_args(p: argparse.ArgumentParser) -> None:
    """micromamba's -q (no progress, only errors and the result) and -v (more detail)."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("-q", "--quiet", action="store_true", help="print only errors and the result")
    g.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more detail (the solve's channels, specs and pins); repeatable",
    )


def add_rc_args(p: argparse.ArgumentParser) -> None:
    """micromamba's --no-rc and --rc-file: which rc files the settings come from."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--no-rc", action="store_true", help="read no .condarc/.mambarc file")
    g.add_argument(
        "--rc-file", action="append", metavar="FILE", help="read this rc file only (repeatable)"
    )


def add_solver(p: argparse.ArgumentParser) -> None:
    """`--solver rattler|libmamba`, as conda's: this command only, over the rc files' `solver`."""
    p.add_argument(
        "--solver",
        choices=SOLVERS,
        help="the solver for this command: rattler (the default) or libmamba (conda's, needs "
        "libmambapy); default: 'solver' in .condarc/.mambarc",
    )


def add_channel_priority(p: argparse.ArgumentParser) -> None:
    """micromamba's and conda's priority flags: this command only, over `channel_priority` of
    the rc files."""
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--channel-priority",
        choices=PRIORITIES,
        help="strict: a package comes from the first channel that has it; flexible (conda's, "
        "with --solver libmamba; rattler solves it as strict): a later channel when the first "
        "cannot give a solution; disabled: the highest version, whichever channel has it; "
        "default: 'channel_priority' in .condarc/.mambarc (strict)",
    )
    g.add_argument(
        "--strict-channel-priority",
        dest="channel_priority",
        action="store_const",
        const="strict",
        help="same as --channel-priority strict",
    )
    g.add_argument(
        "--no-channel-priority",
        dest="channel_priority",
        action="store_const",
        const="disabled",
        help="same as --channel-priority disabled",
    )


def solve_overrides(args: argparse.Namespace) -> dict[str, str]:
    """The settings a solve flag changes for this command only: --solver, the priority flags."""
    overrides = {"solver": args.solver, "channel_priority": args.channel_priority}
    return {key: value for key, value in overrides.items() if value is not None}
