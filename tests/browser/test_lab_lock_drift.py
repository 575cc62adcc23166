"""Drift in JupyterLab: a notebook whose kernel's env has changed since the notebook was locked
shows a toolbar badge ("env differs from this notebook's lock: 1 package"); its dialog lists the
difference and offers both ways back, one click each: re-lock the notebook from the env, or sync
the env to the lock (the sync prompt, then the env is updated). Either way the badge goes.

Every step leaves a numbered screenshot in this test's artifacts folder.
"""

from __future__ import annotations

import json
import uuid

from .conftest import LabPage, LabServer, write_notebook

SLOW = 240_000  # ms: a sync on 2 busy cores
BADGE = ".jp-EnvMgr-driftBadge"


def _names(lab: LabServer, env: str) -> set[str]:
    records = (lab.sandbox.envs / env / "conda-meta").glob("*.json")
    return {json.loads(p.read_text())["name"] for p in records}


def test_the_drift_badge_counts_the_change_and_relock_or_sync_clears_it(
    lab: LabServer, lab_page: LabPage
) -> None:
    page = lab_page.page
    env = f"drift{uuid.uuid4().hex[:5]}"
    lab.create_env(env, "python", "ipykernel", "delta=1.0")
    name = f"{env}.ipynb"
    write_notebook(lab, f"conda-env-{env}-python3", name)
    lab.run_cli("notebook", "lock", str(lab.root_dir / name), "-n", env)

    lab_page.open_workspace(name)
    lab_page.notebook.locator(".jp-Cell").first.wait_for()
    lab_page.wait_for_idle()
    badge = lab_page.notebook.locator(BADGE)
    page.wait_for_timeout(2000)
    assert not badge.is_visible()  # the env matches the lock

    # The env changes behind the notebook's back (the CLI): the badge says so.
    lab.run_cli("install", "-n", env, "-c", lab.channels.main_url, "--override-channels",
                "gamma", "-y")  # fmt: skip
    badge.wait_for(state="visible", timeout=60_000)
    lab_page.shot("badge")
    assert badge.inner_text() == "env differs from this notebook's lock: 1 package"

    # Re-lock the notebook from the env: the badge goes.
    badge.click()
    dialog = page.locator(".jp-Dialog", has_text="differs from this notebook's lock")
    dialog.wait_for()
    lab_page.shot("dialog")
    assert any(line.startswith("+ gamma-") for line in dialog.inner_text().splitlines())
    dialog.get_by_role("button", name="Re-lock notebook").click()
    page.locator(".Toastify__toast", has_text=f"Embedded the environment {env}").wait_for(
        timeout=60_000
    )
    badge.wait_for(state="hidden", timeout=30_000)
    lab_page.shot("relocked")

    # The env changes again; this time the env is synced back to the (new) lock.
    lab.run_cli("remove", "-n", env, "gamma", "-y")
    badge.wait_for(state="visible", timeout=60_000)
    assert badge.inner_text() == "env differs from this notebook's lock: 1 package"
    badge.click()
    dialog.wait_for()
    assert any(line.startswith("− gamma-") for line in dialog.inner_text().splitlines())
    dialog.get_by_role("button", name="Sync env to lock").click()
    prompt = page.locator(".jp-Dialog", has_text=f"Update the environment {env}?")
    prompt.wait_for(timeout=60_000)
    lab_page.shot("sync-prompt")
    assert "add 1 package" in prompt.inner_text()
    prompt.get_by_role("button", name="Update").click()
    page.locator(".Toastify__toast", has_text=f"Updated the environment {env}").first.wait_for(
        timeout=SLOW
    )
    badge.wait_for(state="hidden", timeout=60_000)
    lab_page.shot("synced")
    assert "gamma" in _names(lab, env)
    # The kernel's env itself was updated (no copy made beside it).
    assert not any(p.name.startswith(f"{env}-") for p in lab.sandbox.envs.iterdir())
