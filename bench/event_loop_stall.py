"""The longest event-loop stall while the server installs a package of 20,000 files.

Issue: "The event loop never blocks: bench/ measures the longest loop stall during a 20k-file
install (target < 50 ms)."

Builds a local channel (in a temp dir) with one synthetic package `bigpkg` of FILES small files,
then, in one asyncio loop, runs the server's install path: a TaskRegistry task around
`operations.run(create ...)` (prepare + execute, the steps EnvService takes), while a monitor
coroutine sleeps 5 ms at a time and records how late it wakes. Three installs: a cold package
cache (copy + extract + link), a warm one (a second env: link only), and a cold one again (an
empty cache of its own) while a reader asks the server's read methods (EnvService.packages,
.export in every format, .revisions: what GET .../packages, .../export and .../revisions await)
about the first env, whose record lists all FILES files, over and over until the install ends.
Sync engine and service steps that run on the loop thread are timed (wrapped here, their code
unchanged), and each stall over 10 ms is attributed to the engine phase it fell in. For
reference, the same create through the CLI (`python -m jupyter_envmgr create ... -y`).

    python bench/event_loop_stall.py [FILES] [--no-cli]     # e.g. 2000 --no-cli: a quick run
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

from jupyter_envmgr.channels import index_channel
from jupyter_envmgr.channels.conda_pkg import Entry
from jupyter_envmgr.channels.synthetic import generic_package
from jupyter_envmgr.engine import operations, plan, solver, transaction
from jupyter_envmgr.engine.policy import Policy
from jupyter_envmgr.engine.settings import load_settings
from jupyter_envmgr.server.service import EXPORT_FORMATS, EnvService
from jupyter_envmgr.server.tasks import TaskRegistry

TARGET_MS = 50.0
TICK = 0.005
REPORT_STALLS_MS = 10.0


def build_channel(root: Path, files: int) -> str:
    channel = root / "channel"
    entries = [
        Entry(f"share/bigpkg/d{i // 1000:02d}/f{i:05d}.txt", data=f"file {i}\n".encode())
        for i in range(files)
    ]
    generic_package(channel / "noarch", "bigpkg", "1.0", entries)
    index_channel(channel)
    return channel.as_uri()


class LoopProbe:
    """Records how late a 5 ms sleep wakes up, and which sync engine steps ran on the loop."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []  # (woke at, lateness) in seconds
        self.steps: dict[str, list[float]] = defaultdict(list)
        self.loop_thread = threading.get_ident()
        self._stop = False

    async def monitor(self) -> None:
        self._stop = False
        while not self._stop:
            before = time.perf_counter()
            await asyncio.sleep(TICK)
            now = time.perf_counter()
            self.samples.append((now, max(0.0, now - before - TICK)))

    def stop(self) -> None:
        self._stop = True

    def reset(self) -> None:
        self.samples.clear()
        self.steps.clear()

    def wrap(self, owner: object, name: str) -> None:
        """Time `owner.name` when it runs on the loop thread (there it blocks the loop)."""
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            if threading.get_ident() != self.loop_thread:
                return original(*args, **kwargs)
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.steps[name].append(time.perf_counter() - start)

        setattr(owner, name, timed)

    def stats_ms(self) -> tuple[float, float, int]:
        late = sorted(lateness for _, lateness in self.samples)
        if not late:
            return 0.0, 0.0, 0
        p99 = late[min(len(late) - 1, int(len(late) * 0.99))]
        return late[-1] * 1000, p99 * 1000, len(late)


SYNC_STEPS = [
    (operations, "parse_specs"),
    (operations, "solver_channels"),
    (operations, "new_env_target"),
    (operations, "check_pip_available"),
    (operations, "make_plan"),
    (operations, "append_history"),
    (operations, "register_env"),
    (transaction, "archive_records"),
    (transaction, "write_journal"),
    (transaction, "record_files"),
    (transaction, "clear_journal"),
    (solver, "virtual_packages"),
    (solver, "gateway_for"),
    (plan.Plan, "to_json"),
    (operations.Outcome, "to_json"),
    (TaskRegistry, "_record"),
    # The service's blocking read steps: each belongs in a thread, so none should show here.
    (EnvService, "env"),
    (EnvService, "env_json"),
    (EnvService, "_packages"),
    (EnvService, "_export"),
    (EnvService, "_revisions"),
]


