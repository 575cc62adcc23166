"""The JupyterLab prompt when a notebook that carries its env opens: it says plainly whether a
sync would update an existing env (which one, how many packages removed and added) or create one
(and under which name, when the notebook's own name belongs to another env), and it lists the
hosts and channels the sync may fetch from. Answering No changes nothing.

Every step leaves a numbered screenshot in this test's artifacts folder.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

from .conftest import LabPage, LabServer


def _lock(lab: LabServer, env: str) -> dict[str, Any]:
    return lab.api("GET", f"/envmgr/api/environments/{env}/notebook-lock")["envmgr"]


def _sync(lab: LabServer, lock: dict[str, Any], path: str) -> dict[str, Any]:
    """POST notebook/sync for the notebook at `path` and wait for its task; its result."""
    body = {"metadata": {"envmgr": lock}, "path": path}
    task = lab.api("POST", "/envmgr/api/notebook/sync", body)
    deadline = time.monotonic() + 240
    while task["state"] not in ("done", "failed", "cancelled"):
        assert time.monotonic() < deadline, task
        time.sleep(0.5)
        task = lab.api("GET", f"/envmgr/api/tasks/{task['id']}")
    assert task["state"] == "done", task
    return task["result"]


def _preview(lab: LabServer, lock: dict[str, Any], path: str) -> dict[str, Any]:
    body = {"metadata": {"envmgr": lock}, "dry_run": True, "path": path}
    return lab.api("POST", "/envmgr/api/notebook/sync", body)


def _carrying(lab: LabServer, lock: dict[str, Any], env: str, name: str | None = None) -> str:
    """A notebook in the lab's root dir that carries `lock` and names the kernel of `env`,
    which this server does not have (so the lab offers to sync on opening)."""
    name = name or f"carried-{uuid.uuid4().hex[:6]}.ipynb"
    nb = {
        "cells": [],
        "metadata": {
            "envmgr": lock,
            "kernelspec": {"name": f"conda-env-{env}-python3", "display_name": env,
                           "language": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }  # fmt: skip
    (lab.root_dir / name).write_text(json.dumps(nb))
    return name


def _prompt(lab_page: LabPage, title: str) -> Any:
    dialog = lab_page.page.locator(".jp-Dialog", has_text=title)
    dialog.wait_for(timeout=60_000)
    lab_page.shot("prompt")
    return dialog


def _records(lab: LabServer, env: str) -> set[str]:
    return {p.name for p in (lab.sandbox.envs / env / "conda-meta").glob("*.json")}


def test_the_prompt_names_the_env_a_sync_would_update_with_counts_and_hosts(
    lab: LabServer, lab_page: LabPage
) -> None:
    env = f"nbu{uuid.uuid4().hex[:5]}"
    lab.create_env(f"{env}-a", "delta=1.0")
    lab.create_env(f"{env}-b", "alpha")
    mine, theirs = _lock(lab, f"{env}-a"), _lock(lab, f"{env}-b")
    mine["env_name"] = env
    theirs.update(lock_id=mine["lock_id"], env_name=env)
    notebook = f"carried-{uuid.uuid4().hex[:6]}.ipynb"
    # Sync made `env` for this notebook; the notebook is then locked again with other packages.
    assert _sync(lab, mine, notebook)["env"]["name"] == env
    before = _records(lab, env)
    preview = _preview(lab, theirs, notebook)
    assert preview["action"] == "update"
    assert re.fullmatch(rf"update '{env}': remove \d+ packages?, add \d+", preview["summary"])

    lab_page.open_workspace(_carrying(lab, theirs, env, notebook))
    dialog = _prompt(lab_page, f"Update the environment {env}?")
    text = dialog.inner_text()
    assert preview["summary"] in text, text
    assert "Create" not in text
    assert any(line.startswith("+ alpha-") for line in text.splitlines()), text
    assert any(line.startswith("− delta-1.0-") for line in text.splitlines()), text
    assert "this machine (file://)" in text and lab.channels.main_url in text, text
    dialog.get_by_role("button", name="No").click()
    dialog.wait_for(state="detached")
    lab_page.shot("declined")
    assert _records(lab, env) == before


def test_the_prompt_creates_a_copy_beside_an_env_sync_did_not_make_and_lists_hosts(
    lab: LabServer, lab_page: LabPage
) -> None:
    env = f"nbc{uuid.uuid4().hex[:5]}"
    lab.create_env(f"{env}-a", "delta=1.0")
    lab.create_env(env, "alpha")  # someone's own env, of the notebook's env name
    mine = _lock(lab, f"{env}-a")
    mine["env_name"] = env
    before = _records(lab, env)

    lab_page.open_workspace(_carrying(lab, mine, env))
    dialog = _prompt(lab_page, "Create the notebook environment?")
    text = dialog.inner_text()
    copy = f"{env}-{mine['lock_id'][:6]}"
    assert f"This notebook carries the environment '{env}'" in text, text
    assert f"Create it here as '{copy}'?" in text, text
    assert "left alone" in text and "update" not in text.lower(), text
    assert "this machine (file://)" in text and lab.channels.main_url in text, text
    dialog.get_by_role("button", name="No").click()
    dialog.wait_for(state="detached")
    lab_page.shot("declined")
    assert _records(lab, env) == before
    assert not (lab.sandbox.envs / copy).exists()
