"""Figure 10: what a user waits for from Create to a running cell, in a real browser.

In Debian's chromium (Playwright) against a real `jupyter lab` on 127.0.0.1 with our extensions,
over a sandbox whose default channel is the local test channel:

    Environments sidebar -> New environment -> name, "python ipykernel" -> Create
    -> (the env's view opens) -> New notebook with this env
    -> `import sys; print(sys.prefix)` typed and run at once (Shift+Enter) -> its output

The page records when each step shows (a timer in the page polls the DOM every 5 ms; the clicks
are timed by their own events), so the times are the application's, not the script's:

- create: the click on Create -> the env's view shows "New notebook with this env";
- notebook open: the click on "New notebook with this env" -> the notebook's first cell;
- kernel ready: the notebook's first cell -> the status bar reads `| Idle` or `| Busy` (the
  kernel is up and connected; a held run makes it busy at once);
- first output: then -> the cell's output (in practice the status bar shows the kernel
  connected no earlier than the held line's output, so this step reads ~0 and "kernel up"
  holds both; their sum is what counts) (the line was typed and run
  while the kernel started, as a user does; a run before the kernel is ready is held and sent
  once it is, see labextension/src/earlyruns.ts);
- total: create + (the click on "New notebook with this env" -> the output), i.e. all but the
  script's own delay between the view opening and that click (shown in the JSON).

The floor, for the same work, in the same run (alternating with the flow): raw py-rattler
solve + install into a new prefix in one process (bench/raw_rattler.py, same channel and package
cache), then a bare jupyter_client kernel in that env (the env's own `python -m
ipykernel_launcher`, no provisioner, no activation) started from this process, waited for
(`wait_for_ready`) and given the same line. Both sides make a new env every run (its first
kernel start writes the bytecode of everything it imports) and run with bytecode caching on.

Target: the flow <= 1.10x the floor (median of the ratios of the pairs) and never over 3 s.

    python bench/browser_wait.py [--quick] [--runs N]

`--quick` makes one run after no warm-up (the package cache is filled by an untimed raw
install first).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    BENCH_DIR,
    INFO,
    MISS,
    PASS,
    SKIP,
    Row,
    Sandbox,
    alternate,
    envmgr_command,
    fmt_seconds,
    ratio_row,
    remove,
    run_timed,
)
from jupyter_envmgr.kernels.specs import PROVISIONER_NAME

FIGURE = "10"
CHROMIUM = Path("/usr/bin/chromium")
SPECS = ["python", "ipykernel"]
CODE = "import sys; print(sys.prefix)"
LIMIT = 1.10
CEILING = 3.0  # seconds: never over, whatever the floor
LAB_START_TIMEOUT = 180
STEP_TIMEOUT_MS = 240_000

# Installed in the page before the click on Create: records (performance.now(), ms) when each
# step first shows. Clicks are recorded from their events (capture phase), the rest by polling.
RECORDER = """
([env, prefix]) => {
  const t = {};
  window.__envmgrWait = t;
  const button = (root, text) => Array.from(root.querySelectorAll('button'))
    .find(b => b.textContent.trim() === text);
  document.addEventListener('click', e => {
    const b = e.target.closest && e.target.closest('button');
    if (!b) return;
    const text = b.textContent.trim();
    if (text === 'Create' && t.click === undefined) t.click = e.timeStamp;
    if (text === 'New notebook with this env' && t.nbclick === undefined) t.nbclick = e.timeStamp;
  }, true);
  const poll = () => {
    const now = performance.now();
    if (t.view === undefined) {
      const view = document.querySelector(`.jp-EnvMgr-envPanel[data-env="${env}"]`);
      if (view && button(view, 'New notebook with this env')) t.view = now;
    }
    const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
    if (t.nbclick !== undefined && t.notebook === undefined && nb &&
        nb.querySelector('.jp-Cell .cm-content')) t.notebook = now;
    if (t.notebook !== undefined && t.idle === undefined) {
      const bar = document.querySelector('#jp-main-statusbar');
      if (bar && /\\|\\s*(Idle|Busy)\\b/.test(bar.textContent)) t.idle = now;
    }
    if (nb && t.output === undefined) {
      const out = nb.querySelector('.jp-Cell .jp-OutputArea-output');
      if (out && out.textContent.trim() === prefix) t.output = now;
    }
    if (t.output === undefined) setTimeout(poll, 5);
  };
  poll();
}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main_channel() -> Path:
    from bench.create import main_channel as build

    return build()


