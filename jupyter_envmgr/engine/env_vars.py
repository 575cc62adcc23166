"""`env config vars list | set | unset`: an env's variables in `conda-meta/state`, as conda keeps
them (`{"env_vars": {NAME: VALUE}}`). `activation.py` applies them wherever the env is activated
(`run`, kernels, the shell hook, batch scripts); `export.py` writes them as `variables:`.

Every value is checked before the file changes, and the file is replaced whole (a reader never
sees half of it); a state file that is not conda's JSON is an error that changes nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from .envfile import ENV_VAR_NAME, MAX_VARIABLE_CHARS, MAX_VARIABLES
from .errors import BadInput, EnvMgrError
from .prefix import META


def state_file(prefix: Path) -> Path:
    return prefix / META / "state"


def read_env_vars(prefix: Path) -> dict[str, str]:
    """The env's variables; a damaged state file is an error (a write would lose it)."""
    data = _read_state(prefix)
    env_vars = data.get("env_vars", {})
    if not isinstance(env_vars, dict):
        raise EnvMgrError(
            f"{state_file(prefix)}: 'env_vars' is not a mapping. Fix or remove that file."
        )
    return {str(k): str(v) for k, v in env_vars.items()}


def parse_assignments(items: Sequence[str]) -> dict[str, str]:
    """`NAME=VALUE` words (as `conda env config vars set` takes them) -> {NAME: VALUE}."""
    if not items:
        raise BadInput("Give NAME=VALUE, e.g. envmgr env config vars set -n data MY_VAR=1.")
    values: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise BadInput(f"{item!r} has no '=': write NAME=VALUE, e.g. {item or 'MY_VAR'}=1.")
        check_name(name)
        if len(value) > MAX_VARIABLE_CHARS or "\0" in value or "\n" in value:
            raise BadInput(
                f"The value of {name} must be one line of at most {MAX_VARIABLE_CHARS} "
                "characters, without NUL."
            )
        values[name] = value
    return values


def check_name(name: str) -> str:
    if not ENV_VAR_NAME.fullmatch(name):
        raise BadInput(
            f"{name!r} is not a variable name; use letters, digits and '_', not starting "
            "with a digit (e.g. MY_VAR)."
        )
    return name


def set_env_vars(prefix: Path, values: Mapping[str, str]) -> dict[str, str]:
    """Add or replace variables; returns them all."""
    data = _read_state(prefix)
    env_vars = {**read_env_vars(prefix), **values}
    if len(env_vars) > MAX_VARIABLES:
        raise BadInput(f"An environment holds at most {MAX_VARIABLES} variables.")
    _write_state(prefix, {**data, "env_vars": env_vars})
    return env_vars


def unset_env_vars(prefix: Path, names: Iterable[str]) -> list[str]:
    """Remove variables; returns the names that were set (a name not set is no error, as
    conda's)."""
    names = [check_name(n) for n in names]
    data = _read_state(prefix)
    env_vars = read_env_vars(prefix)
    removed = [n for n in names if env_vars.pop(n, None) is not None]
    if removed:
        _write_state(prefix, {**data, "env_vars": env_vars})
    return removed


def _read_state(prefix: Path) -> dict[str, object]:
    path = state_file(prefix)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (ValueError, OSError) as exc:
        raise EnvMgrError(f"{path} cannot be read ({exc}). Fix or remove that file.") from None
    if not isinstance(data, dict):
        raise EnvMgrError(f"{path} is not a JSON object. Fix or remove that file.")
    return data


def _write_state(prefix: Path, data: Mapping[str, object]) -> None:
    path = state_file(prefix)
    tmp = path.with_name(f".{path.name}.envmgr-tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise EnvMgrError(f"Cannot write {path}: {exc.strerror or exc}.") from None
