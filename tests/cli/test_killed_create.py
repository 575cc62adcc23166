"""A create killed half-way never comes back as a different environment."""

from __future__ import annotations

from ..helpers import kill_mid_link, on


def _environments_txt(sb) -> str:
    path = sb.home / ".conda" / "environments.txt"
    return path.read_text() if path.exists() else ""


def test_an_operation_on_a_killed_create_says_the_env_is_gone(private_sandbox, channels):
    sb = private_sandbox
    kill_mid_link(sb, channels.main_url, "create", "k1", "python", "ipykernel")
    prefix = sb.envs / "k1"
    assert (prefix / "conda-meta").exists(), "killed before anything was linked?"

    result = sb.run("install", *on(channels.main_url, "k1", "alpha"), check=False)
    assert result.returncode == 1, result
    assert "no environment named k1" in result.stderr.lower(), result
    assert "Traceback" not in result.stderr
    assert not prefix.exists()
    assert str(prefix) not in _environments_txt(sb)
    # The name is free again, and a new create of it works.
    sb.run("create", *on(channels.main_url, "k1", "delta"))
    assert (prefix / "conda-meta" / "history").read_text().count("==>") == 1


def test_a_create_killed_before_its_journal_is_undone_too(private_sandbox, channels):
    # Killed between making the folder and writing the journal: only our lock folder is there.
    sb = private_sandbox
    prefix = sb.envs / "k2"
    (prefix / "conda-meta" / "envmgr").mkdir(parents=True)
    result = sb.run("install", *on(channels.main_url, "k2", "alpha"), check=False)
    assert result.returncode == 1 and "no environment named k2" in result.stderr.lower(), result
    assert not prefix.exists()
