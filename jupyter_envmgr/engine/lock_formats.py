"""The lock files other tools speak, to and from `EnvLock` (env_lock.py):

- `conda-lock.yml`, version 1: what conda-lock writes, and what `conda-lock install`,
  micromamba, conda-store and conda's lockfile plugin (conda-lockfiles) read. A flat list of
  packages, each for one platform, with its URL and md5/sha256; `metadata.platforms` lists the
  platforms.
- `pixi.lock`, versions 6 and 7 (rattler's lock format, which pixi writes): environments, each
  listing package URLs per platform; every package once under `packages:` with its record.
  Version 7 lists the platforms at the top. py-rattler reads both and writes version 7; version
  6 is version 7 without that list (and the same package entries).

Readers take the file's YAML as the bounded loader of envfile.py composed it, check what the
format promises (the version, hashes, each package on a platform the file lists, each listed
platform with packages) and say what is wrong in one message naming the file, before anything
is fetched. Writers take an `EnvLock` and return the text.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import rattler
import yaml
from rattler.package.build_string import BuildString

from .dependencies import match_spec_name
from .env_lock import EnvLock, PlatformLock, known_platforms
from .errors import BadInput, EnvMgrError
from .pip_lock import PipLockEntry, normalized_name

LockFormat = Literal["conda-lock", "pixi"]
CONDA_LOCK_VERSION = 1
PIXI_VERSIONS = (6, 7)
DEFAULT_PIXI_ENV = "default"
_ARCHIVE = re.compile(r"(?P<stem>[^/]+)\.(conda|tar\.bz2)")
_HEX = {"md5": re.compile(r"[0-9a-f]{32}"), "sha256": re.compile(r"[0-9a-f]{64}")}
_URL = re.compile(r"(https?|file)://")


# ---------------------------------------------------------------------------------------------
# Which format


def detect_lock_format(text: str, name: str) -> LockFormat | None:
    """The lock format of a file, from its top-level keys first, then its name, as conda's
    lockfile plugins detect them: `version:` with `metadata:`/`package:` is conda-lock's,
    `version:` with `environments:`/`packages:` is pixi's; else `conda-lock.yml` (or
    `*.conda-lock.yml`) and `*.lock` (`pixi.lock`) by name. None: not a lock file."""
    keys = set(re.findall(r"^([A-Za-z_]+):", text, re.M))
    if "version" in keys and keys & {"metadata", "package"}:
        return "conda-lock"
    if "version" in keys and keys & {"environments", "packages"}:
        return "pixi"
    base = name.replace("\\", "/").rsplit("/", 1)[-1].lower()
    if base.endswith(("conda-lock.yml", "conda-lock.yaml")):
        return "conda-lock"
    if base.endswith(".lock"):
        return "pixi"
    return None


# ---------------------------------------------------------------------------------------------
# Small checks shared by the readers


def _mapping(value: Any, name: str, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise BadInput(f"{name}: {what} must be a mapping.")
    return value


def _list(value: Any, name: str, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise BadInput(f"{name}: {what} must be a list.")
    return value


def _text(value: Any, name: str, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float) or not str(value):
        raise BadInput(f"{name}: {what} must be text.")
    return str(value)


def _archive_stem(url: str, name: str, what: str) -> str:
    """`<name>-<version>-<build>` of a conda package URL; refused unless it is one."""
    match = _ARCHIVE.fullmatch(url.rsplit("/", 1)[-1])
    if not _URL.match(url) or match is None or match["stem"].count("-") < 2:
        raise BadInput(
            f"{name}: {what} {url!r} is not a conda package URL (http(s):// or file:// ending "
            "in <name>-<version>-<build>.conda or .tar.bz2)."
        )
    return match["stem"]


def _url_subdir(url: str) -> str:
    return url.rsplit("/", 2)[-2]


def _digest(value: Any, kind: Literal["md5", "sha256"], name: str, what: str) -> str | None:
    if value is None or value == "":
        return None
    text = str(value).strip().lower()
    if not _HEX[kind].fullmatch(text):
        raise BadInput(f"{name}: the {kind} of {what} is not a hex {kind} hash.")
    return text


def _check_platform(platform: str, name: str, where: str) -> str:
    if platform not in known_platforms():
        raise BadInput(
            f"{name}: {where} names {platform!r}, which is not a platform (a conda subdir such "
            "as linux-64 or osx-arm64)."
        )
    return platform


def _record(
    url: str,
    *,
    depends: Sequence[str],
    md5: str | None,
    sha256: str | None,
    where: str,
) -> rattler.RepoDataRecord:
    """A record from what a lock entry says, the rest derived from its URL as rattler derives a
    pixi.lock's fields: name, version and build from the file name, the subdir and channel from
    the path, the build number from the build string's trailing digits, noarch from the subdir
    (`python` for a build string holding 'py', else `generic`)."""
    stem = _archive_stem(url, where, "the URL")
    pkg_name, version, build = stem.rsplit("-", 2)
    subdir = _url_subdir(url)
    trailing = re.search(r"(\d+)$", build)
    noarch: Literal["python", "generic"] | None = None
    if subdir == "noarch":
        noarch = "python" if "py" in build else "generic"
    platform = rattler.Subdir(subdir) if subdir != "noarch" else None
    try:
        package = rattler.PackageRecord(
            pkg_name,
            version,
            BuildString(build),
            int(trailing.group(1)) if trailing else 0,
            subdir,
            arch=str(platform.arch) if platform is not None and platform.arch else None,
            platform=platform.only_platform if platform is not None else None,
            noarch=rattler.NoArchType(noarch) if noarch else None,
            depends=list(depends),
            md5=bytes.fromhex(md5) if md5 else None,
            sha256=bytes.fromhex(sha256) if sha256 else None,
        )
        return rattler.RepoDataRecord(
            package, url.rsplit("/", 1)[-1], url, url.rsplit("/", 2)[0] + "/"
        )
    except BaseException as exc:  # rattler's PanicException is a BaseException
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise BadInput(f"{where}: {exc}") from None


def _one_per_name(records: Iterable[rattler.RepoDataRecord], name: str, platform: str) -> None:
    seen: set[str] = set()
    for r in records:
        if r.name.normalized in seen:
            raise BadInput(f"{name}: {r.name.normalized} is locked twice for {platform}.")
        seen.add(r.name.normalized)


def _check_subdir(subdir: str, platform_subdir: str, name: str, what: str, platform: str) -> None:
    """A package is for its platform's subdir or noarch: anything else is a lock that lies."""
    if subdir not in (platform_subdir, "noarch"):
        raise BadInput(
            f"{name}: {what} is a {subdir} package, listed for {platform}; a lock lists each "
            "platform's own packages (or noarch ones). Lock the file again."
        )


