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

_SBATCH_VALUE = re.compile(r"^[A-Za-z0-9_.:,=+/@%-]{1,200}$")


def slurm_script(env: Env, command: Sequence[str], options: Mapping[str, str | None]) -> str:
    if not command:
        raise BadInput("Give the command to run after '--', e.g. -- python train.py")
    lines = ["#!/bin/bash"]
    for key, value in options.items():
        if value is None:
            continue
        if not _SBATCH_VALUE.match(str(value)):
            raise BadInput(f"--{key} {value!r}: use letters, digits and : , = + / @ % - . _ only.")
        lines.append(f"#SBATCH --{key}={value}")
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
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
            continue  # not a variable name bash can export
        lines.append(f"export {key}={shlex.quote(value)}")
    for script in activate_scripts(env.prefix):
        lines.append(f". {shlex.quote(str(script))}")
    lines.append(f"exec {shlex.join(command)}")
    return "\n".join(lines) + "\n"
