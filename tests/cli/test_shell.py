"""An active environment, as micromamba users have it: verbs without -n/-p act on
$CONDA_PREFIX, and `envmgr activate` / `deactivate` in a real shell through the shell hook."""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import shutil
import subprocess
import sys

import pytest

from ..helpers import Sandbox, installed, on, tree_snapshot, versions

NOTICE = "Acting on the active environment"
NO_TARGET = "Name the environment with -n NAME or -p PREFIX, or activate one"


def with_env(sandbox: Sandbox, **extra: str) -> Sandbox:
    return dataclasses.replace(sandbox, env={**sandbox.env, **extra})


@pytest.fixture
def denv(sandbox, channels):
    """A small env without python: delta 1.0 only."""
    sandbox.run("create", *on(channels.main_url, "d", "delta=1.0"))
    return sandbox.envs / "d"


# ---------------------------------------------------------------- the active env by default


def test_verbs_without_n_or_p_act_on_the_active_env(sandbox, channels, denv):
    active = with_env(sandbox, CONDA_PREFIX=str(denv))
    chan = ["-c", channels.main_url, "--override-channels", "-y"]
    res = active.run("install", "prefixpkg", *chan)
    assert f"{NOTICE} {denv} (CONDA_PREFIX); use -n/-p for another." in res.stderr
    assert "prefixpkg" in installed(denv)
    active.run("update", "delta", *chan)
    assert versions(denv)["delta"] == "1.1"
    active.run("remove", "prefixpkg", *chan)
    assert "prefixpkg" not in installed(denv)

    listed = active.run("list", "--json")
    assert NOTICE not in listed.stderr  # --json: the result names the env instead
    result = listed.result()
    assert result["env"]["prefix"] == str(denv)
    assert [p["name"] for p in result["packages"]] == ["delta"]
    text = active.run("list")
    assert NOTICE in text.stderr and f"List of packages in environment: {denv}" in text.stdout

    export = active.run("env", "export")
    assert "delta=1.1" in export.stdout and NOTICE in export.stderr
    assert active.run("env", "export", "--json").result()["env"]["prefix"] == str(denv)


def test_install_json_result_names_the_active_env(sandbox, channels, denv):
    active = with_env(sandbox, CONDA_PREFIX=str(denv))
    res = active.run("install", "prefixpkg", "-c", channels.main_url, "--override-channels",
                     "-y", "--json")  # fmt: skip
    assert NOTICE not in res.stderr
    assert res.result()["env"]["prefix"] == str(denv) and res.result()["applied"]


def test_n_or_p_wins_over_the_active_env(sandbox, channels, denv):
    sandbox.run("create", *on(channels.main_url, "other", "delta=1.0"))
    active = with_env(sandbox, CONDA_PREFIX=str(denv))
    res = active.run("install", *on(channels.main_url, "other", "prefixpkg"))
    assert NOTICE not in res.stderr
    assert "prefixpkg" in installed(sandbox.envs / "other")
    assert "prefixpkg" not in installed(denv)


def test_create_is_not_redirected_by_the_active_env(sandbox, channels, denv):
    active = with_env(sandbox, CONDA_PREFIX=str(denv))
    res = active.run("create", *on(channels.main_url, "new", "prefixpkg"))
    assert NOTICE not in res.stderr
    assert "prefixpkg" in installed(sandbox.envs / "new")
    assert installed(denv).keys() == {"delta"}


@pytest.mark.parametrize(
    "argv",
    [
        ("install", "delta", "-y"),
        ("remove", "delta", "-y"),
        ("update", "--all", "-y"),
        ("list",),
        ("env", "export"),
        ("repair",),
        ("run", "true"),
    ],
)
def test_without_n_p_or_an_active_env_nothing_is_the_default(sandbox, channels, denv, argv):
    # base exists (the root prefix is a conda env): still never the silent default.
    (sandbox.root / "conda-meta").mkdir()
    before = tree_snapshot(sandbox.root)
    res = sandbox.run(*argv, check=False)
    assert res.returncode == 1, res
    assert NO_TARGET in res.stderr
    assert tree_snapshot(sandbox.root) == before


