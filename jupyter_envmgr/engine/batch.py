"""Batch job scripts that run a command in an activated env (SLURM's sbatch format).

Every value from the user is quoted with shlex.quote; the script sources the env's activate.d
scripts itself, so the job sees what `micromamba activate` would give it on the compute node.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence

from .activation import activate_scripts, state_env_vars
from .errors import BadInput
from .registry import Env

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