# ---------------------------------------------------------------------------------------------
# conda-lock.yml (version 1)


def read_conda_lock(data: Any, name: str) -> EnvLock:
    """A conda-lock v1 file's YAML as an `EnvLock`: per platform the packages of category
    `main` that are not optional (what `conda-lock install` installs without flags)."""
    root = _mapping(data, name, "a conda-lock file")
    version = root.get("version")
    if version is None:
        raise BadInput(f"{name} has no 'version:'; a conda-lock file says 'version: 1'.")
    if version != CONDA_LOCK_VERSION or isinstance(version, bool):
        raise BadInput(
            f"{name} is a conda-lock file of version {version!r}; this reads version 1, what "
            "conda-lock writes."
        )
    meta = _mapping(root.get("metadata"), name, "'metadata'")
    listed = [_check_platform(_text(p, name, "a platform"), name, "metadata.platforms")
              for p in _list(meta.get("platforms"), name, "metadata.platforms")]  # fmt: skip
    if not listed:
        raise BadInput(f"{name}: metadata.platforms is empty; it lists the locked platforms.")
    channels = tuple(
        _text(_mapping(c, name, "each channel").get("url"), name, "a channel's url")
        for c in _list(meta.get("channels", []), name, "metadata.channels")
    )
    conda: dict[str, list[rattler.RepoDataRecord]] = {p: [] for p in listed}
    pip: dict[str, list[PipLockEntry]] = {p: [] for p in listed}
    for number, item in enumerate(_list(root.get("package"), name, "'package'"), 1):
        entry = _mapping(item, name, f"package {number}")
        pkg = _text(entry.get("name"), name, f"the name of package {number}")
        platform = _text(entry.get("platform"), name, f"the platform of {pkg}")
        what = f"package {number} ({pkg} for {platform})"
        if platform not in listed:
            raise BadInput(
                f"{name}: {what} is for a platform metadata.platforms does not list "
                f"({', '.join(listed)}). Lock the file again."
            )
        if entry.get("optional") is True or entry.get("category", "main") != "main":
            continue  # conda-lock install leaves them out unless asked (--dev, -e)
        url = _text(entry.get("url"), name, f"the url of {what}")
        hashes = _mapping(entry.get("hash", {}), name, f"the hash of {what}")
        md5 = _digest(hashes.get("md5"), "md5", name, what)
        sha256 = _digest(hashes.get("sha256"), "sha256", name, what)
        manager = entry.get("manager")
        if manager == "pip":
            version_text = _text(entry.get("version"), name, f"the version of {what}")
            pip[platform].append(PipLockEntry(normalized_name(pkg), version_text, url, sha256))
            continue
        if manager != "conda":
            raise BadInput(f"{name}: {what} has manager {manager!r}; use 'conda' or 'pip'.")
        if md5 is None and sha256 is None:
            raise BadInput(
                f"{name}: {what} has no md5 or sha256, so its download could not be checked. "
                "conda-lock writes both: lock the file again."
            )
        stem = _archive_stem(url, name, f"the url of {what}")
        _check_subdir(_url_subdir(url), platform, name, what, platform)
        if stem.rsplit("-", 2)[0] != pkg.lower():
            raise BadInput(f"{name}: {what} has the URL of another package: {url}.")
        depends = _depends_from_conda_lock(entry.get("dependencies", {}), name, what)
        conda[platform].append(
            _record(url, depends=depends, md5=md5, sha256=sha256, where=f"{name}: {what}")
        )
    empty = [p for p in listed if not conda[p]]
    if empty:
        raise BadInput(
            f"{name}: metadata.platforms lists {', '.join(empty)}, but no conda package is for "
            f"{'it' if len(empty) == 1 else 'them'}. Lock the file again."
        )
    for platform, records in conda.items():
        _one_per_name(records, name, platform)
    return EnvLock(
        channels,
        {p: PlatformLock(p, tuple(conda[p]), tuple(pip[p])) for p in listed},
    )


