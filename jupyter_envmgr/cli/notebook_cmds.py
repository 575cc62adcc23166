"""`envmgr notebook lock | sync | show NOTEBOOK`: a notebook that carries its environment.

`lock` writes the env's channels, the user's specs and the exact packages (conda and pip, for
this platform and each `--platform`) into the notebook's `metadata.envmgr` (engine/notebook_env.py
documents the format) and points `metadata.kernelspec` at the env's kernel; `sync` makes or
updates that env here; `show` says what the notebook needs, whether this machine has it, and
how the env it would use differs from the lock (engine/lock_drift.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .common import Subparsers, add_common, add_env_args, add_yes
from .session import Session

if TYPE_CHECKING:
    from ..engine.notebook_sync import PreparedSync
    from ..engine.registry import Env


def add_parsers(sub: Subparsers) -> None:
    nb = sub.add_parser("notebook", help="a notebook that carries its environment")
    nb_sub = nb.add_subparsers(dest="notebook_command", metavar="NOTEBOOK_COMMAND")
    nb_sub.required = True
    p = nb_sub.add_parser("lock", help="write the env's exact packages into the notebook")
    p.add_argument("notebook", metavar="NOTEBOOK", help="the .ipynb file")
    add_env_args(p)
    p.add_argument(
        "--platform",
        action="append",
        default=[],
        metavar="P",
        help="also lock for this platform (a conda subdir such as osx-arm64; repeatable; "
        "the env's own platform is always locked)",
    )
    add_common(p)
    p.set_defaults(run=lock)
    p = nb_sub.add_parser("sync", help="make or update the notebook's env on this machine")
    p.add_argument("notebook", metavar="NOTEBOOK", help="the .ipynb file")
    p.add_argument("-n", "--name", help="the env to make or update (default: the notebook's)")
    add_common(p)
    add_yes(p)
    p.add_argument(
        "--dry-run", action="store_true", help="only show what the sync would do and fetch"
    )
    p.set_defaults(run=sync)
    p = nb_sub.add_parser("show", help="what the notebook needs and whether this machine has it")
    p.add_argument("notebook", metavar="NOTEBOOK", help="the .ipynb file")
    add_common(p)
    p.set_defaults(run=show)


def env_kernelspec(s: Session, env: Env) -> dict[str, str] | None:
    from ..kernels.manager import EnvKernelSpecManager, notebook_kernelspec

    manager = EnvKernelSpecManager.from_jupyter_config(settings=s.settings)
    return notebook_kernelspec(manager, env.prefix)


def _env_of_kernel(s: Session, nb: dict[str, Any]) -> Env | None:
    """The env whose kernel the notebook names, if this machine has it."""
    from ..engine.notebook_env import kernelspec_name
    from ..kernels.manager import EnvKernelSpecManager

    name = kernelspec_name(nb.get("metadata"))
    if name is None:
        return None
    manager = EnvKernelSpecManager.from_jupyter_config(settings=s.settings)
    spec = manager.env_kernel_specs().get(name)
    return spec.named.found.env if spec is not None else None


async def lock(s: Session) -> int:
    import asyncio

    from ..engine.env_lock import check_platforms
    from ..engine.errors import BadInput
    from ..engine.notebook_env import KEY, env_lock, read_notebook, write_notebook
    from ..engine.registry import find_env

    a = s.args
    platforms = check_platforms(a.platform)  # before the notebook is read or anything solved
    nb = await asyncio.to_thread(read_notebook, a.notebook)
    if a.name or a.prefix:
        env = find_env(s.settings, name=a.name, prefix=a.prefix)
    else:
        found = await asyncio.to_thread(_env_of_kernel, s, nb)
        if found is None:
            raise BadInput(
                f"{a.notebook}'s kernel is not an environment's kernel here: name the "
                "environment with -n NAME or -p PREFIX."
            )
        env = found
    metadata = nb["metadata"]
    metadata[KEY] = await env_lock(
        s.settings, env, metadata.get(KEY), platforms, policy=s.policy, on_event=s.on_event
    )
    kernelspec = await asyncio.to_thread(env_kernelspec, s, env)
    notes = []
    if kernelspec is not None:
        metadata["kernelspec"] = kernelspec
    else:
        notes.append(f"{env.label} has no Jupyter kernel: install ipykernel into it.")
    await asyncio.to_thread(write_notebook, a.notebook, nb)
    lines = [
        f"  {platform}: {_count(len(entries))}"
        + (f", {len(metadata[KEY].get('pip', {}).get(platform, []))} with pip"
           if metadata[KEY].get("pip", {}).get(platform) else "")
        for platform, entries in metadata[KEY]["platforms"].items()
    ]  # fmt: skip
    s.result(
        {"env": env.to_json(), "metadata": {KEY: metadata[KEY], "kernelspec": kernelspec},
         "notes": notes},
        "\n".join([f"Locked {env.label} into {a.notebook}:", *lines, *notes]),
    )  # fmt: skip
    return 0


def _preview_text(notebook: str, prepared: PreparedSync) -> str:
    """What a sync will do and fetch, shown before the question."""
    lines = [f"{notebook}: {prepared.summary()}"]
    diff = prepared.diff
    if diff is not None:
        lines += [f"  - {d}" for d in diff.remove] + [f"  + {d}" for d in diff.add]
        lines += [f"  ~ {c}" for c in diff.change]
        lines += [f"  + pip: {r}" for r in diff.pip]
    else:
        lines.append(f"  specs    : {', '.join(prepared.lock.specs)}")
    if prepared.channels:
        lines.append("It may fetch (packages the cache lacks) from:")
        lines.append(f"  channels : {', '.join(prepared.channels)}")
        lines.append(f"  hosts    : {', '.join(prepared.hosts)}")
    return "\n".join(lines + prepared.notes)


async def sync(s: Session) -> int:
    import asyncio

    from ..engine.notebook_env import (
        kernelspec_name,
        notebook_identity,
        read_notebook,
        write_notebook,
    )
    from ..engine.notebook_sync import NotebookSyncRequest, execute_sync, prepare_sync

    a = s.args
    nb = await asyncio.to_thread(read_notebook, a.notebook)
    request = NotebookSyncRequest(
        nb["metadata"], a.notebook, where=notebook_identity(a.notebook), name=a.name, cmd=s.cmd
    )
    prepared = await asyncio.to_thread(prepare_sync, s.settings, request, s.policy)
    if a.dry_run or prepared.action != "none":
        if not s.json:
            print(_preview_text(a.notebook, prepared))
        if a.dry_run:
            s.result({"dry_run": True, **prepared.to_json()}, "Dry run: nothing was changed.")
            return 0
        confirmed = s.ask(
            "Proceed?",
            default=True,
            refusal="Refusing to sync the notebook's environment without confirmation: there "
            "is no terminal to ask on. Pass -y to confirm, or --dry-run to only see what it "
            "would do and fetch.",
        )
        if not confirmed:
            s.result({"dry_run": False, "aborted": True, **prepared.to_json()},
                     "Aborted: nothing was changed.")  # fmt: skip
            return 0
    outcome = await execute_sync(s.settings, prepared, on_event=s.on_event)
    if outcome.changed:
        s.sync_kernels(outcome.env.prefix)
    kernelspec = await asyncio.to_thread(env_kernelspec, s, outcome.env)
    notes = list(outcome.notes)
    if kernelspec is not None:
        nb = await asyncio.to_thread(read_notebook, a.notebook)
        if kernelspec_name(nb["metadata"]) != kernelspec["name"]:
            # The env got another name here (its own was taken): opening the notebook must
            # still pick its kernel.
            nb["metadata"]["kernelspec"] = kernelspec
            await asyncio.to_thread(write_notebook, a.notebook, nb)
            notes.append(f"The notebook's kernel is now {kernelspec['name']}.")
    label = outcome.env.label
    text = f"{label} was made or updated to match {a.notebook}." if outcome.changed else (
        f"{label} already matches {a.notebook}: nothing to do."
    )  # fmt: skip
    s.result({**outcome.to_json(), "kernelspec": kernelspec, "notes": notes},
             "\n".join([text, *notes]))  # fmt: skip
    return 0


def _count(n: int) -> str:
    return f"{n} package" if n == 1 else f"{n} packages"


async def show(s: Session) -> int:
    import asyncio

    from ..engine.lock_drift import notebook_drift
    from ..engine.notebook_env import (
        current_platform,
        in_sync,
        notebook_identity,
        read_lock,
        read_notebook,
    )
    from ..engine.notebook_sync import choose_env, existing_env
    from ..engine.pip_lock import entries_to_json

    a = s.args
    nb = await asyncio.to_thread(read_notebook, a.notebook)
    lock = read_lock(nb, a.notebook, where=notebook_identity(a.notebook))
    target, env, _ = await asyncio.to_thread(choose_env, s.settings, lock, None)
    matches = (
        env is not None
        and lock.entries is not None
        and await asyncio.to_thread(in_sync, env.prefix, lock.entries, lock.pip)
    )
    # The env the notebook runs on here: its kernel's env, else the env a sync would update,
    # else the env of the lock's name (on the machine that locked it: the env it was locked
    # from, changed since). The drift names the env it compares.
    drift_env = await asyncio.to_thread(_env_of_kernel, s, nb) or env
    if drift_env is None:
        drift_env = await asyncio.to_thread(existing_env, s.settings, lock.env_name)
    drift = None
    if drift_env is not None:
        drift = await asyncio.to_thread(notebook_drift, nb["metadata"], drift_env, a.notebook)
    info = {
        "env_name": lock.env_name,
        "version": lock.version,
        "channels": lock.channels,
        "specs": lock.specs,
        "platform": current_platform(),
        "platforms": lock.platforms,
        "locked_for_platform": lock.entries is not None,
        "packages": len(lock.entries or []),
        "pip": entries_to_json(lock.pip),
        "target": target,
        "present": env is not None,
        "in_sync": matches,
        "drift": drift.to_json() if drift is not None else None,
        "kernelspec": nb["metadata"].get("kernelspec"),
    }
    if s.json:
        s.json.emit({"event": "result", **info})
        return 0
    print(f"{a.notebook} carries the environment '{lock.env_name}':")
    print(f"  channels : {', '.join(lock.channels) or '-'}")
    print(f"  specs    : {', '.join(lock.specs) or '-'}")
    print(f"  platforms: {', '.join(lock.platforms) or '-'}")
    if lock.entries is None:
        print(f"  packages : not locked for {current_platform()} (sync would solve the specs)")
    else:
        print(f"  packages : {len(lock.entries)} locked for {current_platform()}")
    if lock.pip:
        print(f"  pip      : {', '.join(e.requirement for e in lock.pip)}")
    state = "matches" if matches else ("differs" if env is not None else "is missing")
    print(f"Here: the env '{target}' {state}." + ("" if matches else
          f" Run: envmgr notebook sync {a.notebook}"))  # fmt: skip
    if drift is not None and drift.locked:
        print(drift.summary())
        for line in drift.lines():
            print(f"  {line}")
        if drift.count:
            which = f" -n {drift.env.name}" if drift.env.name else ""
            print(
                f"Lock the notebook again (envmgr notebook lock {a.notebook}{which}) or sync "
                f"the env to the lock (envmgr notebook sync {a.notebook}{which})."
            )
    return 0
