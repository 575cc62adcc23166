"""Package insight in the env's view, in a real browser: the user sees which packages they asked
for and which came as dependencies (and why: the requested package that pulls one in), which
have a newer version in the channels, and the channel by its short name with the URL on hover.

The env: `beta=1.0` from the main test channel, which brings alpha 1.5 (beta 1.0 needs alpha <2);
the channel also has beta 2.0 and alpha 2.0.
"""

from __future__ import annotations

from .conftest import LabPage, LabServer
from .test_lab_envmgr_ui import expect, open_env, package_row


def test_the_package_table_shows_requested_updatable_channel_and_why(
    lab: LabServer, lab_page: LabPage
):
    lab.create_env("insightenv", "python", "beta=1.0")
    lab_page.open_workspace()
    panel = open_env(lab_page, "insightenv")
    beta, alpha = package_row(panel, "beta"), package_row(panel, "alpha")
    expect(beta).to_be_visible()

    # Asked for: a "requested" badge, the spec the user wrote on hover.
    requested = beta.locator('[data-insight="requested"]')
    expect(requested).to_have_text("requested")
    expect(requested).to_have_attribute("title", "You asked for beta=1.0")
    # A dependency, and why: beta pulls it in (on hover, and shown when expanded).
    dependency = alpha.locator('[data-insight="dependency"]')
    expect(dependency.locator("summary")).to_have_text("dependency")
    expect(dependency).to_have_attribute("title", "Installed because beta needs it")
    dependency.locator("summary").click()
    expect(dependency).to_contain_text("needed by beta")

    # Newer versions in the channel.
    expect(beta.locator('[data-insight="updatable"]')).to_have_text("updatable → 2.0")
    expect(alpha.locator('[data-insight="updatable"]')).to_have_text("updatable → 2.0")
    expect(package_row(panel, "python").locator('[data-insight="updatable"]')).to_have_count(0)

    # The channel by its short name, the full URL on hover.
    channel = alpha.locator('[data-insight="channel"]')
    expect(channel).to_have_text("main")
    expect(channel).to_have_attribute("title", lab.channels.main_url)
    channel.hover()
    lab_page.shot("package-insight")
