"""`shell hook | init | deinit`, and `activate`/`deactivate` as the shell hook provides them.

Without the hook, `envmgr activate` cannot change the shell it was typed in: the verbs here then
say how to set the hook up. With it, the hook's shell function runs the hidden
`shell activate-script` / `shell deactivate-script` and evaluates what they print (the engine's
`shell_hook`: variables only, every value quoted).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from ..engine.errors import BadInput
from .common import Subparsers, add_root_prefix
from .session import Session

# engine/shell_hook.py SHELLS, spelled here so that parsing imports no engine module.
SHELLS = ("bash", "zsh", "fish")
RC_FILES = {"bash": "~/.bashrc", "zsh": "~/.zshrc", "fish": "~/.config/fish/config.fish"}


def add_parsers(sub: Subparsers) -> None:
    p = sub.add_parser("shell", help="set up `envmgr activate` in your shell (hook, init)")
    shell_sub = p.add_subparsers(
        dest="shell_command", metavar="{hook,init,deinit}", title="commands"
    )
    shell_sub.required = True

    q = shell_sub.add_parser("hook", help="print the shell function: eval it in your shell")
    _add_shell(q)
    add_root_prefix(q)
    q.set_defaults(run=print_hook)

    for verb, text in (
        ("init", f"write the hook into your shell's rc file ({', '.join(RC_FILES.values())})"),
        ("deinit", "remove the hook's block from your shell's rc file"),
    ):
        q = shell_sub.add_parser(verb, help=text)
        _add_shell(q)
        add_root_prefix(q)
        # Not `rc_file`: that dest is the settings' --rc-file (conda config) on other verbs.
        q.add_argument("--rc-file", dest="shell_rc_file", help="the file to edit (default: "
                       "~/.bashrc, ~/.zshrc or ~/.config/fish/config.fish)")  # fmt: skip
        q.set_defaults(run=init if verb == "init" else deinit)

    # Run by the hook's shell function only (hidden from the help above).
    q = shell_sub.add_parser("activate-script")
    _add_shell(q)
    add_root_prefix(q)
    q.add_argument("--ps1", help="the shell's prompt (PS1)")
    q.add_argument("env", nargs="?", metavar="NAME|PATH")
    q.set_defaults(run=activate_script)
    q = shell_sub.add_parser("deactivate-script")
    _add_shell(q)
    add_root_prefix(q)
    q.add_argument("--ps1", help=argparse.SUPPRESS)
    q.add_argument("rest", nargs="*", help=argparse.SUPPRESS)  # the hook passes `-- "$@"`
    q.set_defaults(run=deactivate_script)

    p = sub.add_parser("activate", help="activate an environment in this shell (needs the hook)")
    p.add_argument("env", nargs="?", metavar="NAME|PATH")
    add_root_prefix(p)
    p.set_defaults(run=no_hook)
    p = sub.add_parser("deactivate", help="deactivate the environment (needs the hook)")
    add_root_prefix(p)
    p.set_defaults(run=no_hook)


def _add_shell(p: argparse.ArgumentParser) -> None:
    p.add_argument("-s", "--shell", choices=SHELLS, help="bash, zsh or fish (default: $SHELL's)")


def _shell(s: Session) -> str:
    if s.args.shell:
        return str(s.args.shell)
    guess = os.path.basename(os.environ.get("SHELL", ""))
    if guess in SHELLS:
        return guess
    raise BadInput(f"Name your shell with -s {{{','.join(SHELLS)}}} ($SHELL does not say).")


def envmgr_argv() -> list[str]:
    """How this envmgr is run, by absolute path: the `envmgr` script beside this Python, else
    `python -m jupyter_envmgr` (an activated env's own `envmgr`, if any, never takes over)."""
    script = Path(sys.executable).parent / "envmgr"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "jupyter_envmgr"]


async def print_hook(s: Session) -> int:
    from ..engine.shell_hook import check_shell, hook

    print(hook(check_shell(_shell(s)), envmgr_argv()), end="")
    return 0


def _rc_file(s: Session, shell: str) -> Path:
    raw = s.args.shell_rc_file or RC_FILES[shell]
    if any(ord(c) < 32 for c in raw):
        raise BadInput(f"The rc file path {raw!r} contains a control character.")
    return Path(os.path.expanduser(raw))


