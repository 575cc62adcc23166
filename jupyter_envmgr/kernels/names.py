"""Stable, valid, distinct kernel names and display names that say the environment.

Jupyter kernel names may only hold ASCII letters, digits, '-', '.', '_' and are compared in
lower case, so env names such as `Data` and `data`, or `a+b` and `a-b`, meet after normalising.
The rule that keeps names stable: an env whose name survives normalisation unchanged keeps the
plain name; an env whose name had to be changed gets a short hash of its prefix only when it
collides. Prefix envs (outside every envs dir) always carry that hash, so two `.venv` folders in
two projects never meet. Whatever is left (a name format that drops `{env}`, say) is made
distinct by a hash, with a warning, rather than hidden.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..engine.registry import Env
from .discovery import FoundKernel

log = logging.getLogger(__name__)

DEFAULT_NAME_FORMAT = "conda-env-{env}-{kernel}"
DEFAULT_DISPLAY_NAME_FORMAT = "{display_name} [env: {env}]"
_INVALID = re.compile(r"[^a-z0-9._-]+")


@dataclass(frozen=True)
class NamedKernel:
    name: str
    display_name: str
    found: FoundKernel


def normalize(text: str) -> str:
    """A valid kernel-name fragment: lower case, runs of other characters become '-'."""
    return _INVALID.sub("-", text.lower()).strip("-") or "x"


def prefix_hash(prefix: Path | str, extra: str = "") -> str:
    # sha1 rather than hash(): the same in every process and on every run.
    return hashlib.sha1(f"{prefix}\0{extra}".encode()).hexdigest()[:6]


def env_display(env: Env, home: Path | None = None) -> str:
    """What the launcher shows: the env name, or its path with `~` for the home folder."""
    if env.name:
        return env.name
    home_text = str(home or Path.home())
    text = str(env.prefix)
    if text == home_text or text.startswith(home_text + os.sep):
        return "~" + text[len(home_text) :]
    return text


def excluded(env: Env, patterns: Sequence[str]) -> bool:
    """fnmatch patterns, tried against the env name and against its prefix path."""
    subjects = [str(env.prefix)] + ([env.name] if env.name else [])
    return any(fnmatch.fnmatchcase(s, p) for p in patterns for s in subjects)


def env_slugs(envs: Iterable[Env], logger: logging.Logger = log) -> dict[Path, str]:
    """The `{env}` part of each env's kernel names, distinct across envs."""
    groups: dict[str, list[Env]] = defaultdict(list)
    for env in envs:
        if env.name:
            groups[normalize(env.name)].append(env)
        else:
            slug = f"{normalize(env.prefix.name)}-{prefix_hash(env.prefix)}"
            groups[slug].append(env)
    slugs: dict[Path, str] = {}
    for slug, members in groups.items():
        # The plain name goes to the env whose name is already valid (the first one, as
        # `-n NAME` picks the first envs dir), or to a lone env; every other one gets a hash.
        lossless = [e for e in members if e.name is None or e.name == slug]
        keeper = lossless[0] if lossless else members[0] if len(members) == 1 else None
        for env in members:
            plain = env is keeper
            slugs[env.prefix] = slug if plain else f"{slug}-{prefix_hash(env.prefix)}"
        if len(members) > 1:
            logger.warning(
                "Environments %s have the same kernel name part %r once normalised; "
                "the ones whose names changed get a hash suffix: %s",
                ", ".join(str(e.prefix) for e in members),
                slug,
                ", ".join(slugs[e.prefix] for e in members),
            )
    return slugs


def _format(fmt: str, default: str, logger: logging.Logger, **fields: str) -> str:
    try:
        return fmt.format(**fields)
    except (KeyError, IndexError, ValueError) as exc:
        logger.warning("Bad kernel name format %r (%s); using %r", fmt, exc, default)
        return default.format(**fields)


def name_kernels(
    found: Iterable[FoundKernel],
    *,
    name_format: str = DEFAULT_NAME_FORMAT,
    display_name_format: str = DEFAULT_DISPLAY_NAME_FORMAT,
    exclude_envs: Sequence[str] = (),
    home: Path | None = None,
    logger: logging.Logger = log,
) -> list[NamedKernel]:
    """Names for every kernel of every env not excluded, in discovery order."""
    kept = [k for k in found if not excluded(k.env, exclude_envs)]
    slugs = env_slugs({k.env.prefix: k.env for k in kept}.values(), logger)
    named: list[NamedKernel] = []
    taken: set[str] = set()
    for k in kept:
        fields = {
            "env": slugs[k.env.prefix],
            "kernel": normalize(k.kernel),
            "hash": prefix_hash(k.env.prefix),
        }
        name = normalize(_format(name_format, DEFAULT_NAME_FORMAT, logger, **fields))
        if name in taken:
            unique = f"{name}-{prefix_hash(k.env.prefix, k.kernel)}"
            logger.warning(
                "Kernel %r of environment %s would be named %r like another kernel; naming it %r",
                k.kernel,
                k.env.label,
                name,
                unique,
            )
            name = unique
        taken.add(name)
        display = _format(
            display_name_format,
            DEFAULT_DISPLAY_NAME_FORMAT,
            logger,
            display_name=k.spec["display_name"],
            env=env_display(k.env, home),
            kernel=k.kernel,
            language=k.spec["language"],
            prefix=str(k.env.prefix),
        )
        named.append(NamedKernel(name, display, k))
    return named