def _depends_from_conda_lock(value: Any, name: str, what: str) -> list[str]:
    """conda-lock's `dependencies` (name -> the rest of the spec) as `depends` strings."""
    deps = _mapping(value or {}, name, f"the dependencies of {what}")
    return [f"{dep} {spec}".strip() if spec else str(dep) for dep, spec in deps.items()]


def write_conda_lock(
    lock: EnvLock, *, channel_names: Sequence[str], created_by: str, env_label: str
) -> str:
    """`lock` as conda-lock v1. `channel_names`: the channels as conda-lock names them (a name
    under the channel alias, else the URL)."""
    packages: list[dict[str, Any]] = []
    content_hash: dict[str, str] = {}
    for platform, plock in sorted(lock.platforms.items()):
        digest = hashlib.sha256()
        for r in sorted(plock.records, key=lambda r: r.name.normalized):
            if r.md5 is None:
                raise EnvMgrError(
                    f"{r.name.normalized} ({platform}) has no md5, which conda-lock requires of "
                    "each conda package: export it as --format pixi-lock instead."
                )
            hashes = {"md5": r.md5.hex()}
            if r.sha256 is not None:
                hashes["sha256"] = r.sha256.hex()
            packages.append(
                {
                    "name": r.name.normalized,
                    "version": str(r.version),
                    "manager": "conda",
                    "platform": platform,
                    "dependencies": _conda_lock_dependencies(r.depends),
                    "url": r.url,
                    "hash": hashes,
                    "category": "main",
                    "optional": False,
                }
            )
            digest.update(f"{r.url}#{hashes.get('sha256', hashes['md5'])}\n".encode())
        for entry in sorted((e for e in plock.pip if e.url), key=lambda e: e.name):
            packages.append(
                {
                    "name": entry.name,
                    "version": entry.version,
                    "manager": "pip",
                    "platform": platform,
                    "dependencies": {},
                    "url": entry.url,
                    "hash": {"sha256": entry.sha256} if entry.sha256 else {},
                    "category": "main",
                    "optional": False,
                }
            )
            digest.update(f"{entry.url}#{entry.sha256}\n".encode())
        content_hash[platform] = digest.hexdigest()
    doc = {
        "version": CONDA_LOCK_VERSION,
        "metadata": {
            "content_hash": content_hash,
            "channels": [{"url": c, "used_env_vars": []} for c in channel_names],
            "platforms": sorted(lock.platforms),
            "sources": [],
            "custom_metadata": {"created_by": created_by},
        },
        "package": packages,
    }
    header = [
        f"# The environment {env_label}, locked by {created_by} (conda-lock's format, version 1).",
        "# Create it with one of:",
        "#   envmgr create -n NAME -f conda-lock.yml",
        "#   conda-lock install -n NAME conda-lock.yml",
        "#   micromamba create -n NAME -f conda-lock.yml",
        "#   conda create -n NAME --file conda-lock.yml   (conda with conda-lockfiles)",
        *_unwritten_comment(lock),
    ]
    return "\n".join(header) + "\n" + yaml.safe_dump(doc, sort_keys=False)