@dataclass
class Lab:
    url: str
    token: str
    box: Sandbox
    root_dir: Path

    def api(self, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read().decode()
        return json.loads(text) if text else None

    def shutdown_kernels(self) -> None:
        for kind in ("sessions", "kernels"):
            for item in self.api("GET", f"/api/{kind}"):
                with contextlib.suppress(urllib.error.HTTPError):
                    self.api("DELETE", f"/api/{kind}/{item['id']}")

    def page_url(self) -> str:
        return f"{self.url}/lab/workspaces/bw-{uuid.uuid4().hex[:10]}?reset&token={self.token}"


# The other side of an A/B: the same server with the background bytecode compile after a
# change (server/tasks.py, off by default), turned on in this lab's process only.
WITH_BYTECODE = (
    "import sys; from jupyter_envmgr.server.tasks import Bytecode; "
    "Bytecode.enabled = True; "
    "from jupyterlab.labapp import main; sys.argv[0] = 'jupyter-lab'; sys.exit(main())"
)


@contextlib.contextmanager
def running_lab(
    work: Path, box: Sandbox, channel_url: str, *, bytecode: bool = False
) -> Iterator[Lab]:
    """`jupyter lab` with our extensions over ``box`` (the way tests/browser/conftest.py starts
    it), its log in ``work``; ``bytecode``: with the background compile turned on (A/B)."""
    work = work / "bytecode" if bytecode else work
    root_dir, settings, workspaces = work / "notebooks", work / "settings", work / "workspaces"
    for folder in (root_dir, settings, workspaces):
        folder.mkdir(parents=True, exist_ok=True)
    notification = settings / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True, exist_ok=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    port, token = _free_port(), secrets.token_hex(16)
    launch = ["-c", WITH_BYTECODE] if bytecode else ["-m", "jupyterlab"]
    cmd = [
        sys.executable, *launch, "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root_dir}",
        f"--IdentityProvider.token={token}", f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={workspaces}", f"--EnvMgrExtension.root_prefix={box.root}",
        f"--EnvKernelSpecManager.root_prefix={box.root}",
        f"--EnvMgrExtension.default_channels={channel_url}",
    ]  # fmt: skip
    if os.getuid() == 0:
        cmd.append("--allow-root")
    env = box.env()
    env["PYTHONUNBUFFERED"] = "1"
    log = work / "jupyter-lab.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            cmd, env=env, cwd=root_dir, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    lab = Lab(f"http://127.0.0.1:{port}", token, box, root_dir)
    try:
        deadline = time.monotonic() + LAB_START_TIMEOUT
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"jupyter lab did not start:\n{tail}")
            try:
                lab.api("GET", "/api/status", timeout=5)
                break
            except (OSError, urllib.error.URLError):
                time.sleep(0.2)
        yield lab
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Flow:
    """One timed user flow per call, each in a new browser context and a new env."""

    def __init__(self, lab: Lab, browser: Any) -> None:
        self.lab = lab
        self.browser = browser
        self.steps: list[dict[str, float]] = []

    def __call__(self, run: int) -> float:
        name = f"wait{run if run >= 0 else 'w' + str(-run)}-{uuid.uuid4().hex[:4]}"
        prefix = self.lab.box.root / "envs" / name
        context = self.browser.new_context(viewport={"width": 1400, "height": 900})
        context.set_default_timeout(STEP_TIMEOUT_MS)
        try:
            page = context.new_page()
            page.goto(self.lab.page_url())
            page.locator("#jp-main-statusbar").wait_for()
            sidebar = page.locator(".jp-EnvMgr-sidebar")
            if not sidebar.is_visible():
                page.locator('.lm-TabBar-tab[data-id="jp-envmgr-sidebar"]').click()
            sidebar.get_by_role("button", name="New environment").click()
            form = page.locator(".jp-EnvMgr-createPanel")
            form.get_by_label("Environment name").fill(name)
            form.get_by_label("Packages", exact=True).fill(" ".join(SPECS))
            page.evaluate(RECORDER, [name, str(prefix)])
            form.get_by_role("button", name="Create").click()
            view = page.locator(f'.jp-EnvMgr-envPanel[data-env="{name}"]')
            new_notebook = view.get_by_role("button", name="New notebook with this env")
            new_notebook.click()
            cell = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell").first
            editor = cell.locator(".cm-content")
            editor.click()
            page.keyboard.insert_text(CODE)
            page.keyboard.press("Shift+Enter")
            page.wait_for_function("() => window.__envmgrWait.output !== undefined")
            t = page.evaluate("() => window.__envmgrWait")
        finally:
            context.close()
            self.lab.shutdown_kernels()
            subprocess.run(
                [*envmgr_command(), "env", "remove", "-n", name, "-y"],
                env=self.lab.box.env(),
                capture_output=True,
                check=False,
            )
        idle = t.get("idle", t["output"])
        steps = {
            "create_s": (t["view"] - t["click"]) / 1000,
            "notebook_open_s": (t["notebook"] - t["nbclick"]) / 1000,
            "kernel_ready_s": (idle - t["notebook"]) / 1000,
            "first_output_s": (t["output"] - idle) / 1000,
            "script_delay_s": (t["nbclick"] - t["view"]) / 1000,
        }
        total = steps["create_s"] + (t["output"] - t["nbclick"]) / 1000
        steps["total_s"] = total
        if run >= 0:
            self.steps.append(steps)
        return total


