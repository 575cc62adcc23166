"""`envmgr activate` in a user's shell: the hook's text, the activate/deactivate scripts the hook
evaluates, and the rc-file block `shell init` writes. Pure functions over text and mappings.

The hook defines an `envmgr` shell function: `activate` and `deactivate` run the hidden
`envmgr shell activate-script|deactivate-script`, whose output (one `export VAR=value` or
`unset VAR` a line, every value quoted for that shell) the function evaluates; every other verb
runs the real `envmgr`. The variables are computed by `activation.activated_environ`, as for
`envmgr run` and the kernels. What activation changed is saved in `_ENVMGR_SAVED_<CONDA_SHLVL>`
(JSON: the previous values), so that `deactivate` restores exactly that, level by level.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Literal

from .errors import BadInput

Shell = Literal["bash", "zsh", "fish"]
SHELLS: tuple[Shell, ...] = ("bash", "zsh", "fish")

BLOCK_BEGIN = "# >>> envmgr initialize >>>"
BLOCK_END = "# <<< envmgr initialize <<<"

SAVED_PREFIX = "_ENVMGR_SAVED_"

# Only names a shell can assign; anything else in an environment (bash's exported functions,
# `BASH_FUNC_f%%`) cannot be written as `export NAME=...` and is left alone.
_SHELL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# What the prompt shows of an env's name or path. A prompt is expanded by the shell each time
# it is drawn (bash: `$(...)`, quotes, `\` escapes; zsh: `%` escapes, `$` with PROMPT_SUBST):
# any other character is shown as `?`, so a path can never become a command in a prompt.
_PROMPT_SAFE = re.compile(r"[^A-Za-z0-9_.+,:=@/ -]")


def check_shell(shell: str) -> Shell:
    for known in SHELLS:
        if shell == known:
            return known
    raise BadInput(f"Unsupported shell '{shell}': use one of {', '.join(SHELLS)}.")


def quote(shell: Shell, value: str) -> str:
    """`value` as one word of `shell`, taken literally."""
    if shell == "fish":
        # Inside fish's single quotes only \\ and \' are escapes.
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return shlex.quote(value)


def command_line(shell: Shell, argv: Sequence[str]) -> str:
    return " ".join(quote(shell, a) for a in argv)


# ---------------------------------------------------------------- the hook


def hook(shell: Shell, exe: Sequence[str]) -> str:
    """The text `envmgr shell hook -s SHELL` prints; `exe` is how this envmgr is run (an
    absolute path, so that an activated env's own `envmgr`, if any, does not take over)."""
    run = command_line(shell, exe)
    if shell == "fish":
        return _FISH_HOOK.replace("@EXE@", run)
    return _POSIX_HOOK.replace("@EXE@", run).replace("@SHELL@", shell)


_POSIX_HOOK = """\
# envmgr shell hook (@SHELL@): `envmgr activate NAME|PATH`, `envmgr deactivate`.
__envmgr_exe() {
    @EXE@ "$@"
}
envmgr() {
    case "${1-}" in
        activate|deactivate)
            local __envmgr_verb="$1"
            local __envmgr_script
            shift
            # The script sets variables only; every value in it is quoted by envmgr.
            __envmgr_script="$(__envmgr_exe shell "${__envmgr_verb}-script" -s @SHELL@ \\
                --ps1="${PS1-}" -- "$@")" || return
            eval "$__envmgr_script"
            hash -r
            ;;
        *)
            __envmgr_exe "$@"
            ;;
    esac
}
"""

_FISH_HOOK = """\
# envmgr shell hook (fish): `envmgr activate NAME|PATH`, `envmgr deactivate`.
function __envmgr_exe
    @EXE@ $argv
end
function envmgr --description 'envmgr, with activate and deactivate for this shell'
    switch "$argv[1]"
        case activate deactivate
            set -l __envmgr_rest $argv
            set -e __envmgr_rest[1]
            # The script sets variables only; every value in it is quoted by envmgr.
            __envmgr_exe shell "$argv[1]-script" -s fish -- $__envmgr_rest | source
            return $pipestatus[1]
        case '*'
            __envmgr_exe $argv
    end
end
# The prompt shows the active env, as conda's hook does: the user's prompt is kept and called.
if not functions -q __envmgr_fish_prompt_orig
    if functions -q fish_prompt
        functions -c fish_prompt __envmgr_fish_prompt_orig
        functions -e fish_prompt
    else
        function __envmgr_fish_prompt_orig
        end
    end
    function fish_prompt
        if set -q CONDA_PROMPT_MODIFIER
            printf '%s' "$CONDA_PROMPT_MODIFIER"
        end
        __envmgr_fish_prompt_orig
    end
end
"""


# ---------------------------------------------------------------- activate / deactivate


def prompt_prefix(label: str) -> str:
    """`(NAME) `, safe to put in a prompt whatever the name or path holds."""
    return f"({_PROMPT_SAFE.sub('?', label)}) "


def activate_script(
    shell: Shell,
    environ: Mapping[str, str],
    activated: Mapping[str, str],
    *,
    label: str,
    ps1: str | None,
) -> str:
    """The lines that turn the shell's `environ` into `activated` (activation.activated_environ
    of it), saving the previous values for `deactivate_script`. `ps1`: the shell's prompt
    (a shell variable, passed by the hook), shown with `(label) ` in front; None for fish."""
    changes: dict[str, str | None] = {
        k: v for k, v in activated.items() if environ.get(k) != v and _SHELL_NAME.fullmatch(k)
    }
    changes.update({k: None for k in environ if k not in activated and _SHELL_NAME.fullmatch(k)})
    saved: dict[str, object] = {"vars": {k: environ.get(k) for k in changes}}
    lines = [_set(shell, k, v) for k, v in sorted(changes.items())]
    if ps1 is not None and shell != "fish":
        saved["ps1"] = ps1
        lines.append(f"PS1={quote(shell, prompt_prefix(label) + _bare_prompt(ps1, environ))}")
    level = activated.get("CONDA_SHLVL", "1")
    lines.append(_set(shell, SAVED_PREFIX + level, json.dumps(saved, sort_keys=True)))
    return "\n".join(lines) + "\n"


def _bare_prompt(ps1: str, environ: Mapping[str, str]) -> str:
    """The prompt without the active env's prefix (ours, or conda's CONDA_PROMPT_MODIFIER):
    activating from inside another env replaces its prefix rather than stacking them."""
    if environ.get("CONDA_PREFIX"):
        ours = prompt_prefix(environ.get("CONDA_DEFAULT_ENV", ""))
        for old in (ours, environ.get("CONDA_PROMPT_MODIFIER", "")):
            if old and ps1.startswith(old):
                return ps1[len(old) :]
    return ps1


def deactivate_script(shell: Shell, environ: Mapping[str, str]) -> str:
    """The lines that restore what the last `activate_script` of this shell changed."""
    level = environ.get("CONDA_SHLVL", "")
    raw = environ.get(SAVED_PREFIX + level) if level.isdigit() else None
    if raw is None:
        active = environ.get("CONDA_PREFIX")
        why = (
            f" ({active} was activated by something else: use its own deactivate)" if active else ""
        )
        raise BadInput(f"No environment was activated with 'envmgr activate' in this shell{why}.")
    previous, ps1 = _read_saved(raw)
    lines = [_set(shell, k, v) for k, v in sorted(previous.items())]
    if ps1 is not None and shell != "fish":
        lines.append(f"PS1={quote(shell, ps1)}")
    lines.append(_set(shell, SAVED_PREFIX + level, None))
    return "\n".join(lines) + "\n"


def _read_saved(raw: str) -> tuple[dict[str, str | None], str | None]:
    """The previous values (None: was unset) and prompt that activation saved, checked: they
    come back from the environment, where anything may have changed them."""
    names: dict[str, str | None] = {}
    ps1: str | None = None
    try:
        data = json.loads(raw)
        names = data["vars"]
        ok = isinstance(names, dict) and all(
            isinstance(k, str) and _SHELL_NAME.fullmatch(k) and (v is None or isinstance(v, str))
            for k, v in names.items()
        )
        ps1 = data.get("ps1")
        ok = ok and (ps1 is None or isinstance(ps1, str))
    except (ValueError, TypeError, KeyError, AttributeError):
        ok = False
    if not ok:
        raise BadInput(
            "The saved state of the activation is damaged (_ENVMGR_SAVED_*): open a new shell."
        )
    return names, ps1


def _set(shell: Shell, name: str, value: str | None) -> str:
    if shell == "fish":
        if value is None:
            return f"set -e {name}"
        if name.endswith("PATH"):
            # fish keeps PATH-like variables as lists: one item a directory.
            items = [p for p in value.split(":") if p] or [""]
            return f"set -gx {name} " + " ".join(quote(shell, p) for p in items)
        return f"set -gx {name} {quote(shell, value)}"
    if value is None:
        return f"unset {name}"
    return f"export {name}={quote(shell, value)}"


# ---------------------------------------------------------------- rc files


def rc_block(shell: Shell, exe: Sequence[str]) -> str:
    """The marked block `shell init` writes: the hook, evaluated at each shell start (so an
    upgrade of envmgr is picked up), skipped when that envmgr is gone."""
    run = command_line(shell, [*exe, "shell", "hook", "-s", shell])
    first = quote(shell, exe[0])
    if shell == "fish":
        body = f"if test -x {first}\n    {run} | source\nend"
    else:
        body = f'if [ -x {first} ]; then\n    eval "$({run})"\nfi'
    return (
        f"{BLOCK_BEGIN}\n# Contents within this block are managed by 'envmgr shell init'.\n"
        f"{body}\n{BLOCK_END}\n"
    )


def _block_span(text: str, where: str) -> tuple[int, int] | None:
    """Start and end (after the end marker's line) of the block in `text`, if any."""
    lines = text.splitlines(keepends=True)
    begins = [i for i, line in enumerate(lines) if line.rstrip("\r\n") == BLOCK_BEGIN]
    ends = [i for i, line in enumerate(lines) if line.rstrip("\r\n") == BLOCK_END]
    if not begins and not ends:
        return None
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        raise BadInput(
            f"{where} has a damaged envmgr block (its '{BLOCK_BEGIN}' and '{BLOCK_END}' lines "
            "do not pair up): fix or remove those lines by hand, then run this again."
        )
    start = sum(len(line) for line in lines[: begins[0]])
    end = sum(len(line) for line in lines[: ends[0] + 1])
    return start, end


def with_block(text: str, block: str, where: str) -> str:
    """`text` with the envmgr block replaced by `block`, or `block` appended: once only."""
    span = _block_span(text, where)
    if span is not None:
        return text[: span[0]] + block + text[span[1] :]
    if text and not text.endswith("\n"):
        text += "\n"
    return text + block


def without_block(text: str, where: str) -> str | None:
    """`text` without the envmgr block; None when it has none."""
    span = _block_span(text, where)
    if span is None:
        return None
    return text[: span[0]] + text[span[1] :]