def _conda_lock_dependencies(depends: Iterable[str]) -> dict[str, str]:
    """`depends` as conda-lock's mapping: name -> the rest of the spec (version and build), so
    that `name + ' ' + rest` (how installers read it back) is the spec again."""
    out: dict[str, str] = {}
    for dep in depends:
        try:
            dep_name = match_spec_name(rattler.MatchSpec(dep))
        except Exception:
            dep_name = dep.split()[0]
        rest = dep.strip()[len(dep_name) :].strip() if dep.strip().startswith(dep_name) else ""
        if dep_name in out and out[dep_name] and rest and " " not in out[dep_name] + rest:
            out[dep_name] = f"{out[dep_name]},{rest}"  # two version ranges: both hold
        else:
            out.setdefault(dep_name, rest)
    return out


def unwritten_pip(lock: EnvLock) -> list[str]:
    """The pip packages a conda-lock or pixi.lock entry cannot carry: installed from an index,
    pip recorded no file URL for them (pip_lock.py), and both formats need one. The writers
    name them in a comment at the top; `env export` says so too."""
    return sorted(
        {e.requirement for plock in lock.platforms.values() for e in plock.pip if not e.url}
    )


def _unwritten_comment(lock: EnvLock) -> list[str]:
    missing = unwritten_pip(lock)
    if not missing:
        return []
    return [
        "# Not in this file: pip packages installed from an index, for which pip recorded no "
        "file URL:",
        f"#   {' '.join(missing)}",
        f"# Install them after creating the env: pip install --no-deps {' '.join(missing)}",
    ]


# ---------------------------------------------------------------------------------------------
# pixi.lock (versions 6 and 7)


