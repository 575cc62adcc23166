"""The create form's placeholder names packages the configured channels have (the offline test
channel here: its Python, ipykernel and familiar packages it holds), and an env created with
exactly the placeholder's text is made.

Every step leaves a numbered screenshot in this test's artifacts folder.
"""

from __future__ import annotations

import json
import re

from ..helpers import installed
from .conftest import LabPage, LabServer
from .test_lab_envmgr_ui import expect, open_sidebar, wait_task


def _names(lab: LabServer) -> set[str]:
    index = json.loads((lab.channels.main / "noarch" / "repodata.json").read_text())
    platform = next(p for p in lab.channels.main.iterdir() if p.name.startswith("linux-"))
    more = json.loads((platform / "repodata.json").read_text())
    return {
        record["name"]
        for data in (index, more)
        for key in ("packages", "packages.conda")
        for record in data.get(key, {}).values()
    }


def test_the_placeholder_names_what_the_channels_have_and_creates(
    lab: LabServer, lab_page: LabPage
) -> None:
    page = lab_page.page
    lab_page.open_workspace()
    sidebar = open_sidebar(lab_page)
    sidebar.get_by_role("button", name="New environment").click()
    form = page.locator(".jp-EnvMgr-createPanel")
    packages = form.get_by_label("Packages", exact=True)
    minor = ".".join(lab.channels.python_version.split(".")[:2])
    expect(packages).to_have_attribute(
        "placeholder", re.compile(rf"^python={re.escape(minor)} ipykernel\b")
    )
    lab_page.shot("placeholder")
    placeholder = packages.get_attribute("placeholder") or ""
    specs = placeholder.split()
    assert {s.split("=")[0] for s in specs} <= _names(lab)

    # Exactly the placeholder's text: the env is made, with every package it names.
    form.get_by_label("Environment name").fill("fromplaceholder")
    packages.fill(placeholder)
    form.get_by_role("button", name="Create").click()
    wait_task(form)
    lab_page.shot("created")
    have = installed(lab.sandbox.envs / "fromplaceholder")
    assert {s.split("=")[0] for s in specs} <= set(have)
    assert have["python"][0].startswith(minor + ".")