def test_a_conda_prefix_that_is_no_env_is_a_clear_error(sandbox, tmp_path):
    folder = tmp_path / "not-an-env"
    folder.mkdir()
    res = with_env(sandbox, CONDA_PREFIX=str(folder)).run("install", "delta", "-y", check=False)
    assert res.returncode == 1
    assert f"CONDA_PREFIX is {folder}, which is not a conda environment" in res.stderr
    assert list(folder.iterdir()) == []


# ---------------------------------------------------------------- the hook in a real bash


def bash(sandbox: Sandbox, script: str, **extra: str) -> subprocess.CompletedProcess[str]:
    hook = f'eval "$({_cli()} shell hook -s bash)"\n'
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", hook + script],
        env={**sandbox.env, **extra},
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def _cli() -> str:
    """This checkout's envmgr, as a user's shell would run it (before the hook is loaded)."""
    return f"{shlex.quote(sys.executable)} -m jupyter_envmgr"


@pytest.fixture
def pyenv(sandbox, channels):
    """python, an activate.d script and a conda-meta/state variable."""
    sandbox.run("create", *on(channels.main_url, "act", "python", "activate-pkg"))
    prefix = sandbox.envs / "act"
    (prefix / "conda-meta" / "state").write_text(json.dumps({"env_vars": {"MYVAR": "it's $x"}}))
    return prefix


def test_activate_install_deactivate_in_bash(sandbox, channels, pyenv):
    script = f"""
PS1='me$ '
before_path="$PATH"
envmgr activate act || exit 10
echo "prefix=$(python -c 'import sys; print(sys.prefix)')"
echo "conda_prefix=$CONDA_PREFIX"
echo "activated=$ENVMGR_TEST_ACTIVATED myvar=$MYVAR"
echo "ps1=$PS1"
envmgr install delta -c {channels.main_url} --override-channels -y || exit 11
envmgr deactivate || exit 12
echo "after_prefix=${{CONDA_PREFIX-unset}} after_myvar=${{MYVAR-unset}}"
echo "after_activated=${{ENVMGR_TEST_ACTIVATED-unset}}"
[ "$PATH" = "$before_path" ] && echo path_restored
echo "after_ps1=$PS1"
"""
    res = bash(sandbox, script)
    assert res.returncode == 0, res
    out = res.stdout.splitlines()
    assert f"prefix={pyenv}" in out
    assert f"conda_prefix={pyenv}" in out
    assert "activated=yes myvar=it's $x" in out
    assert "ps1=(act) me$ " in out
    assert f"{NOTICE} {pyenv}" in res.stderr  # install said where it acted
    listed = sandbox.run("list", "-p", str(pyenv), "--json").result()["packages"]
    assert "delta" in {p["name"] for p in listed}
    assert "after_prefix=unset after_myvar=unset" in out
    assert "after_activated=unset" in out
    assert "path_restored" in out
    assert "after_ps1=me$ " in out


def test_nested_activation_deactivates_back_to_the_outer_env(sandbox, channels, denv):
    sandbox.run("create", *on(channels.main_url, "inner", "delta=1.1"))
    script = """
PS1='$ '
envmgr activate d
envmgr activate inner
echo "in=$CONDA_PREFIX ps1=$PS1 path_first=${PATH%%:*}"
envmgr deactivate
echo "back=$CONDA_PREFIX ps1=$PS1 path_first=${PATH%%:*}"
envmgr deactivate
echo "out=${CONDA_PREFIX-unset} ps1=$PS1"
envmgr deactivate
echo "rc=$?"
"""
    res = bash(sandbox, script)
    out = res.stdout.splitlines()
    inner = sandbox.envs / "inner"
    assert f"in={inner} ps1=(inner) $  path_first={inner}/bin" in out, res
    assert f"back={denv} ps1=(d) $  path_first={denv}/bin" in out, res
    assert "out=unset ps1=$ " in out, res
    assert "rc=1" in out and "No environment was activated with 'envmgr activate'" in res.stderr


