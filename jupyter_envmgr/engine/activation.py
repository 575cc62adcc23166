"""The environment variables `micromamba activate` would set, computed without a shell around
user text: PATH, CONDA_PREFIX & co, `conda-meta/state` env vars, and the effects of
`etc/conda/activate.d/*.sh` scripts (sourced by bash with their paths as arguments).

Used by `envmgr run`, batch scripts and the kernel provisioner alike.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from .errors import EnvMgrError
from .prefix import META

# Variables bash itself sets or changes while sourcing; they are not the scripts' effects.
_SHELL_NOISE = {"_", "SHLVL", "PWD", "OLDPWD", "BASH_EXECUTION_STRING"}


def state_env_vars(prefix: Path) -> dict[str, str]:
    """`conda env config vars set` stores variables in conda-meta/state."""
    try:
        data = json.loads((prefix / META / "state").read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    env_vars = data.get("env_vars", {}) if isinstance(data, dict) else {}
    return {str(k): str(v) for k, v in env_vars.items()}


def write_state_env_vars(prefix: Path, env_vars: Mapping[str, str]) -> None:
    """What `conda env config vars set` does: the vars live in conda-meta/state."""
    path = prefix / META / "state"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        data = {}
    data.setdefault("env_vars", {}).update({str(k): str(v) for k, v in env_vars.items()})
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def activate_scripts(prefix: Path) -> list[Path]:
    folder = prefix / "etc" / "conda" / "activate.d"
    return sorted(p for p in folder.glob("*.sh") if p.is_file()) if folder.is_dir() else []


def base_activation(
    prefix: Path, environ: Mapping[str, str], name: str | None = None
) -> dict[str, str]:
    env = dict(environ)
    old_prefix = env.get("CONDA_PREFIX")
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p]
    if old_prefix:
        # Activating B from inside A replaces A's bin dir, as `micromamba activate` does.
        path = [p for p in path if p != str(Path(old_prefix) / "bin")]
    env["PATH"] = os.pathsep.join([str(prefix / "bin"), *path])
    env["CONDA_PREFIX"] = str(prefix)
    env["CONDA_DEFAULT_ENV"] = name or str(prefix)
    env["CONDA_PROMPT_MODIFIER"] = f"({name or prefix}) "
    env["CONDA_SHLVL"] = str(int(env.get("CONDA_SHLVL", "0") or 0) + 1)
    env.update(state_env_vars(prefix))
    return env


def _run_scripts(scripts: list[Path], env: dict[str, str]) -> dict[str, str]:
    code = 'for f in "$@"; do . "$f" || exit 97; done; env -0'
    try:
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-c", code, "envmgr-activate", *map(str, scripts)],
            env=env,
            capture_output=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EnvMgrError(f"Running the activation scripts failed: {exc}") from None
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()
        raise EnvMgrError(f"An activation script of the environment failed: {err}")
    # Variables bash sets for itself keep their values from before (PWD, SHLVL, ...).
    result = {k: v for k, v in env.items() if k in _SHELL_NOISE}
    for item in proc.stdout.split(b"\0"):
        if b"=" in item:
            key, _, value = item.decode(errors="replace").partition("=")
            if key not in _SHELL_NOISE:
                result[key] = value
    return result


def activated_environ(
    prefix: Path, environ: Mapping[str, str] | None = None, name: str | None = None
) -> dict[str, str]:
    """The full environment of a process started in the activated env."""
    env = base_activation(prefix, os.environ if environ is None else environ, name)
    scripts = activate_scripts(prefix)
    return _run_scripts(scripts, env) if scripts else env
