"""Untrusted env files: bounded reads, YAML without aliases and with limits, pip lines that are
requirement specifiers only, uploads whose errors name the user's file, full-match name rules."""

from __future__ import annotations

import os
import socket
import stat
import tempfile
import time

import pytest

from jupyter_envmgr.engine import envfile
from jupyter_envmgr.engine.batch import check_sbatch_option
from jupyter_envmgr.engine.envfile import (
    MAX_FILE_BYTES,
    MAX_VARIABLE_CHARS,
    MAX_VARIABLES,
    MAX_YAML_DEPTH,
    MAX_YAML_NODES,
    parse_env_yaml,
    read_env_file,
    read_env_text,
)
from jupyter_envmgr.engine.errors import BadInput
from jupyter_envmgr.engine.pip_requirements import check_pip_requirements
from jupyter_envmgr.engine.registry import validate_env_name

# The 443-byte file that froze the server for 21 s and wrote a 600 MB conda-meta/state.
BILLION_LAUGHS = """\
name: bomb
dependencies: [python]
variables:
  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
  h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
  i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def _refused(call, *expected: str) -> str:
    with pytest.raises(BadInput) as info:
        call()
    message = info.value.message
    for text in expected:
        assert text in message, message
    assert "\n" not in message, message
    return message


# --- bounded reads ------------------------------------------------------------------------------


def test_a_file_over_the_limit_is_refused_after_reading_at_most_limit_plus_one(
    tmp_path, monkeypatch
):
    big = tmp_path / "big.txt"
    with open(big, "wb") as fh:
        fh.truncate(64 * 1024 * 1024)  # sparse: costs nothing on disk
    read_bytes = []
    real_read = os.read

    def counting_read(fd, n):
        chunk = real_read(fd, n)
        read_bytes.append(len(chunk))
        return chunk

    monkeypatch.setattr(envfile.os, "read", counting_read)
    _refused(lambda: read_env_file(str(big)), "big.txt is larger than 5 MB")
    assert sum(read_bytes) <= MAX_FILE_BYTES + 1


def test_a_file_of_exactly_the_limit_is_read(tmp_path):
    path = tmp_path / "specs.txt"
    line = b"delta\n"
    path.write_bytes(line * (MAX_FILE_BYTES // len(line)) + b"#" * (MAX_FILE_BYTES % len(line)))
    assert path.stat().st_size == MAX_FILE_BYTES
    assert read_env_file(str(path)).specs[:1] == ["delta"]


@pytest.mark.timeout(20)
def test_a_fifo_is_refused_without_opening_it(tmp_path):
    fifo = tmp_path / "env.yml"
    os.mkfifo(fifo)  # no writer: opening it for reading would block forever
    _refused(lambda: read_env_file(str(fifo)), "is a named pipe (FIFO), not a file")


@pytest.mark.timeout(20)
def test_devices_folders_and_sockets_are_refused(tmp_path):
    _refused(lambda: read_env_file("/dev/zero"), "/dev/zero is a character device, not a file")
    _refused(lambda: read_env_file(str(tmp_path)), "is a folder, not a file")
    with tempfile.TemporaryDirectory() as short:  # AF_UNIX paths are at most ~107 bytes
        path = os.path.join(short, "s.yml")
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(path)
            assert stat.S_ISSOCK(os.stat(path).st_mode)
            _refused(lambda: read_env_file(path), "is a socket, not a file")


def test_missing_and_unreadable_files_are_named(tmp_path):
    _refused(lambda: read_env_file(str(tmp_path / "nope.yml")), "nope.yml does not exist")
    _refused(lambda: read_env_file(str(tmp_path / "nope" / "x.yml")), "does not exist")


@pytest.mark.parametrize(
    "data",
    [b"numpy\0\n", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", b"caf\xe9\n", b"\xff\xfe n\0u\0m\0"],
)
def test_binary_files_are_not_text(tmp_path, data):
    path = tmp_path / "env.txt"
    path.write_bytes(data)
    _refused(lambda: read_env_file(str(path)), "env.txt is not a text file")


# --- YAML limits ----------------------------------------------------------------------------


def test_billion_laughs_is_refused_at_once_naming_file_and_line():
    assert len(BILLION_LAUGHS.encode()) < 450
    started = time.monotonic()
    _refused(lambda: parse_env_yaml(BILLION_LAUGHS, "bomb.yml"), "bomb.yml, line 4", "&a")
    assert time.monotonic() - started < 1


@pytest.mark.parametrize(
    "text, line, expect",
    [
        ("dependencies: [python]\nname: *x\n", 2, "aliases ('*x') are not allowed"),
        ("dependencies: [&p python]\n", 1, "anchors ('&p') are not allowed"),
        (
            "base: &b {name: x}\nenv:\n  <<: *b\n  dependencies: [python]\n",
            1,
            "anchors ('&b') are not allowed",
        ),
    ],
)
def test_any_anchor_or_alias_is_refused(text, line, expect):
    _refused(lambda: parse_env_yaml(text, "e.yml"), f"e.yml, line {line}", expect)


@pytest.mark.parametrize(
    "deep",
    ["[" * 5000 + "]" * 5000, "{a: " * 5000 + "1" + "}" * 5000, "\n" + "- " * 5000 + "x"],
)
def test_deep_nesting_is_a_clean_error_not_a_recursion_error(deep):
    _refused(
        lambda: parse_env_yaml(f"dependencies: {deep}\n", "deep.yml"),
        "deep.yml, line",
        f"nested deeper than {MAX_YAML_DEPTH} levels",
    )


def test_nesting_up_to_the_limit_is_still_parsed_as_usual():
    # root mapping, dependencies list, the pip mapping and its list: 4 levels, well inside.
    env = parse_env_yaml("dependencies:\n  - python\n  - pip\n  - pip:\n    - requests\n")
    assert env.specs == ["python", "pip"] and env.pip == ["requests"]
    nested = "[" * (MAX_YAML_DEPTH - 2) + "1" + "]" * (MAX_YAML_DEPTH - 2)
    _refused(lambda: parse_env_yaml(f"dependencies: [python]\nname: {nested}\n"), "'name'")


def test_too_many_yaml_values_are_refused():
    deps = "".join(f"  - p{i}\n" for i in range(MAX_YAML_NODES + 1))
    _refused(
        lambda: parse_env_yaml("dependencies:\n" + deps, "many.yml"),
        "many.yml, line",
        f"more than {MAX_YAML_NODES} YAML values",
    )


@pytest.mark.parametrize(
    "variables, line, expect",
    [
        ("  1ABC: x\n", 3, "'1ABC' is not a variable name"),
        ('  "A B": x\n', 3, "'A B' is not a variable name"),
        ('  "A\\n": x\n', 3, "'A\\n' is not a variable name"),
        ("  [a]: x\n", 3, "a list or mapping is not a variable name"),
        ("  A: [1, 2]\n", 3, "the value of A must be text, a number or true/false"),
        ("  A: {b: 1}\n", 3, "the value of A must be text"),
        (f"  A: {'x' * (MAX_VARIABLE_CHARS + 1)}\n", 3, f"longer than {MAX_VARIABLE_CHARS}"),
        ("".join(f"  V{i}: x\n" for i in range(MAX_VARIABLES + 1)), 3, "more than 200 variables"),
        (" [A]\n", 3, "'variables' must be a mapping"),
    ],
)
def test_variables_are_short_scalars_under_valid_names(variables, line, expect):
    text = f"dependencies: [python]\nvariables:\n{variables}"
    _refused(lambda: parse_env_yaml(text, "v.yml"), f"v.yml, line {line}", expect)


def test_scalar_variables_are_kept_as_text():
    text = "dependencies: [python]\nvariables:\n  A: 1\n  B_2: true\n  _C: 'it''s'\n  D:\n"
    assert parse_env_yaml(text).variables == {"A": "1", "B_2": "true", "_C": "it's", "D": ""}


# --- files that name no packages ------------------------------------------------------------


@pytest.mark.parametrize(
    "fname, content",
    [
        ("empty.yml", ""),
        ("comments.yml", "# only a comment\n\n"),
        ("deps.yml", "name: x\ndependencies: []\n"),
        ("nodeps.yml", "name: x\nchannels: [conda-forge]\n"),
        ("empty.txt", ""),
        ("comments.txt", "# a comment\n   \n# another\n"),
        ("explicit.txt", "@EXPLICIT\n# nothing\n"),
    ],
)
def test_a_file_that_names_no_packages_is_refused(tmp_path, fname, content):
    path = tmp_path / fname
    path.write_text(content)
    _refused(lambda: read_env_file(str(path)), f"{fname}: names no packages")
    _refused(lambda: read_env_text(content, fname), f"{fname}: names no packages")


# --- pip lines ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line, expect",
    [
        ("-r other.txt", "is a pip option"),
        ("-e .", "is a pip option"),
        ("-c constraints.txt", "is a pip option"),
        ("--index-url https://evil.example/simple", "is a pip option"),
        ("--extra-index-url=https://evil.example/simple", "is a pip option"),
        ("--find-links /tmp/wheels", "is a pip option"),
        ("--no-index", "is a pip option"),
        ("requests --hash=sha256:00", "holds a pip option"),
        ("numpy; extra == ' --index-url=https://evil.example/ '", "holds a pip option"),
        ("name @ https://evil.example/name-1.0.whl", "is a direct reference"),
        ("name@file:///tmp/x.whl", "is a direct reference"),
        ("https://evil.example/name-1.0.whl", "is a URL"),
        ("file:name", "is a URL"),
        ("git+https://github.com/a/b.git", "is a VCS checkout"),
        ("hg+https://example.org/repo", "is a VCS checkout"),
        (".", "is a path"),
        ("./pkg", "is a path"),
        ("../pkg", "is a path"),
        ("/abs/pkg", "is a path"),
        ("~", "is a path"),
        ("~/pkg", "is a path"),
        ("pkg/sub", "is a path"),
        ("pkg\\sub", "holds a '\\'"),
        ("name-1.0-py3-none-any.whl", "is an archive file name"),
        ("name-1.0.tar.gz", "is an archive file name"),
        ("numpy; extra == '${HOME}'", "holds a '$'"),
        ("requests\n--index-url https://evil.example", "holds a control character"),
        ("", "is empty"),
        ("   ", "is empty"),
        ("a" * 1001, "is longer than 1000 characters"),
        ("numpy >>> 1", "is not a requirement specifier"),
        ("# a comment", "is not a requirement specifier"),
    ],
)
def test_pip_lines_other_than_requirement_specifiers_are_refused(line, expect):
    message = _refused(
        lambda: check_pip_requirements(["requests", line], "env.yml"),
        "env.yml: pip line",
        expect,
        "only requirement specifiers such as 'requests>=2.31'",
    )
    assert "env.yml" in message


def test_requirement_specifiers_are_accepted_and_stripped():
    lines = [
        "requests",
        " requests[socks]>=2.31,<3 ",
        "numpy; python_version>='3.9'",
        "Django ==4.2.*",
        "torch==2.1.0+cpu",
        'pkg ; sys_platform == "linux" and python_version < "3.13"',
        "zope.interface~=6.0",
    ]
    assert check_pip_requirements(lines, "x") == [line.strip() for line in lines]


def test_a_bad_pip_line_in_an_env_file_names_file_and_line():
    text = (
        "name: x\ndependencies:\n  - python\n  - pip\n  - pip:\n    - requests\n"
        "    - --extra-index-url=https://evil.example/simple\n"
    )
    _refused(lambda: parse_env_yaml(text, "env.yml"), "env.yml, line 7: pip line", "pip option")


# --- uploads --------------------------------------------------------------------------------


def test_uploaded_text_is_parsed_by_the_display_names_extension():
    yml = read_env_text("name: up\ndependencies: [python]\n", "team env.yml")
    assert (yml.kind, yml.path, yml.name, yml.specs) == ("yaml", "team env.yml", "up", ["python"])
    specs = read_env_text("\ufeffdelta\n# c\nbeta>=1\n", "req.txt")
    assert (specs.kind, specs.path, specs.specs) == ("specs", "req.txt", ["delta", "beta>=1"])
    explicit = read_env_text(
        "@EXPLICIT\nfile:///c/noarch/delta-1.0-0.conda#" + "0" * 32 + "\n", "pinned.txt"
    )
    assert (explicit.kind, explicit.path, explicit.explicit[0].md5) == (
        "explicit",
        "pinned.txt",
        "0" * 32,
    )


def test_uploaded_lock_errors_name_the_upload_never_a_temp_path():
    message = _refused(
        lambda: read_env_text("version: 6\nenvironments: {}\npackages: [1, 2]\n", "team.lock"),
        "team.lock is not a valid lock file",
    )
    assert tempfile.gettempdir() not in message and "envmgr-" not in message


def test_uploaded_lock_without_packages_for_this_platform_is_named():
    text = (
        "version: 6\nenvironments:\n  default:\n    channels: []\n    packages: {}\npackages: []\n"
    )
    message = _refused(lambda: read_env_text(text, "x.lock"), "x.lock")
    assert tempfile.gettempdir() not in message


@pytest.mark.parametrize(
    "text",
    [
        "a" * (MAX_FILE_BYTES + 1),
        "é" * (MAX_FILE_BYTES // 2 + 1),  # fewer characters than the limit, more UTF-8 bytes
    ],
)
def test_uploaded_text_is_limited_in_utf8_bytes(text):
    _refused(lambda: read_env_text(text, "big.yml"), "big.yml is larger than 5 MB")


@pytest.mark.parametrize("text", ["python\0\n", "python\ud800\n"])
def test_uploaded_binary_is_not_text(text):
    _refused(lambda: read_env_text(text, "up.txt"), "up.txt is not a text file")


def test_uploaded_yaml_errors_name_the_display_name():
    _refused(lambda: read_env_text(BILLION_LAUGHS, "laughs.yml"), "laughs.yml, line 4")
    _refused(lambda: read_env_text("dependencies: [python\n", "broken.yaml"), "broken.yaml")


def test_an_upload_name_with_line_breaks_is_shown_on_one_line():
    message = _refused(lambda: read_env_text("", "a\nb.yml"), "a?b.yml: names no packages")
    assert "\n" not in message


# --- name rules: full matches ---------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["e1\n", "e1\r", "\ne1", "e1\n\n", "e1 ", "e1\t", "e1\x00", "e1\u00a0", "e" * 101, "e1/x"],
)
def test_env_names_must_match_in_full(name):
    _refused(lambda: validate_env_name(name), "not a valid environment name")


def test_env_names_at_the_edges_are_accepted():
    for name in ("e1", "E_1.2+3-4", "_x", "e" * 100):
        assert validate_env_name(name) == name


@pytest.mark.parametrize(
    "digest, expect",
    [
        ("0" * 32 + "\n", None),  # stripped like the rest of the line: still a valid md5
        ("0" * 31, "is not an md5 or sha256 hash"),
        ("0" * 33, "is not an md5 or sha256 hash"),
        ("sha256:" + "0" * 63 + "g", "is not an md5 or sha256 hash"),
    ],
)
def test_explicit_hashes_must_match_in_full(digest, expect):
    text = f"@EXPLICIT\nfile:///c/noarch/delta-1.0-0.conda#{digest}\n"
    if expect is None:
        assert read_env_text(text, "e.txt").explicit[0].md5 == "0" * 32
    else:
        _refused(lambda: read_env_text(text, "e.txt"), "e.txt, line 2", expect)


# --- SLURM options ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key, value",
    [
        ("time", "30"),
        ("time", "30:00"),
        ("time", "2:00:00"),
        ("time", "1-12"),
        ("time", "1-12:30"),
        ("time", "1-12:30:00"),
        ("time", "UNLIMITED"),
        ("time", "infinite"),
        ("mem", "16G"),
        ("mem", "2048"),
        ("mem", "512m"),
        ("cpus-per-task", "4"),
        ("partition", "gpu-short"),
    ],
)
def test_slurm_values_in_slurms_formats_are_accepted(key, value):
    assert check_sbatch_option(key, value) == value


@pytest.mark.parametrize(
    "key, value, expect",
    [
        ("time", "abc", "days-hours:minutes:seconds, or UNLIMITED"),
        ("time", "1:2:3:4", "minutes:seconds"),
        ("time", "1-", "minutes:seconds"),
        ("time", "-5", "minutes:seconds"),
        ("time", "10\n", "minutes:seconds"),
        ("time", "١٢", "minutes:seconds"),  # Arabic-Indic digits: \d would take them
        ("mem", "16X", "K, M, G or T"),
        ("mem", "G", "K, M, G or T"),
        ("mem", "1.5G", "K, M, G or T"),
        ("cpus-per-task", "0", "positive whole number"),
        ("cpus-per-task", "-1", "positive whole number"),
        ("cpus-per-task", "two", "positive whole number"),
        ("partition", "short\n", "letters, digits"),
        ("partition", "x; rm -rf ~", "letters, digits"),
    ],
)
def test_slurm_values_outside_slurms_formats_are_refused(key, value, expect):
    _refused(lambda: check_sbatch_option(key, value), f"--{key}", expect)
