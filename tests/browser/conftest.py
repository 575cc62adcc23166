"""Browser tests: a real `jupyter lab` over a sandbox, driven by Playwright in Debian's chromium.

Fixtures
- ``lab`` (session): a running JupyterLab (subprocess of this venv) with our extensions, over
  a session sandbox whose envs come from the offline test channel; see ``LabServer``.
- ``browser`` (package): one headless ``/usr/bin/chromium``.  Package-scoped on purpose: between
  two sync calls Playwright leaves its event loop marked as *running* in this thread, which would
  break every later test that uses asyncio; stopping it at the end of tests/browser/ clears that.
- ``artifacts`` (function): this test's folder for screenshots, console log and trace.
- ``page`` (function): a Playwright ``Page`` in a new browser context.
- ``lab_page`` (function): ``LabPage`` helpers over ``page`` (workspaces, notebooks, cells).

Tests are plain sync functions (Playwright's sync API cannot run inside an asyncio loop; the
pytest-jupyter loop fixtures are switched off here).  ``lab.create_env(name, *specs)`` makes an env
from the offline main channel with the CLI; its kernel is ``conda-env-<name>-python3``.

Artifacts go to ``$ENVMGR_TEST_ARTIFACTS`` or tests/browser/artifacts/ (gitignored), one folder
per test, replaced when the test runs again; the folder is printed in pytest's summary.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from jupyter_envmgr.channels import TestChannels

from ..helpers import CliResult, Sandbox, on

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("ENVMGR_TEST_ARTIFACTS") or Path(__file__).parent / "artifacts")
# Seconds JupyterLab gets to answer /api/status (a cold start on 2 busy cores takes ~5-15 s).
LAB_START_TIMEOUT = 120
_timings: dict[str, float] = {}
_used_artifacts: list[Path] = []


# --- pytest-jupyter: its autouse fixtures are for in-process servers and an asyncio loop ---------
# Playwright's sync API marks its own loop as running in this thread between calls: the loop
# pytest-jupyter would hand out (and close, and run its server cleanup on) is that one. Browser
# tests are plain sync tests with the server in a subprocess: neither fixture applies.


@pytest.fixture(autouse=True)
def jp_asyncio_loop() -> None:
    return None


@pytest.fixture(autouse=True)
def jp_server_cleanup() -> None:
    return None


# --- the JupyterLab server --------------------------------------------------------------------


@dataclass
class LabServer:
    """A running `jupyter lab` over ``sandbox`` (HOME, MAMBA_ROOT_PREFIX, CONDA_PKGS_DIRS)."""

    url: str  # http://127.0.0.1:PORT, no trailing slash
    token: str
    sandbox: Sandbox
    root_dir: Path  # the server's root dir: notebooks live here
    channels: TestChannels
    log: Path  # the server's stdout and stderr (copied to the artifacts at the end)
    proc: subprocess.Popen = field(repr=False)

    def run_cli(self, *args: str, check: bool = True, timeout: float = 300) -> CliResult:
        """`envmgr ARGS...` with the server's environment (as ``Sandbox.run``)."""
        return self.sandbox.run(*args, check=check, timeout=timeout)

    def create_env(self, name: str, *specs: str) -> Path:
        """`envmgr create -n NAME SPECS -y` from the main test channel only; the env's prefix."""
        self.run_cli("create", *on(self.channels.main_url, name, *specs))
        return self.sandbox.envs / name

    def api(self, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
        """A REST call with the token (``path`` starts with /api or /envmgr); parsed JSON."""
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

    def kernelspecs(self) -> dict[str, dict]:
        """name -> kernelspec model, as JupyterLab sees them."""
        return self.api("GET", "/api/kernelspecs")["kernelspecs"]

    def wait_for_kernelspec(self, name: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            specs = self.kernelspecs()
            if name in specs:
                return specs[name]
            if time.monotonic() > deadline:
                raise AssertionError(f"kernel {name!r} not listed; have {sorted(specs)}")
            time.sleep(0.5)

    def lab_url(self, path: str = "/lab", **params: str) -> str:
        query = "&".join([f"{k}={quote(v)}" if v else k for k, v in params.items()])
        token = f"token={self.token}"
        return f"{self.url}{path}?{query + '&' if query else ''}{token}"

    def shutdown_kernels(self) -> None:
        """End every session and kernel (between tests)."""
        for session in self.api("GET", "/api/sessions"):
            _quiet(self.api, "DELETE", f"/api/sessions/{session['id']}")
        for kernel in self.api("GET", "/api/kernels"):
            _quiet(self.api, "DELETE", f"/api/kernels/{kernel['id']}")


def _quiet(fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except urllib.error.HTTPError as exc:
        if exc.code != 404:  # already gone
            raise


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _session_sandbox(base: Path, pkgs: Path) -> Sandbox:
    """Like tests/conftest.py's ``sandbox``, for the whole session."""
    home, root = base / "home", base / "root"
    home.mkdir()
    drop = ("CONDA", "MAMBA", "ENVMGR", "JUPYTER")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    # Kernels must import their env's own packages, not this venv's.
    env.pop("PYTHONPATH", None)
    env.update(
        HOME=str(home), MAMBA_ROOT_PREFIX=str(root), CONDA_PKGS_DIRS=str(pkgs), PYTHONUNBUFFERED="1"
    )
    return Sandbox(home=home, root=root, pkgs=pkgs, env=env)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# The front ends a test can start: (module run with -m, its application's config class).
FRONT_ENDS = {"lab": ("jupyterlab", "LabApp"), "notebook7": ("notebook", "JupyterNotebookApp")}


@contextlib.contextmanager
def running_lab(
    base: Path,
    sandbox: Sandbox,
    channels: TestChannels,
    *extra: str,
    log_name: str,
    front_end: str = "lab",
) -> Iterator[LabServer]:
    """A real `jupyter lab` (or Notebook 7: ``front_end="notebook7"``) with our extensions over
    ``sandbox``'s root prefix (``extra``: more server options, e.g. an admin policy); stopped,
    and its log kept, at the end."""
    module, app = FRONT_ENDS[front_end]
    root_dir, settings, workspaces = base / "notebooks", base / "settings", base / "workspaces"
    for folder in (root_dir, settings, workspaces):
        folder.mkdir()
    # No news popup over the page (the news_url option does not stop it), no update check.
    notification = settings / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    port, token = _free_port(), secrets.token_hex(16)
    log = base / "jupyter-lab.log"  # copied to the artifacts at the end
    cmd = [
        sys.executable, "-m", module, "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root_dir}",
        f"--IdentityProvider.token={token}",  # --ServerApp.token is its deprecated alias
        f"--{app}.user_settings_dir={settings}",
        f"--{app}.workspaces_dir={workspaces}",
        f"--EnvMgrExtension.root_prefix={sandbox.root}",
        f"--EnvKernelSpecManager.root_prefix={sandbox.root}",
        f"--EnvMgrExtension.default_channels={channels.main_url}",  # a List trait: one item
        *extra,
    ]  # fmt: skip
    if os.getuid() == 0:
        cmd.append("--allow-root")  # CI runs as root
    start = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen(
            cmd, env=sandbox.env, cwd=root_dir, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    server = LabServer(
        url=f"http://127.0.0.1:{port}", token=token, sandbox=sandbox, root_dir=root_dir,
        channels=channels, log=log, proc=proc,
    )  # fmt: skip
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited ({proc.returncode}):\n{_tail(log)}")
            if time.monotonic() - start > LAB_START_TIMEOUT:
                raise RuntimeError(
                    f"jupyter lab did not answer in {LAB_START_TIMEOUT}s:\n{_tail(log)}"
                )
            try:
                server.api("GET", "/api/status", timeout=5)
                break
            except (OSError, urllib.error.URLError):
                time.sleep(0.2)
        _timings[f"jupyter lab start ({log_name})"] = time.monotonic() - start
        yield server
    finally:
        proc.terminate()  # jupyter_server shuts its kernels down on SIGTERM
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log, ARTIFACTS / log_name)


@pytest.fixture(scope="session")
def lab(
    tmp_path_factory: pytest.TempPathFactory, shared_pkgs: Path, channels: TestChannels
) -> Iterator[LabServer]:
    base = tmp_path_factory.mktemp("lab")
    sandbox = _session_sandbox(base, shared_pkgs)
    with running_lab(base, sandbox, channels, log_name="jupyter-lab.log") as server:
        yield server


# --- the browser ------------------------------------------------------------------------------


def _require_chromium() -> None:
    """Skip when chromium is missing on a developer's machine; under CI that is a failure."""
    if not CHROMIUM.exists():
        why = f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # Before any fixture: no JupyterLab is started for a test that is skipped anyway.
    if "browser" in getattr(item, "fixturenames", ()):
        _require_chromium()


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()  # also ends the loop it left marked as running in this thread


_failed = pytest.StashKey[bool]()
_folder = pytest.StashKey[Path]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_failed] = report.failed
    if report.failed and _folder in item.stash:
        where = f"{item.stash[_folder]} (failure.png and trace.zip are written at teardown)"
        report.sections.append(("browser artifacts", where))
    return report


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    # test_file.test_name[params]: one folder per test
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{request.node.path.stem}.{request.node.name}")
    folder = ARTIFACTS / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    _used_artifacts.append(folder)
    request.node.stash[_folder] = folder
    return folder


@pytest.fixture
def page(browser: Any, artifacts: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A page in a fresh browser context; its console goes to ``artifacts/console.log``, and a
    failed test leaves ``failure.png`` and a Playwright ``trace.zip`` there."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(30_000)
    context.tracing.start(screenshots=True, snapshots=True)
    console = open(artifacts / "console.log", "w")
    page = context.new_page()
    page.on("console", lambda msg: console.write(f"{msg.type}: {msg.text}\n"))
    page.on("pageerror", lambda err: console.write(f"pageerror: {err}\n"))
    try:
        yield page
    finally:
        failed = request.node.stash.get(_failed, True)
        try:
            if failed:
                page.screenshot(path=artifacts / "failure.png")
                context.tracing.stop(path=artifacts / "trace.zip")
            else:
                context.tracing.stop()
        finally:
            context.close()
            console.close()


# --- JupyterLab helpers -----------------------------------------------------------------------


def write_notebook(lab: LabServer, kernel: str, name: str) -> None:
    """An empty notebook for ``kernel`` (a kernelspec name) in the lab's root dir."""
    spec = lab.wait_for_kernelspec(kernel)["spec"]
    content = {
        "cells": [
            {
                "cell_type": "code", "id": uuid.uuid4().hex[:8], "metadata": {},
                "source": "", "outputs": [], "execution_count": None,
            }
        ],
        "metadata": {
            "kernelspec": {
                "name": kernel, "display_name": spec["display_name"],
                "language": spec.get("language", "python"),
            }
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }  # fmt: skip
    body = {"type": "notebook", "format": "json", "content": content}
    lab.api("PUT", f"/api/contents/{quote(name)}", body)


class LabPage:
    """Steps in JupyterLab, each with a numbered screenshot in ``artifacts``."""

    def __init__(self, page: Any, lab: LabServer, artifacts: Path) -> None:
        self.page = page
        self.lab = lab
        self.artifacts = artifacts
        self._shots = 0

    def shot(self, name: str) -> Path:
        self._shots += 1
        path = self.artifacts / f"{self._shots:02d}-{name}.png"
        self.page.screenshot(path=path)
        return path

    def open_workspace(self, tree: str | None = None) -> None:
        """A fresh workspace (`/lab/workspaces/<unique>?reset`), opening ``tree`` (a path in the
        root dir) if given; returns when the application shell is ready."""
        path = f"/lab/workspaces/ws-{uuid.uuid4().hex[:10]}"
        if tree:
            path += "/tree/" + quote(tree)
        self.page.goto(self.lab.lab_url(path, reset=""))
        self.page.locator("#jp-main-statusbar").wait_for()
        if tree is None:
            self.page.locator(".jp-Launcher").first.wait_for()
        self.shot("workspace")

    def new_notebook(self, kernel: str, name: str | None = None) -> str:
        """Write an empty notebook for ``kernel`` (a kernelspec name) into the root dir, open it
        in a fresh workspace and wait until its kernel is idle; its path."""
        name = name or f"nb-{uuid.uuid4().hex[:8]}.ipynb"
        write_notebook(self.lab, kernel, name)
        self.open_workspace(name)
        self.notebook.locator(".jp-Cell").first.wait_for()
        self.wait_for_idle()
        return name

    @property
    def notebook(self) -> Any:
        """The notebook panel in front."""
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")

    @property
    def cells(self) -> Any:
        return self.notebook.locator(".jp-Notebook .jp-Cell")

    def kernel_status(self) -> str:
        """The status bar's kernel item, e.g. "Python 3 (ipykernel) [env: demo] | Idle"."""
        return str(self.page.locator("#jp-main-statusbar").inner_text())

    def wait_for_idle(self, timeout: float = 120_000) -> None:
        """Until the status bar reads `| Idle`: the kernel is connected and not busy (the
        toolbar's indicator turns idle before the connection is made)."""
        status = self.page.locator("#jp-main-statusbar").get_by_text(re.compile(r"\|\s*Idle\b"))
        status.first.wait_for(timeout=timeout)
        self.shot("idle")

    def run_cell(self, code: str, timeout: float = 120_000) -> str:
        """Type ``code`` into the last (empty) cell, run it with Shift+Enter, wait for its
        execution count; its output text."""
        index = self.cells.count() - 1
        cell = self.cells.nth(index)
        editor = cell.locator(".cm-content")
        editor.click()
        # insert_text: no auto-indent or auto-closed brackets as with typed keys.
        self.page.keyboard.insert_text(code)
        self._wait_for_source(editor, code)
        self.shot("typed")
        self.page.keyboard.press("Shift+Enter")
        from playwright.sync_api import expect

        prompt = cell.locator(".jp-InputPrompt")
        expect(prompt).to_have_text(re.compile(r"^\s*\[\d+\]:\s*$"), timeout=timeout)
        self.shot("ran")
        return self.cell_output(index)

    def _wait_for_source(self, editor: Any, code: str, timeout: float = 10) -> None:
        lines = "e => Array.from(e.querySelectorAll('.cm-line'), l => l.textContent).join('\\n')"
        deadline = time.monotonic() + timeout
        while (text := editor.evaluate(lines)) != code:
            if time.monotonic() > deadline:
                raise AssertionError(f"the cell reads {text!r}, not {code!r}")
            time.sleep(0.1)

    def cell_output(self, index: int = -1) -> str:
        """The text of cell ``index``'s outputs, one line per output."""
        cell = self.cells.nth(index if index >= 0 else self.cells.count() + index)
        texts = cell.locator(".jp-OutputArea-output").all_inner_texts()
        return "\n".join(t.strip() for t in texts)


@pytest.fixture
def lab_page(page: Any, lab: LabServer, artifacts: Path) -> Iterator[LabPage]:
    yield LabPage(page, lab, artifacts)
    lab.shutdown_kernels()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _used_artifacts:
        return
    timings = ", ".join(f"{k} {v:.1f}s" for k, v in _timings.items())
    terminalreporter.write_line(
        f"browser tests: screenshots, console logs and jupyter-lab.log in {ARTIFACTS}"
        + (f" ({timings})" if timings else "")
    )
