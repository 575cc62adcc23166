"""`--platform SUBDIR`: solve and create an env for another subdir (a `linux-aarch64` env to
copy to a cluster's other nodes), and remember it in the env as conda and micromamba do.

This machine cannot detect another platform's virtual packages, so a foreign platform gets
generic ones, as conda's `CONDA_OVERRIDE_*` variables would give them (each overridable by that
variable): `__unix` on Linux and macOS; `__linux` 5.10 and `__glibc` 2.17 (the oldest glibc
conda-forge builds for) on Linux; `__osx` 11.0 on macOS (10.15 on osx-64); `__win` on Windows;
`__archspec` the platform's base architecture; `__cuda` only when CONDA_OVERRIDE_CUDA is set.

The platform is written into the env: `.condarc` with `subdir:` (conda's key) and `.mambarc`
with `platform:` (micromamba's). Later operations on the env read it back and keep solving for
that platform; an env for another platform never runs its binaries (no post-link script, no
pip step, no kernel started).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import rattler
from rattler.package.build_string import BuildString

from .errors import BadInput

_CONDARC = ".condarc"
_MAMBARC = ".mambarc"

# Defaults of the generic virtual packages (see the module docstring), and the variable that
# overrides each, as conda and micromamba name them.
_LINUX = ("__linux", "CONDA_OVERRIDE_LINUX", "5.10")
_GLIBC = ("__glibc", "CONDA_OVERRIDE_GLIBC", "2.17")
_CUDA_VAR = "CONDA_OVERRIDE_CUDA"
_ARCHSPEC = {"64": "x86_64", "aarch64": "aarch64", "arm64": "arm64", "ppc64le": "ppc64le",
             "s390x": "s390x", "32": "x86"}  # fmt: skip


def parse_platform(text: str) -> rattler.Subdir:
    """A `--platform` value as a subdir; bad input says what a subdir looks like."""
    value = text.strip()
    try:
        subdir = rattler.Subdir(value)
    except Exception:
        raise BadInput(
            f"--platform {text!r} is not a platform: use a conda subdir such as linux-64, "
            "linux-aarch64, osx-arm64 or win-64."
        ) from None
    if value == "noarch":
        raise BadInput("--platform noarch is not a platform to create for: name one like linux-64.")
    return subdir


def is_foreign(subdir: rattler.Subdir | None) -> bool:
    """True for a platform other than this machine's."""
    return subdir is not None and str(subdir) != str(rattler.Subdir.current())


def _generic(name: str, version: str, build: str = "0") -> rattler.GenericVirtualPackage:
    return rattler.GenericVirtualPackage(
        rattler.PackageName(name), rattler.Version(version), BuildString(build)
    )


def foreign_virtual_packages(
    subdir: rattler.Subdir, environ: Mapping[str, str] | None = None
) -> list[rattler.GenericVirtualPackage]:
    """The assumed virtual packages of another platform (module docstring)."""
    env = os.environ if environ is None else environ
    name = str(subdir)
    os_name, _, arch = name.partition("-")
    out: list[rattler.GenericVirtualPackage] = []
    if os_name in ("linux", "osx"):
        out.append(_generic("__unix", "0"))
    if os_name == "linux":
        for package, var, default in (_LINUX, _GLIBC):
            out.append(_generic(package, env.get(var) or default))
    elif os_name == "osx":
        out.append(_generic("__osx", env.get("CONDA_OVERRIDE_OSX") or _osx_default(arch)))
    elif os_name == "win":
        out.append(_generic("__win", "0"))
    if env.get(_CUDA_VAR):
        out.append(_generic("__cuda", env[_CUDA_VAR]))
    if arch in _ARCHSPEC:
        out.append(_generic("__archspec", "1", _ARCHSPEC[arch]))
    return out


def _osx_default(arch: str) -> str:
    return "11.0" if arch == "arm64" else "10.15"


def env_platform(prefix: Path) -> rattler.Subdir | None:
    """The platform an env was created for (its `.condarc` `subdir:` or `.mambarc`
    `platform:`), or None for an env of this machine's platform."""
    for filename, key in ((_CONDARC, "subdir"), (_MAMBARC, "platform")):
        value = _rc_value(prefix / filename, key)
        if value:
            return parse_platform(value)
    return None


def _rc_value(path: Path, key: str) -> str | None:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    import yaml  # only for an env that has an rc file of its own

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    value = data.get(key) if isinstance(data, dict) else None
    return str(value) if value else None


def write_env_platform(prefix: Path, subdir: rattler.Subdir) -> None:
    """Remember the env's platform where conda (`.condarc`) and micromamba (`.mambarc`) look."""
    (prefix / _CONDARC).write_text(f"subdir: {subdir}\n", encoding="utf-8")
    (prefix / _MAMBARC).write_text(f"platform: {subdir}\n", encoding="utf-8")
