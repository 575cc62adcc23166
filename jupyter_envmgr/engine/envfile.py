"""Reading environment files: env YAML, `@EXPLICIT` lists, lock files (conda-lock.yml v1,
pixi.lock v6/v7, our own rattler lock), spec lists.

The format is picked by content first, then file name, as micromamba and conda's lockfile
plugins do (lock_formats.detect_lock_format). Every error names the
file, the line and what to write instead, and is raised before anything on disk changes.

These files come from users (a path on the command line, an upload to the server), so they are
read with limits: a size cap enforced while reading, regular files only, and YAML composed
without aliases and with a nesting and node budget.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import rattler
import yaml

from .errors import BadInput
from .pip_lock import PipLockEntry
from .pip_requirements import check_pip_requirement

if TYPE_CHECKING:
    from .lock_formats import LockFormat

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_YAML_DEPTH = 20  # an env file nests 4 levels (root, dependencies, pip, entry)
MAX_YAML_NODES = 20_000  # thousands of dependencies; far below what makes composing slow
# A lock file lists every package of every platform, each with its record: a 3-platform
# conda-lock.yml of 500 packages has ~60,000 values. Still a few seconds at most to compose.
MAX_LOCK_YAML_NODES = 500_000
MAX_VARIABLES = 200
MAX_VARIABLE_CHARS = 4096
MAX_DISPLAY_NAME_CHARS = 200
YAML_KEYS = ("name", "channels", "dependencies", "prefix", "variables")
_MD5 = re.compile(r"[0-9a-f]{32}")
_SHA256 = re.compile(r"(sha256:)?[0-9a-f]{64}")
ENV_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_FILE_KINDS = {
    stat.S_ISDIR: "a folder",
    stat.S_ISFIFO: "a named pipe (FIFO)",
    stat.S_ISCHR: "a character device",
    stat.S_ISBLK: "a block device",
    stat.S_ISSOCK: "a socket",
}


@dataclass
class ExplicitEntry:
    line: int
    url: str
    md5: str | None = None
    sha256: str | None = None

    @property
    def file_name(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    @property
    def channel(self) -> str:
        return self.url.rsplit("/", 2)[0]

    @property
    def subdir(self) -> str:
        return self.url.rsplit("/", 2)[1]

    @property
    def name_version_build(self) -> tuple[str, str, str]:
        stem = self.file_name.removesuffix(".conda").removesuffix(".tar.bz2")
        name, version, build = stem.rsplit("-", 2)
        return name, version, build


# An env YAML, an @EXPLICIT list of package URLs, a lock file (conda-lock.yml, pixi.lock, a
# rattler lock: exact records, maybe pip entries), or a plain spec list.
FileKind = Literal["yaml", "explicit", "lock", "specs"]


@dataclass
class EnvFile:
    kind: FileKind
    path: str  # what messages call the file: its path, or an upload's name
    name: str | None = None
    channels: list[str] = field(default_factory=list)
    specs: list[str] = field(default_factory=list)
    pip: list[str] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    explicit: list[ExplicitEntry] = field(default_factory=list)
    records: Sequence[rattler.RepoDataRecord] | None = None  # a lock file's exact packages
    pip_lock: tuple[PipLockEntry, ...] = ()  # a lock file's exact pip packages (pip_lock.py)


# ---------------------------------------------------------------------------------------------
# Reading the bytes


def _too_large(name: str) -> BadInput:
    return BadInput(
        f"{name} is larger than {MAX_FILE_BYTES // 1024 // 1024} MB; an environment file is a "
        "short text file."
    )


def _require_regular_file(path: str) -> None:
    """Refuse folders, FIFOs, devices and sockets from their stat, before any open() that could
    block (a FIFO) or never end (/dev/zero)."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise BadInput(f"The file {path} does not exist.") from None
    except OSError as exc:
        raise BadInput(f"Cannot read {path}: {exc.strerror}.") from None
    for is_kind, what in _FILE_KINDS.items():
        if is_kind(st.st_mode):
            raise BadInput(f"{path} is {what}, not a file: give the path of an environment file.")
    if not stat.S_ISREG(st.st_mode):
        raise BadInput(f"{path} is not a regular file: give the path of an environment file.")


def _read_bounded(path: str) -> bytes:
    """At most MAX_FILE_BYTES + 1 bytes, whatever stat says (/proc files say 0, files grow)."""
    # O_NONBLOCK: should the path become a FIFO after the stat, open() still returns at once.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise BadInput(f"{path} is not a regular file: give the path of an environment file.")
        chunks: list[bytes] = []
        left = MAX_FILE_BYTES + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1024 * 1024))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > MAX_FILE_BYTES:
        raise _too_large(path)
    return data


