"""Batch job scripts that run a command in an activated env (SLURM's sbatch format), and their
submission to SLURM.

Every value from the user is quoted with shlex.quote; the script sources the env's activate.d
scripts itself, so the job sees what `micromamba activate` would give it on the compute node.
Submitting runs `sbatch` from PATH with an argument list and the script on its stdin: no shell
ever sees user text.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sysconfig
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import BadInput, Conflict, EnvMgrError

if TYPE_CHECKING:
    from .registry import Env  # with activation, loaded by slurm_script: `--help` needs neither

# sbatch's long options that every face offers, in the order the script writes them; any other
# directive goes in as a raw `--sbatch` line.
SBATCH_OPTIONS = (
    "job-name", "time", "partition", "qos", "account", "nodes", "ntasks", "ntasks-per-node",
    "cpus-per-task", "mem", "mem-per-cpu", "gres", "array", "output", "error",
)  # fmt: skip
# sbatch waits for an unreachable controller and retries; past this, the submission failed.
SUBMIT_TIMEOUT = 120
MAX_COMMAND = 10_000
_SHELL_PUNCTUATION = frozenset("();<>|&")


class SbatchMissing(Conflict):
    """`sbatch` is not on PATH: this machine is no SLURM submit host."""

    reason = "sbatch-missing"


class SubmitRefused(EnvMgrError):
    """sbatch ran and refused the job (an unknown partition, a time over the limit, ...)."""

    status = 400
    reason = "sbatch-refused"

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class SubmitFailed(EnvMgrError):
    """sbatch could not be run, did not answer in time, or named no job."""

    status = 502
    reason = "sbatch-failed"


# Every rule is a full match: `$` would also match before a trailing newline, and a newline in a
# value would start a new line of the script.
_SBATCH_VALUE = re.compile(r"[A-Za-z0-9_.:,=+/@%-]{1,200}")
_ENV_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# The formats sbatch accepts for --time (see `man sbatch`).
_SLURM_TIME = re.compile(
    r"[0-9]{1,9}(:[0-9]{1,2}){0,2}|[0-9]{1,6}-[0-9]{1,2}(:[0-9]{1,2}){0,2}|UNLIMITED|INFINITE",
    re.IGNORECASE,
)
_SLURM_MEM = re.compile(r"[0-9]{1,12}[KMGT]?", re.IGNORECASE)
_POSITIVE_INT = re.compile(r"[1-9][0-9]{0,5}")
_NODES = re.compile(r"[1-9][0-9]{0,5}(-[1-9][0-9]{0,5})?")  # a count, or min-max
# Job array indexes: 0-15, 1,3,5, 0-99:2, each list optionally capped with %N running at once.
_ARRAY_PART = r"[0-9]{1,7}(-[0-9]{1,7}(:[1-9][0-9]{0,6})?)?"
_ARRAY = re.compile(rf"{_ARRAY_PART}(,{_ARRAY_PART}){{0,99}}(%[1-9][0-9]{{0,6}})?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_RAW_SBATCH = 500
# option -> (rule, what to write instead)
_OPTION_RULES = {
    "time": (
        _SLURM_TIME,
        "use minutes, minutes:seconds, hours:minutes:seconds, days-hours, days-hours:minutes, "
        "days-hours:minutes:seconds, or UNLIMITED (e.g. --time 2:00:00 or --time 1-12)",
    ),
    "mem": (_SLURM_MEM, "use a number with an optional K, M, G or T suffix (e.g. --mem 16G)"),
    "cpus-per-task": (_POSITIVE_INT, "use a positive whole number (e.g. --cpus-per-task 4)"),
    "mem-per-cpu": (
        _SLURM_MEM,
        "use a number with an optional K, M, G or T suffix (e.g. --mem-per-cpu 4G)",
    ),
    "nodes": (_NODES, "use a number of nodes or a range (e.g. --nodes 2 or --nodes 2-4)"),
    "ntasks": (_POSITIVE_INT, "use a positive whole number (e.g. --ntasks 16)"),
    "ntasks-per-node": (_POSITIVE_INT, "use a positive whole number (e.g. --ntasks-per-node 8)"),
    "array": (
        _ARRAY,
        "use indexes, ranges and steps, optionally with %N at most running at once "
        "(e.g. --array 0-15, --array 1,3,5 or --array 0-99:2%10)",
    ),
}


def check_sbatch_option(key: str, value: str) -> str:
    """The value of `#SBATCH --KEY=VALUE`, once it is valid for KEY and safe on that line."""
    rule, advice = _OPTION_RULES.get(
        key, (_SBATCH_VALUE, "use letters, digits and : , = + / @ % - . _ only")
    )
    if not rule.fullmatch(value):
        raise BadInput(f"--{key} {value!r}: {advice}.")
    return value


def check_raw_sbatch(line: str) -> str:
    """A `--sbatch "RAW LINE"` directive: one line of sbatch options, written after `#SBATCH`.
    It stays a bash comment whatever it holds, so long as it cannot end the line."""
    if _CONTROL.search(line):
        raise BadInput(
            f"--sbatch {line!r}: give one line, without line breaks, tabs or other control "
            "characters (repeat --sbatch for several directives)."
        )
    text = line.strip()
    if text.upper().startswith("#SBATCH"):
        raise BadInput(f"--sbatch {line!r}: give only what follows '#SBATCH', e.g. "
                       "--sbatch=--constraint=skylake.")  # fmt: skip
    if not text.startswith("-") or len(text) > MAX_RAW_SBATCH:
        raise BadInput(
            f"--sbatch {line!r}: give one sbatch option of at most {MAX_RAW_SBATCH} characters, "
            "e.g. --sbatch=--constraint=skylake or --sbatch='--mail-type END'."
        )
    return text


def slurm_script(
    env: Env,
    command: Sequence[str],
    options: Mapping[str, str | None],
    raw: Sequence[str] = (),
) -> str:
    """The job script. `options`: sbatch's long options by name (None: not given); `raw`:
    `--sbatch` lines for any other directive. Every value is checked before anything is made."""
    from .activation import activate_scripts, state_env_vars

    if not command:
        raise BadInput("Give the command to run after '--', e.g. -- python train.py")
    if options.get("mem") and options.get("mem-per-cpu"):
        raise BadInput("--mem and --mem-per-cpu exclude each other (as in sbatch): give one.")
    lines = ["#!/bin/bash"]
    for key, value in options.items():
        if value is None:
            continue
        lines.append(f"#SBATCH --{key}={check_sbatch_option(key, str(value))}")
    lines += [f"#SBATCH {check_raw_sbatch(line)}" for line in raw]
    prefix = shlex.quote(str(env.prefix))
    name = shlex.quote(env.name or str(env.prefix))
    lines += [
        "set -eo pipefail",
        f"# Activate {env.prefix} as `micromamba activate` does.",
        f"export CONDA_PREFIX={prefix}",
        f"export CONDA_DEFAULT_ENV={name}",
        f'export PATH={prefix}/bin:"$PATH"',
        "export CONDA_SHLVL=$(( ${CONDA_SHLVL:-0} + 1 ))",
    ]
    for key, value in state_env_vars(env.prefix).items():
        if not _ENV_VAR_NAME.fullmatch(key):
            continue  # not a variable name bash can export
        lines.append(f"export {key}={shlex.quote(value)}")
    for script in activate_scripts(env.prefix):
        lines.append(f". {shlex.quote(str(script))}")
    lines.append(f"exec {shlex.join(command)}")
    return "\n".join(lines) + "\n"


def split_command(text: object) -> list[str]:
    """A command typed as one line (REST, the Lab) as its words, split as a POSIX shell splits
    them (quotes kept together). There is no shell in the job: pipes, redirections and `;` would
    reach the program as words, so they are refused with the way to have them."""
    if not isinstance(text, str) or not text.strip():
        raise BadInput("'command' must be the command to run, e.g. python train.py")
    if len(text) > MAX_COMMAND or "\x00" in text:
        raise BadInput(f"'command' must be at most {MAX_COMMAND} characters, without NUL.")
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise BadInput(f"The command {text[:200]!r} cannot be split into words: {exc}.") from None
    # A second pass that keeps quotes and splits a shell's operators off (`a|b`, `>out`): an
    # operator outside quotes would reach the program as a word, as there is no shell.
    lexer = shlex.shlex(text, posix=False, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        operators = [w for w in lexer if set(w) <= _SHELL_PUNCTUATION]
    except ValueError:
        operators = []
    if operators:
        raise BadInput(
            f"The command runs without a shell, so {operators[0]!r} would reach the program as "
            f"a word: for pipes, redirections or several commands, give bash -c '...'."
        )
    return words


def sbatch_path(environ: Mapping[str, str] | None = None) -> str | None:
    """The `sbatch` a submission would run (from PATH), or None."""
    environ = os.environ if environ is None else environ
    return shutil.which("sbatch", path=environ.get("PATH", os.defpath))


def submit_script(
    script: str, *, cwd: Path | None = None, environ: Mapping[str, str] | None = None
) -> int:
    """Submit `script` with `sbatch` (found on PATH) and return the job's id. The job starts in
    `cwd` (its `slurm-<id>.out` lands there unless --output says otherwise) with this process's
    environment (sbatch's default --export=ALL), plus this install's `envmgr` at the end of
    PATH when PATH has none, so `envmgr run` works inside the job. Blocking (one sbatch call)."""
    env = dict(os.environ if environ is None else environ)
    sbatch = sbatch_path(env)
    if sbatch is None:
        raise SbatchMissing(
            "sbatch is not on PATH, so this machine cannot submit SLURM jobs: submit the "
            "script where SLURM is installed (print it without --submit), or put the folder "
            "of SLURM's commands on PATH."
        )
    scripts = sysconfig.get_path("scripts")
    path = env.get("PATH", os.defpath)
    if shutil.which("envmgr", path=path) is None and (Path(scripts) / "envmgr").is_file():
        env["PATH"] = os.pathsep.join(filter(None, [path, scripts]))
    try:
        proc = subprocess.run(
            [sbatch],
            input=script,
            capture_output=True,
            text=True,
            cwd=cwd,
            env=env,
            timeout=SUBMIT_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        raise SubmitFailed(
            f"sbatch did not answer within {SUBMIT_TIMEOUT} s (is slurmctld reachable? "
            "`scontrol ping` says); the job may or may not have been submitted: check squeue."
        ) from None
    except OSError as exc:
        raise SubmitFailed(f"Cannot run {sbatch}: {exc.strerror or exc}.") from None
    said = (proc.stderr.strip() or proc.stdout.strip())[:2000]
    if proc.returncode != 0:
        raise SubmitRefused(
            f"sbatch refused the job (exit code {proc.returncode}): {said or 'it gave no reason'}",
            exit_code=proc.returncode,
        )
    found = re.search(r"Submitted batch job ([0-9]+)", proc.stdout)
    if found is None:
        raise SubmitFailed(f"sbatch named no job id; it said: {said or 'nothing'}")
    return int(found.group(1))