class Reader:
    """Reads one env through the service, as the GET handlers do, until told to stop."""

    def __init__(self, service: EnvService, name: str) -> None:
        self.service = service
        self.name = name
        self.reads: dict[str, list[float]] = defaultdict(list)
        self._stop = False

    async def run(self) -> None:
        calls = [("packages", lambda: self.service.packages(self.name))]
        calls += [
            (f"export {fmt}", functools.partial(self.service.export, self.name, fmt))
            for fmt in EXPORT_FORMATS
        ]
        calls.append(("revisions", lambda: self.service.revisions(self.name)))
        while not self._stop:
            for label, call in calls:
                start = time.perf_counter()
                await call()
                self.reads[label].append(time.perf_counter() - start)
                if self._stop:
                    return

    def stop(self) -> None:
        self._stop = True

    def summary(self) -> str:
        count = sum(len(t) for t in self.reads.values())
        each = ", ".join(
            f"{label} {1000 * sum(t) / len(t):.0f} ms" for label, t in self.reads.items() if t
        )
        return f"{count} reads of env {self.name} (mean: {each})"


async def server_install(
    probe: LoopProbe, settings, name: str, url: str, reader: Reader | None = None
) -> tuple[float, dict, list[tuple[float, str]]]:
    """One create through TaskRegistry + operations.run, with `reader` reading meanwhile;
    returns (seconds, task json, timeline)."""
    registry = TaskRegistry()
    policy = Policy()
    timeline: list[tuple[float, str]] = []
    request = operations.Request(
        kind="create",
        name=name,
        specs=["bigpkg"],
        channels=[url],
        override_channels=True,
        cmd=f"bench create -n {name}",
    )

    async def operation(sink):
        def on_event(event):
            timeline.append((time.perf_counter(), event.kind))
            sink(event)

        outcome = await operations.run(settings, request, on_event=on_event, policy=policy)
        return outcome.to_json()

    probe.reset()
    monitor = asyncio.ensure_future(probe.monitor())
    await asyncio.sleep(0.05)  # a few quiet ticks first
    start = time.perf_counter()
    timeline.append((start, "start"))
    task = registry.start("create", name, operation)
    reading = asyncio.ensure_future(reader.run()) if reader else None
    async for _event in registry.follow(task):
        pass
    seconds = time.perf_counter() - start
    timeline.append((time.perf_counter(), "end"))
    if reader and reading:
        reader.stop()
        await reading
    await asyncio.sleep(0.05)
    probe.stop()
    await monitor
    return seconds, task.to_json(with_events=True), timeline


def phase_at(timeline: list[tuple[float, str]], moment: float) -> str:
    """The engine phase running at `moment`: named after the last event before it."""
    phase = "before start"
    for at, kind in timeline:
        if at > moment:
            break
        phase = f"after '{kind}'"
    return phase


def verdict(worst_ms: float) -> str:
    return "PASS" if worst_ms < TARGET_MS else "MISS"


def report(
    label: str, seconds: float, probe: LoopProbe, timeline, reader: Reader | None = None
) -> float:
    """Prints one run; returns its max loop stall in ms."""
    worst, p99, ticks = probe.stats_ms()
    print(f"\n{label}")
    print(f"  install time          {seconds:8.2f} s")
    if reader:
        print(f"  meanwhile             {reader.summary()}")
    print(f"  loop stall max        {worst:8.1f} ms   p99 {p99:6.1f} ms   ({ticks} ticks)")
    print(f"  target < {TARGET_MS:.0f} ms         {verdict(worst)}")
    start = timeline[0][0]
    phases = [f"{kind}@{at - start:.2f}s" for at, kind in timeline if kind not in ("link",)]
    print("  phases (event@time)  ", " ".join(dict.fromkeys(phases)))
    stalls = [(at, late) for at, late in probe.samples if late * 1000 >= REPORT_STALLS_MS]
    for at, late in sorted(stalls, key=lambda s: -s[1])[:8]:
        blocked_from = at - late - TICK
        print(
            f"  stall {late * 1000:7.1f} ms at {blocked_from - start:6.2f} s, "
            f"{phase_at(timeline, blocked_from)}"
        )
    heavy = sorted(
        ((sum(t), max(t), len(t), name) for name, t in probe.steps.items()), reverse=True
    )
    print("  sync steps on the loop (total / max / calls):")
    for total, most, calls, name in heavy[:8]:
        print(f"    {name:<22} {total * 1000:8.1f} ms {most * 1000:8.1f} ms {calls:5d}")
    return worst