class Floor:
    """Raw py-rattler solve + install, then a bare jupyter_client kernel running the line."""

    def __init__(self, work: Path, box: Sandbox, channel_url: str) -> None:
        self.envs = work / "floor"
        self.envs.mkdir(parents=True, exist_ok=True)
        self.box = box
        self.url = channel_url
        self.steps: list[dict[str, float]] = []

    def install(self, prefix: Path) -> float:
        argv = [sys.executable, str(BENCH_DIR / "raw_rattler.py"), self.url, str(prefix)]
        return run_timed([*argv, str(self.box.pkgs), *SPECS], self.box.env())

    def kernel(self, prefix: Path, ours: bool = False) -> tuple[float, float]:
        """(start -> ready, execute -> output) of a bare kernel in ``prefix``; ``ours``: the
        same kernelspec naming our provisioner (activation, the `%envmgr` extension), as the
        server's env kernels do."""
        from jupyter_client.kernelspec import KernelSpec
        from jupyter_client.manager import KernelManager

        python = str(prefix / "bin" / "python")
        spec = KernelSpec(
            argv=[python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            display_name="bare",
            language="python",
            resource_dir=str(prefix),
        )
        if ours:
            config = {"env_prefix": str(prefix), "env_name": None}
            provisioner = {"provisioner_name": PROVISIONER_NAME, "config": config}
            spec.metadata = {"kernel_provisioner": provisioner}
        manager = KernelManager(kernel_name="bare")
        manager._kernel_spec = spec  # the env's kernel, as written: no kernelspec lookup
        env = self.box.env()
        start = time.perf_counter()
        manager.start_kernel(env=env)
        client = manager.client()
        try:
            client.start_channels()
            client.wait_for_ready(timeout=120)
            ready = time.perf_counter()
            out: list[str] = []

            def hook(msg: dict[str, Any]) -> None:
                if msg["msg_type"] == "stream":
                    out.append(msg["content"]["text"])

            client.execute_interactive(CODE, output_hook=hook, timeout=120)
            done = time.perf_counter()
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)
        if "".join(out).strip() != str(prefix):
            raise RuntimeError(f"the bare kernel printed {out!r}, not {prefix}")
        return ready - start, done - ready

    def __call__(self, run: int) -> float:
        prefix = self.envs / f"floor{run}"
        remove(prefix)
        try:
            install = self.install(prefix)
            # In a thread of its own: Playwright's sync API leaves its event loop marked as
            # running in this one, and jupyter_client's blocking calls run a loop.
            with ThreadPoolExecutor(1) as pool:
                ready, execute = pool.submit(self.kernel, prefix).result()
        finally:
            remove(prefix)
        total = install + ready + execute
        if run >= 0:
            self.steps.append({"install_s": install, "kernel_ready_s": ready, "execute_s": execute})
        return total


class KernelStart:
    """Our env kernel (provisioner, activation, `%envmgr`) against a bare one: each run starts
    one in a new env of its own (raw py-rattler), so both write the env's bytecode."""

    def __init__(self, floor: Floor) -> None:
        self.floor = floor

    def side(self, ours: bool) -> Any:
        def run(i: int) -> float:
            prefix = self.floor.envs / f"{'ours' if ours else 'bare'}{i}"
            remove(prefix)
            try:
                self.floor.install(prefix)
                with ThreadPoolExecutor(1) as pool:
                    ready, execute = pool.submit(self.floor.kernel, prefix, ours).result()
            finally:
                remove(prefix)
            return ready + execute

        return run

    def row(self, runs: int, warmup: int) -> Row:
        sides = {"ours": self.side(True), "bare": self.side(False)}
        samples = alternate(sides, runs, warmup=warmup)
        what = "kernel start -> output in a new env: our provisioner vs bare jupyter_client"
        return ratio_row(
            FIGURE, what, samples["ours"], "bare", samples["bare"], limit=1.05, goal=True,
            unit="s",
        )  # fmt: skip


def _median(steps: list[dict[str, float]], key: str) -> float:
    return statistics.median(s[key] for s in steps)


