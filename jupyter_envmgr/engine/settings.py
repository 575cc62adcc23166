"""Where environments and packages live, and which channels to use.

Mirrors micromamba: root prefix `~/micromamba` (or `MAMBA_ROOT_PREFIX`), channel `conda-forge`,
strict channel priority; read from the usual rc files and environment variables so that an env
made by conda or micromamba and one made here are managed alike.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, get_args

from .errors import BadInput

DEFAULT_CHANNEL_ALIAS = "https://conda.anaconda.org"
DEFAULT_LOCK_TIMEOUT = 600.0

# Which solver computes package sets (engine/solver.py): rattler's own, or libmamba's (conda's
# default solver, mamba's only one) when libmambapy 2.x is installed.
SolverName = Literal["rattler", "libmamba"]
SOLVERS: tuple[SolverName, ...] = get_args(SolverName)
DEFAULT_SOLVER: SolverName = "rattler"


@dataclass(frozen=True)
class Settings:
    root_prefix: Path
    envs_dirs: tuple[Path, ...]
    pkgs_dirs: tuple[Path, ...]
    channels: tuple[str, ...] = ("conda-forge",)
    channel_alias: str = DEFAULT_CHANNEL_ALIAS
    custom_channels: Mapping[str, str] = field(default_factory=dict)
    channel_priority: str = "strict"
    # Seconds to wait for another process's lock on an environment before failing with Locked.
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    solver: SolverName = DEFAULT_SOLVER
    # No network (`--offline`, `offline: true`): the package cache and cached indexes only.
    offline: bool = False
    # Files that fed these settings, most important last (for `envmgr info`).
    sources: tuple[str, ...] = ()
    home: Path = field(default_factory=Path.home)

    @property
    def pkgs_dir(self) -> Path:
        """The package cache we write to: the first one we can write, as conda does (a site
        cache we can only read, listed before it, is a read-only layer: cache_layers.py)."""
        from .cache_layers import first_writable

        return first_writable(self.pkgs_dirs)

    @property
    def environments_txt(self) -> Path:
        return self.home / ".conda" / "environments.txt"

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """What `envmgr info` and the server's /settings show."""
        return {
            "root_prefix": str(self.root_prefix),
            "envs_dirs": [str(p) for p in self.envs_dirs],
            "pkgs_dirs": [str(p) for p in self.pkgs_dirs],
            "channels": list(self.channels),
            "channel_alias": self.channel_alias,
            "channel_priority": self.channel_priority,
            "solver": self.solver,
            "offline": self.offline,
            "config_files": list(self.sources),
        }


# System-wide rc files, as conda and micromamba read them before the user's: where an admin
# names site folders (e.g. `envs_dirs: [/site/envs]`) for every user. `$CONDA_ROOT` too.
SYSTEM_RC_DIRS = ("/etc/conda", "/var/lib/conda")


def _system_rc_files(env: Mapping[str, str]) -> list[Path]:
    dirs = [Path(d) for d in SYSTEM_RC_DIRS]
    if env.get("CONDA_ROOT"):
        dirs.append(Path(env["CONDA_ROOT"]).expanduser())
    files: list[Path] = []
    for folder in dirs:
        files += [folder / ".condarc", folder / "condarc"]
        files += sorted(folder.glob("condarc.d/*.y*ml"))
        files.append(folder / ".mambarc")
    return files


def _rc_files(env: Mapping[str, str], home: Path) -> list[Path]:
    # Least important first; later files override earlier ones key by key.
    files = _system_rc_files(env) + [
        home / ".config" / "conda" / ".condarc",
        home / ".conda" / ".condarc",
        home / ".condarc",
        home / ".mambarc",
    ]
    for var in ("CONDARC", "MAMBARC"):
        if env.get(var):
            files.append(Path(env[var]).expanduser())
    return files