def _decode(data: bytes, name: str) -> str:
    if b"\0" in data:
        raise BadInput(f"{name} is not a text file (it holds NUL bytes): give an environment file.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadInput(
            f"{name} is not a text file (it is not UTF-8): save it as UTF-8 text."
        ) from None


def _read_text(path: str) -> str:
    _require_regular_file(path)
    try:
        data = _read_bounded(path)
    except FileNotFoundError:
        raise BadInput(f"The file {path} does not exist.") from None
    except OSError as exc:
        raise BadInput(f"Cannot read {path}: {exc.strerror}.") from None
    return _decode(data, path)


def _check_uploaded_text(text: str, name: str) -> str:
    if not isinstance(text, str):
        raise BadInput(f"{name}: the file's content must be text.")
    # A char is at least one UTF-8 byte: a text this long is too large before encoding it.
    if len(text) > MAX_FILE_BYTES:
        raise _too_large(name)
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:  # lone surrogates: not text any editor would save
        raise BadInput(f"{name} is not a text file (it is not valid UTF-8).") from None
    if size > MAX_FILE_BYTES:
        raise _too_large(name)
    if "\0" in text:
        raise BadInput(f"{name} is not a text file (it holds NUL bytes): give an environment file.")
    return text.removeprefix("\ufeff")


def _safe_display_name(name: str) -> str:
    """An upload's name as messages may show it: one line, of a sane length."""
    if not isinstance(name, str) or not name.strip():
        return "the uploaded file"
    shown = _CONTROL_CHARS.sub("?", name.strip())
    if len(shown) > MAX_DISPLAY_NAME_CHARS:
        shown = shown[:MAX_DISPLAY_NAME_CHARS] + "..."
    return shown


# ---------------------------------------------------------------------------------------------
# Picking the format


def read_env_file(
    path: str, *, lock_env: str | None = None, platform: str | None = None
) -> EnvFile:
    """A user's env file from disk (`-f PATH`): any of the formats. `lock_env`: the pixi.lock
    environment to take (else `default`); `platform`: the lock's platform to take (else this
    machine's)."""
    return _parse_text(_read_text(path), path, lock_env, platform)


def read_env_text(
    text: str, display_name: str, *, lock_env: str | None = None, platform: str | None = None
) -> EnvFile:
    """An uploaded env file's text; `display_name` (the user's file name) picks the format by
    its extension and is the only name any message shows, never a temporary path."""
    name = _safe_display_name(display_name)
    return _parse_text(_check_uploaded_text(text, name), name, lock_env, platform)


def _parse_text(
    text: str, name: str, lock_env: str | None = None, platform: str | None = None
) -> EnvFile:
    from .lock_formats import detect_lock_format

    lines = [ln.strip() for ln in text.splitlines()]
    fmt = None if "@EXPLICIT" in lines else detect_lock_format(text, name)
    if fmt is not None:
        return _parse_lock_text(text, name, fmt, lock_env, platform)
    if lock_env is not None:
        raise BadInput(
            f"{name} is not a pixi.lock: only a pixi.lock has environments to choose from "
            f"(lock env {lock_env!r})."
        )
    if "@EXPLICIT" in lines:
        return _parse_explicit(name, text)
    if name.endswith((".yml", ".yaml")) or re.search(r"^(dependencies|channels|name):", text, re.M):
        return parse_env_yaml(text, name)
    return _parse_spec_list(text, name)


def _no_packages(name: str, hint: str) -> BadInput:
    return BadInput(f"{name}: names no packages; {hint}.")


def _parse_spec_list(text: str, name: str) -> EnvFile:
    specs = [ln.split("#", 1)[0].strip() for ln in text.splitlines()]
    env = EnvFile("specs", name, specs=[s for s in specs if s])
    if not env.specs:
        raise _no_packages(name, "write one package spec per line, e.g. 'numpy>=1.26'")
    return env


def _parse_explicit(path: str, text: str) -> EnvFile:
    env = EnvFile("explicit", path)
    seen = False
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line == "@EXPLICIT":
            seen = True
            continue
        if not line or line.startswith("#") or not seen:
            continue
        env.explicit.append(_explicit_entry(path, number, line))
    if not env.explicit:
        raise _no_packages(path, "list one package URL per line after '@EXPLICIT'")
    return env


