"""An argument no parser knows: the error comes from the verb's own parser (its usage, not the
top-level one), and a micromamba flag we do not have names the closest alternative."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import NoReturn

# micromamba's flags that envmgr does not have, and what to do instead.
HINTS = {
    "--always-copy": "use --copy",
    "--always-softlink": "envmgr links with hard links, or copies with --copy",
    "--allow-softlinks": "envmgr links with hard links, or copies with --copy",
    "--download-only": "--dry-run shows what would be downloaded",
    "--no-py-pin": "name the Python you want instead, e.g. python=3.12",
    "--pyc": "Python writes .pyc files when it first imports a module",
    "--no-pyc": "Python writes .pyc files when it first imports a module",
    "--allow-uninstall": "the solver may change what is installed unless --freeze-installed",
    "--allow-downgrade": "pin the version you want, e.g. numpy=1.26",
    "--update-deps": "use 'envmgr update --all'",
    "--update-all": "use 'envmgr update --all'",
    "--update-specs": "use 'envmgr update --all'",
    "--prune": "removing prunes by default; --no-prune keeps the dependencies",
    "--use-local": "pass the local channel with -c file:///path/to/channel",
    "--channel-alias": "set channel_alias in your .condarc (or use --rc-file FILE)",
    "--lock-timeout": "set ENVMGR_LOCK_TIMEOUT (seconds)",
    "--retry-clean-cache": "run 'envmgr clean --all', then the command again",
    "--repodata-ttl": "cached indexes are revalidated with the server; --offline uses them as is",
}


def verb_parser(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.ArgumentParser:
    """The parser of the (sub)verb `argv` names, e.g. `env export`'s; `parser` when none."""
    words = [w for w in argv if not w.startswith("-")]
    current = parser
    for word in words:
        sub = next((a for a in current._actions if isinstance(a, argparse._SubParsersAction)), None)
        if sub is None or word not in sub.choices:
            break
        current = sub.choices[word]
    return current


def reject(parser: argparse.ArgumentParser, argv: Sequence[str], extras: Sequence[str]) -> NoReturn:
    """Exit 2 with the verb's usage: what was not understood, and for a micromamba flag we do
    not have, what to use instead."""
    hints = [f"{flag}: {HINTS[flag]}" for flag in (e.split("=", 1)[0] for e in extras)
             if flag in HINTS]  # fmt: skip
    message = f"unrecognized arguments: {' '.join(extras)}"
    if hints:
        message += " (" + "; ".join(hints) + ")"
    verb_parser(parser, argv).error(message)