async def init(s: Session) -> int:
    from ..engine.shell_hook import BLOCK_BEGIN, check_shell, rc_block, with_block

    shell = check_shell(_shell(s))
    path = _rc_file(s, shell)
    old = _read(path)
    new = with_block(old or "", rc_block(shell, envmgr_argv()), str(path))
    if new == old:
        print(f"{path} already sets up envmgr for {shell}: nothing changed.")
        return 0
    _write(path, new)
    done = (
        "Updated envmgr's shell hook in"
        if old and BLOCK_BEGIN in old
        else "Added envmgr's shell hook to"
    )
    print(f"{done} {path}. Open a new terminal (or run `source {path}`), then: envmgr "
          "activate NAME")  # fmt: skip
    return 0


async def deinit(s: Session) -> int:
    from ..engine.shell_hook import check_shell, without_block

    shell = check_shell(_shell(s))
    path = _rc_file(s, shell)
    old = _read(path)
    new = without_block(old, str(path)) if old is not None else None
    if new is None:
        print(f"{path} has no envmgr block: nothing changed.")
        return 0
    _write(path, new)
    print(f"Removed envmgr's shell hook from {path}; the rest of the file is unchanged.")
    return 0


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"Cannot read {path}: {exc}. Give another file with --rc-file.") from None


def _write(path: Path, text: str) -> None:
    """Replace the file's content in one step. Through a symlink (dotfiles kept elsewhere) the
    target is written, and the link stays."""
    target = path.resolve()
    tmp = target.with_name(f".{target.name}.envmgr-tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        if target.exists():  # its mode stays; a new file gets the umask's
            os.chmod(tmp, target.stat().st_mode & 0o7777)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise BadInput(f"Cannot write {path}: {exc.strerror or exc}.") from None


async def activate_script(s: Session) -> int:
    from ..engine.activation import activated_environ
    from ..engine.registry import find_env
    from ..engine.shell_hook import activate_script as script
    from ..engine.shell_hook import check_shell

    shell = check_shell(_shell(s))
    target = s.args.env
    if not target:
        # Never the root prefix unasked: `envmgr activate base` names it.
        raise BadInput("Give the environment to activate: envmgr activate NAME (or PATH).")
    env = find_env(s.settings, **_name_or_prefix(target))
    environ = dict(os.environ)
    activated = activated_environ(env.prefix, environ, name=env.name)
    ps1 = None if shell == "fish" else (s.args.ps1 or "")
    print(script(shell, environ, activated, label=env.name or str(env.prefix), ps1=ps1), end="")
    return 0


async def deactivate_script(s: Session) -> int:
    from ..engine.shell_hook import check_shell
    from ..engine.shell_hook import deactivate_script as script

    if s.args.rest:
        raise BadInput("envmgr deactivate takes no argument: it leaves the active environment.")
    print(script(check_shell(_shell(s)), os.environ), end="")
    return 0


def _name_or_prefix(target: str) -> dict[str, str]:
    """A path has a slash (or is `.`, `..`, `~...`), as micromamba tells them apart."""
    if os.sep in target or target in (".", "..") or target.startswith("~"):
        return {"prefix": target}
    return {"name": target}


async def no_hook(s: Session) -> int:
    shell = _shell_or_bash()
    hook = (
        "envmgr shell hook -s fish | source"
        if shell == "fish"
        else f'eval "$(envmgr shell hook -s {shell})"'
    )
    target = getattr(s.args, "env", None)
    flag = "-p" if target and "prefix" in _name_or_prefix(target) else "-n"
    run = f"envmgr run {flag} {shlex.quote(target) if target else 'NAME'} CMD"
    raise BadInput(
        f"'envmgr {s.args.command}' changes the shell you type in, which needs envmgr's shell "
        f"hook, and this shell does not have it. Set it up in this shell with:\n    {hook}\n"
        f"or in every new {shell} with 'envmgr shell init -s {shell}'. To run one command in "
        f"the environment without the hook: {run}"
    )


def _shell_or_bash() -> str:
    guess = os.path.basename(os.environ.get("SHELL", ""))
    return guess if guess in SHELLS else "bash"
