"""`envmgr create` end to end: real solve, real install from the test channel, hard links."""

from __future__ import annotations

import json
import os
import re
import subprocess

from ..helpers import installed, on, tree_snapshot


def test_created_env_runs_ipykernel_from_hard_linked_cache_files(sandbox, channels):
    res = sandbox.run("create", *on(channels.main_url, "t1", "python", "ipykernel", json=True))
    prefix = sandbox.envs / "t1"
    assert res.result()["applied"] is True
    check = subprocess.run(
        [str(prefix / "bin" / "python"), "-c", "import sys, ipykernel; print(sys.prefix)"],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr
    assert check.stdout.strip() == str(prefix)

    # Files are hard links of the extracted package in the shared cache (same inode).
    record = json.loads(next((prefix / "conda-meta").glob("ipykernel-*.json")).read_text())
    some_file = next(f for f in record["files"] if f.endswith("ipykernel/kernelapp.py"))
    extracted = record["extracted_package_dir"]
    assert extracted.startswith(str(sandbox.pkgs))
    cached = os.path.join(extracted, "site-packages", "ipykernel", "kernelapp.py")
    assert os.stat(prefix / some_file).st_ino == os.stat(cached).st_ino


def test_records_and_history_are_in_conda_format(sandbox, channels):
    sandbox.run("create", *on(channels.main_url, "fmt", "delta=1.0"))
    prefix = sandbox.envs / "fmt"
    record = json.loads(next((prefix / "conda-meta").glob("delta-1.0-*.json")).read_text())
    for key in (
        "name",
        "version",
        "build",
        "build_number",
        "channel",
        "url",
        "md5",
        "files",
        "paths_data",
        "depends",
        "subdir",
        "fn",
    ):
        assert key in record, key
    assert record["name"] == "delta" and record["version"] == "1.0"
    history = (prefix / "conda-meta" / "history").read_text().splitlines()
    assert re.fullmatch(r"==> \d{4}-\d\d-\d\d \d\d:\d\d:\d\d <==", history[0])
    assert history[1].startswith("# cmd: envmgr create -n fmt")
    assert history[2] == f"+{channels.main_url}/noarch::delta-1.0-{record['build']}"
    assert history[3] == "# update specs: ['delta=1.0']"
    # conda and micromamba find it through environments.txt too.
    assert str(prefix) in (sandbox.home / ".conda" / "environments.txt").read_text()


def test_second_env_with_same_packages_adds_almost_no_data(private_sandbox, channels):
    sb = private_sandbox
    args = ["-c", channels.main_url, "--override-channels", "python", "ipykernel", "-y"]
    sb.run("create", "-n", "one", *args)
    sb.run("create", "-n", "two", *args)
    # The env's own bytes (inodes with no link outside it), as `envmgr usage` counts them: a
    # filesystem-wide free-space delta would also count whatever other processes write.
    (two,) = [
        t for t in sb.run("usage", "-n", "two", "--json").result()["trees"] if t["kind"] == "env"
    ]
    # Only files with prefix placeholders and metadata are copied (and directories are always
    # the env's own); the rest are hard links. Copied files would make own close to real.
    assert two["apparent_bytes"] > 20_000_000
    assert two["own_bytes"] < 0.1 * two["real_bytes"], two


def test_dry_run_changes_nothing_and_prints_the_plan(sandbox, channels):
    snap = tree_snapshot(sandbox.root, sandbox.home)
    res = sandbox.run(
        "create", "-n", "dry", "-c", channels.main_url, "--override-channels", "delta", "--dry-run"
    )
    assert "delta" in res.stdout and "Dry run" in res.stdout
    assert tree_snapshot(sandbox.root, sandbox.home) == snap


def test_create_without_terminal_or_yes_refuses(sandbox, channels):
    res = sandbox.run(
        "create", "-n", "ask", "-c", channels.main_url, "--override-channels", "delta", check=False
    )
    assert res.returncode == 1
    assert "Pass -y" in res.stderr
    assert not (sandbox.envs / "ask").exists()


def test_spec_file_feeds_create(sandbox, channels, tmp_path):
    spec_file = tmp_path / "specs.txt"
    spec_file.write_text("# wanted\ndelta=1.0\n\nmanyfiles  # comment\n")
    sandbox.run(
        "create",
        "-n",
        "fromfile",
        "-c",
        channels.main_url,
        "--override-channels",
        "-f",
        str(spec_file),
        "-y",
    )
    assert set(installed(sandbox.envs / "fromfile")) == {"delta", "manyfiles"}