def _explicit_entry(path: str, number: int, line: str) -> ExplicitEntry:
    url, _, digest = line.partition("#")
    url = url.strip()
    if not re.match(r"(https?|file)://", url) or not url.endswith((".conda", ".tar.bz2")):
        raise BadInput(
            f"{path}, line {number}: {url!r} is not a package URL (http(s):// or file:// "
            "ending in .conda or .tar.bz2)."
        )
    entry = ExplicitEntry(number, url)
    digest = digest.strip().lower()
    if digest:
        if _MD5.fullmatch(digest):
            entry.md5 = digest
        elif _SHA256.fullmatch(digest):
            entry.sha256 = digest.removeprefix("sha256:")
        else:
            raise BadInput(f"{path}, line {number}: {digest!r} is not an md5 or sha256 hash.")
    try:
        _ = entry.name_version_build  # checks the file name splits in three
    except ValueError:
        raise BadInput(
            f"{path}, line {number}: the file name is not <name>-<version>-<build>."
        ) from None
    return entry


def _parse_lock_text(
    text: str, name: str, fmt: LockFormat, lock_env: str | None, platform: str | None
) -> EnvFile:
    """A lock file's packages for one platform: `platform`, else this machine's. Every check
    (format, version, hashes, platforms) is made here, before anything is fetched."""
    from .lock_formats import read_conda_lock, read_pixi_lock

    if fmt == "conda-lock" and lock_env is not None:
        raise BadInput(
            f"{name} is a conda-lock file: it holds one environment, with no name to choose "
            f"(lock env {lock_env!r} is for a pixi.lock)."
        )
    data = _load_yaml(text, name, MAX_LOCK_YAML_NODES)
    if fmt == "conda-lock":
        lock = read_conda_lock(data, name)
    else:
        lock = read_pixi_lock(data, text, name, lock_env)
    here = platform or str(rattler.Subdir.current())
    chosen = lock.platforms.get(here)
    if chosen is None or not (chosen.records or chosen.pip):
        has = [p for p, locked in lock.platforms.items() if locked.records or locked.pip]
        which = f"the environment {lock_env!r} of " if lock_env else ""
        raise BadInput(
            f"{which}{name} has no packages for {here}; it has packages for "
            f"{', '.join(has) or 'no platform'}. Lock it for {here} too (envmgr env export "
            f"--format ... --platform {here} on a machine with the env)."
        )
    return EnvFile("lock", name, records=list(chosen.records), pip_lock=tuple(chosen.pip))


# ---------------------------------------------------------------------------------------------
# environment.yml


class _Refused(Exception):
    """A limit of _LimitedLoader, raised while composing; parse_env_yaml names the file."""

    def __init__(self, mark: Any, problem: str) -> None:
        super().__init__(problem)
        self.mark = mark
        self.problem = problem


