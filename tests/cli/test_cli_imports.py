"""Parsing stays light: every `%envmgr` line starts the CLI, and `--help` must not load the engine.

Checked in a fresh interpreter (this one has long imported everything), by what is in
`sys.modules`, not by timing it (bench/startup.py measures the times).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import subprocess
import sys

from jupyter_envmgr.cli.main import VERB_MODULES, build_parser

HEAVY = ("rattler", "yaml", "jupyter_client", "jupyter_server", "tornado")

# Run in the child: build the parser, ask every verb for --help and make a usage error, all
# through run_cli as the `envmgr` script does, then report what was imported.
CHILD = """
import contextlib, io, json, sys
from jupyter_envmgr.cli.main import run_cli

for argv in json.loads(sys.argv[1]):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            run_cli(argv)
        except SystemExit:
            pass
print(json.dumps(sorted(sys.modules)))
"""


def _verbs(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every leaf command: ("create",), ..., ("env", "list"), ("env", "export"), ..."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _verbs(sub, (*prefix, name)) or [(*prefix, name)]
    return found


def _modules_after(argvs: list[list[str]]) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(argvs)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(
        m
        for m in modules
        if m.split(".")[0] in HEAVY
        or (m.startswith("jupyter_") and not m.startswith("jupyter_envmgr"))
    )


def test_help_of_every_verb_imports_no_rattler_yaml_or_jupyter():
    verbs = _verbs(build_parser())
    assert (
        ("create",) in verbs
        and (
            "env",
            "export",
        )
        in verbs
        and ("kernels",) in verbs
    )
    argvs = [["--help"]] + [[*verb, "--help"] for verb in verbs]
    modules = _modules_after(argvs)
    assert _heavy(modules) == []
    # The engine's light modules (the errors the CLI maps to exit codes; batch.py, whose sbatch
    # option list slurm-script's parser offers) are all it loads.
    engine = {m for m in modules if m.startswith("jupyter_envmgr.engine.")}
    light = ("errors", "rattler_guard", "batch")
    assert engine <= {f"jupyter_envmgr.engine.{name}" for name in light}


def test_usage_error_imports_no_rattler_yaml_or_jupyter():
    modules = _modules_after([["create", "--no-such-flag"], ["no-such-verb"], []])
    assert _heavy(modules) == []


def test_every_verb_runs_through_one_async_run_function():
    parser = build_parser()
    for verb in _verbs(parser):
        # Verbs with a required positional (search SPEC) get one.
        needs = verb in (
            ("search",),
            ("notebook", "lock"),
            ("notebook", "sync"),
            ("notebook", "show"),
            ("rename",),
            ("repoquery", "depends"),
            ("repoquery", "whoneeds"),
            ("env", "config", "vars", "set"),
            ("env", "config", "vars", "unset"),
            ("config", "get"),
            ("config", "append"),
            ("config", "prepend"),
            ("config", "remove-key"),
        )
        two = (("config", "set"), ("config", "append"), ("config", "prepend"))  # KEY VALUE
        given = ["x", "y"] if verb in two else ["x"] if needs else []
        args = parser.parse_args([*verb, *given])
        assert inspect.iscoroutinefunction(args.run), verb


def test_a_command_line_imports_only_its_verbs_module():
    # main.VERB_MODULES names the first words each module adds: exactly what it adds.
    for module, words in VERB_MODULES.items():
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(f"jupyter_envmgr.cli.{module}").add_parsers(sub)
        assert tuple(sub.choices) == words, module
    modules = _modules_after([["create", "--help"]])
    verb_modules = {m.rsplit(".", 1)[-1] for m in modules if m.startswith("jupyter_envmgr.cli.")}
    assert verb_modules & set(VERB_MODULES) == {"solve_cmds"}


def test_create_path_loads_no_pip_lock_exact_records_or_hashlib():
    # What create, install, remove and update load (the CLI's solve verb and the engine's
    # operations) leaves out the modules only a lock's pip entries, an explicit file or a
    # rollback need, the env file parser, and hashlib (the kernel sync loads it later).
    code = (
        "import json, sys\n"
        "import jupyter_envmgr.cli.solve_cmds, jupyter_envmgr.engine.operations\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    modules = set(json.loads(proc.stdout))
    assert "jupyter_envmgr.engine.operations" in modules
    unneeded = ("pip_lock", "exact_records", "envfile")
    assert not {f"jupyter_envmgr.engine.{name}" for name in unneeded} & modules
    assert "hashlib" not in modules
