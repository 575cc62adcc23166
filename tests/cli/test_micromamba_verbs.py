"""micromamba's flags and verbs as its users' scripts use them (issue 26, items 5-8)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ..helpers import installed
from .test_export_import import _make_wheel


def _create(sandbox, channels, name, *specs):
    sandbox.run("create", "-n", name, "-c", channels.main_url, "--override-channels", *specs, "-y")
    return sandbox.envs / name


@pytest.fixture
def two_envs(sandbox, channels):
    return _create(sandbox, channels, "one", "delta"), _create(sandbox, channels, "two", "delta")


# ---------------------------------------------------------------------------------------------
# env list


def test_env_list_skips_exactly_its_header_lines_under_awk_fnr_2(sandbox, two_envs):
    text = sandbox.run("env", "list").stdout
    body = subprocess.run(
        ["awk", "FNR>2"], input=text, capture_output=True, text=True, check=True
    ).stdout
    names = [line.split()[0] for line in body.splitlines()]
    assert names == ["one", "two"]  # the first env is not eaten with the header
    assert text.splitlines()[0].split() == ["Name", "Active", "Path"]


def test_env_list_json_is_micromamba_shaped_with_details_beside(sandbox, two_envs):
    out = sandbox.run("env", "list", "--json").stdout
    data = json.loads(out)  # one JSON document, as `json.load` in a script reads it
    assert data["envs"] == [str(p) for p in two_envs]
    assert [e["name"] for e in data["environments"]] == ["one", "two"]


# ---------------------------------------------------------------------------------------------
# list: pip's packages, PATTERN, --export, --explicit [--md5]


def test_list_shows_what_pip_installed_as_conda_does(sandbox, channels, tmp_path):
    prefix = _create(sandbox, channels, "withpip", "python", "pip", "alpha")
    wheel = _make_wheel(tmp_path, name="Tiny_Wheel")
    pip = [str(prefix / "bin" / "python"), "-m", "pip", "install", "--no-index", str(wheel)]
    subprocess.run(pip, env=sandbox.env, capture_output=True, check=True, timeout=300)
    rows = [line.split() for line in sandbox.run("list", "-n", "withpip").stdout.splitlines()]
    assert ["tiny-wheel", "0.1", "pypi_0", "pypi"] in rows
    names = [row[0] for row in rows if row]
    assert names.count("alpha") == 1 and names.count("pip") == 1  # conda's own, listed once
    packages = sandbox.run("list", "-n", "withpip", "--json").result()["packages"]
    by_name = {p["name"]: p for p in packages}
    assert by_name["tiny-wheel"]["channel"] == "pypi"
    assert by_name["tiny-wheel"]["installer"] == "pip"
    assert "installer" not in by_name["alpha"]
    assert [p["name"] for p in packages] == sorted(by_name)


@pytest.fixture
def listed(sandbox, channels):
    return _create(sandbox, channels, "listed", "delta=1.0", "prefixpkg")


def test_list_pattern_filters_names_by_regex(sandbox, listed):
    rows = sandbox.run("list", "-n", "listed", "^del").stdout.splitlines()
    assert [r.split()[0] for r in rows if r.startswith("  ")] == ["delta"]
    packages = sandbox.run("list", "-n", "listed", "pkg$", "--json").result()["packages"]
    assert [p["name"] for p in packages] == ["prefixpkg"]
    bad = sandbox.run("list", "-n", "listed", "del(", check=False)
    assert bad.returncode == 1 and "not a regular expression" in bad.stderr


def test_list_export_lines_recreate_the_env(sandbox, channels, listed, tmp_path):
    text = sandbox.run("list", "-n", "listed", "--export").stdout
    assert text.splitlines() == ["delta=1.0=h_envmgr_0", "prefixpkg=1.0=h_envmgr_0"]
    (tmp_path / "spec.txt").write_text(text)
    sandbox.run("create", "-n", "again", "-f", str(tmp_path / "spec.txt"), "-c",
                channels.main_url, "--override-channels", "-y")  # fmt: skip
    assert installed(sandbox.envs / "again") == installed(listed)


def test_list_explicit_with_and_without_md5(sandbox, listed, tmp_path):
    plain = sandbox.run("list", "-n", "listed", "--explicit").stdout.splitlines()
    assert "@EXPLICIT" in plain
    urls = [line for line in plain if not line.startswith(("#", "@"))]
    assert len(urls) == 2 and all("#" not in u and u.endswith(".conda") for u in urls)
    with_md5 = sandbox.run("list", "-n", "listed", "--explicit", "--md5").stdout.splitlines()
    records = {p.name: json.loads(p.read_text()) for p in (listed / "conda-meta").glob("*.json")}
    expected = sorted(f"{r['url']}#{r['md5']}" for r in records.values())
    assert sorted(line for line in with_md5 if "#" in line and "://" in line) == expected
    only = sandbox.run("list", "-n", "listed", "delta", "--explicit").stdout
    assert "delta-1.0" in only and "prefixpkg" not in only
    (tmp_path / "explicit.txt").write_text("\n".join(with_md5) + "\n")
    sandbox.run("create", "-n", "exact", "-f", str(tmp_path / "explicit.txt"), "-y")
    assert installed(sandbox.envs / "exact") == installed(listed)
    refused = sandbox.run("list", "-n", "listed", "--md5", check=False)
    assert refused.returncode == 1 and "--explicit" in refused.stderr


# ---------------------------------------------------------------------------------------------
# clean's short forms, info --envs, --version


def test_clean_short_forms_select_and_remove_as_the_long_ones(private_sandbox, channels):
    sb = private_sandbox
    _create(sb, channels, "gone", "delta=1.0")
    sb.run("env", "remove", "-n", "gone", "-y")
    short = sb.run("clean", "-i", "-t", "-p", "-l", "-d", "--json").result()
    long = sb.run("clean", "--index-cache", "--tarballs", "--packages", "--locks",
                  "--dry-run", "--json").result()  # fmt: skip
    every = sb.run("clean", "-a", "-d", "--json").result()
    assert short["dry_run"] and not short["applied"]
    assert short["plan"]["categories"] == long["plan"]["categories"]
    assert short["plan"]["categories"] == every["plan"]["categories"]
    assert short["plan"]["items"] == long["plan"]["items"]
    assert [i["name"] for i in short["plan"]["items"]] == ["delta-1.0-h_envmgr_0"]
    tarballs = sb.run("clean", "-t", "-d", "--json").result()["plan"]["items"]
    assert {i["category"] for i in tarballs} <= {"tarballs", "partial"}  # a local channel's
    done = sb.run("clean", "-p", "-y", "--json").result()  # package was extracted, not kept
    assert done["applied"] and [i["name"] for i in done["removed"]] == ["delta-1.0-h_envmgr_0"]
    assert not (sb.pkgs / "delta-1.0-h_envmgr_0").exists()


def test_info_envs_lists_the_envs_as_env_list_does(sandbox, two_envs):
    assert sandbox.run("info", "--envs").stdout == sandbox.run("env", "list").stdout
    assert json.loads(sandbox.run("info", "--envs", "--json").stdout)["envs"] == [
        str(p) for p in two_envs
    ]


def test_version_prints_the_bare_version():
    from jupyter_envmgr import __version__

    out = subprocess.run([sys.executable, "-m", "jupyter_envmgr", "--version"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0 and out.stdout.strip() == __version__


# ---------------------------------------------------------------------------------------------
# env create, env config vars (applied by run, exported as variables:)


def test_env_config_vars_are_applied_by_run_and_travel_through_env_files(
    sandbox, channels, listed, tmp_path
):
    sandbox.run("env", "config", "vars", "set", "-n", "listed", "MY_VAR=a b=c", "OTHER=1")
    listed_vars = sandbox.run("env", "config", "vars", "list", "-n", "listed").stdout
    assert listed_vars.split() == ["MY_VAR", "a", "b=c", "OTHER", "1"]
    state = json.loads((listed / "conda-meta" / "state").read_text())
    assert state["env_vars"] == {"MY_VAR": "a b=c", "OTHER": "1"}  # where conda keeps them
    out = sandbox.run("run", "-n", "listed", "sh", "-c", 'echo "$MY_VAR"').stdout
    assert out.strip() == "a b=c"
    sandbox.run("env", "config", "vars", "unset", "-n", "listed", "OTHER")
    exported = sandbox.run("env", "export", "-n", "listed", "-f", str(tmp_path / "e.yml"))
    assert exported.returncode == 0
    text = (tmp_path / "e.yml").read_text()
    assert "variables:\n  MY_VAR: a b=c\n" in text and "OTHER" not in text
    # env create: micromamba's and conda's spelling of create -f, variables written back.
    sandbox.run("env", "create", "-n", "copy", "-f", str(tmp_path / "e.yml"), "-y",
                "--override-channels")  # fmt: skip
    copy = sandbox.envs / "copy"
    assert installed(copy) == installed(listed)
    vars_json = sandbox.run("env", "config", "vars", "list", "-n", "copy", "--json").result()
    assert vars_json["variables"] == {"MY_VAR": "a b=c"}


@pytest.mark.parametrize(
    "args, message",
    [
        (["set", "1BAD=x"], "not a variable name"),
        (["set", "NOEQUALS"], "no '='"),
        (["unset", "A-B"], "not a variable name"),
    ],
)
def test_env_config_vars_bad_input_changes_nothing(sandbox, listed, args, message):
    res = sandbox.run("env", "config", "vars", *args[:1], "-n", "listed", *args[1:], check=False)
    assert res.returncode == 1 and message in res.stderr
    assert not (listed / "conda-meta" / "state").exists()


def test_env_create_without_a_file_says_what_to_give(sandbox, tmp_path):
    res = sandbox.run("env", "create", "-n", "x", check=False, cwd=tmp_path)
    assert res.returncode == 1 and "-f FILE" in res.stderr
    assert not (sandbox.envs / "x").exists()


# ---------------------------------------------------------------------------------------------
# rename


def test_rename_relinks_for_the_new_prefix_and_kernels_follow(sandbox, channels, listed):
    spec = listed / "share" / "jupyter" / "kernels" / "mine" / "kernel.json"
    spec.parent.mkdir(parents=True)
    # A kernel the env's own program runs (discovery wants the program in the env).
    spec.write_text(json.dumps({"argv": ["prefixpkg-hello", "{connection_file}"],
                                "display_name": "Mine", "language": "sh"}))  # fmt: skip
    sandbox.run("env", "config", "vars", "set", "-n", "listed", "KEEP=me")
    before = installed(listed)
    kernels = [k["name"] for k in sandbox.run("kernels", "--json").result()["kernels"]]
    assert "conda-env-listed-mine" in kernels
    sandbox.run("rename", "-n", "listed", "moved", "-y")
    moved = sandbox.envs / "moved"
    assert not listed.exists() and installed(moved) == before
    # Files written with the prefix placeholder name the new prefix: linked anew, not moved.
    assert f"prefix={moved}" in (moved / "etc" / "prefixpkg.conf").read_text()
    assert str(listed) not in (moved / "bin" / "prefixpkg-hello").read_text()
    assert (moved / "share" / "jupyter" / "kernels" / "mine" / "kernel.json").is_file()
    kernels = [k["name"] for k in sandbox.run("kernels", "--json").result()["kernels"]]
    assert "conda-env-moved-mine" in kernels and "conda-env-listed-mine" not in kernels
    out = sandbox.run("run", "-n", "moved", "sh", "-c", 'echo "$KEEP"').stdout
    assert out.strip() == "me"  # its variables travel with it
    history = sandbox.run("list", "-n", "moved", "--revisions", "--json").result()["revisions"]
    assert len(history) == 1  # the env's own history, not a new one
    registered = (sandbox.home / ".conda" / "environments.txt").read_text().split()
    assert str(moved) in registered and str(listed) not in registered


def test_rename_refuses_before_changing_anything(sandbox, channels, listed, two_envs):
    for args, message in [
        (["-n", "listed", "one"], "already exists"),
        (["-n", "listed", "bad/name"], "not a valid environment name"),
        (["listed2"], "Name the environment"),
    ]:
        res = sandbox.run("rename", *args, "-y", check=False)
        assert res.returncode == 1 and message in res.stderr, res
    assert (sandbox.envs / "listed").is_dir() and installed(listed)
    # While another operation holds the env's lock, it is refused at once.
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(listed)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        res = sandbox.run("rename", "-n", "listed", "later", "-y", check=False, timeout=60)
        assert res.returncode == 1 and "locked" in res.stderr, res
    finally:
        holder.kill()
        holder.wait()
    assert listed.is_dir() and not (sandbox.envs / "later").exists()


HOLD_LOCK = """
import asyncio, sys, time
from pathlib import Path
from jupyter_envmgr.engine.lock import prefix_lock

