"""Reading environment files: env YAML, `@EXPLICIT` lists, rattler lock files, spec lists.

The format is picked by content first, then extension, like micromamba. Every error names the
file, the line and what to write instead, and is raised before anything on disk changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import rattler
import yaml

from .errors import BadInput

MAX_FILE_BYTES = 5 * 1024 * 1024
YAML_KEYS = ("name", "channels", "dependencies", "prefix", "variables")
_MD5 = re.compile(r"^[0-9a-f]{32}$")
_SHA256 = re.compile(r"^(sha256:)?[0-9a-f]{64}$")


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


@dataclass
class EnvFile:
    kind: str  # "yaml" | "explicit" | "lock" | "specs"
    path: str
    name: str | None = None
    channels: list[str] = field(default_factory=list)
    specs: list[str] = field(default_factory=list)
    pip: list[str] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    explicit: list[ExplicitEntry] = field(default_factory=list)
    records: list[rattler.RepoDataRecord] | None = None  # a lock file's exact packages


def _read_text(path: str) -> str:
    p = Path(path)
    try:
        if p.stat().st_size > MAX_FILE_BYTES:
            raise BadInput(f"{path} is larger than {MAX_FILE_BYTES // 1024 // 1024} MB.")
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"The file {path} does not exist.") from None
    except UnicodeDecodeError:
        raise BadInput(f"{path} is not UTF-8 text.") from None
    except OSError as exc:
        raise BadInput(f"Cannot read {path}: {exc.strerror}.") from None


def read_env_file(path: str) -> EnvFile:
    text = _read_text(path)
    lines = [ln.strip() for ln in text.splitlines()]
    if "@EXPLICIT" in lines:
        return _parse_explicit(path, text)
    if (
        path.endswith(".lock")
        or re.search(r"^environments:", text, re.M)
        and re.search(r"^version:", text, re.M)
    ):
        return _parse_lock(path)
    if path.endswith((".yml", ".yaml")) or re.search(r"^(dependencies|channels|name):", text, re.M):
        return parse_env_yaml(text, path)
    specs = [ln.split("#", 1)[0].strip() for ln in text.splitlines()]
    return EnvFile("specs", path, specs=[s for s in specs if s])


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
        url, _, digest = line.partition("#")
        url = url.strip()
        if not re.match(r"^(https?|file)://", url) or not url.endswith((".conda", ".tar.bz2")):
            raise BadInput(
                f"{path}, line {number}: {url!r} is not a package URL (http(s):// or file:// "
                "ending in .conda or .tar.bz2)."
            )
        entry = ExplicitEntry(number, url)
        digest = digest.strip().lower()
        if digest:
            if _MD5.match(digest):
                entry.md5 = digest
            elif _SHA256.match(digest):
                entry.sha256 = digest.removeprefix("sha256:")
            else:
                raise BadInput(f"{path}, line {number}: {digest!r} is not an md5 or sha256 hash.")
        try:
            _ = entry.name_version_build  # checks the file name splits in three
        except ValueError:
            raise BadInput(
                f"{path}, line {number}: the file name is not <name>-<version>-<build>."
            ) from None
        env.explicit.append(entry)
    if not env.explicit:
        raise BadInput(f"{path}: the @EXPLICIT list names no package.")
    return env


def _parse_lock(path: str) -> EnvFile:
    try:
        lock = rattler.LockFile.from_path(Path(path))
        environment = lock.default_environment()
        here = str(rattler.Subdir.current())
        platform = next((p for p in lock.platforms() if p.name == here), None)
        records = (
            environment.conda_repodata_records_for_platform(platform)
            if environment is not None and platform is not None
            else None
        )
    except BaseException as exc:  # rattler's PanicException is a BaseException (DESIGN.md)
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise BadInput(f"{path} is not a valid lock file: {exc}") from None
    if not records:
        raise BadInput(
            f"{path}: the lock file's default environment has no packages for "
            f"{rattler.Subdir.current()}."
        )
    return EnvFile("lock", path, records=list(records))


def _mark(node: yaml.Node) -> str:
    return f"line {node.start_mark.line + 1}"


def _string_list(node: yaml.Node, path: str, key: str) -> list[str]:
    if not isinstance(node, yaml.SequenceNode):
        raise BadInput(f"{path}, {_mark(node)}: '{key}' must be a list.")
    values = []
    for item in node.value:
        if not isinstance(item, yaml.ScalarNode) or not str(item.value).strip():
            raise BadInput(f"{path}, {_mark(item)}: each entry of '{key}' must be text.")
        values.append(str(item.value).strip())
    return values


def parse_env_yaml(text: str, path: str = "environment.yml") -> EnvFile:
    """An `environment.yml` (conda's format), checked key by key with line numbers."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise BadInput(f"{path}{where}: not valid YAML ({problem}).") from None
    if not isinstance(root, yaml.MappingNode):
        raise BadInput(f"{path}: an environment file must be a mapping with 'dependencies'.")
    env = EnvFile("yaml", path)
    for key_node, value in root.value:
        key = str(key_node.value)
        if key not in YAML_KEYS:
            raise BadInput(
                f"{path}, {_mark(key_node)}: unknown key '{key}'; allowed keys are "
                f"{', '.join(YAML_KEYS)}."
            )
        if key == "name":
            if not isinstance(value, yaml.ScalarNode):
                raise BadInput(f"{path}, {_mark(value)}: 'name' must be text.")
            env.name = str(value.value)
        elif key == "channels":
            env.channels = _string_list(value, path, "channels")
        elif key == "variables":
            if not isinstance(value, yaml.MappingNode):
                raise BadInput(f"{path}, {_mark(value)}: 'variables' must be a mapping.")
            env.variables = {str(k.value): str(v.value) for k, v in value.value}
        elif key == "dependencies":
            _read_dependencies(value, path, env)
    if not env.specs:
        raise BadInput(f"{path}: 'dependencies' lists no package.")
    return env


def _read_dependencies(node: yaml.Node, path: str, env: EnvFile) -> None:
    if not isinstance(node, yaml.SequenceNode):
        raise BadInput(f"{path}, {_mark(node)}: 'dependencies' must be a list.")
    for item in node.value:
        if isinstance(item, yaml.ScalarNode) and str(item.value).strip():
            env.specs.append(str(item.value).strip())
        elif isinstance(item, yaml.MappingNode) and len(item.value) == 1:
            key_node, value = item.value[0]
            if key_node.value != "pip":
                raise BadInput(
                    f"{path}, {_mark(key_node)}: only a 'pip:' list may appear among the "
                    f"dependencies, not '{key_node.value}:'."
                )
            env.pip += _string_list(value, path, "pip")
        else:
            raise BadInput(
                f"{path}, {_mark(item)}: each dependency must be a spec such as 'numpy>=1.26' "
                "or a 'pip:' list."
            )
