"""Smoke test in a real browser: an env made with the CLI is a kernel JupyterLab can run."""

from __future__ import annotations

from .conftest import LabPage, LabServer


def test_env_kernel_runs_in_jupyterlab(lab: LabServer, lab_page: LabPage) -> None:
    prefix = lab.create_env("smoke", "python", "ipykernel")
    spec = lab.wait_for_kernelspec("conda-env-smoke-python3")["spec"]
    assert spec["display_name"].endswith("[env: smoke]"), spec

    # The launcher offers it...
    lab_page.open_workspace()
    card = lab_page.page.locator(".jp-LauncherCard", has_text=spec["display_name"])
    card.first.wait_for()

    # ...and a notebook on it runs in the env.
    lab_page.new_notebook("conda-env-smoke-python3")
    assert spec["display_name"] in lab_page.kernel_status()
    out = lab_page.run_cell("import sys; print(sys.prefix)")
    assert out == str(prefix)


WIDGET = """\
import ipywidgets as w
out = w.Output()
button = w.Button(description="Click me")
button.on_click(lambda _: out.append_stdout(f"clicked in {sys.prefix}\\n"))
w.VBox([w.IntSlider(value=7, description="n"), button, out])"""


def test_widgets_from_the_channel_render_and_reach_the_kernel(
    lab: LabServer, lab_page: LabPage
) -> None:
    prefix = lab.create_env("widgets", "python", "ipykernel", "ipywidgets")
    lab_page.new_notebook("conda-env-widgets-python3")
    lab_page.run_cell("import sys")
    lab_page.run_cell(WIDGET)
    view = lab_page.cells.nth(1).locator(".jp-OutputArea-output")
    view.locator(".widget-readout", has_text="7").wait_for()  # rendered by the lab extension
    view.get_by_role("button", name="Click me").click()
    view.get_by_text(f"clicked in {prefix}").wait_for()  # the click ran in the env's kernel
    lab_page.shot("clicked")
