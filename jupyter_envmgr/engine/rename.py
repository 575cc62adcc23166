"""`rename`: an env under a new name in the same folder, as conda's rename does it: a clone of the
exact package set (no solve) linked for the new prefix, then the old env removed.

Why not move the folder: files a package links with a prefix placeholder (shebangs, config
files, binaries) have the old prefix written into them; only linking again writes the new one.
What the clone cannot recreate is refused first: packages pip installed (no record says where
they came from, and their scripts name the old prefix). Files no package owns are copied, as
conda's clone does. The env's own state travels with it: history (so the user's requested specs,
revisions and rollbacks stay), `conda-meta/state` variables, `conda-meta/pinned`, the env's
rc files and our records archive.

The old env's lock is held from the first read to its removal: nothing changes it meanwhile,
and an env whose lock is held elsewhere is refused at once (not waited for).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import rattler

from .bookkeeping import records_archive_dir
from .errors import BadInput, EnvExists
from .lock import prefix_lock
from .operations import Request, check_removable, run
from .pip_packages import pip_distributions
from .plan import Plan
from .policy import Policy
from .prefix import META, read_records
from .progress import Event, EventSink, ignore_events
from .registry import Env, new_env_target, unregister_env
from .settings import Settings

# What an env keeps besides its packages, copied to the new prefix after the clone.
_KEPT_FILES = (f"{META}/history", f"{META}/state", f"{META}/pinned", ".condarc", ".mambarc")


def check_rename(settings: Settings, env: Env, new_name: str, policy: Policy | None) -> Env:
    """Every refusal before anything happens; the env the rename makes."""
    check_removable(env, policy)
    if env.prefix.is_symlink():
        raise BadInput(
            f"{env.prefix} is a link to another folder: rename the link itself (mv), or clone "
            "with envmgr create --clone."
        )
    new_env_target(settings, name=new_name)  # a valid name, taken in no envs dir
    new = Env(env.prefix.parent / new_name, new_name)
    if new.prefix.exists() or new.prefix.is_symlink():
        raise EnvExists(f"{new.prefix} already exists. Choose another name.")
    if policy is not None:
        policy.check_writable(new)
    pip = pip_distributions(env.prefix, read_records(env.prefix, files="dist-info"))
    if pip:
        names = ", ".join(f"{d.name}=={d.version}" for d in pip)
        raise BadInput(
            f"{env.label} has packages pip installed ({names}); a rename links the conda "
            "packages anew and would lose them. Export it (envmgr env export -n "
            f"{env.label} -f env.yml), create {new_name} from that file, then remove "
            f"{env.label}."
        )
    return new


async def rename_env(
    settings: Settings,
    env: Env,
    new_name: str,
    *,
    policy: Policy | None = None,
    cmd: str = "",
    on_event: EventSink = ignore_events,
) -> Env:
    """Clone `env` as `new_name` beside it, then remove it; returns the new env."""
    from .envfile import EnvFile  # the env-file parser loads for a rename only

    new = check_rename(settings, env, new_name, policy)
    # timeout=0: another operation holding the lock is refused, never waited for.
    async with prefix_lock(env.prefix, timeout=0, on_event=on_event, cmd=cmd):
        check_rename(settings, env, new_name, policy)  # again, now that nothing changes it
        records = read_records(env.prefix)
        request = Request(
            kind="create",
            prefix=str(new.prefix),
            env_file=EnvFile("lock", f"rename of {env.label}", records=records),
            cmd=cmd,
        )

        def yes(_plan: Plan) -> bool:  # the rename was confirmed as a whole
            return True

        await run(settings, request, confirm=yes, on_event=on_event, policy=policy)
        try:
            _copy_state(env.prefix, new.prefix)
            _copy_untracked(env.prefix, new.prefix, records)
        except BaseException:
            shutil.rmtree(new.prefix, ignore_errors=True)
            unregister_env(settings, new.prefix)
            raise
        # Moved aside first, as remove_env does: listings and kernels never see half of it.
        trash = env.prefix.with_name(f".{env.prefix.name}.removing")
        shutil.rmtree(trash, ignore_errors=True)
        env.prefix.rename(trash)
    shutil.rmtree(trash, ignore_errors=True)
    unregister_env(settings, env.prefix)  # the create registered the new one
    on_event(Event("done", {"prefix": str(new.prefix), "renamed_from": str(env.prefix)}))
    return new


def _copy_untracked(old: Path, new: Path, records: Sequence[rattler.PrefixRecord]) -> None:
    """Files no package owns (a kernelspec or config the user put there), as conda's clone
    copies them; links stay links. Compiled bytecode is left behind: Python writes it anew."""
    tracked = {str(f) for r in records for f in r.files}
    for dirpath, dirnames, filenames in os.walk(old):
        here = Path(dirpath)
        rel_dir = here.relative_to(old)
        if rel_dir == Path("."):
            dirnames[:] = [d for d in dirnames if d != META]  # copied by _copy_state
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        links = [d for d in dirnames if (here / d).is_symlink()]
        for name in filenames + links:
            rel = rel_dir / name
            if str(rel) in tracked or os.path.lexists(new / rel):
                continue
            (new / rel).parent.mkdir(parents=True, exist_ok=True)
            if (old / rel).is_symlink():
                os.symlink(os.readlink(old / rel), new / rel)
            else:
                shutil.copy2(old / rel, new / rel)


def _copy_state(old: Path, new: Path) -> None:
    for name in _KEPT_FILES:
        if (old / name).is_file():
            shutil.copy2(old / name, new / name)
    archive = records_archive_dir(old)
    if archive.is_dir():
        shutil.copytree(archive, records_archive_dir(new), dirs_exist_ok=True)