def _read_rc(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return {}
    import yaml  # here: most users have no rc file, and every command reads the settings

    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise BadInput(
            f"Configuration file {path} is not valid YAML: {exc}. Fix or remove it."
        ) from None
    if not isinstance(data, dict):
        raise BadInput(f"Configuration file {path} must be a mapping of keys to values.")
    return data


def _split_path_list(value: str) -> list[str]:
    # conda separates these lists with commas, older docs and HPC sites with ':'.
    parts: list[str] = []
    for chunk in value.split(","):
        parts.extend(p for p in chunk.split(os.pathsep) if p)
    return parts


def _expand(path: str | os.PathLike[str], env: Mapping[str, str], home: Path) -> Path:
    text = os.fspath(path)
    if text.startswith("~"):
        text = str(home) + text[1:]
    for key, val in env.items():
        text = text.replace("${" + key + "}", val).replace("$" + key, val)
    return Path(os.path.abspath(text))


def _unique(paths: list[Path]) -> tuple[Path, ...]:
    seen: list[Path] = []
    for p in paths:
        if p not in seen:
            seen.append(p)
    return tuple(seen)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def solver_name(value: object) -> SolverName:
    """The `solver` of an rc file, `CONDA_SOLVER` or `--solver`, as conda spells it. conda's
    `classic` solver has no counterpart here: an rc file written for conda that names it gets
    the default, rattler."""
    text = str(value).strip().lower()
    if text == "classic":
        return DEFAULT_SOLVER
    for name in SOLVERS:
        if text == name:
            return name
    raise BadInput(
        f"The solver must be {' or '.join(SOLVERS)} (conda's 'classic' means rattler here), "
        f"not {value!r}: fix 'solver' in your .condarc or .mambarc, or CONDA_SOLVER."
    )


def load_settings(
    env: Mapping[str, str] | None = None,
    *,
    root_prefix: str | os.PathLike[str] | None = None,
    home: Path | None = None,
    rc_files: Sequence[str | os.PathLike[str]] | None = None,
) -> Settings:
    """Settings from rc files, then environment variables, then the explicit arguments.
    `rc_files`: read these files only, in this order, instead of the usual ones (micromamba's
    `--rc-file`); an empty list reads none (`--no-rc`)."""
    env = os.environ if env is None else env
    home = home or Path(env.get("HOME") or Path.home())
    config: dict[str, Any] = {}
    sources: list[str] = []
    system: set[Path] = set()
    if rc_files is None:
        files = _rc_files(env, home)
        system = set(_system_rc_files(env))
    else:
        files = [_expand(f, env, home) for f in rc_files]
        for rc in files:
            if not rc.is_file():
                raise BadInput(f"--rc-file {rc}: no such file. Give the path of a .condarc.")
    site_envs_dirs: list[str] = []  # a system file's envs_dirs are kept, after the user's own
    for rc in files:
        data = _read_rc(rc)
        if data:
            if rc in system and isinstance(data.get("envs_dirs"), list):
                site_envs_dirs += [str(p) for p in data["envs_dirs"]]
            config.update(data)
            sources.append(str(rc))

    if root_prefix is None:
        root_prefix = env.get("MAMBA_ROOT_PREFIX") or config.get("root_prefix") or "~/micromamba"
    root = _expand(root_prefix, env, home)

    envs_dirs = [str(p) for p in config.get("envs_dirs") or []]
    for var in ("CONDA_ENVS_PATH", "CONDA_ENVS_DIRS"):
        if env.get(var):
            envs_dirs = _split_path_list(env[var])
    envs_dirs += site_envs_dirs
    pkgs_dirs = [str(p) for p in config.get("pkgs_dirs") or []]
    if env.get("CONDA_PKGS_DIRS"):
        pkgs_dirs = _split_path_list(env["CONDA_PKGS_DIRS"])

    channels = config.get("channels") or ["conda-forge"]
    if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
        raise BadInput("'channels' in the configuration must be a list of channel names or URLs.")
    custom = config.get("custom_channels") or {}
    if not isinstance(custom, dict):
        raise BadInput("'custom_channels' in the configuration must map names to URLs.")
    priority = str(config.get("channel_priority", "strict")).lower()
    if priority not in ("strict", "flexible", "disabled"):
        raise BadInput(f"channel_priority must be strict, flexible or disabled, not {priority!r}.")
    lock_timeout = float(env.get("ENVMGR_LOCK_TIMEOUT") or DEFAULT_LOCK_TIMEOUT)
    solver = solver_name(env.get("CONDA_SOLVER") or config.get("solver") or DEFAULT_SOLVER)

    return Settings(
        root_prefix=root,
        envs_dirs=_unique([_expand(p, env, home) for p in envs_dirs] + [root / "envs"]),
        pkgs_dirs=_unique([_expand(p, env, home) for p in pkgs_dirs] + [root / "pkgs"]),
        channels=tuple(channels),
        channel_alias=str(config.get("channel_alias") or DEFAULT_CHANNEL_ALIAS).rstrip("/"),
        custom_channels={str(k): str(v).rstrip("/") for k, v in custom.items()},
        channel_priority=priority,
        lock_timeout=lock_timeout,
        solver=solver,
        offline=_truthy(env.get("CONDA_OFFLINE") or env.get("MAMBA_OFFLINE"))
        or bool(config.get("offline")),
        sources=tuple(sources),
        home=home,
    )
