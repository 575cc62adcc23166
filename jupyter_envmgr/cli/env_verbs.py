"""`env create` (micromamba's and conda's spelling of `create -f`) and `env config vars list |
set | unset` (an env's variables in conda-meta/state), under `env` beside env_cmds' verbs."""

from __future__ import annotations

import argparse
import os

from ..engine.errors import BadInput
from .common import Subparsers, add_common, add_env_args, add_solve_args
from .session import Session
from .table import print_table

DEFAULT_FILE = "environment.yml"  # what `conda env create` reads when given no file


def add_parsers(env_sub: Subparsers) -> None:
    """Adds to `env`'s subparsers (called by env_cmds.add_parsers)."""
    from .solve_cmds import _add_solve_flags, add_lock_env  # create's flags, spelled there

    p = env_sub.add_parser("create", help=f"create an environment from a file (default: "
                           f"./{DEFAULT_FILE}), as create -f")  # fmt: skip
    add_solve_args(p)
    _add_solve_flags(p)
    add_lock_env(p)
    p.set_defaults(run=env_create)

    config = env_sub.add_parser("config", help="an environment's configuration")
    config_sub = config.add_subparsers(dest="config_command", metavar="CONFIG_COMMAND")
    config_sub.required = True
    vars_parser = config_sub.add_parser("vars", help="variables set when the env is activated")
    vars_sub = vars_parser.add_subparsers(dest="vars_command", metavar="VARS_COMMAND")
    vars_sub.required = True
    for verb, text in (
        ("list", "list the variables"),
        ("set", "set NAME=VALUE ..."),
        ("unset", "unset NAME ..."),
    ):
        p = vars_sub.add_parser(verb, help=text)
        add_env_args(p)
        add_common(p)
        if verb != "list":
            what = "NAME=VALUE" if verb == "set" else "NAME"
            p.add_argument("items", nargs="+", metavar=what)
        p.set_defaults(run=env_config_vars)


async def env_create(s: Session) -> int:
    from .solve_cmds import solve

    a = s.args
    if not a.file:
        if not os.path.isfile(DEFAULT_FILE):
            raise BadInput(
                f"env create reads an environment file: give it with -f FILE (no ./"
                f"{DEFAULT_FILE} here). To create from package specs: envmgr create -n NAME SPEC."
            )
        a.file = [DEFAULT_FILE]
    a.command = "create"  # the create verb's run, with its name
    return await solve(s)


async def env_config_vars(s: Session) -> int:
    from ..engine import env_vars

    a: argparse.Namespace = s.args
    verb = a.vars_command
    # Checked before the env is looked up or anything is read or written.
    values = env_vars.parse_assignments(a.items) if verb == "set" else {}
    names = [env_vars.check_name(n) for n in a.items] if verb == "unset" else []
    env = s.target_env()
    if verb != "list":
        # A site env another user owns is refused here with its reason, as install is, even
        # when no server's policy applies (file permissions alone make it read-only).
        from ..engine.policy import Policy

        (s.policy or Policy()).check_writable(env)
    if verb == "set":
        env_vars.set_env_vars(env.prefix, values)
        text = (
            f"Set {', '.join(values)} in {env.label}; reactivate the env (or restart its "
            "kernels) to see them."
        )
    elif verb == "unset":
        removed = env_vars.unset_env_vars(env.prefix, names)
        text = (
            f"Unset {', '.join(removed)} in {env.label}." if removed else "None of these was set."
        )
    variables = env_vars.read_env_vars(env.prefix)
    if s.json:
        s.json.emit({"event": "result", "env": env.to_json(), "variables": variables})
    elif verb == "list":
        print_table(sorted(variables.items()))
    else:
        print(text)
    return 0
