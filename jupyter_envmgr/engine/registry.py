"""Finding environments: named envs in every envs dir, `~/.conda/environments.txt`, the root prefix.

Envs made by conda or micromamba count as much as ours: an env is any directory with `conda-meta/`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import BadInput, EnvExists, EnvNotFound, Forbidden
from .prefix import is_conda_prefix
from .settings import Settings

# conda forbids '/', ' ', ':', '#'; we also refuse anything that is not plain ASCII so that
# look-alike unicode names, control characters and shell metacharacters never become paths.
# Used with fullmatch: `$` would also match before a trailing newline ("e1\n").
_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,99}")
RESERVED_NAMES = {"base", "root"}


@dataclass(frozen=True)
class Env:
    prefix: Path
    name: str | None  # None for an env outside every envs dir (a "prefix env")
    is_root: bool = False

    @property
    def label(self) -> str:
        return self.name or str(self.prefix)

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "prefix": str(self.prefix), "is_root": self.is_root}


def validate_env_name(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise BadInput("The environment name is empty. Give a name such as 'data-analysis'.")
    if name in RESERVED_NAMES:
        raise BadInput(f"'{name}' is reserved for the root environment. Choose another name.")
    if name in (".", "..") or not _NAME_RE.fullmatch(name):
        raise BadInput(
            f"{name!r} is not a valid environment name: use up to 100 ASCII letters, digits and "
            "'_', '.', '+', '-', starting with a letter, digit or '_' (no '/', spaces or ':')."
        )
    return name


def _read_environments_txt(settings: Settings) -> list[Path]:
    try:
        lines = settings.environments_txt.read_text(encoding="utf-8").splitlines()
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [Path(line.strip()) for line in lines if line.strip()]


def _name_for(prefix: Path, settings: Settings) -> str | None:
    if prefix == settings.root_prefix:
        return "base"
    for envs_dir in settings.envs_dirs:
        if prefix.parent == envs_dir:
            return prefix.name
    return None


def list_envs(settings: Settings) -> list[Env]:
    """Every known env once: root, then each envs dir in order, then environments.txt entries."""
    candidates: list[Path] = [settings.root_prefix]
    for envs_dir in settings.envs_dirs:
        try:
            children = sorted(envs_dir.iterdir())
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        candidates += [c for c in children if c.is_dir() and not c.name.startswith(".")]
    candidates += _read_environments_txt(settings)

    envs: list[Env] = []
    seen: set[str] = set()
    for path in candidates:
        path = Path(os.path.abspath(path))
        if not is_conda_prefix(path):
            continue
        key = os.path.realpath(path)
        if key in seen:
            continue
        seen.add(key)
        envs.append(Env(path, _name_for(path, settings), is_root=path == settings.root_prefix))
    return envs


# A key never is a valid env name: names cannot start with '~'.
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def env_key(env: Env) -> str:
    """How the REST API and the UI address an env: its name, or for an env outside the envs
    dirs (a prefix env, registered in environments.txt) `~<folder>-<hash of its path>`: stable,
    readable, and never a name, so the two cannot meet."""
    if env.name:
        return env.name
    import hashlib  # here: most commands never address an env by key

    folder = _KEY_UNSAFE.sub("-", env.prefix.name)[:40].strip("-") or "env"
    digest = hashlib.sha1(str(env.prefix).encode()).hexdigest()[:10]
    return f"~{folder}-{digest}"


def find_listed_env(settings: Settings, key: str) -> Env:
    """The env whose `env_key` is `key`, among the envs `list_envs` lists and only those: a
    key is never read as a path, so a request can reach no folder the registry does not name."""
    if key.startswith("~"):
        for env in list_envs(settings):
            if env.name is None and env_key(env) == key:
                return env
        raise EnvNotFound(
            f"No registered environment has the key {key!r}. List environments again: it may "
            "have been removed, or dropped from ~/.conda/environments.txt."
        )
    return find_env(settings, name=key)


def find_env(settings: Settings, *, name: str | None = None, prefix: str | None = None) -> Env:
    """The existing env a user named with `-n NAME` or `-p PREFIX`."""
    if prefix is not None:
        path = _user_path(prefix)
        if not is_conda_prefix(path):
            raise EnvNotFound(
                f"{path} is not a conda environment (it has no conda-meta/ folder). "
                "Check the path, or list environments with 'envmgr env list'."
            )
        return Env(path, _name_for(path, settings), is_root=path == settings.root_prefix)
    if name is None:
        raise BadInput("Name the environment with -n NAME or -p PREFIX.")
    if name in RESERVED_NAMES:
        if is_conda_prefix(settings.root_prefix):
            return Env(settings.root_prefix, "base", is_root=True)
        raise EnvNotFound(f"The root prefix {settings.root_prefix} is not a conda environment.")
    validate_env_name(name)
    for envs_dir in settings.envs_dirs:
        path = envs_dir / name
        if is_conda_prefix(path):
            return Env(path, name)
    raise EnvNotFound(
        f"No environment named '{name}' in {', '.join(map(str, settings.envs_dirs))}. "
        "List environments with 'envmgr env list' or create it with 'envmgr create -n "
        f"{name} ...'."
    )


def _user_path(text: str) -> Path:
    if not isinstance(text, str) or not text.strip():
        raise BadInput("The prefix path is empty.")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        # A newline would split the path across two lines of environments.txt.
        raise BadInput(f"The prefix path {text!r} contains a control character (a newline?).")
    return Path(os.path.abspath(os.path.expanduser(text)))


def new_env_target(
    settings: Settings,
    *,
    name: str | None = None,
    prefix: str | None = None,
    read_only_dirs: Sequence[str] = (),
) -> Env:
    """Where `create` will put a new env; refuses names and paths that are taken. A named env
    goes to the first envs dir this user can write that is not one of `read_only_dirs`."""
    if prefix is not None:
        path = _user_path(prefix)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise EnvExists(
                f"{path} already exists and is not an empty folder. Choose a new path, or "
                "remove the old environment first."
            )
        if not can_write_below(path.parent):
            raise Forbidden(
                f"Cannot create {path}: you cannot write {_existing(path.parent)} (it belongs to "
                f"{owner_of(_existing(path.parent))}). Create it in your own envs with -n NAME, "
                "or choose a folder you can write."
            )
        return Env(path, _name_for(path, settings))
    if name is None:
        raise BadInput("Name the new environment with -n NAME or -p PREFIX.")
    validate_env_name(name)
    for envs_dir in settings.envs_dirs:
        if (envs_dir / name).exists():
            raise EnvExists(
                f"An environment named '{name}' already exists at {envs_dir / name}. "
                "Choose another name, or install into it with 'envmgr install -n "
                f"{name} ...'."
            )
    # The first envs dir this user can write, as conda does: a site envs dir an admin named
    # in the system-wide .condarc comes before ~/micromamba/envs but is not the user's.
    avoid = {Path(os.path.realpath(d)) for d in read_only_dirs}
    home = next(
        (
            d
            for d in settings.envs_dirs
            if can_write_below(d) and Path(os.path.realpath(d)) not in avoid
        ),
        settings.envs_dirs[0],
    )
    return Env(home / name, name)


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def can_write_below(folder: Path) -> bool:
    """Whether this process can make entries in `folder` (or make `folder` itself, when its
    nearest existing parent is writable)."""
    return os.access(_existing(folder), os.W_OK | os.X_OK)


def owner_of(path: Path) -> str:
    """The user name owning `path` (lstat's st_uid), or `uid N`."""
    try:
        uid = os.lstat(path).st_uid
    except OSError:
        return "nobody known"
    return user_name(uid)


def user_name(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return f"uid {uid}"


def register_env(settings: Settings, prefix: Path) -> None:
    """Add to ~/.conda/environments.txt as conda and micromamba do, so they see our envs."""
    known = {str(p) for p in _read_environments_txt(settings)}
    if str(prefix) in known:
        return
    settings.environments_txt.parent.mkdir(parents=True, exist_ok=True)
    with open(settings.environments_txt, "a", encoding="utf-8") as fh:
        fh.write(f"{prefix}\n")


def unregister_env(settings: Settings, prefix: Path) -> None:
    entries = _read_environments_txt(settings)
    kept = [p for p in entries if p != prefix]
    if len(kept) != len(entries):
        tmp = settings.environments_txt.with_suffix(".txt.tmp")
        tmp.write_text("".join(f"{p}\n" for p in kept), encoding="utf-8")
        os.replace(tmp, settings.environments_txt)
