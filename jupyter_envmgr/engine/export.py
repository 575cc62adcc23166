"""Exporting an env: YAML (pinned / --from-history / --no-builds), @EXPLICIT, rattler lock.

`export_env` is the one entry the faces call (`envmgr env export`, `GET .../export`): it names
the formats, refuses an unknown one, and says what a download calls the file.
"""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import rattler
import yaml

from .activation import state_env_vars
from .errors import BadInput, EnvMgrError
from .pip_packages import pip_distributions
from .prefix import channel_display, read_records, requested_specs
from .registry import Env
from .settings import Settings

# Format -> (the file name a download gets, its media type). The CLI's flags map onto these
# names (no flag: yml; --from-history, --explicit, --lock), the REST API takes them as ?format=.
EXPORT_FORMATS: dict[str, tuple[str, str]] = {
    "yml": ("environment.yml", "text/yaml"),
    "from-history": ("environment.yml", "text/yaml"),
    "explicit": ("explicit.txt", "text/plain"),
    "lock": ("envmgr.lock", "text/yaml"),
}


@dataclass(frozen=True)
class Exported:
    text: str
    filename: str  # what a download calls the file
    media_type: str


def export_env(
    settings: Settings, env: Env, fmt: str = "yml", *, no_builds: bool = False
) -> Exported:
    """The env in format `fmt` (one of EXPORT_FORMATS). `no_builds` leaves out build strings of
    the pinned YAML; the other formats keep theirs (an @EXPLICIT URL or a lock entry names an
    exact build, a --from-history spec is what the user typed). Blocking (reads records)."""
    if fmt not in EXPORT_FORMATS:
        raise BadInput(f"Unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}.")
    if fmt == "explicit":
        text = export_explicit(env)
    elif fmt == "lock":
        text = export_lock(settings, env)
    else:
        text = export_yaml(settings, env, from_history=fmt == "from-history", no_builds=no_builds)
    filename, media_type = EXPORT_FORMATS[fmt]
    return Exported(text, filename, media_type)


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
    records = read_records(env.prefix, files="none")
    platform = rattler.LockPlatform(str(rattler.Subdir.current()))
    try:
        lock = rattler.LockFile([platform])
        channels = []
        for r in records:
            url = (r.channel or "").rstrip("/")
            if url and url not in channels:
                channels.append(url)
        lock.set_channels("default", [rattler.LockChannel(c) for c in channels])
        for r in records:
            lock.add_conda_package("default", platform, r)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "envmgr.lock"
            lock.to_path(path)
            return path.read_text(encoding="utf-8")
    # rattler's lock-file calls can raise PanicException, a BaseException.
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise EnvMgrError(f"Writing the lock file failed: {exc}") from None
