"""Long tasks started from the UI are also reported in JupyterLab's notifications: a create
shows a notification while it runs and says it is done; a failing install ends in an error
notification with the solver's reason.
"""

from __future__ import annotations

import re
from typing import Any

from ..helpers import installed
from .conftest import LabPage, LabServer
from .test_lab_envmgr_ui import SLOW, expect, open_env, open_sidebar, wait_task


def toast(lab_page: LabPage, text: str | re.Pattern[str]) -> Any:
    """The notification toast showing ``text``."""
    return lab_page.page.locator(".Toastify__toast", has_text=text)


def test_a_create_from_the_ui_is_reported_in_a_notification(
    lab: LabServer, lab_page: LabPage
) -> None:
    lab_page.open_workspace()
    open_sidebar(lab_page).get_by_role("button", name="New environment").click()
    form = lab_page.page.locator(".jp-EnvMgr-createPanel")
    form.get_by_label("Environment name").fill("notified")
    form.get_by_label("Packages").fill("delta")
    form.get_by_role("button", name="Create").click()
    # While it runs (or at once, when it is quick), then done: one toast, updated in place.
    done = toast(lab_page, "Create notified: done.")
    done.wait_for(timeout=SLOW)
    lab_page.shot("create-notified")
    expect(toast(lab_page, "Create notified")).to_have_count(1)
    wait_task(form)
    assert "delta" in installed(lab.sandbox.envs / "notified")


def test_a_failing_install_ends_in_an_error_notification_with_the_reason(
    lab: LabServer, lab_page: LabPage
) -> None:
    prefix = lab.create_env("notifyfail", "python", "alpha=2.0")
    before = installed(prefix)
    lab_page.open_workspace()
    panel = open_env(lab_page, "notifyfail")
    # gamma forbids alpha >= 1.5, which this env has: the solve fails in the task.
    panel.get_by_label("Packages to install").fill("gamma")
    panel.get_by_role("button", name="Install").click()
    failed = toast(lab_page, "Install into notifyfail failed:")
    failed.wait_for(timeout=SLOW)
    # The solver's reason (JupyterLab shows a notification's first 140 characters).
    expect(failed).to_contain_text("cannot be satisfied")
    # An error notification (JupyterLab's error type), left open until the user closes it.
    expect(failed).to_have_class(re.compile(r"Toastify__toast--error"))
    lab_page.shot("install-failed-notified")
    assert installed(prefix) == before