def rows_from(flow: Flow, floor: Floor, samples: dict[str, list[float]]) -> list[Row]:
    what = "Create -> first output in chromium (python ipykernel; New notebook with this env)"
    total = ratio_row(
        FIGURE, what, samples["flow"], "floor", samples["floor"], limit=LIMIT, unit="s"
    )
    total.data["flow_steps"] = flow.steps
    total.data["floor_steps"] = floor.steps
    ours = statistics.median(samples["flow"])
    rows = [
        total,
        Row(
            FIGURE,
            "Create -> first output, never over 3 s",
            fmt_seconds(ours, "s"),
            target=f"< {CEILING:.0f} s",
            result=PASS if ours < CEILING else MISS,
        ),
    ]
    pairs = (
        ("create (click -> env view)", "create_s", "raw solve+install", "install_s"),
        ("notebook open (click -> first cell)", "notebook_open_s", "", ""),
        ("kernel up (cell shown -> Idle/Busy)", "kernel_ready_s", "bare kernel", "kernel_ready_s"),
        ("first output (kernel ready -> output)", "first_output_s", "bare execute", "execute_s"),
    )
    for label, mine, peer_name, theirs in pairs:
        a = _median(flow.steps, mine)
        b = _median(floor.steps, theirs) if theirs else None
        rows.append(
            Row(
                FIGURE,
                f"  step: {label}",
                fmt_seconds(a, "s"),
                f"{peer_name} {fmt_seconds(b, 's')}" if b is not None else "",
                a / b if b else None,
                result=INFO,
            )
        )
    return rows


def ab_rows(flow: Flow, compiled: Flow, samples: dict[str, list[float]]) -> list[Row]:
    """The same flow with (`compiled`) and without (`flow`) the background bytecode compile."""
    what = "  A/B: Create -> first output, with vs without the background bytecode compile"
    with_it, without = samples["compiled"], samples["flow"]
    rows = [ratio_row(FIGURE, what, with_it, "without", without, limit=None, unit="s")]
    rows[0].result = INFO
    a, b = _median(compiled.steps, "kernel_ready_s"), _median(flow.steps, "kernel_ready_s")
    label = "  A/B step: kernel up, with vs without the background bytecode compile"
    rows.append(
        Row(FIGURE, label, fmt_seconds(a, "s"), f"without {fmt_seconds(b, 's')}", a / b,
            result=INFO)
    )  # fmt: skip
    return rows


def figure(work: Path, quick: bool, runs: int | None = None, ab: bool = False) -> list[Row]:
    if not CHROMIUM.exists():
        return [Row(FIGURE, "Create -> first output in chromium", "-", result=SKIP,
                    note=f"{CHROMIUM} is missing")]  # fmt: skip
    runs = runs or (1 if quick else 5)
    work.mkdir(parents=True, exist_ok=True)
    channel = main_channel()
    url = channel.as_uri()
    box = Sandbox(work / "box")
    floor = Floor(work, box, url)
    # The package cache and the channel's cached repodata are filled first (untimed).
    warm = work / "floor" / "warm"
    floor.install(warm)
    remove(warm)
    from playwright.sync_api import sync_playwright

    with contextlib.ExitStack() as stack:
        lab = stack.enter_context(running_lab(work, box, url))
        compiled_lab = None
        if ab:
            compiled_lab = stack.enter_context(running_lab(work, box, url, bytecode=True))
        playwright = stack.enter_context(sync_playwright())
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            flow = Flow(lab, browser)
            sides: dict[str, Any] = {"flow": flow, "floor": floor}
            if compiled_lab is not None:
                sides["compiled"] = compiled = Flow(compiled_lab, browser)
            samples = alternate(sides, runs, warmup=0 if quick else 1)
        finally:
            browser.close()
        rows = rows_from(flow, floor, samples)
        if compiled_lab is not None:
            rows += ab_rows(flow, compiled, samples)
    # With the lab stopped: the kernels alone, on a quieter machine.
    rows.append(KernelStart(floor).row(max(runs, 2 if quick else 7), warmup=0 if quick else 1))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one run, no warm-up round")
    parser.add_argument("--runs", type=int, help="timed runs per side")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a new temp dir)")
    parser.add_argument(
        "--ab", action="store_true",
        help="also the same flow on a server with the background bytecode compile turned on",
    )  # fmt: skip
    args = parser.parse_args()
    import tempfile

    from bench.common import print_table

    work = args.work or Path(tempfile.mkdtemp(prefix="envmgr-bench-wait-"))
    rows = figure(work, args.quick, args.runs, ab=args.ab)
    print_table(rows)
    for row in rows[:1]:
        for side in ("flow_steps", "floor_steps"):
            for steps in row.data.get(side, []):
                print(side, {k: round(v, 3) for k, v in steps.items()})
    if not args.work:
        remove(work)
    return 1 if any(r.result == MISS for r in rows) and not args.quick else 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)