def read_pixi_lock(data: Any, text: str, name: str, env_name: str | None = None) -> EnvLock:
    """Environment `env_name` (else `default`) of a pixi.lock as an `EnvLock`, per platform.
    The records are rattler's reading of the file (the fields pixi leaves out derived as pixi
    derives them); the checks before that are ours, for one clear message."""
    root = _mapping(data, name, "a pixi.lock")
    version = root.get("version")
    if version not in PIXI_VERSIONS or isinstance(version, bool):
        newer = isinstance(version, int) and not isinstance(version, bool) and version > 7
        raise BadInput(
            f"{name} is a pixi.lock of version {version!r}"
            + (", written by a newer pixi" if newer else "")
            + "; this reads versions 6 and 7. Run 'pixi lock' with a pixi that writes one of "
            "them."
        )
    environments = _mapping(root.get("environments"), name, "'environments'")
    wanted = env_name or DEFAULT_PIXI_ENV
    if not environments:
        raise BadInput(f"{name} is not a valid lock file: it has no environments.")
    if wanted not in environments:
        raise BadInput(
            f"{name} has no environment {wanted!r}; it has: {', '.join(map(str, environments))}."
            + ("" if env_name else " Choose one with --lock-env NAME (REST: lock_env).")
        )
    env = _mapping(environments[wanted], name, f"the environment {wanted!r}")
    subdirs = _pixi_platforms(root, version, name)
    packages = _pixi_packages(root, name)
    per_platform = _mapping(env.get("packages", {}), name, f"the packages of {wanted!r}")
    for platform, refs in per_platform.items():
        if platform not in subdirs:
            raise BadInput(
                f"{name}: the environment {wanted!r} has packages for {platform}, a platform "
                f"the file's platforms: list does not name ({', '.join(subdirs)})."
            )
        for ref in _list(refs, name, f"the {platform} packages of {wanted!r}"):
            _check_pixi_ref(ref, packages, name, platform, subdirs[platform])
    channels = tuple(
        _text(_mapping(c, name, "each channel").get("url"), name, "a channel's url")
        for c in _list(env.get("channels", []), name, f"the channels of {wanted!r}")
    )
    return EnvLock(channels, _pixi_records(text, name, wanted, list(per_platform)))


def _pixi_platforms(root: Mapping[str, Any], version: int, name: str) -> dict[str, str]:
    """Platform name -> its subdir. Version 7 lists them (a name may stand for a subdir, with
    virtual packages); version 6 names each by its subdir."""
    if version == 6:
        return {p: p for p in known_platforms()}
    out: dict[str, str] = {}
    for item in _list(root.get("platforms"), name, "'platforms'"):
        entry = _mapping(item, name, "each platform")
        pname = _text(entry.get("name"), name, "a platform's name")
        subdir = _text(entry.get("subdir", pname), name, f"the subdir of {pname}")
        out[pname] = _check_platform(subdir, name, "platforms:")
    return out


def _pixi_packages(root: Mapping[str, Any], name: str) -> dict[tuple[str, str], Mapping[str, Any]]:
    out: dict[tuple[str, str], Mapping[str, Any]] = {}
    for item in _list(root.get("packages", []), name, "'packages'"):
        entry = _mapping(item, name, "each package")
        kind = "conda" if "conda" in entry else "pypi" if "pypi" in entry else None
        if kind is None:
            raise BadInput(f"{name}: each package starts with 'conda:' or 'pypi:' and its URL.")
        out[(kind, str(entry[kind]))] = entry
    return out


def _check_pixi_ref(
    ref: Any,
    packages: Mapping[tuple[str, str], Mapping[str, Any]],
    name: str,
    platform: str,
    subdir: str,
) -> None:
    entry = _mapping(ref, name, f"each {platform} package")
    kind = "conda" if "conda" in entry else "pypi" if "pypi" in entry else None
    if kind is None:
        raise BadInput(f"{name}: each {platform} package is 'conda: URL' or 'pypi: URL'.")
    location = str(entry[kind])
    package = packages.get((kind, location))
    if package is None:
        raise BadInput(
            f"{name}: the {platform} package {location} is not under 'packages:'; the file is "
            "incomplete. Lock it again."
        )
    if kind == "pypi":
        return
    what = f"the {platform} package {location}"
    if _ARCHIVE.fullmatch(location.rsplit("/", 1)[-1]) is None:
        raise BadInput(
            f"{name}: {what} is built from source by pixi; only built packages (a .conda or "
            ".tar.bz2 URL) can be installed from a lock here."
        )
    if not (_URL.match(location) or location.startswith("/")):
        raise BadInput(
            f"{name}: {what} is a path relative to where the lock was written; give the "
            "package's URL (or an absolute path) instead."
        )
    md5 = _digest(package.get("md5"), "md5", name, what)
    sha256 = _digest(package.get("sha256"), "sha256", name, what)
    if md5 is None and sha256 is None:
        raise BadInput(
            f"{name}: {what} has no sha256 or md5, so its download could not be checked. "
            "Lock the file again."
        )
    _check_subdir(str(package.get("subdir") or _url_subdir(location)), subdir, name, what, platform)