class _LimitedLoader(yaml.SafeLoader):
    """Composes nodes as SafeLoader does, refusing anchors and aliases (a 443-byte "billion
    laughs" file expands to gigabytes; conda env files never need them) and counting depth and
    nodes as it goes, so a 5000-deep `[[[...` stops at level MAX_YAML_DEPTH, before Python's
    recursion limit."""

    def __init__(self, stream: str, max_nodes: int = MAX_YAML_NODES) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0
        self._max_nodes = max_nodes

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(
                event.start_mark,
                f"aliases ('*{event.anchor}') are not allowed; write the value out in full",
            )
        if getattr(event, "anchor", None) is not None:
            raise _Refused(
                event.start_mark,
                f"anchors ('&{event.anchor}') are not allowed; write each value out in full",
            )
        self._nodes += 1
        if self._nodes > self._max_nodes:
            raise _Refused(event.start_mark, f"more than {self._max_nodes} YAML values")
        if self._depth >= MAX_YAML_DEPTH:
            raise _Refused(
                event.start_mark, f"nested deeper than {MAX_YAML_DEPTH} levels of lists or mappings"
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _compose(text: str, path: str) -> yaml.Node | None:
    return _with_loader(text, path, MAX_YAML_NODES, lambda loader: loader.get_single_node())


def _load_yaml(text: str, path: str, max_nodes: int) -> Any:
    """The document as Python values (mappings, lists, scalars), composed as `_compose` does."""

    def load(loader: _LimitedLoader) -> Any:
        node = loader.get_single_node()
        return None if node is None else loader.construct_document(node)

    return _with_loader(text, path, max_nodes, load)


_T = TypeVar("_T")


def _with_loader(text: str, path: str, max_nodes: int, read: Callable[[_LimitedLoader], _T]) -> _T:
    loader = _LimitedLoader(text, max_nodes)
    try:
        return read(loader)
    except _Refused as exc:
        where = f", line {exc.mark.line + 1}" if exc.mark else ""
        raise BadInput(f"{path}{where}: {exc.problem}.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise BadInput(f"{path}{where}: not valid YAML ({problem}).") from None
    finally:
        loader.dispose()


def _mark(node: yaml.Node) -> str:
    return f"line {node.start_mark.line + 1}"


def _scalar_text(node: yaml.Node) -> str | None:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else None


def _string_list(node: yaml.Node, path: str, key: str) -> list[str]:
    return [text for _item, text in _string_items(node, path, key)]


def _string_items(node: yaml.Node, path: str, key: str) -> Iterator[tuple[yaml.Node, str]]:
    if not isinstance(node, yaml.SequenceNode):
        raise BadInput(f"{path}, {_mark(node)}: '{key}' must be a list.")
    for item in node.value:
        text = _scalar_text(item)
        if text is None or not text.strip():
            raise BadInput(f"{path}, {_mark(item)}: each entry of '{key}' must be text.")
        yield item, text.strip()


def parse_env_yaml(text: str, path: str = "environment.yml") -> EnvFile:
    """An `environment.yml` (conda's format), checked key by key with line numbers."""
    root = _compose(text, path)
    if root is None:  # empty, or only comments
        raise _no_packages(path, "list them under 'dependencies:', e.g. '- python'")
    if not isinstance(root, yaml.MappingNode):
        raise BadInput(f"{path}: an environment file must be a mapping with 'dependencies'.")
    env = EnvFile("yaml", path)
    for key_node, value in root.value:
        key = _scalar_text(key_node)
        if key not in YAML_KEYS:
            shown = repr(key) if key is not None else "that is not text"
            raise BadInput(
                f"{path}, {_mark(key_node)}: unknown key {shown}; allowed keys are "
                f"{', '.join(YAML_KEYS)}."
            )
        if key == "name":
            env.name = _scalar_text(value)
            if env.name is None:
                raise BadInput(f"{path}, {_mark(value)}: 'name' must be text.")
        elif key == "channels":
            env.channels = _string_list(value, path, "channels")
        elif key == "variables":
            env.variables = _read_variables(value, path)
        elif key == "dependencies":
            _read_dependencies(value, path, env)
    if not env.specs:
        raise _no_packages(path, "list them under 'dependencies:', e.g. '- python'")
    return env


def _read_variables(node: yaml.Node, path: str) -> dict[str, str]:
    """`variables:` end up in conda-meta/state and in every activation: short scalar values
    under names a shell can export."""
    if not isinstance(node, yaml.MappingNode):
        raise BadInput(f"{path}, {_mark(node)}: 'variables' must be a mapping.")
    if len(node.value) > MAX_VARIABLES:
        raise BadInput(f"{path}, {_mark(node)}: more than {MAX_VARIABLES} variables.")
    variables: dict[str, str] = {}
    for key_node, value_node in node.value:
        key = _scalar_text(key_node)
        if key is None or not ENV_VAR_NAME.fullmatch(key):
            shown = repr(key) if key is not None else "a list or mapping"
            raise BadInput(
                f"{path}, {_mark(key_node)}: {shown} is not a variable name; use letters, "
                "digits and '_', not starting with a digit (e.g. MY_VAR)."
            )
        value = _scalar_text(value_node)
        if value is None:
            raise BadInput(
                f"{path}, {_mark(value_node)}: the value of {key} must be text, a number or "
                "true/false, not a list or mapping."
            )
        if len(value) > MAX_VARIABLE_CHARS:
            raise BadInput(
                f"{path}, {_mark(value_node)}: the value of {key} is longer than "
                f"{MAX_VARIABLE_CHARS} characters."
            )
        variables[key] = value
    return variables


def _read_dependencies(node: yaml.Node, path: str, env: EnvFile) -> None:
    if not isinstance(node, yaml.SequenceNode):
        raise BadInput(f"{path}, {_mark(node)}: 'dependencies' must be a list.")
    for item in node.value:
        text = _scalar_text(item)
        if text is not None and text.strip():
            env.specs.append(text.strip())
        elif isinstance(item, yaml.MappingNode) and len(item.value) == 1:
            key_node, value = item.value[0]
            key = _scalar_text(key_node)
            if key != "pip":
                raise BadInput(
                    f"{path}, {_mark(key_node)}: only a 'pip:' list may appear among the "
                    f"dependencies, not {key!r}."
                )
            env.pip += [
                check_pip_requirement(line, f"{path}, {_mark(pip_item)}")
                for pip_item, line in _string_items(value, path, "pip")
            ]
        else:
            raise BadInput(
                f"{path}, {_mark(item)}: each dependency must be a spec such as 'numpy>=1.26' "
                "or a 'pip:' list."
            )
