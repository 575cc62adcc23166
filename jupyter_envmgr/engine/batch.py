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
# option -> (rule, what to write instead)
_OPTION_RULES = {
    "time": (
        _SLURM_TIME,
        "use minutes, minutes:seconds, hours:minutes:seconds, days-hours, days-hours:minutes, "
        "days-hours:minutes:seconds, or UNLIMITED (e.g. --time 2:00:00 or --time 1-12)",
    ),
    "mem": (_SLURM_MEM, "use a number with an optional K, M, G or T suffix (e.g. --mem 16G)"),
    "cpus-per-task": (_POSITIVE_INT, "use a positive whole number (e.g. --cpus-per-task 4)"),
}


def check_sbatch_option(key: str, value: str) -> str:
    """The value of `#SBATCH --KEY=VALUE`, once it is valid for KEY and safe on that line."""
    rule, advice = _OPTION_RULES.get(
        key, (_SBATCH_VALUE, "use letters, digits and : , = + / @ % - . _ only")
    )
    if not rule.fullmatch(value):
        raise BadInput(f"--{key} {value!r}: {advice}.")
    return value


def slurm_script(env: Env, command: Sequence[str], options: Mapping[str, str | None]) -> str:
    if not command:
        raise BadInput("Give the command to run after '--', e.g. -- python train.py")
    lines = ["#!/bin/bash"]
    for key, value in options.items():
        if value is None:
            continue
        lines.append(f"#SBATCH --{key}={check_sbatch_option(key, str(value))}")
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
