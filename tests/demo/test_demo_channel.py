"""The demo's channel: conda-forge when it answers, else the offline channel of familiar real
packages; a flag or ENVMGR_DEMO_CHANNEL decides."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_envmgr.channels.demo import (
    FAMILIAR,
    build_demo_channel,
    choose_channel,
    probe,
)

from . import user_environ


def _records(channel: Path) -> dict[str, dict]:
    out = {}
    for subdir in ("noarch", "linux-64"):
        data = json.loads((channel / subdir / "repodata.json").read_text())
        for rec in data.get("packages.conda", {}).values():
            out[rec["name"]] = rec
    return out


def test_the_offline_channel_holds_familiar_real_packages_and_no_test_ones() -> None:
    records = _records(build_demo_channel())
    expected = {"python", "ipykernel", "ipywidgets", *FAMILIAR}
    expected |= {"urllib3", "idna", "certifi", "charset-normalizer"}  # requests' closure
    assert expected <= set(records)
    assert not {"alpha", "beta", "manyfiles", "broken-dep"} & set(records)
    # A compiled wheel becomes a linux-64 package for this Python; a pure one a noarch one.
    major, minor = sys.version_info[:2]
    assert records["numpy"]["subdir"] == "linux-64"
    assert f"python >={major}.{minor},<{major}.{minor + 1}" in records["numpy"]["depends"]
    assert records["requests"]["subdir"] == "noarch" and records["requests"]["noarch"] == "python"
    assert {"urllib3", "idna", "certifi", "charset-normalizer"} <= {
        dep.split()[0] for dep in records["requests"]["depends"]
    }


def test_the_offline_channel_is_cached() -> None:
    assert build_demo_channel() == build_demo_channel()


class _Calls:
    def __init__(self, reach: str | None) -> None:
        self.reach_result, self.probes, self.builds = reach, 0, 0

    def reach(self) -> str | None:
        self.probes += 1
        return self.reach_result

    def build(self) -> Path:
        self.builds += 1
        return Path("/cache/demo")


def test_auto_uses_conda_forge_when_it_answers() -> None:
    calls = _Calls(reach=None)
    choice = choose_channel(environ={}, reach=calls.reach, build=calls.build)
    assert (choice.channel, choice.local, calls.builds) == ("conda-forge", False, 0)


def test_auto_falls_back_to_the_offline_channel_and_says_so() -> None:
    calls = _Calls(reach="Name or service not known")
    choice = choose_channel(environ={}, reach=calls.reach, build=calls.build)
    assert (choice.channel, choice.local) == ("file:///cache/demo", True)
    assert "conda-forge is not reachable (Name or service not known)" in choice.why
    assert "ENVMGR_DEMO_CHANNEL=conda-forge" in choice.why


@pytest.mark.parametrize(
    ("flag", "variable", "channel"),
    [
        (None, "conda-forge", "conda-forge"),
        (None, "local", "file:///cache/demo"),
        ("local", "conda-forge", "file:///cache/demo"),  # the flag wins
        ("https://mirror.example/conda-forge", None, "https://mirror.example/conda-forge"),
    ],
)
def test_a_flag_or_the_variable_chooses_without_probing(flag, variable, channel) -> None:
    calls = _Calls(reach="unused")
    environ = {"ENVMGR_DEMO_CHANNEL": variable} if variable else {}
    choice = choose_channel(flag, environ=environ, reach=calls.reach, build=calls.build)
    assert choice.channel == channel and calls.probes == 0


@pytest.fixture
def http_status() -> Iterator[tuple[str, dict]]:
    answer = {"status": 200}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:  # noqa: N802
            self.send_response(answer["status"])
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/noarch/repodata.json", answer
    finally:
        server.shutdown()
        server.server_close()


def test_probe_says_why_a_channel_does_not_answer(http_status) -> None:
    url, answer = http_status
    assert probe(url, timeout=5) is None
    answer["status"] = 503
    assert probe(url, timeout=5) == "HTTP 503"
    assert probe("http://127.0.0.1:9/", timeout=5)  # nothing listens on the discard port


def test_the_command_prints_the_channel_and_explains_on_stderr(tmp_path: Path) -> None:
    env = user_environ(tmp_path, ENVMGR_DEMO_CHANNEL="conda-forge")
    proc = subprocess.run(
        [sys.executable, "-m", "jupyter_envmgr.channels", "--demo"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "conda-forge\n"
    assert "Using conda-forge (ENVMGR_DEMO_CHANNEL=conda-forge)" in proc.stderr