async def main():
    async with prefix_lock(Path(sys.argv[1]), timeout=5, cmd="holder"):
        print("held", flush=True)
        time.sleep(60)

asyncio.run(main())
"""


def test_rename_refuses_an_env_with_pip_packages(sandbox, listed):
    dist = listed / "lib" / "python3.11" / "site-packages" / "extra-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: extra\nVersion: 1.0\n")
    (dist / "INSTALLER").write_text("pip\n")
    res = sandbox.run("rename", "-n", "listed", "other", "-y", check=False)
    assert res.returncode == 1 and "pip installed (extra==1.0)" in res.stderr
    assert listed.is_dir() and not (sandbox.envs / "other").exists()


# ---------------------------------------------------------------------------------------------
# repoquery


def test_repoquery_depends_and_whoneeds_from_the_installed_records(sandbox, channels):
    _create(sandbox, channels, "q", "python", "beta=1.0")
    direct = sandbox.run("repoquery", "depends", "-n", "q", "beta", "--json").result()
    assert [p["name"] for p in direct["packages"]] == ["alpha", "python"]
    assert direct["package"]["version"] == "1.0"
    needers = sandbox.run("repoquery", "whoneeds", "-n", "q", "alpha").stdout
    assert [line.split()[0] for line in needers.splitlines()[4:]] == ["beta"]
    tree = sandbox.run("repoquery", "depends", "-n", "q", "beta", "--tree").stdout.splitlines()
    assert tree[0] == "beta[1.0]" and "alpha[1.5]" in tree[1] and "python[" in tree[2]
    assert tree[3].endswith("(shown above)") and len(tree) == 4  # each package expanded once
    whole = sandbox.run("repoquery", "whoneeds", "-n", "q", "python", "-t", "--json").result()
    assert {c["name"] for c in whole["tree"]["children"]} == {"alpha", "beta"}
    assert [p["name"] for p in whole["packages"]] == ["alpha", "beta"]
    missing = sandbox.run("repoquery", "depends", "-n", "q", "gamma", check=False)
    assert missing.returncode == 1 and "gamma is not installed" in missing.stderr


# ---------------------------------------------------------------------------------------------
# config


def test_config_edits_the_condarc_every_command_then_reads(sandbox):
    sandbox.run("config", "append", "channels", "bioconda")
    sandbox.run("config", "prepend", "channels", "conda-forge")
    sandbox.run("config", "append", "channels", "conda-forge")  # moves it, as conda does
    sandbox.run("config", "set", "channel_priority", "flexible")
    sandbox.run("config", "set", "custom_channels.bio", "https://example.org/bio")
    info = sandbox.run("info", "--json").result()
    assert info["channels"] == ["bioconda", "conda-forge"]
    assert info["channel_priority"] == "flexible"
    assert info["config_files"] == [str(sandbox.home / ".condarc")]
    got = sandbox.run("config", "get", "channels", "--json").result()
    assert got["found"] and got["value"] == ["bioconda", "conda-forge"]
    assert "channel_priority: flexible" in sandbox.run("config", "list").stdout
    sandbox.run("config", "remove-key", "channel_priority")
    assert sandbox.run("info", "--json").result()["channel_priority"] == "strict"
    missing = sandbox.run("config", "get", "channel_priority", "--json").result()
    assert missing["found"] is False


def test_config_refuses_bad_input_and_bad_files_changing_nothing(sandbox, tmp_path):
    rc = sandbox.home / ".condarc"
    rc.write_text("channels: [conda-forge]\n")
    for args, message in [
        (["set", "channel_priority", "sometimes"], "must be strict, flexible or disabled"),
        (["set", "chanels", "x"], "Did you mean channels?"),
        (["set", "channels", "x"], "is a list"),
        (["append", "channel_priority", "x"], "is not a list"),
        (["remove-key", "solver"], "not set"),
    ]:
        res = sandbox.run("config", *args, check=False)
        assert res.returncode == 1 and message in res.stderr, res
    assert rc.read_text() == "channels: [conda-forge]\n"
    other = tmp_path / "site.condarc"
    other.write_text("channels: [a\n")  # not YAML: an error, and the file stays as it was
    res = sandbox.run("config", "append", "--file", str(other), "channels", "b", check=False)
    assert res.returncode == 1 and "not valid YAML" in res.stderr
    assert other.read_text() == "channels: [a\n"
    good = tmp_path / "good.condarc"
    sandbox.run("config", "set", "--file", str(good), "channel_alias", "https://mirror.example")
    assert "channel_alias: https://mirror.example" in good.read_text()
    assert rc.read_text() == "channels: [conda-forge]\n"  # --file: only that file


# ---------------------------------------------------------------------------------------------
# slurm-script


def test_slurm_script_writes_every_directive_and_runs(sandbox, listed, tmp_path):
    res = sandbox.run(
        "slurm-script", "-n", "listed", "--nodes", "2-4", "--ntasks", "16",
        "--ntasks-per-node", "8", "--qos", "normal", "--account", "proj42",
        "--mem-per-cpu", "4G", "--gres", "gpu:a100:2", "--array", "0-99:2%10",
        "--output", "logs/%x-%A_%a.out", "--error", "logs/%x-%A_%a.err",
        "--sbatch=--constraint=skylake", "--sbatch", "--mail-type END",
        "--", "sh", "-c", 'echo "$CONDA_PREFIX"; prefixpkg-hello',
    )  # fmt: skip
    directives = [line for line in res.stdout.splitlines() if line.startswith("#SBATCH")]
    assert directives == [
        "#SBATCH --qos=normal",
        "#SBATCH --account=proj42",
        "#SBATCH --nodes=2-4",
        "#SBATCH --ntasks=16",
        "#SBATCH --ntasks-per-node=8",
        "#SBATCH --mem-per-cpu=4G",
        "#SBATCH --gres=gpu:a100:2",
        "#SBATCH --array=0-99:2%10",
        "#SBATCH --output=logs/%x-%A_%a.out",
        "#SBATCH --error=logs/%x-%A_%a.err",
        "#SBATCH --constraint=skylake",
        "#SBATCH --mail-type END",
    ]
    script = tmp_path / "job.sh"
    script.write_text(res.stdout)
    env = {k: v for k, v in sandbox.env.items() if k != "CONDA_PREFIX"}
    env["PATH"] = "/usr/bin:/bin"  # a compute node's bare PATH
    out = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [str(listed), f"prefix={listed}"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--nodes", "two"], "--nodes 'two'"),
        (["--array", "1-3;id"], "--array"),
        (["--mem", "4G", "--mem-per-cpu", "1G"], "exclude each other"),
        (["--sbatch", "--x=1\n#SBATCH --y"], "one line"),
        (["--sbatch=#SBATCH --time=1"], "only what follows"),
        (["--sbatch", "constraint=x"], "one sbatch option"),
        (["--ntasks-per-core", "2"], "--ntasks-per-core"),
    ],
)
def test_slurm_script_errors_show_its_own_usage(sandbox, listed, args, message):
    res = sandbox.run("slurm-script", "-n", "listed", *args, "--", "true", check=False)
    assert res.returncode == 2 and message in res.stderr, res
    assert "usage: envmgr slurm-script" in res.stderr and res.stdout == ""
