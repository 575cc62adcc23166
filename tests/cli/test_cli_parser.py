"""A command line builds only its verb's parser (the start-up every `%envmgr` line pays); what
users see of every verb, its help and its parse, is the same as with the whole parser."""

from __future__ import annotations

import contextlib
import io

import pytest

from jupyter_envmgr.cli.main import build_parser

from .test_cli_imports import _verbs

VERBS = _verbs(build_parser())


def _help(parser, path: tuple[str, ...]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        parser.parse_args([*path, "--help"])
    return out.getvalue()


@pytest.mark.parametrize("path", VERBS, ids=" ".join)
def test_each_verb_reads_the_same_with_only_its_parser_built(path):
    assert _help(build_parser(path[0]), path) == _help(build_parser(), path)


def test_a_mistyped_verb_still_lists_every_verb(capsys):
    with pytest.raises(SystemExit):
        build_parser("creat").parse_args(["creat"])
    error = capsys.readouterr().err
    assert "invalid choice: 'creat'" in error
    assert all(f"'{verb}'" in error for verb in {path[0] for path in VERBS})


def test_a_command_line_gets_the_arguments_of_its_verb():
    argv = ["create", "-n", "x", "-c", "conda-forge", "numpy", "--dry-run", "-y"]
    one, whole = build_parser("create").parse_args(argv), build_parser().parse_args(argv)
    assert vars(one) == vars(whole)
    assert (one.name, one.channel, one.specs, one.dry_run) == (
        "x",
        ["conda-forge"],
        ["numpy"],
        True,
    )
