"""binder/ is a repo2docker configuration: requirements.txt and postBuild at image build time,
and binder/start a wrapper around the container's command that ends in exec "$@"."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from . import REPO, Demo, prepare_demo, user_environ

START = REPO / "binder" / "start"


def start(*argv: str, env: dict[str, str], cwd: Path, timeout: float = 60):
    return subprocess.run(
        [str(START), *argv], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_binder_start_runs_the_given_command(tmp_path: Path) -> None:
    # What repo2docker checks: `binder/start echo ok` prints ok (it hung before, serving Lab).
    began = time.monotonic()
    proc = start("echo", "ok", env=user_environ(tmp_path), cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "ok\n"
    assert time.monotonic() - began < 60


def test_binder_start_passes_arguments_and_exit_status_through(tmp_path: Path) -> None:
    script = 'printf "<%s>" "$@"; echo; pwd; exit 7'
    proc = start("sh", "-c", script, "sh", "a b", "", "*", env=user_environ(tmp_path), cwd=tmp_path)
    assert proc.returncode == 7, proc.stderr
    assert proc.stdout.splitlines() == ["<a b><><*>", str(tmp_path)]  # and the cwd is kept


def test_binder_start_sets_the_demos_environment(tmp_path: Path) -> None:
    env = user_environ(tmp_path, ENVMGR_DEMO_DIR=str(tmp_path / "d"), JUPYTER_CONFIG_PATH="/x")
    script = 'echo "$MAMBA_ROOT_PREFIX"; echo "$CONDARC"; echo "$JUPYTER_CONFIG_PATH"'
    proc = start("sh", "-c", script, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        str(tmp_path / "d" / "root"),
        str(tmp_path / "d" / "condarc"),
        f"{REPO / 'binder' / 'jupyter-config'}:/x",
    ]
    # No demo env there yet: a note on stderr, and the command still runs.
    assert "no demo env" in proc.stderr


def test_jupyter_opens_the_demo_notebook_through_binder_start(tmp_path: Path) -> None:
    config_dir = REPO / "binder" / "jupyter-config"
    config = json.loads((config_dir / "jupyter_server_config.json").read_text())
    assert config["LabApp"]["default_url"] == "/lab/tree/demo.ipynb"
    assert config["ServerApp"]["default_url"] == "/lab/tree/demo.ipynb"
    assert (REPO / "examples" / "demo.ipynb").is_file()
    # No "news?" prompt over the demo notebook.
    page_config = json.loads((config_dir / "labconfig" / "page_config.json").read_text())
    assert page_config["disabledExtensions"]["@jupyterlab/apputils-extension:announcements"]
    # jupyter finds that config folder when started through binder/start.
    proc = start("jupyter", "--paths", "--json", env=user_environ(tmp_path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["config"][0] == str(config_dir)


def test_the_image_build_installs_the_repo_and_prepares_the_demo() -> None:
    requirements = (REPO / "binder" / "requirements.txt").read_text().splitlines()
    assert [r for r in requirements if r and not r.startswith("#")] == ["-e .[channels,lab]"]
    post_build = (REPO / "binder" / "postBuild").read_text()
    assert "scripts/demo-prepare" in post_build
    for path in ("binder/start", "binder/postBuild", "scripts/demo", "scripts/demo-prepare"):
        assert os.access(REPO / path, os.X_OK), f"{path} must be executable"


def test_demo_prepare_is_idempotent_and_says_where_things_are(demo: Demo, tmp_path: Path) -> None:
    assert "Using the offline demo channel file://" in demo.output
    condarc = (demo.dir / "condarc").read_text()
    channel = (demo.dir / "demo-channel").read_text().strip()
    assert f"channels:\n  - {channel}\n" in condarc and channel.startswith("file://")
    kernel = demo.home / ".local" / "share" / "jupyter" / "kernels" / "conda-env-demo-python3"
    assert (kernel / "kernel.json").is_file()  # nbclient and `jupyter kernelspec list` see it
    again = prepare_demo(demo.dir.parent)
    assert "The demo env exists" in again.output


def test_the_main_command_has_help_and_refuses_unknown_options() -> None:
    proc = subprocess.run(["bash", str(REPO / "scripts" / "demo"), "--help"],
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    assert proc.returncode == 0 and "--channel" in proc.stdout and "--no-server" in proc.stdout
    proc = subprocess.run(["bash", str(REPO / "scripts" / "demo"), "--bogus"],
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    assert proc.returncode == 2 and "unknown option --bogus" in proc.stderr


def test_the_server_is_rooted_at_the_demos_working_copy(demo: Demo) -> None:
    # Not at the repo: the notebook the user runs, saves and switches kernels in is the copy
    # scripts/demo-prepare made, and the default page opens it.
    assert demo.notebook.is_file() and f"The demo notebook: {demo.notebook}" in demo.output
    env = user_environ(demo.home, ENVMGR_DEMO_DIR=str(demo.dir))
    proc = start("jupyter", "lab", "--show-config", env=env, cwd=demo.home)
    assert proc.returncode == 0, proc.stderr
    assert f".root_dir = '{demo.notebook.parent}'" in proc.stdout, proc.stdout
    assert ".default_url = '/lab/tree/demo.ipynb'" in proc.stdout
