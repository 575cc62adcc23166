"""`run` and `slurm-script`: a command in an activated environment, now or as a batch job
(printed, or submitted to SLURM with --submit)."""

from __future__ import annotations

import argparse
import errno
import os
import shutil
import sys

from ..engine.batch import SBATCH_OPTIONS
from ..engine.errors import BadInput
from .common import Subparsers, add_env_args, add_json, add_root_prefix
from .session import Session

# sbatch's long options, in the order the script writes them; --sbatch for any other.
SLURM_OPTIONS = SBATCH_OPTIONS


def add_parsers(sub: Subparsers) -> None:
    p = sub.add_parser("run", help="run a command in an activated environment")
    add_env_args(p)
    add_root_prefix(p)
    p.add_argument("--cwd", help="working directory for the command")
    p.add_argument("argv", nargs=argparse.REMAINDER, metavar="CMD", help="command and arguments")
    p.set_defaults(run=run)

    p = sub.add_parser("slurm-script", help="print a SLURM batch script running CMD in the env")
    add_env_args(p)
    add_root_prefix(p)
    add_json(p, help='with --submit: print {"job_id": N, "script": ...} as JSON')
    p.add_argument(
        "--submit",
        action="store_true",
        help="submit the script with sbatch (from PATH) and print its job id, as sbatch does",
    )
    for option in SLURM_OPTIONS:
        p.add_argument(f"--{option}", help=f"#SBATCH --{option}")
    p.add_argument(
        "--sbatch",
        action="append",
        default=[],
        metavar="LINE",
        help="any other directive, written as '#SBATCH LINE' (repeatable); with '=' as the "
        "line starts with a dash: --sbatch=--constraint=skylake",
    )
    p.add_argument("argv", nargs=argparse.REMAINDER, metavar="CMD", help="-- CMD ARGS...")
    # Its input errors end with its own usage, as argparse's do (exit 2).
    p.set_defaults(run=slurm, usage_error=p.error)


async def run(s: Session) -> int:
    from ..engine.activation import activated_environ

    a = s.args
    env = s.target_env()  # -n/-p, else the active env
    command = _command(a)
    environ = activated_environ(env.prefix, name=env.name)
    program = (
        shutil.which(command[0], path=environ["PATH"]) if "/" not in command[0] else command[0]
    )
    if program is None:
        raise BadInput(f"'{command[0]}' is not found in {env.label} nor on PATH.")
    if a.cwd:
        _change_dir(a.cwd)
    _exec(program, command, environ)
    return 0  # not reached


async def slurm(s: Session) -> int:
    from ..engine.batch import slurm_script

    a = s.args
    env = s.target_env()  # -n/-p, else the active env
    command = _command(a)
    options = {opt: getattr(a, opt.replace("-", "_")) for opt in SLURM_OPTIONS}
    try:
        script = slurm_script(env, command, options, a.sbatch)
    except BadInput as exc:
        a.usage_error(exc.message)  # exits 2
    if not a.submit:
        print(script, end="")
        return 0
    import asyncio
    import json

    from ..engine.batch import submit_script

    # sbatch's refusal (its text and exit code) is the error; nothing else is done.
    job_id = await asyncio.to_thread(submit_script, script)
    if a.json:
        print(json.dumps({"job_id": job_id, "script": script}))
    else:
        print(f"Submitted batch job {job_id}")
    return 0


def _command(args: argparse.Namespace) -> list[str]:
    command = list(args.argv)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise BadInput("Give the command to run, e.g. envmgr run -n data python script.py")
    return command


def _change_dir(cwd: str) -> None:
    try:
        os.chdir(cwd)
    except OSError as exc:
        raise BadInput(
            f"Cannot use --cwd {cwd}: {exc.strerror or exc}. Give an existing folder."
        ) from None


def _exec(program: str, command: list[str], environ: dict[str, str]) -> None:
    # exec: the command's exit code, signals and terminal are the user's, with no shell between.
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(program, command, environ)
    except OSError as exc:
        hint = (
            f" Make it executable (chmod +x {program}), or put its interpreter first "
            "(e.g. bash or python)."
            if isinstance(exc, PermissionError) or exc.errno == errno.ENOEXEC
            else ""
        )
        raise BadInput(f"Cannot run {program}: {exc.strerror or exc}.{hint}") from None
