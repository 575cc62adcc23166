"""Each way of choosing the solver selects it, as conda's do: `--solver`, `solver:` in an rc
file (or CONDA_SOLVER), `c.EnvMgrExtension.solver`; info and /settings say which, and whether
libmambapy is there. Which backend solved shows in how an unsatisfiable request is explained."""

from __future__ import annotations

import pytest

from jupyter_envmgr.cli import common
from jupyter_envmgr.engine.errors import BadInput
from jupyter_envmgr.engine.settings import SOLVERS, load_settings

from ..helpers import envmgr_server_config
from ..server.conftest import Api
from .conftest import needs_libmamba

RATTLER_SAYS = "Cannot solve the request"
LIBMAMBA_SAYS = "Could not solve for environment specs"


def _unsatisfiable_message(sandbox, channels, *flags: str) -> str:
    args = ["-c", channels.main_url, "--override-channels", "gamma", "alpha=2"]
    failed = sandbox.run("create", "-n", "u", *flags, "--dry-run", "--json", *args, check=False)
    assert failed.returncode != 0
    error = failed.result()
    assert error["reason"] == "unsatisfiable", error
    return error["message"]


@needs_libmamba
def test_solver_flag_selects_libmamba(sandbox, channels):
    assert RATTLER_SAYS in _unsatisfiable_message(sandbox, channels)  # the default
    assert LIBMAMBA_SAYS in _unsatisfiable_message(sandbox, channels, "--solver", "libmamba")
    args = ["-c", channels.main_url, "--override-channels", "python", "alpha", "-y"]
    sandbox.run("create", "-n", "lm", "--solver", "libmamba", *args)
    assert (sandbox.envs / "lm" / "conda-meta" / "history").is_file()


@needs_libmamba
@pytest.mark.parametrize("rc", [".condarc", ".mambarc"])
def test_solver_in_an_rc_file_selects_libmamba(sandbox, channels, rc):
    (sandbox.home / rc).write_text("solver: libmamba\n")
    info = sandbox.run("info", "--json").result()
    assert info["solver"] == "libmamba" and info["libmamba_available"] is True
    assert info["libmamba_version"].startswith("2.")
    assert LIBMAMBA_SAYS in _unsatisfiable_message(sandbox, channels)
    # --solver wins over the rc file, for that command only.
    assert RATTLER_SAYS in _unsatisfiable_message(sandbox, channels, "--solver", "rattler")


def test_info_says_which_solver_and_whether_libmamba_is_there(sandbox):
    info = sandbox.run("info", "--json").result()
    assert info["solver"] == "rattler"
    assert isinstance(info["libmamba_available"], bool)
    text = sandbox.run("info").stdout
    assert "solver" in text and "libmamba_available" in text


def test_libmamba_without_libmambapy_says_how_to_get_it(sandbox, channels, tmp_path):
    # A libmambapy that cannot be imported, first on the path: as if it were not installed.
    fake = tmp_path / "shadow" / "libmambapy"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('not here')\n")
    sandbox.env["PYTHONPATH"] = str(fake.parent)
    info = sandbox.run("info", "--json").result()
    assert info["libmamba_available"] is False and info["libmamba_version"] is None
    args = ["-n", "x", "-c", channels.main_url, "--override-channels", "python", "-y"]
    failed = sandbox.run("create", "--solver", "libmamba", *args, check=False)
    assert failed.returncode != 0
    line = failed.stderr.strip().splitlines()[-1]
    assert line.startswith("error:") and "libmambapy" in line and "conda-forge" in line
    assert not (sandbox.envs / "x").exists()
    # The same from an rc file; remove never solves, so it needs no solver at all.
    (sandbox.home / ".condarc").write_text("solver: libmamba\n")
    failed = sandbox.run("create", *args, check=False)
    assert failed.returncode != 0 and "conda-forge" in failed.stderr
    sandbox.env.pop("PYTHONPATH")
    sandbox.run("create", "--solver", "rattler", *args)
    sandbox.env["PYTHONPATH"] = str(fake.parent)
    sandbox.run("remove", "-n", "x", "python", "-y")


def test_settings_read_solver_as_conda_does(tmp_path):
    home = {"HOME": str(tmp_path)}
    assert load_settings(home).solver == "rattler"
    assert load_settings(home).to_json()["solver"] == "rattler"
    (tmp_path / ".condarc").write_text("solver: libmamba\n")
    assert load_settings(home).solver == "libmamba"
    assert load_settings({**home, "CONDA_SOLVER": "rattler"}).solver == "rattler"
    (tmp_path / ".mambarc").write_text("solver: classic\n")  # conda's own: rattler here
    assert load_settings(home).solver == "rattler"
    (tmp_path / ".mambarc").write_text("solver: pycosat\n")
    with pytest.raises(BadInput, match="solver"):
        load_settings(home)


def test_cli_offers_the_engines_solvers():
    assert common.SOLVERS == SOLVERS


@pytest.fixture
def jp_server_config(sandbox, monkeypatch):
    return envmgr_server_config(sandbox, monkeypatch, solver="libmamba")


@needs_libmamba
async def test_server_trait_selects_libmamba(jp_fetch, sandbox, channels):
    api = Api(jp_fetch)
    _, settings = await api.call("GET", "settings")
    assert settings["solver"] == "libmamba" and settings["libmamba_available"] is True
    final, _ = await api.create(channels.main_url, "srv", "gamma", "alpha=2", state="failed")
    assert final["error"]["reason"] == "unsatisfiable"
    assert LIBMAMBA_SAYS in final["error"]["message"]
    await api.create(channels.main_url, "ok", "python", "alpha")
    assert (sandbox.envs / "ok" / "conda-meta" / "history").is_file()


async def test_server_without_libmambapy_refuses_before_a_task_starts(jp_fetch, monkeypatch):
    from jupyter_envmgr.engine import solver_libmamba

    monkeypatch.setattr(solver_libmamba, "_libmambapy", None)
    monkeypatch.setattr(solver_libmamba, "_unavailable", "libmambapy is not here: conda-forge")
    api = Api(jp_fetch)
    _, settings = await api.call("GET", "settings")
    assert settings["solver"] == "libmamba" and settings["libmamba_available"] is False
    body = {"name": "n", "specs": ["python"], "channels": ["conda-forge"]}
    _, error = await api.call("POST", "environments", body=body, expect=400)
    assert error["reason"] == "bad-input" and "conda-forge" in error["message"]
