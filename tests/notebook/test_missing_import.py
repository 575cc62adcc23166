"""missing_import.py in this process: the module -> package mapping (pure), the lookup in the
sandbox user's channels and the Install button, over the real CLI."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from jupyter_envmgr.notebook import missing_import as mi
from jupyter_envmgr.notebook.client import EnvmgrClient
from jupyter_envmgr.notebook.magics import EnvmgrMagics

from ..helpers import installed, versions

TIMEOUT = 60.0  # two shared cores: the CLI's start-up can be slow here


@pytest.mark.parametrize(
    ("module", "packages"),
    [
        ("alpha", ["alpha"]),
        ("sklearn", ["scikit-learn"]),
        ("cv2", ["opencv"]),
        ("PIL", ["pillow"]),
        ("yaml", ["pyyaml"]),  # never conda-forge's `yaml` (libyaml)
        ("bs4", ["beautifulsoup4"]),
        ("skimage", ["scikit-image"]),
        ("dateutil", ["python-dateutil"]),
        ("My_Mod", ["My_Mod", "my-mod"]),  # conda's spelling of the name comes second
    ],
)
def test_candidates_map_modules_to_packages(module, packages):
    assert mi.candidates(module) == packages


@pytest.mark.parametrize(
    ("name", "top"),
    [
        ("alpha", "alpha"),
        ("sklearn.linear_model", "sklearn"),
        ("a b", None),
        ("-p/x", None),
        ("../x", None),
        ("", None),
        ("modulé", None),  # conda package names are ASCII
        (None, None),
    ],
)
def test_only_an_identifiers_top_level_name_is_used(name, top):
    assert mi.top_level(ModuleNotFoundError("x", name=name)) == top


def test_the_words_say_the_package_the_env_and_the_line():
    found = mi.Lookup("sklearn", package="scikit-learn", version="1.5", channel="conda-forge")
    words = mi.offer_words(found, "data")
    assert words is not None
    assert "Install `scikit-learn` (1.5, conda-forge) into this kernel's env (data)?" in words
    assert "%envmgr install scikit-learn" in words
    slow = mi.offer_words(mi.Lookup("cv2", timed_out=True), "data")
    assert slow is not None and "%envmgr install opencv" in slow and "in time" in slow
    assert mi.offer_words(mi.Lookup("surely_not"), "data") is None


@pytest.fixture
def client() -> EnvmgrClient:
    return EnvmgrClient([sys.executable, "-m", "jupyter_envmgr"])


def test_find_package_asks_the_configured_channels(env: Path, client):
    found = mi.find_package(client, "alpha", str(env), TIMEOUT)
    assert (found.package, found.version) == ("alpha", "2.0") and not found.timed_out
    assert mi.find_package(client, "surely_not_a_package_xyz", str(env), TIMEOUT) == mi.Lookup(
        "surely_not_a_package_xyz"
    )
    # delta is installed in `e` already (and has no module): not offered again.
    assert mi.find_package(client, "delta", str(env), TIMEOUT).installed == "delta"
    assert mi.find_package(client, "alpha", str(env), 0).timed_out


def test_the_install_button_installs_into_the_env_once(env: Path, client):
    pytest.importorskip("ipywidgets")
    lookup = mi.find_package(client, "alpha", str(env), TIMEOUT)
    # The magics' own install path, as load_ipython_extension hands it to the hook.
    offer = mi.InstallOffer(lookup, "e", EnvmgrMagics(None, client)._run, str(env))
    assert "alpha" in offer.label.value and "(e)" in offer.label.value
    assert "alpha" not in installed(env)  # nothing before the click
    offer.button.click()  # as the frontend does
    assert versions(env)["alpha"] == "2.0"
    assert offer.status.value == "Installed alpha: re-run the cell."
    assert offer.button.disabled and not offer.install()  # one install per offer
