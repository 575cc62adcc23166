"""pip packages in locks: what pip installed in an env is read back as exact entries (with the
wheel's URL and sha256 when pip recorded them), a lock carrying them recreates the env with the
env's own pip, and a lock whose pip entries could fetch from elsewhere is refused before
anything changes. Wheels are real (built here), served from a PEP 503 index on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import json
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from jupyter_envmgr.channels import serve_channel
from jupyter_envmgr.engine import operations
from jupyter_envmgr.engine.envfile import EnvFile
from jupyter_envmgr.engine.errors import BadInput, EnvMgrError, Forbidden
from jupyter_envmgr.engine.pip_lock import (
    PipLockEntry,
    check_pip_entries,
    entries_from_json,
    entries_to_json,
    pip_entries,
)
from jupyter_envmgr.engine.policy import Policy
from jupyter_envmgr.engine.prefix import read_records
from jupyter_envmgr.engine.settings import load_settings

from ..helpers import Sandbox, installed, on, tree_snapshot


def _make_wheel(folder: Path, name: str, version: str) -> Path:
    files = {
        f"{name}/__init__.py": f"VALUE = {version!r}\n",
        f"{name}-{version}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        ),
        f"{name}-{version}.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{name}-{version}.dist-info/RECORD,,")
    files[f"{name}-{version}.dist-info/RECORD"] = "\n".join(record) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return wheel


@dataclass
class Index:
    url: str  # the server's root: <url>/simple is the index, <url>/files the wheels
    sha256: dict[str, str]  # wheel file name -> its sha256
    requests: list[str]  # every path fetched from the server

    @property
    def simple(self) -> str:
        return f"{self.url}/simple"

    def wheel_url(self, name: str, version: str) -> str:
        return f"{self.url}/files/{name}-{version}-py3-none-any.whl"


@pytest.fixture
def index(tmp_path: Path) -> Iterator[Index]:
    root = tmp_path / "index"
    (root / "files").mkdir(parents=True)
    hashes = {}
    for name, version in (("tinywheel", "0.1"), ("otherwheel", "0.2")):
        wheel = _make_wheel(root / "files", name, version)
        hashes[wheel.name] = hashlib.sha256(wheel.read_bytes()).hexdigest()
        page = root / "simple" / name
        page.mkdir(parents=True)
        link = f"../../files/{wheel.name}#sha256={hashes[wheel.name]}"
        (page / "index.html").write_text(f'<html><body><a href="{link}">{wheel.name}</a>\n')
    requests: list[str] = []
    with serve_channel(root, requests=requests) as url:
        yield Index(url, hashes, requests)


def _pip(sandbox: Sandbox, prefix: Path, *args: str) -> None:
    # --isolated: the test user's pip configuration plays no part; only these arguments do.
    argv = [str(prefix / "bin" / "python"), "-m", "pip", "--isolated", *args]
    proc = subprocess.run(argv, env=sandbox.env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture
def src(sandbox: Sandbox, channels, index: Index) -> Path:
    """An env from the test channels with two pip packages: tinywheel from the index,
    otherwheel from its wheel's URL."""
    sandbox.run("create", *on(channels.main_url, "src", "python", "pip"))
    prefix = sandbox.envs / "src"
    _pip(sandbox, prefix, "install", "--no-deps", "--index-url", index.simple, "tinywheel==0.1")
    _pip(sandbox, prefix, "install", "--no-deps", index.wheel_url("otherwheel", "0.2"))
    return prefix


@pytest.fixture
def in_process(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch):
    """The engine called here, as the server calls it: the sandbox's HOME (pip's cache) and
    root prefix hold in this process too."""
    for key in ("HOME", "MAMBA_ROOT_PREFIX", "CONDA_PKGS_DIRS"):
        monkeypatch.setenv(key, sandbox.env[key])
    return load_settings(sandbox.env, home=sandbox.home)