def _pixi_records(
    text: str, name: str, env_name: str, platforms: Sequence[str]
) -> dict[str, PlatformLock]:
    """rattler's reading of the file (only from a path: a private copy of the text we read)."""
    with tempfile.TemporaryDirectory(prefix="envmgr-lock-") as tmp:
        copy = Path(tmp) / "pixi.lock"
        copy.write_text(text, encoding="utf-8")
        try:
            lock = rattler.LockFile.from_path(copy)
            environment = lock.environment(env_name)
            assert environment is not None  # checked above
            out: dict[str, PlatformLock] = {}
            for platform in environment.platforms():
                if platform.name not in platforms:
                    continue
                records = environment.conda_repodata_records_for_platform(platform) or []
                pypi = environment.pypi_packages_for_platform(platform) or []
                _one_per_name(records, name, platform.name)
                out[platform.name] = PlatformLock(
                    platform.name, tuple(records), tuple(_pip_entry(p) for p in pypi)
                )
        except BaseException as exc:  # rattler's PanicException is a BaseException
            if isinstance(exc, KeyboardInterrupt | SystemExit | BadInput):
                raise
            raise BadInput(
                f"{name} is not a valid pixi.lock: {exc}".replace(str(copy), name)
            ) from None
    return out


def _pip_entry(package: Any) -> PipLockEntry:
    hashes = package.hashes
    sha256 = getattr(hashes, "sha256", None) if hashes is not None else None
    return PipLockEntry(
        normalized_name(str(package.name)),
        str(package.version),
        str(package.location),
        sha256.hex() if isinstance(sha256, bytes) else sha256,
    )


def write_pixi_lock(lock: EnvLock, version: Literal[6, 7] = 7) -> str:
    """`lock` as a pixi.lock, environment `default`: rattler writes version 7; version 6 is
    that without the top-level platforms: list (the package entries are the same). The pip
    packages' sha256, which py-rattler cannot pass, are added to their entries."""
    platforms = {p: rattler.LockPlatform(p) for p in sorted(lock.platforms)}
    try:
        out = rattler.LockFile(list(platforms.values()))
        out.set_channels(DEFAULT_PIXI_ENV, [rattler.LockChannel(c) for c in lock.channels])
        hashes: dict[str, str] = {}
        for p, plock in sorted(lock.platforms.items()):
            for record in sorted(plock.records, key=lambda r: r.name.normalized):
                out.add_conda_package(DEFAULT_PIXI_ENV, platforms[p], record)
            for entry in sorted((e for e in plock.pip if e.url), key=lambda e: e.name):
                assert entry.url is not None
                out.add_pypi_package(DEFAULT_PIXI_ENV, platforms[p], entry.name, entry.version,
                                     entry.url)  # fmt: skip
                if entry.sha256:
                    hashes[entry.url] = entry.sha256
        with tempfile.TemporaryDirectory(prefix="envmgr-lock-") as tmp:
            path = Path(tmp) / "pixi.lock"
            out.to_path(path)
            text = path.read_text(encoding="utf-8")
    except BaseException as exc:  # rattler's lock-file calls can raise PanicException
        if isinstance(exc, KeyboardInterrupt | SystemExit | EnvMgrError):
            raise
        raise EnvMgrError(f"Writing the lock file failed: {exc}") from None
    if version == 6 or hashes:
        doc = yaml.safe_load(text)
        if version == 6:
            doc["version"] = 6
            del doc["platforms"]
        for package in doc.get("packages", []):
            sha256 = hashes.get(package.get("pypi"))
            if sha256:
                package["sha256"] = sha256
        text = yaml.safe_dump(doc, sort_keys=False)
    comment = _unwritten_comment(lock)
    return "\n".join(comment) + "\n" + text if comment else text
