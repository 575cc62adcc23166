"""The Disk view's "By owner" section (issue 29, item 6): folded until opened, then bytes and
inodes per owner as `GET /envmgr/api/usage/owners` gives them, the current user marked, what is
theirs, and what clean would free in their own cache. Screenshots in this test's artifacts."""

from __future__ import annotations

import os
import pwd

from ..site_users import ensure_user
from .conftest import LabPage, LabServer
from .test_lab_envmgr_ui import expect, open_sidebar

_UNITS = ["B", "KB", "MB", "GB", "TB"]


def _format_bytes(n: int) -> str:
    """As the view's formatBytes: binary multiples, one decimal above bytes."""
    value = float(n)
    unit = 0
    while abs(value) >= 1024 and unit < len(_UNITS) - 1:
        value /= 1024
        unit += 1
    return f"{n} B" if unit == 0 else f"{value:.1f} {_UNITS[unit]}"


def test_disk_view_by_owner_lists_you_with_the_routes_bytes_and_what_clean_would_free(
    lab: LabServer, lab_page: LabPage
) -> None:
    lab.create_env("byowner", "delta")
    me = pwd.getpwuid(os.geteuid()).pw_name  # the server runs as this test's user
    lab_page.open_workspace()
    open_sidebar(lab_page).get_by_role("button", name="Disk use…").click()
    disk = lab_page.page.locator(".jp-EnvMgr-diskPanel")
    section = disk.get_by_label("By owner", exact=True)
    table = section.get_by_label("Disk use per owner")

    # Folded by default: nothing is counted until it is opened.
    expect(section.locator("details")).not_to_have_attribute("open", "")
    expect(table).to_be_hidden()
    lab_page.shot("by-owner-folded")

    section.locator("summary").click()
    row = table.locator(f'tr[data-owner="{me}"]')
    expect(row).to_be_visible(timeout=60_000)
    expect(row.locator("[data-you]")).to_have_text("(you)")

    # The bytes shown are the route's for this owner, formatted as the view formats them. Other
    # writes between the two walks (a lock file, an index) can change the figure: count again.
    for _ in range(3):
        shown = int(row.locator("td[data-bytes]").get_attribute("data-bytes"))
        report = lab.api("GET", "/envmgr/api/usage/owners")
        if report["owners"][me]["bytes"] == shown:
            break
        section.get_by_role("button", name="Count again").click()
        expect(section.get_by_role("status")).to_have_count(0, timeout=60_000)
    assert report["user"] == me
    figure = report["owners"][me]["bytes"]
    assert figure > 0
    expect(row.locator("td").nth(1)).to_have_text(_format_bytes(figure))

    # Yours: the new env is among what the user owns; and what clean would free in their cache.
    yours = section.get_by_label("What you own per environment and cache")
    expect(yours.locator("tr", has_text="byowner")).to_be_visible()
    clean = section.locator("[data-clean]")
    expect(clean).to_contain_text("clean would free")
    assert report["clean"] is not None, report
    expect(clean).to_contain_text(_format_bytes(report["clean"]["bytes"]))
    expect(clean).to_contain_text(report["own_cache"])
    lab_page.shot("by-owner-open")


def test_disk_view_by_owner_lists_a_second_owner_with_their_own_figure(
    lab: LabServer, lab_page: LabPage
) -> None:
    prefix = lab.create_env("byowner2", "delta")
    alice = ensure_user("envmgr-alice")
    # A file of another real user in the env (as when a colleague writes into a shared env).
    theirs = prefix / "share" / "envmgr-alice-notes.txt"
    theirs.parent.mkdir(exist_ok=True)
    theirs.write_bytes(b"x" * 20_000)
    os.chown(theirs, alice.pw_uid, alice.pw_gid)
    try:
        lab_page.open_workspace()
        open_sidebar(lab_page).get_by_role("button", name="Disk use…").click()
        section = lab_page.page.locator(".jp-EnvMgr-diskPanel").get_by_label("By owner", exact=True)
        section.locator("summary").click()
        row = section.get_by_label("Disk use per owner").locator('tr[data-owner="envmgr-alice"]')
        expect(row).to_be_visible(timeout=60_000)
        expect(row.locator("[data-you]")).to_have_count(0)
        report = lab.api("GET", "/envmgr/api/usage/owners")
        figure = report["owners"]["envmgr-alice"]
        assert figure["inodes"] == 1 and figure["bytes"] >= 20_000, figure
        expect(row.locator("td").nth(1)).to_have_text(_format_bytes(figure["bytes"]))
        expect(row.locator("td").nth(2)).to_have_text("1")
        lab_page.shot("by-owner-two-owners")
    finally:
        theirs.unlink()
