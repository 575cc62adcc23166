"""A channel whose index holds a record with an unreadable dependency (`>=>=`): each backend
answers with one error naming the package, never a traceback, and nothing is created."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jupyter_envmgr.channels import index_channel
from jupyter_envmgr.channels.conda_pkg import Entry
from jupyter_envmgr.channels.synthetic import generic_package

BAD_DEPENDENCY = ">=>="


@pytest.fixture
def broken_channel(tmp_path: Path) -> Path:
    """`broken` depends on `>=>=`; `fine` is fine. rattler's indexer refuses such a record, so
    the package is built valid and its repodata entry edited afterwards, as a broken or hostile
    channel could serve it."""
    channel = tmp_path / "broken-channel"
    (channel / "noarch").mkdir(parents=True)
    generic_package(channel / "noarch", "broken", "1.0", [Entry("share/b.txt", b"b")],
                    depends=["fine"])  # fmt: skip
    generic_package(channel / "noarch", "fine", "1.0", [Entry("share/f.txt", b"f")])
    index_channel(channel)
    repodata = channel / "noarch" / "repodata.json"
    data = json.loads(repodata.read_text())
    edited = 0
    for key in ("packages", "packages.conda"):
        for record in data.get(key, {}).values():
            if record["name"] == "broken":
                record["depends"] = [BAD_DEPENDENCY]
                edited += 1
    assert edited == 1
    repodata.write_text(json.dumps(data))
    return channel


def test_an_unreadable_dependency_is_one_error_naming_the_package(sandbox, broken_channel, solver):
    args = ["-c", broken_channel.as_uri(), "--override-channels", "--solver", solver, "-y"]
    res = sandbox.run("create", "-n", "b", *args, "broken", check=False)
    assert res.returncode == 1, res
    assert "Traceback" not in res.stderr and "Exception" not in res.stderr, res
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, res
    assert "broken" in res.stderr and BAD_DEPENDENCY in res.stderr, res
    assert not (sandbox.envs / "b").exists()

    res = sandbox.run("create", "-n", "b", *args, "broken", "--json", check=False)
    error = res.result()
    assert error["event"] == "error" and "broken" in error["message"], error
    if solver == "libmamba":
        assert error["reason"] == "channel", error
        assert "broken-1.0-h_envmgr_0.conda" in error["message"], error
        assert broken_channel.as_uri() in error["message"], error

    # The channel's other packages still install with either backend.
    sandbox.run("create", "-n", "f", *args, "fine")
    assert (sandbox.envs / "f" / "share" / "f.txt").read_bytes() == b"f"