def _lock_with_pip(prefix: Path, tmp_path: Path, pip: list[PipLockEntry]) -> EnvFile:
    """The env's exact conda packages (as a clone takes them) and `pip` entries: what a lock
    file's reader hands the engine (the formats' own round trips are tested with them)."""
    return EnvFile(
        "lock", str(tmp_path / "env.lock"), records=read_records(prefix), pip_lock=tuple(pip)
    )


def _python(prefix: Path, code: str) -> str:
    proc = subprocess.run(
        [str(prefix / "bin" / "python"), "-c", code], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_pip_entries_report_what_pip_installed_with_url_and_hash_when_recorded(src, index):
    entries = pip_entries(src)
    wheel = "otherwheel-0.2-py3-none-any.whl"
    assert entries == [
        # Installed from its URL: pip's direct_url.json gives the URL and the file's sha256.
        PipLockEntry(
            "otherwheel", "0.2", index.wheel_url("otherwheel", "0.2"), index.sha256[wheel], "url"
        ),  # fmt: skip
        # Installed from an index: pip recorded neither; the lock pins name==version.
        PipLockEntry("tinywheel", "0.1", None, None, "index"),
    ]
    # conda's own python packages (pip itself among them) are conda's, not pip entries.
    assert "pip" not in {e.name for e in entries}
    check_pip_entries(entries, None, where="env.lock")  # both can be locked
    assert entries_from_json(json.loads(json.dumps(entries_to_json(entries)))) == entries


@pytest.mark.parametrize(
    "info, words",
    [
        ({"vcs_info": {"vcs": "git", "commit_id": "0" * 40}}, "installed from a VCS URL"),
        ({"dir_info": {"editable": True}}, "installed from a local folder"),
    ],
)
def test_vcs_and_folder_installs_are_marked_and_cannot_be_locked(src, info, words):
    # What pip writes for `pip install git+https://...` and `pip install -e ./folder`.
    direct_url = next(src.glob("lib/python*/site-packages/otherwheel-0.2.dist-info"))
    url = "git+https://example.org/other.git" if "vcs_info" in info else "file:///home/u/other"
    (direct_url / "direct_url.json").write_text(json.dumps({"url": url, **info}))
    other = next(e for e in pip_entries(src) if e.name == "otherwheel")
    assert other.source == ("vcs" if "vcs_info" in info else "dir")
    with pytest.raises(BadInput) as exc:
        check_pip_entries(pip_entries(src), None, where="env.lock")
    message = exc.value.message
    assert message.startswith("env.lock: otherwheel") and words in message
    assert "it cannot be locked; install it from an index" in message


def test_a_lock_with_pip_entries_recreates_conda_and_pip_packages(
    sandbox, src, index, in_process, tmp_path
):
    env_file = _lock_with_pip(src, tmp_path, pip_entries(src))
    request = operations.Request(kind="create", name="copy", env_file=env_file, cmd="test")
    policy = Policy(pip_index_urls=(index.simple,))  # pip's index: the admin's
    asyncio.run(operations.run(in_process, request, policy=policy))
    copy = sandbox.envs / "copy"
    assert installed(copy) == installed(src)
    assert pip_entries(copy) == pip_entries(src)  # the same URL and hash, the same versions
    assert _python(copy, "import tinywheel, otherwheel; print(tinywheel.VALUE, otherwheel.VALUE)")
    # The URL entry came from its URL, hash-checked; the index entry from the index.
    assert "/simple/tinywheel/" in index.requests
    assert "/files/otherwheel-0.2-py3-none-any.whl" in index.requests

    # A sync with the same lock puts back a pip package the env lost, and only that one.
    _pip(sandbox, copy, "uninstall", "-y", "tinywheel")
    index.requests.clear()
    request = operations.Request(kind="sync", name="copy", env_file=env_file, cmd="test")
    asyncio.run(operations.run(in_process, request, policy=policy))
    assert pip_entries(copy) == pip_entries(src)
    assert "/simple/tinywheel/" in index.requests
    assert "/files/otherwheel-0.2-py3-none-any.whl" not in index.requests


def test_a_pip_entry_whose_file_does_not_match_its_hash_rolls_the_create_back(
    sandbox, src, index, in_process, tmp_path
):
    wrong = dataclasses.replace(pip_entries(src)[0], sha256="0" * 64)
    env_file = _lock_with_pip(src, tmp_path, [wrong])
    request = operations.Request(kind="create", name="copy", env_file=env_file, cmd="test")
    with pytest.raises(EnvMgrError) as exc:
        asyncio.run(operations.run(in_process, request))
    assert "pip install of the lock's pip packages failed" in exc.value.message
    assert "HASH" in exc.value.message.upper()
    assert not (sandbox.envs / "copy").exists()


OUTSIDE = "http://127.0.0.1:9/elsewhere/otherwheel-0.2-py3-none-any.whl"


def _refusals(
    index_url: str, main_url: str
) -> list[tuple[list[PipLockEntry], Policy | None, type, str]]:
    allow = Policy(allowed_channels=(main_url,), pip_index_urls=(index_url,))
    return [
        # A VCS checkout: no lock reproduces it.
        ([PipLockEntry("other", "1.0", "git+https://example.org/o.git", None, "vcs")], None,
         BadInput, "installed from a VCS URL"),
        # pip options smuggled into a name or a version.
        ([PipLockEntry("--index-url=http://evil.example/simple", "1.0")], None, BadInput,
         "is not a pip package name"),
        ([PipLockEntry("tinywheel", "0.1 --extra-index-url http://evil.example")], None,
         BadInput, "not a version pip can pin"),
        # A URL spelled to slip past a prefix check.
        ([PipLockEntry("otherwheel", "0.2", f"{index_url}/../x/o-0.2-py3-none-any.whl",
                       None, "url")], None, BadInput, "must be written"),
        # A URL outside the admin's pip indexes.
        ([PipLockEntry("otherwheel", "0.2", OUTSIDE, "a" * 64, "url")], allow, Forbidden,
         "not under this server's pip indexes"),
        # pip forbidden: an allow list and no pip index.
        ([PipLockEntry("tinywheel", "0.1")], Policy(allowed_channels=(main_url,)), Forbidden,
         "holds pip packages (tinywheel==0.1), and pip is disabled here"),
    ]  # fmt: skip


@pytest.mark.parametrize("case", range(6))
def test_bad_pip_entries_are_refused_before_anything_changes(
    sandbox, src, index, in_process, channels, tmp_path, case
):
    pip, policy, error, words = _refusals(index.simple, channels.main_url)[case]
    env_file = _lock_with_pip(src, tmp_path, pip)
    index.requests.clear()
    before = tree_snapshot(sandbox.root)
    for request in (
        operations.Request(kind="create", name="copy", env_file=env_file, cmd="test"),
        operations.Request(kind="sync", name="src", env_file=env_file, cmd="test"),
    ):
        with pytest.raises(error) as exc:
            operations.prepare(in_process, request, policy)
        assert exc.value.message.startswith(f"{env_file.path}") and words in exc.value.message
    assert tree_snapshot(sandbox.root) == before and index.requests == []


def test_an_index_entry_with_a_hash_installs_from_the_admins_index_hash_checked(
    sandbox, src, index, in_process, channels, tmp_path
):
    # As conda-lock and pixi record PyPI packages: the file's URL (on a files host, not under
    # the index) and its sha256. Under an allow list it is installed from the admin's index
    # by name and version; the hash pins the same file.
    sha = index.sha256["tinywheel-0.1-py3-none-any.whl"]
    entry = PipLockEntry("tinywheel", "0.1", index.wheel_url("tinywheel", "0.1"), sha, "index")
    env_file = _lock_with_pip(src, tmp_path, [entry])
    policy = Policy(allowed_channels=(channels.main_url,), pip_index_urls=(index.simple,))
    request = operations.Request(kind="create", name="copy", env_file=env_file, cmd="test")
    asyncio.run(operations.run(in_process, request, policy=policy))
    assert pip_entries(sandbox.envs / "copy") == [PipLockEntry("tinywheel", "0.1")]
    assert "/simple/tinywheel/" in index.requests
