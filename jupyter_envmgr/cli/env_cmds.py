"""`env export`, `run` and `slurm-script`: an env's content out to a file, or a command in it."""

from __future__ import annotations

import argparse
import errno
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from ..engine.activation import activated_environ
from ..engine.batch import slurm_script
from ..engine.errors import BadInput
from ..engine.export import export_explicit, export_lock, export_yaml
from ..engine.registry import find_env

COMMANDS = ("run", "slurm-script")
SLURM_OPTIONS = ("job-name", "time", "partition", "cpus-per-task", "mem", "account", "gres")


def _env_args(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("-n", "--name", help="environment name")
    g.add_argument("-p", "--prefix", help="environment path")
    p.add_argument("-r", "--root-prefix", help="root prefix (default: $MAMBA_ROOT_PREFIX)")


def add_export_parser(env_sub: Any) -> None:
    p = env_sub.add_parser("export", help="export an environment (YAML, explicit, lock)")
    _env_args(p)
    p.add_argument("--json", action="store_true", help="print a JSON result with the text")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--from-history", action="store_true", help="only what the user asked for")
    fmt.add_argument("--explicit", action="store_true", help="@EXPLICIT list of package URLs")
    fmt.add_argument("--lock", action="store_true", help="rattler lock file")
    p.add_argument("--no-builds", action="store_true", help="leave out build strings")
    p.add_argument("-f", "--file", help="write to FILE instead of stdout")


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("run", help="run a command in an activated environment")
    _env_args(p)
    p.add_argument("--cwd", help="working directory for the command")
    p.add_argument("argv", nargs=argparse.REMAINDER, metavar="CMD", help="command and arguments")
    p = sub.add_parser("slurm-script", help="print a SLURM batch script running CMD in the env")
    _env_args(p)
    p.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    for option in SLURM_OPTIONS:
        p.add_argument(f"--{option}", help=f"#SBATCH --{option}")
    p.add_argument("argv", nargs=argparse.REMAINDER, metavar="CMD", help="-- CMD ARGS...")


def _command(args: argparse.Namespace) -> list[str]:
    command = list(args.argv)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise BadInput("Give the command to run, e.g. envmgr run -n data python script.py")
    return command


async def export(session: Any) -> int:
    a = session.args
    env = find_env(session.settings, name=a.name, prefix=a.prefix)
    if a.explicit:
        text = export_explicit(env)
    elif a.lock:
        text = export_lock(session.settings, env)
    else:
        text = export_yaml(
            session.settings, env, from_history=a.from_history, no_builds=a.no_builds
        )
    if a.file:
        _write_export(a.file, text)
    if session.json:
        session.json.emit({"event": "result", "env": env.to_json(), "text": text})
    elif not a.file:
        print(text, end="")
    return 0


async def run(session: Any) -> int:
    a = session.args
    env = find_env(session.settings, name=a.name, prefix=a.prefix)
    command = _command(a)
    if a.command == "slurm-script":
        options = {opt: getattr(a, opt.replace("-", "_")) for opt in SLURM_OPTIONS}
        print(slurm_script(env, command, options), end="")
        return 0
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


def _write_export(file: str, text: str) -> None:
    try:
        Path(file).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise BadInput(
            f"Cannot write {file}: {exc.strerror or exc}. Give a file in an existing folder "
            "you can write to, or leave out -f to print the export."
        ) from None


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
