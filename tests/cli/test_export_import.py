"""Export in three formats and recreate elsewhere; env files with pip sections; bad files."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import zipfile

import pytest

from ..helpers import installed, tree_snapshot


@pytest.fixture
def two_channel_env(sandbox, channels):
    sandbox.run(
        "create",
        "-n",
        "src",
        "-c",
        channels.main_url,
        "-c",
        channels.extra_url,
        "--override-channels",
        "python",
        "beta=1.0",
        "pip",
        f"{channels.extra_url}::delta",
        "-y",
    )
    return sandbox.envs / "src"


@pytest.mark.parametrize(
    "fmt, suffix", [([], "yml"), (["--explicit"], "txt"), (["--lock"], "lock")]
)
def test_export_then_create_in_another_root_reproduces_every_record(
    sandbox, two_channel_env, tmp_path, fmt, suffix
):
    out = tmp_path / f"exported.{suffix}"
    sandbox.run("env", "export", "-n", "src", *fmt, "-f", str(out))
    other_root = tmp_path / "elsewhere"
    extra = ["--override-channels"] if suffix == "yml" else []
    sandbox.run("create", "-r", str(other_root), "-n", "copy", "-f", str(out), "-y", *extra)
    original = installed(two_channel_env)
    copy = installed(other_root / "envs" / "copy")
    assert copy == original
    assert copy["delta"][0] == "5.0"  # from the second channel, kept through the file


def test_from_history_lists_only_what_the_user_asked_for(sandbox, two_channel_env, channels):
    text = sandbox.run("env", "export", "-n", "src", "--from-history").stdout
    deps = [
        ln[2:]
        for ln in text.splitlines()
        if ln.startswith("- ") and "::" in ln or ln in ("- python", "- beta=1.0", "- pip")
    ]
    assert "alpha" not in text  # a dependency, never requested
    assert deps == ["python", "beta=1.0", "pip", f"{channels.extra_url}::delta"]


def test_no_builds_leaves_out_build_strings(sandbox, two_channel_env):
    text = sandbox.run("env", "export", "-n", "src", "--no-builds").stdout
    assert "- beta=1.0\n" in text and "pyh_envmgr" not in text


def _make_wheel(folder, name="tinywheel", version="0.1"):
    files = {
        f"{name}/__init__.py": "VALUE = 42\n",
        f"{name}-{version}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        ),
        f"{name}-{version}.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{name}-{version}.dist-info/RECORD,,")
    files[f"{name}-{version}.dist-info/RECORD"] = "\n".join(record) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return wheel


def _offline_pip(sandbox, wheels):
    # pip: lines are requirement specifiers only (no --no-index, no paths): where pip looks is
    # the user's pip configuration, here its environment variables.
    sandbox.env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheels))


def test_pip_section_installs_with_the_envs_pip_and_is_exported(sandbox, channels, tmp_path):
    _make_wheel(tmp_path)
    _offline_pip(sandbox, tmp_path)
    yml = tmp_path / "env.yml"
    yml.write_text(
        f"name: withpip\nchannels:\n  - {channels.main_url}\ndependencies:\n  - python\n"
        "  - pip\n  - pip:\n    - tinywheel==0.1\n"
    )
    sandbox.run("create", "-f", str(yml), "--override-channels", "-y")
    prefix = sandbox.envs / "withpip"
    out = subprocess.run(
        [str(prefix / "bin" / "python"), "-c", "import tinywheel; print(tinywheel.VALUE)"],
        capture_output=True,
        text=True,
    )
    assert out.stdout.strip() == "42", out.stderr
    exported = sandbox.run("env", "export", "-n", "withpip").stdout
    assert "- pip:\n  - tinywheel==0.1" in exported


def test_failing_pip_section_rolls_the_whole_create_back(sandbox, channels, tmp_path):
    _offline_pip(sandbox, tmp_path)
    yml = tmp_path / "env.yml"
    yml.write_text(
        f"name: pipfail\nchannels: [{channels.main_url}]\ndependencies:\n  - python\n  - pip\n"
        "  - pip:\n    - missing-wheel==0.1\n"
    )
    res = sandbox.run("create", "-f", str(yml), "--override-channels", "-y", check=False)
    assert res.returncode == 1 and "pip install" in res.stderr
    assert not (sandbox.envs / "pipfail").exists()


BAD_FILES = [
    ("env.yml", "name: x\ndependencies: [python\n", "not valid YAML"),
    ("env.yml", "name: x\ndependencies:\n  - python\nsurprise: 1\n", "line 4: unknown key"),
    (
        "env.yml",
        "name: x\ndependencies:\n  - python\n  - pip:\n    - requests\n",
        "would have no pip",
    ),
    ("env.yml", "name: x\ndependencies:\n  - {conda: numpy}\n", "only a 'pip:' list"),
    ("env.yml", "name: x\ndependencies: python\n", "must be a list"),
    ("env.yml", "- just\n- a list\n", "must be a mapping"),
    ("env.txt", "@EXPLICIT\nnot-a-url\n", "line 2"),
    ("env.txt", "@EXPLICIT\nhttps://x/noarch/pkg-1.0-0.conda#zzz\n", "not an md5 or sha256"),
    ("env.txt", "@EXPLICIT\n", "names no package"),
    ("env.lock", "version: 6\nenvironments: {}\npackages: [1, 2]\n", "not a valid lock file"),
]


@pytest.mark.parametrize("fname, content, expect", BAD_FILES)
def test_bad_environment_files_are_refused_without_change(
    sandbox, channels, tmp_path, fname, content, expect
):
    path = tmp_path / fname
    path.write_text(content)
    snap = tree_snapshot(sandbox.root, sandbox.home)
    res = sandbox.run(
        "create",
        "-n",
        "bad",
        "-f",
        str(path),
        "-c",
        channels.main_url,
        "--override-channels",
        "-y",
        check=False,
    )
    assert res.returncode == 1, res
    assert expect in res.stderr, res
    assert tree_snapshot(sandbox.root, sandbox.home) == snap


def test_explicit_file_with_a_wrong_hash_is_refused(sandbox, two_channel_env, tmp_path):
    text = sandbox.run("env", "export", "-n", "src", "--explicit").stdout
    lines = text.splitlines()
    idx = next(i for i, ln in enumerate(lines) if "beta-1.0" in ln)
    lines[idx] = lines[idx].split("#")[0] + "#sha256:" + "0" * 64
    path = tmp_path / "bad.txt"
    path.write_text("\n".join(lines) + "\n")
    res = sandbox.run("create", "-n", "badhash", "-f", str(path), "-y", check=False)
    assert res.returncode == 1 and "sha256 of beta-1.0" in res.stderr
    assert not (sandbox.envs / "badhash").exists()
