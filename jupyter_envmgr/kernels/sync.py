"""Kernelspecs written for tools outside the server, which read kernel directories.

`jupyter kernelspec list`, nbclient, VS Code and `jupyter console` cannot be given another
kernelspec manager class (in the server, `EnvKernelSpecManager` lists env kernels live and
writes nothing, see manager.py). For them `sync_kernelspecs` writes each spec *inside its env*
(`conda-meta/envmgr/kernels/<name>/`) and links it from the user's kernels dir. Removing the env,
by any means, leaves a dangling link that jupyter_client skips: the kernel is gone without
anyone cleaning up. The CLI and the server call `sync_for_settings` after each change to the
envs, naming the envs changed: only their kernels are written, and only theirs and those of
envs gone from disk are pruned (`_sync_changed`), so that a create costs the same with 100 envs
in the root as with one. Where the names of other envs' kernels could depend on the changed
ones (a name they share once normalised, nb_conda_kernels' numbering, a kernel name another
env's link holds), the whole set is synced instead, as `envmgr kernels --sync` always does.
Nothing is ever written into an env that is read-only (admin policy or file permissions): its
specs are plain copies in the user's kernels dir, which stay until the next sync after the env
is gone.

After a CLI change the sync runs without jupyter_client and traitlets (see specs.py) unless a
`.py` Jupyter config file needs traitlets to be read.

The names nb_conda_kernels gave the same kernels (`conda-env-<env>-py`, see names.py) are written
too, as copies under those names: nbclient, papermill and nbconvert find a notebook's kernel by
`metadata.kernelspec.name` in these dirs only, so a notebook saved under nb_conda_kernels runs
without a kernel name given. `jupyter kernelspec list` therefore lists such a kernel twice; the
copy's display name says which name it is. Never under a name an ordinary kernelspec has.

0.1.0 wrote the copies into `conda-meta/envmgr-kernels/`: links leading there are recognised as
ours and replaced by links to the new place, and the old copies are then removed.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import shutil
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..engine import bookkeeping
from ..engine.policy import Policy
from ..engine.prefix import META
from ..engine.registry import Env
from ..engine.settings import Settings
from .config_files import read_json_config
from .discovery import KernelDiscovery, shared_discovery
from .names import nb_conda_aliases, normalize
from .specs import MARKER, EnvKernelSpec, KernelOptions, env_kernel_specs

if TYPE_CHECKING:
    from .manager import EnvKernelSpecManager

_RESOURCE_FILES = ("kernel.js", "kernel.css")

# The manager's logger (the server's, an adapter) or ours.
Log = logging.Logger | logging.LoggerAdapter[Any]
# Tells which envs must never be written to (the server passes its Policy.is_read_only).
ReadOnly = Callable[[Env], bool]


@dataclass
class SyncReport:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _spec_text(spec: dict[str, Any]) -> str:
    return json.dumps(spec, indent=1, sort_keys=True) + "\n"


def _write_spec_dir(target: Path, spec: EnvKernelSpec) -> bool:
    """Write the spec dir (kernel.json, logos, marker) atomically; False when up to date."""
    text = _spec_text(spec.spec)
    try:
        if (target / "kernel.json").read_text(encoding="utf-8") == text:
            return False
    except OSError:
        pass
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    source = Path(spec.resource_dir)
    for item in source.glob("logo-*"):
        shutil.copyfile(item, tmp / item.name)
    for name in _RESOURCE_FILES:
        if (source / name).is_file():
            shutil.copyfile(source / name, tmp / name)
    (tmp / "kernel.json").write_text(text, encoding="utf-8")
    (tmp / MARKER).write_text(str(spec.named.found.env.prefix) + "\n", encoding="utf-8")
    _remove(target)
    os.rename(tmp, target)
    return True


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _is_ours(entry: Path) -> bool:
    if entry.is_symlink():
        return _env_of_link(Path(os.readlink(entry))) is not None
    return (entry / MARKER).exists()


def _env_of_link(target: Path) -> Path | None:
    """The env of a link target `<prefix>/conda-meta/envmgr/kernels/<name>`, or 0.1.0's
    `<prefix>/conda-meta/envmgr-kernels/<name>` (a copy we wrote into an env); None for any
    other target."""
    folder = target.parent
    for place, up in ((bookkeeping.kernels_dir, 2), (bookkeeping.legacy_kernels_dir, 1)):
        if len(folder.parents) > up and place(folder.parents[up]) == folder:
            return folder.parents[up]
    return None


# Where our copies live inside an env, as path suffixes: `<prefix>/conda-meta/envmgr/kernels`
# and 0.1.0's `<prefix>/conda-meta/envmgr-kernels` (bookkeeping.py).
_COPY_FOLDERS = tuple(
    str(place(Path(os.sep))) for place in (bookkeeping.kernels_dir, bookkeeping.legacy_kernels_dir)
)


def _held(folder: Path) -> dict[str, str]:
    """Our entries of the kernels dir: name -> the env prefix it stands for (where the link
    leads, or what the plain copy's marker names). One listing and a readlink per link; plain
    strings, as this runs over every entry after each change."""
    held: dict[str, str] = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_symlink():
                where = os.path.dirname(os.readlink(entry.path))
                owner = next(
                    (where[: -len(f)] or os.sep for f in _COPY_FOLDERS if where.endswith(f)), ""
                )
            else:
                try:
                    with open(os.path.join(entry.path, MARKER), encoding="utf-8") as marker:
                        owner = marker.read().strip()
                except OSError:
                    continue  # not a copy of ours (or not a folder)
            if owner:
                held[entry.name] = owner
    return held


def _link(link: Path, target: Path) -> bool:
    if link.is_symlink() and os.readlink(link) == str(target):
        return False
    tmp = link.with_name(f".{link.name}.tmp{os.getpid()}")
    _remove(tmp)
    os.symlink(target, tmp, target_is_directory=True)
    if link.is_dir() and not link.is_symlink():
        shutil.rmtree(link)  # an old fallback copy; os.replace cannot replace a directory
    os.replace(tmp, link)
    return True


def _place(spec: EnvKernelSpec, kernels_dir: Path, log: Log, *, in_env: bool) -> bool:
    """Write one spec into its env and link it, or (`in_env` False, or the env refuses the
    write) write a plain copy into kernels_dir. True when something changed."""
    link = kernels_dir / spec.name
    if in_env:
        inside = bookkeeping.kernels_dir(spec.named.found.env.prefix) / spec.name
        try:
            wrote = _write_spec_dir(inside, spec)
            return _link(link, inside) or wrote
        except OSError as exc:
            log.info("Writing %s into its env failed (%s); writing a plain copy", spec.name, exc)
    if link.is_symlink():
        link.unlink()  # a link into an env that has become read-only since
    return _write_spec_dir(link, spec)


def configured_read_only(config: Mapping[str, Any]) -> ReadOnly:
    """The server's read-only rule (`c.EnvMgrExtension.read_only_envs` and `read_only_dirs`)
    read from the Jupyter config (traitlets' or the plain JSON): the CLI has no Policy object,
    and must not write into the envs the server keeps read-only either."""
    section = config.get("EnvMgrExtension", {})

    def listed(key: str) -> tuple[str, ...]:
        value = section.get(key, [])
        if hasattr(value, "get_value"):  # traitlets' c.EnvMgrExtension.read_only_envs.append()
            value = value.get_value([])
        return tuple(str(v) for v in value) if isinstance(value, list | tuple) else ()

    dirs = tuple(os.path.expanduser(d) for d in listed("read_only_dirs"))
    return Policy(read_only_envs=listed("read_only_envs"), read_only_dirs=dirs).is_read_only


def _closed_envs(envs: set[Env], read_only: ReadOnly) -> set[Path]:
    """Prefixes we must not write into: read-only by the rule, or conda-meta/ (or the folder
    our copies go into) not writable; asked before trying, so that a failed attempt cannot
    leave a half-made folder."""
    return {env.prefix for env in envs if read_only(env) or not _may_write_copies(env.prefix)}


def _may_write_copies(prefix: Path) -> bool:
    if not os.access(prefix / META, os.W_OK):
        return False
    folder = bookkeeping.kernels_dir(prefix)
    while not folder.is_dir() and folder != prefix / META:
        folder = folder.parent  # the nearest existing folder is the one we would write in
    return os.access(folder, os.W_OK)


def _prune_env_copies(envs: Iterable[Env], wanted: set[str], closed: set[Path]) -> None:
    """Drop copies left in envs whose kernel was renamed, excluded or uninstalled; a
    read-only env keeps even stale ones (they are unused: no link leads there)."""
    for env in envs:
        if env.prefix in closed:
            continue
        _drop_legacy_copies(env.prefix)
        folder = bookkeeping.kernels_dir(env.prefix)
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            if entry.name not in wanted and (entry / MARKER).exists():
                shutil.rmtree(entry, ignore_errors=True)


def _drop_legacy_copies(prefix: Path) -> None:
    """Copies 0.1.0 wrote beside conda-meta/envmgr/. Taking the env's lock moves them in, but a
    sync may come first: it has just written the copies anew in the new place and relinked, so
    no link of ours leads to the old ones any more. Removed, and their folder once empty."""
    folder = bookkeeping.legacy_kernels_dir(prefix)
    try:
        entries = list(folder.iterdir())
    except OSError:
        return  # none there (or moved in meanwhile)
    for entry in entries:
        if (entry / MARKER).exists():
            shutil.rmtree(entry, ignore_errors=True)
    try:
        folder.rmdir()
    except OSError:
        pass  # something not ours is in there: left alone


def _write_all(
    specs: dict[str, EnvKernelSpec],
    folder: Path,
    log: Log,
    report: SyncReport,
    closed: set[Path],
) -> None:
    for name, spec in specs.items():
        link = folder / name
        if (link.exists() or link.is_symlink()) and not _is_ours(link):
            log.warning("Not writing kernel %s: %s exists and is not ours", name, link)
            report.skipped.append(name)
            continue
        try:
            in_env = spec.named.found.env.prefix not in closed
            changed = _place(spec, folder, log, in_env=in_env)
        except OSError as exc:
            log.warning("Could not write kernel %s: %s", name, exc)
            report.skipped.append(name)
            continue
        (report.written if changed else report.unchanged).append(name)


def _alias_copies(
    specs: dict[str, EnvKernelSpec], discovery: KernelDiscovery | None, folder: Path
) -> dict[str, EnvKernelSpec]:
    """A spec under each nb_conda_kernels name, but none that a kernelspec not ours has in
    any of Jupyter's kernel dirs (that one is what a notebook of that name means)."""
    from jupyter_core.paths import jupyter_path

    dirs = [folder, *(Path(d) for d in jupyter_path("kernels"))]
    named = [s.named for s in specs.values()]
    if discovery is None:
        aliases = nb_conda_aliases(named)
    else:
        aliases = nb_conda_aliases(named, discovery.envs, discovery.settings.root_prefix)
    return _usable_aliases(specs, aliases, dirs)


def _usable_aliases(
    specs: dict[str, EnvKernelSpec], aliases: dict[str, str], dirs: list[Path]
) -> dict[str, EnvKernelSpec]:
    copies = {}
    for alias, name in aliases.items():
        if any((d / alias).exists() and not _is_ours(d / alias) for d in dirs):
            continue
        spec = specs[name]
        display = f"{spec.spec['display_name']} (nb_conda_kernels name)"
        # The metadata names the kernel this copy stands for (for tools, and for our tests).
        metadata = {**spec.spec["metadata"], "envmgr_alias_of": name}
        copies[alias] = dataclasses.replace(
            spec, name=alias, spec={**spec.spec, "display_name": display, "metadata": metadata}
        )
    return copies


def _prune_links(specs: dict[str, EnvKernelSpec], folder: Path, report: SyncReport) -> None:
    for entry in sorted(folder.iterdir()):
        if entry.name not in specs and not entry.name.startswith(".") and _is_ours(entry):
            _remove(entry)
            report.removed.append(entry.name)


def sync_kernelspecs(
    manager: EnvKernelSpecManager | None = None,
    kernels_dir: str | os.PathLike[str] | None = None,
    *,
    read_only: ReadOnly | None = None,
) -> SyncReport:
    """Make the user's kernels dir list exactly the env kernels the server would list.

    `read_only` tells the envs nothing may be written into (default: the read-only rule of
    the manager's Jupyter config); envs whose conda-meta/ we cannot write count as read-only
    too. Their kernels are written as plain copies into the kernels dir instead.

    Never raises for a filesystem problem (it logs a warning): the CLI calls this after every
    operation, and a read-only kernels dir must not turn a finished install into a failure.
    """
    if manager is None:
        from .manager import EnvKernelSpecManager

        manager = EnvKernelSpecManager.from_jupyter_config()
    return _sync(
        manager.env_kernel_specs,
        manager.discovery(),
        Path(kernels_dir or manager.user_kernel_dir),
        manager.log,
        read_only or configured_read_only(manager.config),
    )


def _sync(
    specs_of: Callable[[], dict[str, EnvKernelSpec]],
    discovery: KernelDiscovery | None,
    folder: Path,
    log: Log,
    read_only: ReadOnly,
) -> SyncReport:
    report = SyncReport()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        specs = specs_of()
        specs = {**specs, **_alias_copies(specs, discovery, folder)}
        listed = set(discovery.envs) if discovery else set()
        closed = _closed_envs(listed | {s.named.found.env for s in specs.values()}, read_only)
        _write_all(specs, folder, log, report, closed)
        _prune_links(specs, folder, report)
        if discovery is not None:
            _prune_env_copies(discovery.envs, set(specs), closed)
    except OSError as exc:
        log.warning("Could not update the kernelspecs in %s: %s", folder, exc)
    return report


# ---------------------------------------------------------------------------------------------
# Syncing only the envs that changed
#
# A full sync reads every env (its kernels, its copies) and every entry of the kernels dir:
# with 100 envs it cost more than the rest of a small create (issue 28). After a change only
# the changed envs are read, plus one listing of the kernels dir (a readlink per link) and of
# the envs dirs (names only). Kernel names are given over the whole set of envs (names.py): a
# changed env gets the names the full sync would give it, and the other envs keep theirs, as
# long as no other env's name meets a changed env's name once normalised (or numbered, or
# hashed), and no other env's entry holds a name a changed env's kernel takes. Otherwise the
# full sync runs.


def _sync_changed(
    settings: Settings,
    options: KernelOptions,
    changed: set[str],
    folder: Path,
    log: logging.Logger,
    read_only: ReadOnly,
) -> SyncReport | None:
    """The kernels of the `changed` envs written (their nb_conda_kernels names too) and their
    entries no longer wanted pruned, with those of envs gone from disk. None, with nothing
    done, when the full sync must decide (see above)."""
    if "{env}" not in options.name_format:
        return None  # then kernels of different envs can meet whatever the envs are called
    report = SyncReport()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        held = _held(folder)
        in_dirs, registered = _registered(settings)
        if _names_could_meet(settings, changed, in_dirs | registered | set(held.values())):
            return None
        envs: list[Env] = []
        for prefix in sorted(changed):
            if not os.path.isdir(os.path.join(prefix, META)):
                continue  # removed (or renamed away): only its entries go
            if os.path.islink(prefix):
                return None  # the registry lists an env once by its real path
            env = _listed_env(settings, prefix, in_dirs, registered)
            if env is not None:
                envs.append(env)
        discovery = KernelDiscovery(settings, log, lambda _s: envs)
        specs = env_kernel_specs(discovery.kernels(), options, home=settings.home, logger=log)
        from jupyter_core.paths import jupyter_path

        named = [spec.named for spec in specs.values()]
        aliases = nb_conda_aliases(named, envs, settings.root_prefix)
        dirs = [folder, *(Path(d) for d in jupyter_path("kernels"))]
        specs = {**specs, **_usable_aliases(specs, aliases, dirs)}
        if _held_by_others(specs, held, changed):
            return None
        closed = _closed_envs(set(envs), read_only)
        _write_all(specs, folder, log, report, closed)
        present: dict[str, bool] = {}
        for name, owner in sorted(held.items()):
            if name in specs:
                continue
            if owner not in present:
                present[owner] = owner not in changed and os.path.isdir(os.path.join(owner, META))
            if not present[owner]:
                _remove(folder / name)
                report.removed.append(name)
        _prune_env_copies(envs, set(specs), closed)
    except OSError as exc:
        log.warning("Could not update the kernelspecs in %s: %s", folder, exc)
    return report


def _registered(settings: Settings) -> tuple[set[str], set[str]]:
    """(the folders of the envs dirs, the prefixes environments.txt names): where the registry
    finds envs, read without looking into each (list_envs stats and resolves every one)."""
    in_dirs: set[str] = set()
    for envs_dir in map(str, settings.envs_dirs):
        try:
            names = os.listdir(envs_dir)
        except OSError:
            continue
        in_dirs.update(os.path.join(envs_dir, name) for name in names if name[:1] != ".")
    try:
        lines = settings.environments_txt.read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError):
        lines = []
    return in_dirs, {os.path.abspath(line.strip()) for line in lines if line.strip()}


def _listed_env(
    settings: Settings, prefix: str, in_dirs: set[str], registered: set[str]
) -> Env | None:
    """The env as `list_envs` lists it (its name), or None when the registry does not list it."""
    if prefix == str(settings.root_prefix):
        return Env(Path(prefix), "base", is_root=True)
    if prefix in in_dirs:
        return Env(Path(prefix), os.path.basename(prefix))
    return Env(Path(prefix), None) if prefix in registered else None


_UNFOLDED = re.compile(r"[^a-z0-9]+")


def _folded(text: str) -> str:
    """Lower case ASCII, every run of other characters '-' (coarser than both `normalize`
    and nb_conda_kernels' cleaning, so names those make equal are equal here too)."""
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _UNFOLDED.sub("-", text.lower()).strip("-")


def _stems(prefix: str, root: str) -> set[str]:
    """What the names of an env's kernels are made from: its folder name (also as
    nb_conda_kernels writes an env in a dir named `envs`), normalised both ways."""
    if prefix == root:
        return {"base", "root"}
    parent, name = os.path.split(prefix)
    names = [name]
    if os.path.basename(parent) == "envs":
        names.append(f"{os.path.basename(os.path.dirname(parent))}-{name}")
    return {fold(name) for name in names for fold in (normalize, _folded)}


def _unnumbered(stem: str) -> str:
    """`name` of `name-2`: how nb_conda_kernels numbers a name taken (names.py)."""
    head, _, tail = stem.rpartition("-")
    return head if head and tail.isdigit() else stem


def _names_could_meet(settings: Settings, changed: set[str], others: set[str]) -> bool:
    """Whether a changed env's names could meet another env's (or another changed env's):
    then the order of the envs decides which gets a hash or a number (names.py)."""
    root = str(settings.root_prefix)
    taken: set[str] = set() if root in changed else {"base", "root"}
    for prefix in others - changed:
        taken |= _stems(prefix, root)
    bases = {_unnumbered(stem) for stem in taken}
    for prefix in sorted(changed):
        mine = _stems(prefix, root)
        for stem in mine:
            if stem in taken or _unnumbered(stem) in taken or stem in bases:
                return True
        taken |= mine
        bases |= {_unnumbered(stem) for stem in mine}
    return False


def _held_by_others(
    specs: dict[str, EnvKernelSpec], held: dict[str, str], changed: set[str]
) -> bool:
    """Whether another env's entry holds a name a changed env's kernel takes, or one of those
    names with the hash names.py adds to the second of two kernels named alike."""
    mine = set(specs) | {name for name, owner in held.items() if owner in changed}
    for name, owner in held.items():
        if owner in changed:
            continue
        if name in specs:
            return True
        head, _, tail = name.rpartition("-")
        if len(tail) == 6 and head in mine and all(c in "0123456789abcdef" for c in tail):
            return True
    return False


# The options of the kernelspec managers that `KernelOptions` covers; anything else set for
# them (a data_dir, say) sends the sync through the manager itself.
_LIGHT_SECTIONS = {
    "KernelSpecManager": set(),
    "EnvKernelSpecManager": {
        "exclude_envs",
        "name_format",
        "display_name_format",
        "refresh_interval",
        "root_prefix",
    },
}


def sync_for_settings(
    settings: Settings,
    *,
    read_only: ReadOnly | None = None,
    changed: Iterable[Path] = (),
) -> SyncReport | None:
    """After a change to the envs: keep `jupyter kernelspec list` (and tools outside the
    server) in step, writing nothing into the envs `read_only` names (see sync_kernelspecs).
    `changed`: the prefixes of the envs made, changed, renamed (old and new) or removed; only
    their kernels are synced, unless other envs' kernel names could depend on them (module
    docstring). None given: every env's.
    Never raises: a kernels dir problem must not fail a finished install."""
    log = logging.getLogger(__name__)
    try:
        config = read_json_config()
        if config is None or any(
            set(config.get(section, {})) - known for section, known in _LIGHT_SECTIONS.items()
        ):
            from .manager import EnvKernelSpecManager

            manager = EnvKernelSpecManager.from_jupyter_config(settings=settings)
            return sync_kernelspecs(manager, read_only=read_only)
        options = KernelOptions.from_section(config.get("EnvKernelSpecManager", {}))
        read_only = read_only or configured_read_only(config)
        prefixes = {os.path.abspath(p) for p in changed}
        if prefixes:
            report = _sync_changed(settings, options, prefixes, user_kernel_dir(), log, read_only)
            if report is not None:
                return report
        discovery = shared_discovery(settings, log)
        return _sync(
            lambda: env_kernel_specs(
                discovery.kernels(max_age=options.refresh_interval),
                options,
                home=settings.home,
                logger=log,
            ),
            discovery,
            user_kernel_dir(),
            log,
            read_only,
        )
    except Exception as exc:
        log.warning("Could not update the kernelspecs: %s", exc)
        return None


def user_kernel_dir() -> Path:
    """jupyter_client's `KernelSpecManager.user_kernel_dir` (a data_dir is not configured)."""
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "kernels"
