"""Fast checks of the offline test-channel factory and the channel HTTP server."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import rattler
from rattler.exceptions import SolverError

from jupyter_envmgr.channels import TestChannels, build_test_channels, serve_channel

PLATFORMS = ["linux-64", "noarch"]


@pytest.fixture(scope="module")
def chans() -> TestChannels:
    return build_test_channels()  # default cache: built once per machine, then reused


def repodata(channel: Path, subdir: str) -> dict:
    return json.loads((channel / subdir / "repodata.json").read_text())


def records(channel: Path) -> dict[str, dict]:
    out = {}
    for subdir in PLATFORMS:
        data = repodata(channel, subdir)
        for fn, rec in {**data.get("packages", {}), **data.get("packages.conda", {})}.items():
            out[fn] = rec
    return out


def name_versions(channel: Path) -> set[tuple[str, str]]:
    return {(r["name"], r["version"]) for r in records(channel).values()}


def solve(sources: list[str], specs: list[str], **kw) -> dict[str, str]:
    recs = asyncio.run(rattler.solve(sources, specs, platforms=PLATFORMS, **kw))
    return {r.name.normalized: str(r.version) for r in recs}


def install(sources: list[str], specs: list[str], prefix: Path) -> None:
    async def run() -> None:
        recs = await rattler.solve(sources, specs, platforms=PLATFORMS)
        await rattler.install(recs, prefix, show_progress=False)

    asyncio.run(run())


def test_main_channel_lists_expected_packages(chans: TestChannels) -> None:
    have = name_versions(chans.main)
    expected = {
        ("python", chans.python_version),
        ("alpha", "1.0"),
        ("alpha", "1.5"),
        ("alpha", "2.0"),
        ("beta", "1.0"),
        ("beta", "2.0"),
        ("gamma", "1.0"),
        ("delta", "1.0"),
        ("delta", "1.1"),
        ("prefixpkg", "1.0"),
        ("manyfiles", "1.0"),
        ("broken-dep", "1.0"),
        ("activate-pkg", "1.0"),
    }
    assert expected <= have
    names = {n for n, _ in have}
    assert {"ipykernel", "ipython", "jupyter-client", "pyzmq", "tornado", "pip"} <= names
    assert {"ipywidgets", "widgetsnbextension", "jupyterlab-widgets", "comm"} <= names
    recs = {r["name"] + "-" + r["version"]: r for r in records(chans.main).values()}
    assert recs["beta-2.0"]["depends"] == ["python", "alpha >=2"]
    assert recs["gamma-1.0"]["constrains"] == ["alpha <1.5"]
    assert recs["alpha-1.0"]["noarch"] == "python"
    assert recs["delta-1.0"]["noarch"] == "generic"
    assert recs[f"python-{chans.python_version}"]["subdir"] == "linux-64"
    pyzmq = next(r for k, r in recs.items() if k.startswith("pyzmq-"))
    assert pyzmq["subdir"] == "linux-64" and pyzmq["depends"][0].startswith("python >=3.")


def test_extra_channel(chans: TestChannels) -> None:
    assert name_versions(chans.extra) == {("alpha", "9.0"), ("delta", "5.0")}
    assert chans.extra_url.startswith("file:///") and chans.extra_url.endswith("/extra")


def test_cache_hit_is_fast(chans: TestChannels) -> None:
    start = time.perf_counter()
    again = build_test_channels()
    assert time.perf_counter() - start < 0.5
    assert again == chans


def test_fresh_cache_dir_builds(tmp_path: Path) -> None:
    small = build_test_channels(cache_dir=tmp_path, many_files=7)
    rec = next(r for r in records(small.main).values() if r["name"] == "manyfiles")
    assert rec["version"] == "1.0"
    assert not list(tmp_path.glob(".tmp-*"))  # the build dir was renamed into place
    assert build_test_channels(cache_dir=tmp_path, many_files=7) == small


def test_python_with_ipykernel_runs_from_new_prefix(chans: TestChannels, tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    install([chans.main_url], ["python", "ipykernel"], prefix)
    py = prefix / "bin" / "python"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # nothing leaks from the venv
    out = subprocess.run(
        [py, "-c", "import sys, ipykernel, zmq, tornado; print('ok', sys.prefix)"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert out.split() == ["ok", str(prefix)]
    subprocess.run(
        [py, "-m", "ipykernel_launcher", "--help"],
        capture_output=True,
        env=env,
        check=True,
        timeout=60,
    )


def test_synthetic_packages_install(chans: TestChannels, tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    specs = ["python", "beta ==1.0", "prefixpkg", "activate-pkg", "delta", "manyfiles"]
    assert solve([chans.main_url], specs)["alpha"] == "1.5"
    install([chans.main_url], specs, prefix)
    code = "import alpha; print(alpha.__version__)"
    out = subprocess.run(
        [prefix / "bin" / "python", "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "1.5"
    hello = subprocess.run(
        [prefix / "bin" / "prefixpkg-hello"], capture_output=True, text=True, check=True
    ).stdout
    assert hello.strip() == f"prefix={prefix}"
    assert (prefix / "etc" / "prefixpkg.conf").read_text().strip() == f"prefix={prefix}"
    assert (
        "ENVMGR_TEST_ACTIVATED=yes" in (prefix / "etc/conda/activate.d/activate-pkg.sh").read_text()
    )
    assert (prefix / "share/delta/delta.txt").read_text() == "delta 1.1\n"
    assert len(os.listdir(prefix / "share/manyfiles")) == 2000


def test_conflicts_are_unsatisfiable(chans: TestChannels) -> None:
    with pytest.raises(SolverError):
        solve([chans.main_url], ["gamma", "alpha >=2"])
    with pytest.raises(SolverError):
        solve([chans.main_url], ["broken-dep"])
    assert solve([chans.main_url], ["gamma", "alpha"])["alpha"] == "1.0"
    newest = solve([chans.main_url], ["beta"])
    assert (newest["beta"], newest["alpha"]) == ("2.0", "2.0")


def test_channel_priority(chans: TestChannels) -> None:
    assert solve([chans.extra_url, chans.main_url], ["alpha"])["alpha"] == "9.0"
    assert solve([chans.main_url, chans.extra_url], ["alpha"])["alpha"] == "2.0"
    assert solve([chans.main_url, chans.extra_url], [f"{chans.extra_url}::delta"])["delta"] == "5.0"


def test_http_server_serves_repodata(chans: TestChannels, tmp_path: Path) -> None:
    with serve_channel(chans.main) as url:
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{url}/noarch/repodata.json") as resp:
            assert json.loads(resp.read()) == repodata(chans.main, "noarch")
        gateway = rattler.Gateway(cache_dir=tmp_path / "repodata-cache")
        found = solve([url], ["python", "alpha <2"], gateway=gateway)
    assert found["alpha"] == "1.5" and found["python"] == chans.python_version


def _package(chans: TestChannels, name: str) -> Path:
    return next((chans.main / "noarch").glob(f"{name}-*.conda"))


def test_slow_server_is_slow(chans: TestChannels) -> None:
    pkg = _package(chans, "manyfiles")  # ~90 KiB
    with serve_channel(chans.main, chunk_delay=0.05, chunk_size=16384) as url:
        start = time.perf_counter()
        urllib.request.urlopen(f"{url}/noarch/repodata.json").read()
        assert time.perf_counter() - start < 0.5  # repodata is not slowed down
        start = time.perf_counter()
        body = urllib.request.urlopen(f"{url}/noarch/{pkg.name}").read()
        chunks = -(-pkg.stat().st_size // 16384)
        assert time.perf_counter() - start >= 0.05 * (chunks - 1)
        assert body == pkg.read_bytes()
        # A transfer still running when the context exits must not hold up shutdown.
        very_slow = urllib.request.urlopen(f"{url}/noarch/{pkg.name}")
        threading.Thread(target=lambda: _swallow(very_slow.read), daemon=True).start()
        start = time.perf_counter()
    assert time.perf_counter() - start < 2


def _swallow(fn: Callable[[], object]) -> None:
    with contextlib.suppress(Exception):  # the server hangs up on it: expected
        fn()


def test_dropping_server_drops(chans: TestChannels) -> None:
    pkg = _package(chans, "manyfiles")
    with serve_channel(chans.main, drop_after=1000) as url:
        with urllib.request.urlopen(f"{url}/noarch/{pkg.name}") as resp:
            assert int(resp.headers["Content-Length"]) == pkg.stat().st_size
            with pytest.raises(http.client.IncompleteRead) as err:
                resp.read()
        assert len(err.value.partial) == 1000
        # repodata is never truncated
        urllib.request.urlopen(f"{url}/noarch/repodata.json").read()