def test_a_hostile_env_name_runs_nothing(sandbox, channels, tmp_path):
    marker = tmp_path / "pwned"
    for name in (f"x; touch {marker}", f"$(touch {marker})", f"`touch {marker}`"):
        res = bash(sandbox, f"envmgr activate {shlex.quote(name)}; echo rc=$?")
        assert "rc=1" in res.stdout, res
        assert not marker.exists()
    # A real env at a path full of shell syntax: activated, its path taken literally, and the
    # prompt shows it with the dangerous characters as `?`.
    path = tmp_path / f"$(touch {marker})'`x`"
    sandbox.run("create", "-p", str(path), "-c", channels.main_url,
                "--override-channels", "delta", "-y")  # fmt: skip
    res = bash(sandbox, f'PS1="$ "; envmgr activate {shlex.quote(str(path))}\n'
               'printf "%s\\n" "$CONDA_PREFIX" "$PS1"')  # fmt: skip
    assert res.returncode == 0, res
    lines = res.stdout.splitlines()
    assert lines[0] == str(path)
    assert "$(" not in lines[1] and "`" not in lines[1] and lines[1].endswith(") $ ")
    assert not marker.exists()


def test_activate_without_the_hook_says_how_to_set_it_up(sandbox, denv):
    res = sandbox.run("activate", "d", check=False)
    assert res.returncode == 1
    assert 'eval "$(envmgr shell hook -s bash)"' in res.stderr
    assert "envmgr shell init -s bash" in res.stderr
    assert "envmgr run -n d CMD" in res.stderr
    res = sandbox.run("deactivate", check=False)
    assert res.returncode == 1 and "shell hook" in res.stderr


def test_activate_needs_an_env_and_an_existing_one(sandbox, denv):
    res = bash(sandbox, "envmgr activate; echo rc=$?; envmgr activate nope; echo rc=$?")
    assert res.stdout.splitlines() == ["rc=1", "rc=1"]
    assert "Give the environment to activate" in res.stderr
    assert "No environment named 'nope'" in res.stderr


def test_other_verbs_pass_through_the_hook(sandbox, denv):
    res = bash(sandbox, "envmgr env list --json")
    assert res.returncode == 0, res
    assert str(denv) in res.stdout


# ---------------------------------------------------------------- zsh and fish


