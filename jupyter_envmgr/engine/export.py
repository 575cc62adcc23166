"""Exporting an env: YAML (pinned / --from-history / --no-builds), @EXPLICIT, and lock files:
conda-lock.yml, pixi.lock (version 7, or 6), our rattler lock.

`export_env` is the one entry the faces call (`envmgr env export`, `GET .../export`): it names
the formats, refuses an unknown one or a platform that is not one before anything is read or
solved, and says what a download calls the file. The lock formats go through
`env_lock.lock_env`: the env's own platform from its records, each other platform solved.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import rattler
import yaml

from .activation import state_env_vars
from .blocking import run_blocking
from .env_lock import EnvLock, check_platforms, lock_env
from .errors import BadInput
from .pip_packages import pip_distributions
from .prefix import channel_display, read_records, requested_specs
from .registry import Env
from .settings import Settings

if TYPE_CHECKING:
    from .policy import Policy

# Format -> (the file name a download gets, its media type). The CLI's flags map onto these
# names (no flag: yml; --from-history, --explicit, --lock), the REST API takes them as ?format=.
EXPORT_FORMATS: dict[str, tuple[str, str]] = {
    "yml": ("environment.yml", "text/yaml"),
    "from-history": ("environment.yml", "text/yaml"),
    "explicit": ("explicit.txt", "text/plain"),
    "lock": ("envmgr.lock", "text/yaml"),
    "conda-lock": ("conda-lock.yml", "text/yaml"),
    "pixi-lock": ("pixi.lock", "text/yaml"),
    "pixi-lock-v6": ("pixi.lock", "text/yaml"),
}
# What each format is for (the CLI's help and the REST API's documentation say the same).
FORMAT_USES: dict[str, str] = {
    "yml": "environment.yml with every package pinned (conda env create, Binder, repo2docker)",
    "from-history": "environment.yml with only what was asked for (portable across platforms)",
    "explicit": "@EXPLICIT list of package URLs (conda create --file), this platform only",
    "lock": "rattler lock (pixi.lock v7 layout) named envmgr.lock",
    "conda-lock": "conda-lock.yml v1 (conda-lock install, conda-store, micromamba, conda with "
    "conda-lockfiles)",
    "pixi-lock": "pixi.lock v7 (pixi)",
    "pixi-lock-v6": "pixi.lock v6 (older pixi, conda-lockfiles)",
}
# The formats that can hold several platforms (`platforms=`, --platform).
LOCK_FORMATS = ("lock", "conda-lock", "pixi-lock", "pixi-lock-v6")


@dataclass(frozen=True)
class Exported:
    text: str
    filename: str  # what a download calls the file
    media_type: str
    notes: list[str] = field(default_factory=list)  # what the file could not carry


def check_export(fmt: str, platforms: Sequence[str] = ()) -> list[str]:
    """The format and platforms checked before anything is read or solved (a bad request is
    a 400 at once); the platforms as subdirs."""
    if fmt not in EXPORT_FORMATS:
        raise BadInput(f"Unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}.")
    if platforms and fmt not in LOCK_FORMATS:
        raise BadInput(
            f"The {fmt} export is of this platform's env; other platforms go into a lock file: "
            f"use one of the formats {', '.join(LOCK_FORMATS)}."
        )
    return check_platforms(platforms)


def export_env(
    settings: Settings,
    env: Env,
    fmt: str = "yml",
    *,
    no_builds: bool = False,
    platforms: Sequence[str] = (),
    policy: Policy | None = None,
) -> Exported:
    """The env in format `fmt` (one of EXPORT_FORMATS). `no_builds` leaves out build strings of
    the pinned YAML; the other formats keep theirs (an @EXPLICIT URL or a lock entry names an
    exact build, a --from-history spec is what the user typed). `platforms`: lock formats only,
    the platforms to lock besides the env's own, each solved from the env's history specs
    (their channels checked against `policy`). Blocking (reads records; solves for other
    platforms): call it in a thread."""
    wanted = check_export(fmt, platforms)
    filename, media_type = EXPORT_FORMATS[fmt]
    if fmt in LOCK_FORMATS:
        lock = run_blocking(lock_env(settings, env, wanted, policy=policy))
        text, notes = export_lock_file(settings, env, lock, fmt)
        return Exported(text, filename, media_type, notes)
    if fmt == "explicit":
        text = export_explicit(env)
    else:
        text = export_yaml(settings, env, from_history=fmt == "from-history", no_builds=no_builds)
    return Exported(text, filename, media_type)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("jupyter_envmgr")
    except PackageNotFoundError:  # run from a source tree
        return "(source)"


def export_lock_file(
    settings: Settings, env: Env, lock: EnvLock, fmt: str
) -> tuple[str, list[str]]:
    """`lock` as the lock format `fmt`, and what it could not carry."""
    from .lock_formats import unwritten_pip, write_conda_lock, write_pixi_lock

    if fmt == "conda-lock":
        names = [channel_display(c, settings.channel_alias) for c in lock.channels]
        text = write_conda_lock(
            lock, channel_names=names, created_by=f"jupyter_envmgr {_version()}",
            env_label=env.label,
        )  # fmt: skip
    else:
        text = write_pixi_lock(lock, 6 if fmt == "pixi-lock-v6" else 7)
    notes = []
    missing = unwritten_pip(lock)
    if missing:
        notes.append(
            f"Not in the file (pip recorded no file URL for them): {' '.join(missing)}; "
            "install them after creating the env with pip install --no-deps."
        )
    with_pip = [p for p, locked in lock.platforms.items() if locked.pip]
    without = [p for p in lock.platforms if p not in with_pip]
    if with_pip and without:
        notes.append(
            f"pip packages are locked for {', '.join(with_pip)} only, not for "
            f"{', '.join(without)}: pip cannot resolve another platform's packages from here."
        )
    return text, notes


def _channel_order(records: list[rattler.PrefixRecord], settings: Settings) -> list[str]:
    """Most-used channel first: it is the one an exported env's plain specs resolve from."""
    counts = Counter(channel_display(r.channel, settings.channel_alias) for r in records)
    return [ch for ch, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def pip_packages(prefix: Path, records: list[rattler.PrefixRecord]) -> list[str]:
    """`name==version` of dist-info folders no conda record owns: installed with pip.
    `records` need only their paths inside `.dist-info/` folders (`files="dist-info"`)."""
    return [f"{d.name}=={d.version}" for d in pip_distributions(prefix, records)]


def export_yaml(
    settings: Settings, env: Env, *, from_history: bool = False, no_builds: bool = False
) -> str:
    records = read_records(env.prefix, files="none" if from_history else "dist-info")
    records.sort(key=lambda r: r.name.normalized)
    channels = _channel_order(records, settings)
    if from_history:
        deps: list[str | dict[str, list[str]]] = list(requested_specs(env.prefix).values())
    else:
        deps = []
        for r in records:
            pin = f"{r.name.normalized}={r.version}" + ("" if no_builds else f"={r.build}")
            channel = channel_display(r.channel, settings.channel_alias)
            # Strict priority takes a name from the first channel that has it: packages from a
            # later channel keep their channel, so the file recreates the same set.
            deps.append(pin if channels and channel == channels[0] else f"{channel}::{pin}")
        pip = pip_packages(env.prefix, records)
        if pip:
            deps.append({"pip": pip})
    doc: dict[str, object] = {
        "name": env.name or env.prefix.name,
        "channels": channels,
        "dependencies": deps,
    }
    # `env config vars`, as conda exports them; `create -f` writes them back.
    variables = state_env_vars(env.prefix)
    if variables:
        doc["variables"] = variables
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


def export_explicit(
    env: Env,
    *,
    digest: Literal["sha256", "md5", "none"] = "sha256",
    names: re.Pattern[str] | None = None,
) -> str:
    """The @EXPLICIT list, each URL with its sha256 (else md5), or only md5 (conda's and
    micromamba's `list --explicit --md5`), or none. `names`: only packages whose name this
    regular expression finds (`list PATTERN --explicit`)."""
    records = read_records(env.prefix, files="none")
    by_name = {r.name.normalized: r for r in records}
    # Dependencies first, as conda writes it; sort_topologically returns bare PackageRecords.
    records = [
        by_name[r.name.normalized]
        for r in rattler.PrefixRecord.sort_topologically(list[rattler.PackageRecord](records))
    ]
    lines = [
        "# This file may be used to create an environment using:",
        "# $ envmgr create --name <env> --file <this file>",
        f"# platform: {rattler.Subdir.current()}",
        "@EXPLICIT",
    ]
    for r in records:
        if names is not None and not names.search(r.name.normalized):
            continue
        md5 = r.md5.hex() if r.md5 else ""
        if digest == "sha256":
            text = f"sha256:{r.sha256.hex()}" if r.sha256 else md5
        else:
            text = md5 if digest == "md5" else ""
        lines.append(f"{r.url}#{text}" if text else r.url)
    return "\n".join(lines) + "\n"


def export_lock(settings: Settings, env: Env) -> str:
    """The env's records (and pip packages with a URL) as a rattler lock for its platform."""
    return export_env(settings, env, "lock").text
