"""A missing import in an env's kernel, started by a real jupyter_server: the traceback, then
the offer to install the module's package from the server's channels; the offered line
installs it and the import works in the same kernel."""

from __future__ import annotations

import pytest

from ..helpers import installed
from . import test_magics

# The server, its channels and the `nb` env's kernel, as the magics' tests have them.
envmgr_pkgs = test_magics.envmgr_pkgs
policy = test_magics.policy
jp_server_config = test_magics.jp_server_config
nb_env = test_magics.nb_env
env_kernel = test_magics.env_kernel

pytestmark = [
    pytest.mark.filterwarnings("error::jupyter_server.utils.JupyterServerAuthWarning"),
    pytest.mark.usefixtures("env_kernel_environ"),
]


@pytest.fixture(autouse=True)
def patient_offer(monkeypatch):
    # Two cores shared with other runs: the default 3 s could be too short for the CLI's
    # start-up here. The kernel inherits the server's environment.
    monkeypatch.setenv("ENVMGR_OFFER_TIMEOUT", "60")


async def test_a_missing_module_offers_its_package_and_the_line_installs_it(jp_serverapp, nb_env):
    async with env_kernel(jp_serverapp) as kernel:
        text, reply = await kernel.run("import alpha")
        assert reply["status"] == "error" and reply["ename"] == "ModuleNotFoundError", text
        # The original traceback first, then the offer naming the package and the env.
        assert "ModuleNotFoundError" in text and "No module named 'alpha'" in text, text
        offer = text[text.index("No module named 'alpha'") :]
        assert "Install `alpha` (2.0," in offer and "into this kernel's env (nb)" in offer, text
        assert "%envmgr install alpha" in offer, text
        assert "alpha" not in installed(nb_env)  # nothing without the line

        text, reply = await kernel.run("%envmgr install alpha")
        assert reply["status"] == "ok" and "Done" in text, text
        text, reply = await kernel.run("import alpha; print(alpha.__version__, alpha.__file__)")
        assert reply["status"] == "ok", text
        version, path = text.split()
        assert version == "2.0" and path.startswith(str(nb_env)), text


async def test_no_offer_when_no_channel_has_it_or_it_is_a_submodule(jp_serverapp, nb_env):
    async with env_kernel(jp_serverapp) as kernel:
        text, reply = await kernel.run("import surely_not_a_package_xyz")
        assert reply["status"] == "error" and "surely_not_a_package_xyz" in text, text
        assert "Install" not in text and "%envmgr" not in text, text
        # `json` exists: a missing submodule of it is no package to install.
        text, reply = await kernel.run("import json.nothing_here")
        assert reply["status"] == "error" and "json.nothing_here" in text, text
        assert "Install" not in text, text
        # A package that is installed but gives no module (delta only has data files).
        text, reply = await kernel.run("import delta")
        assert reply["status"] == "error", text
        assert "`delta` is installed in this kernel's env (nb)" in text, text
        assert "%envmgr install" not in text, text


async def test_the_offer_can_be_turned_off_and_a_slow_channel_only_gets_the_line(
    jp_serverapp, nb_env, monkeypatch
):
    monkeypatch.setenv("ENVMGR_OFFER_TIMEOUT", "0")
    async with env_kernel(jp_serverapp) as kernel:
        text, reply = await kernel.run("import alpha")
        assert "No module named 'alpha'" in text, text
        assert "could not be asked in time" in text and "%envmgr install alpha" in text, text
        text, _ = await kernel.run(
            "import os; os.environ['ENVMGR_OFFER_INSTALL'] = '0'\nimport alpha"
        )
        assert "No module named 'alpha'" in text and "envmgr" not in text, text
        # An offer that fails (here: the CLI cannot start) leaves the original error as it was.
        text, reply = await kernel.run(
            "os.environ.update(ENVMGR_OFFER_INSTALL='1', ENVMGR_OFFER_TIMEOUT='60', "
            "ENVMGR_PYTHON='/nonexistent/python')\nimport alpha"
        )
        assert reply["status"] == "error" and reply["ename"] == "ModuleNotFoundError", text
        assert "No module named 'alpha'" in text and "Install" not in text, text
        assert "Custom TB Handler failed" not in text, text