def _shell(name: str) -> str:
    """The shell's path. .ci/run installs zsh and fish: under CI a missing one fails (the hook
    for it would go untested); on a developer's machine it is skipped."""
    exe = shutil.which(name)
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed: .ci/run installs it (apt-get install {name})")
        pytest.skip(f"{name} is not installed here")
    return exe


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_hook_text_for_other_shells(sandbox, shell):
    res = sandbox.run("shell", "hook", "-s", shell)
    assert "envmgr()" in res.stdout or "function envmgr" in res.stdout
    exe = _shell(shell)
    check = [exe, "-n"] if shell == "zsh" else [exe, "--no-execute"]
    proc = subprocess.run([*check], input=res.stdout, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_zsh_hook_is_posix_shaped(sandbox):
    """zsh's hook is the POSIX function bash runs for real above; bash must at least parse it."""
    res = sandbox.run("shell", "hook", "-s", "zsh")
    proc = subprocess.run(["bash", "-n"], input=res.stdout, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_zsh_activation_for_real(sandbox, denv):
    zsh = _shell("zsh")
    script = (
        f'eval "$({_cli()} shell hook -s zsh)"\nPS1="% "\nenvmgr activate d\n'
        'echo "$CONDA_PREFIX|$PS1"\nenvmgr deactivate\necho "${CONDA_PREFIX-unset}|$PS1"\n'
    )
    proc = subprocess.run([zsh, "-f", "-c", script], env=sandbox.env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert proc.stdout.splitlines() == [f"{denv}|(d) % ", "unset|% "], proc


def test_fish_activation_for_real(sandbox, denv):
    fish = _shell("fish")
    script = (
        "function fish_prompt; echo -n 'me> '; end\n"
        f"{_cli()} shell hook -s fish | source\nenvmgr activate d\necho $CONDA_PREFIX\n"
        "contains -- " + str(denv / "bin") + " $PATH; and echo on-path\n"
        "fish_prompt; echo\n"
        "envmgr deactivate\nset -q CONDA_PREFIX; or echo unset\nfish_prompt; echo\n"
    )
    proc = subprocess.run([fish, "--no-config", "-c", script], env=sandbox.env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.stdout.splitlines() == [str(denv), "on-path", "(d) me> ", "unset", "me> "], proc


# ---------------------------------------------------------------- shell init / deinit


def test_init_writes_one_block_and_deinit_removes_only_it(sandbox, tmp_path):
    rc = tmp_path / "bashrc"
    rc.write_text("export A=1\nalias ll='ls -l'")  # no final newline: kept as it was
    sandbox.run("shell", "init", "-s", "bash", "--rc-file", str(rc))
    first = rc.read_text()
    assert first.startswith("export A=1\nalias ll='ls -l'\n# >>> envmgr initialize >>>\n")
    assert first.count("# >>> envmgr initialize >>>") == 1
    assert first.rstrip().endswith("# <<< envmgr initialize <<<")
    again = sandbox.run("shell", "init", "-s", "bash", "--rc-file", str(rc))
    assert rc.read_text() == first and "nothing changed" in again.stdout

    # The block works: a shell that sources the rc file has `envmgr activate`.
    res = subprocess.run(["bash", "--noprofile", "--norc", "-c", f". {rc}; type -t envmgr"],
                         env=sandbox.env, capture_output=True, text=True)  # fmt: skip
    assert res.stdout.strip() == "function", res

    with rc.open("a") as f:
        f.write("export B=2\n")
    sandbox.run("shell", "deinit", "-s", "bash", "--rc-file", str(rc))
    assert rc.read_text() == "export A=1\nalias ll='ls -l'\nexport B=2\n"
    res = sandbox.run("shell", "deinit", "-s", "bash", "--rc-file", str(rc))
    assert "no envmgr block" in res.stdout
    assert rc.read_text() == "export A=1\nalias ll='ls -l'\nexport B=2\n"


def test_init_defaults_to_the_shells_rc_file_in_home(sandbox):
    sandbox.run("shell", "init", "-s", "fish")
    config = sandbox.home / ".config" / "fish" / "config.fish"
    assert "| source" in config.read_text()
    sandbox.run("shell", "deinit", "-s", "fish")
    assert config.read_text() == ""


def test_init_refuses_a_damaged_block(sandbox, tmp_path):
    rc = tmp_path / "zshrc"
    rc.write_text("# >>> envmgr initialize >>>\necho half a block\n")
    res = sandbox.run("shell", "init", "-s", "zsh", "--rc-file", str(rc), check=False)
    assert res.returncode == 1 and "damaged envmgr block" in res.stderr
    assert rc.read_text() == "# >>> envmgr initialize >>>\necho half a block\n"


def test_init_updates_a_stale_block_in_place_through_a_symlink(sandbox, tmp_path):
    real = tmp_path / "dotfiles" / "bashrc"
    real.parent.mkdir()
    real.write_text(
        "export A=1\n# >>> envmgr initialize >>>\neval old-hook\n# <<< envmgr initialize <<<\n"
        "export B=2\n"
    )
    link = tmp_path / ".bashrc"
    link.symlink_to(real)
    res = sandbox.run("shell", "init", "-s", "bash", "--rc-file", str(link))
    assert "Updated" in res.stdout
    assert link.is_symlink()  # the dotfiles stay where they are kept
    text = real.read_text()
    assert text.startswith("export A=1\n# >>> envmgr initialize >>>\n")
    assert text.endswith("# <<< envmgr initialize <<<\nexport B=2\n")
    assert "old-hook" not in text and "shell hook -s bash" in text