# ---------------------------------------------------------------------------------------------
# The names nb_conda_kernels gave the same kernels
#
# Notebooks saved under nb_conda_kernels carry its kernel names, which its manager.py makes so:
# the kernelspec dir name `python2`/`python3` becomes `py` and `ir` becomes `r`; the root env is
# `conda-<base_name>-<kernel>` (`base` today, `root` in older releases); any other env is
# `conda-env-<folder name>-<kernel>`, where a folder inside a dir named `envs` that is not the
# root's own `envs` (or whose name an earlier env took) is `<that dir's parent>-<folder name>`,
# and a name still taken gets `-2`, `-3`, ...; characters outside [a-zA-Z0-9._-] become '_'.
# Jupyter compares kernel names in lower case, so ours are lower case too.

_NB_CONDA_KERNEL = {"python2": "py", "python3": "py", "ir": "r"}
_NB_CONDA_INVALID = re.compile(r"[^a-z0-9._-]")


def _nb_conda_clean(name: str) -> str:
    plain = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return _NB_CONDA_INVALID.sub("_", plain.lower())


def _nb_conda_env_names(envs: Sequence[Env], root: Path | None) -> dict[Path, list[str]]:
    """Each env's name in nb_conda_kernels' kernel names: the name its rule gives with our root
    prefix as conda's base, then the bare folder name (a notebook saved where that env was in
    conda's own `envs` dir, as under another root it will be)."""
    root = root or next((e.prefix for e in envs if e.is_root), None)
    root_envs = root / "envs" if root else None
    names: dict[Path, list[str]] = {}
    taken: set[str] = set()
    for env in envs:
        if env.prefix in names:
            continue
        if env.is_root:
            # The first of these is what nb_conda_kernels calls the root env today; the second
            # is what its older releases (and older notebooks) call it.
            names[env.prefix] = ["base", "root"]
            taken.update(("base", "root"))
            continue
        parent, name = env.prefix.parent, env.prefix.name
        if parent.name == "envs" and (parent != root_envs or name in taken):
            name = f"{parent.parent.name}-{name}"
        if name in taken:
            base = name
            name = next(
                f"{base}-{n}" for n in range(2, len(taken) + 3) if f"{base}-{n}" not in taken
            )
        taken.add(name)
        names[env.prefix] = [name] if name == env.prefix.name else [name, env.prefix.name]
    return names


def nb_conda_aliases(
    named: Sequence[NamedKernel], envs: Sequence[Env] | None = None, root: Path | None = None
) -> dict[str, str]:
    """nb_conda_kernels' name -> our name, for every named kernel whose nb_conda_kernels name
    differs from ours. One alias leads to one kernel: a name that is one of ours is never an
    alias, and an alias two kernels could take goes to the first (the exact rule before the
    bare folder name, then the listing order: root, the envs dirs in order, environments.txt).
    `envs`: every known env (those without kernels count in nb_conda_kernels' numbering too);
    `root`: the root prefix (conda's base in nb_conda_kernels' rule), a conda env or not."""
    with_kernels = {k.found.env.prefix: k.found.env for k in named}
    env_names = _nb_conda_env_names([*(envs or ()), *with_kernels.values()], root)
    ours = {k.name for k in named}
    candidates: list[tuple[int, str, str]] = []  # (rank, alias, our name)
    for k in named:
        kernel = _NB_CONDA_KERNEL.get(k.found.kernel, k.found.kernel)
        env = k.found.env
        for rank, env_name in enumerate(env_names[env.prefix]):
            prefix = "conda-" if env.is_root else "conda-env-"
            candidates.append((rank, _nb_conda_clean(f"{prefix}{env_name}-{kernel}"), k.name))
    aliases: dict[str, str] = {}
    for _rank, alias, name in sorted(candidates, key=lambda c: c[0]):  # stable: listing order
        if alias not in ours and alias not in aliases:
            aliases[alias] = name
    return aliases