def cli_install(root: Path, name: str, url: str) -> tuple[float, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONDA", "MAMBA"))}
    env.update(HOME=str(root / "home"), MAMBA_ROOT_PREFIX=str(root / "root"))
    (root / "home").mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "jupyter_envmgr", "create", "-n", name, "bigpkg"]
    cmd += ["-c", url, "--override-channels", "-y"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        print(f"  CLI failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return seconds, proc.returncode


def count_files(prefix: Path) -> int:
    return sum(len(names) for _, _, names in os.walk(prefix / "share" / "bigpkg"))


async def server_runs(work: Path, url: str, files: int) -> list[tuple[str, float]] | None:
    """(figure, max loop stall in ms) of each run; None if an install failed."""
    probe = LoopProbe()
    for owner, name in SYNC_STEPS:
        probe.wrap(owner, name)
    home, root = work / "home", work / "root"
    home.mkdir(parents=True)
    settings = load_settings(env={"HOME": str(home), "MAMBA_ROOT_PREFIX": str(root)})
    service = EnvService(settings, Policy(), TaskRegistry())
    # The reads run beside a cold install (an empty cache of its own): the longest one.
    fresh = settings.with_overrides(pkgs_dirs=(work / "pkgs-fresh",))
    runs = [
        ("install, cold package cache", "big1", settings, None),
        ("install, warm package cache", "big2", settings, None),
        ("install (cold) + reading env big1", "big3", fresh, Reader(service, "big1")),
    ]
    figures = []
    for label, name, install_settings, reader in runs:
        seconds, task, timeline = await server_install(probe, install_settings, name, url, reader)
        if task["state"] != "done":
            print(f"\n{label}: task {task['state']}: {task['error']}")
            return None
        installed = count_files(root / "envs" / name)
        assert installed == files, (installed, files)
        title = f"server path, {label} (env {name}, {installed} files)"
        figures.append((label, report(title, seconds, probe, timeline, reader)))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "files", nargs="?", type=int, default=20_000, help="files in bigpkg (default 20000)"
    )
    parser.add_argument("--no-cli", action="store_true", help="skip the CLI reference runs")
    args = parser.parse_args()
    files = args.files
    work = Path(tempfile.mkdtemp(prefix="envmgr-stall-bench-"))
    status = 1
    try:
        start = time.perf_counter()
        url = build_channel(work, files)
        print(f"bigpkg: {files} files, channel built in {time.perf_counter() - start:.1f} s")
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, work dir {work}")
        figures = asyncio.run(server_runs(work / "server", url, files))
        if not args.no_cli:
            print("\nCLI, for reference (python -m jupyter_envmgr create ... -y, one process each)")
            cold, rc1 = cli_install(work / "cli", "big-cli-1", url)
            warm, rc2 = cli_install(work / "cli", "big-cli-2", url)
            print(f"  cold package cache    {cold:8.2f} s wall (exit {rc1})")
            print(f"  warm package cache    {warm:8.2f} s wall (exit {rc2})")
        print(f"\nMax event-loop stall, {files} files (target < {TARGET_MS:.0f} ms):")
        for label, worst in figures or []:
            print(f"  {label:<40} {worst:8.1f} ms   {verdict(worst)}")
        ok = bool(figures) and all(worst < TARGET_MS for _, worst in figures or [])
        print(f"\nOVERALL: {'PASS' if ok else 'FAIL'} (max loop stall < {TARGET_MS:.0f} ms)")
        status = 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
        sys.stdout.flush()
        sys.stderr.flush()
        # rattler may crash while the interpreter finalizes: leave without finalizing.
        os._exit(status)


if __name__ == "__main__":
    main()
