"""A cell failing with `ModuleNotFoundError` in an env kernel: the usual traceback, then an
offer to install the package that provides the module into the kernel's own env.

The offer is a button (ipywidgets) or the `%envmgr install PACKAGE` line to run; nothing is
installed without that click or that line. The package is the module's top-level name, or the
one ALIASES names for the common cases where they differ (`sklearn` is `scikit-learn`), and it
is offered only when one of the configured channels has it: `envmgr search`, bounded in time
(OFFER_TIMEOUT) so that a failing cell never hangs on a slow channel.

`ENVMGR_OFFER_INSTALL=0` in the kernel's environment turns the offer off. Whatever goes wrong
in here, the original error has been shown first, as IPython shows it.
"""

from __future__ import annotations

import html
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .client import ClientError, CliOutcome, EnvmgrClient, own_prefix

OFF_VAR = "ENVMGR_OFFER_INSTALL"
TIMEOUT_VAR = "ENVMGR_OFFER_TIMEOUT"
# Seconds the channels get to answer: a failing cell must not wait long for its offer.
OFFER_TIMEOUT = 3.0

# Modules whose conda package has another name (conda-forge's names). Only the common cases:
# a table is documentation, not a resolver. Where a module is here, only this package is
# offered: a package named like the module may be another thing (conda-forge's `yaml` is the
# C library libyaml, not PyYAML).
ALIASES: dict[str, str] = {
    "sklearn": "scikit-learn",
    "cv2": "opencv",
    "PIL": "pillow",
    "yaml": "pyyaml",
    "bs4": "beautifulsoup4",
    "skimage": "scikit-image",
    "dateutil": "python-dateutil",
    "dotenv": "python-dotenv",
    "attr": "attrs",
    "Bio": "biopython",
    "Crypto": "pycryptodome",
    "jwt": "pyjwt",
    "serial": "pyserial",
    "zmq": "pyzmq",
    "OpenSSL": "pyopenssl",
    "tables": "pytables",
    "torch": "pytorch",
    "git": "gitpython",
    "magic": "python-magic",
    "docx": "python-docx",
}

Runner = Callable[[list[str]], CliOutcome]


def top_level(exc: BaseException) -> str | None:
    """The missing module's top-level name, when it is a plain identifier (anything else is
    never passed on to the CLI)."""
    name = getattr(exc, "name", None)
    if not isinstance(name, str):
        return None
    head = name.split(".", 1)[0]
    return head if head.isascii() and head.isidentifier() else None


def candidates(module: str) -> list[str]:
    """The package names to look for, in order: the table's, or the module's own name and its
    conda spelling (lower case, `-` for `_`: conda package names are written so)."""
    if module in ALIASES:
        return [ALIASES[module]]
    names = [module, module.lower().replace("_", "-")]
    return list(dict.fromkeys(names))


@dataclass(frozen=True)
class Lookup:
    """What the channels said about a missing module."""

    module: str
    package: str | None = None  # the package to offer
    version: str = ""
    channel: str = ""
    timed_out: bool = False  # the channels could not be asked in time
    installed: str | None = None  # a candidate that is installed already (provides no module)


def installed_names(prefix: str) -> set[str]:
    """The names of the packages installed in `prefix`, from conda-meta's file names
    (`NAME-VERSION-BUILD.json`): reading no file keeps this quick."""
    meta = Path(prefix) / "conda-meta"
    try:
        files = [p.name for p in meta.iterdir() if p.name.endswith(".json")]
    except OSError:
        return set()
    return {name.removesuffix(".json").rsplit("-", 2)[0] for name in files}


def find_package(
    client: EnvmgrClient, module: str, prefix: str, timeout: float = OFFER_TIMEOUT
) -> Lookup:
    """Search the configured channels for the module's package, within `timeout` seconds in
    all. Raises ClientError when the CLI cannot be started."""
    have = installed_names(prefix)
    deadline = _now() + timeout
    for name in candidates(module):
        if name in have:
            return Lookup(module, installed=name)
        left = deadline - _now()
        outcome = client.ask(["search", name], timeout=left) if left > 0 else None
        if outcome is None:
            return Lookup(module, timed_out=True)
        found = (outcome.result or {}).get("packages") or []
        if outcome.ok and found:
            newest = found[0]  # the search lists the newest first
            return Lookup(
                module,
                package=str(newest.get("name") or name),
                version=str(newest.get("version") or ""),
                channel=str(newest.get("channel") or ""),
            )
    return Lookup(module)


def _now() -> float:
    return time.monotonic()


def env_name(prefix: str) -> str:
    return os.path.basename(os.path.normpath(prefix)) or prefix


def install_line(package: str) -> str:
    return f"%envmgr install {package}"


def offer_words(lookup: Lookup, env: str) -> str | None:
    """What follows the traceback, in words; None when there is nothing to say."""
    if lookup.package is not None:
        where = f" ({lookup.version}, {lookup.channel})" if lookup.version else ""
        return (
            f"Install `{lookup.package}`{where} into this kernel's env ({env})? "
            f"Run: {install_line(lookup.package)}\nthen re-run the cell (no restart needed)."
        )
    if lookup.timed_out:
        package = candidates(lookup.module)[0]
        return (
            f"The channels could not be asked in time whether they have `{package}`. "
            f"To install it into this kernel's env ({env}), run: {install_line(package)}"
        )
    if lookup.installed is not None:
        return (
            f"`{lookup.installed}` is installed in this kernel's env ({env}) but provides no "
            f"module `{lookup.module}`."
        )
    # No channel has it: no offer, and no words either. A typo or a module of the user's own
    # is the common cause, and a note under every such error would be noise.
    return None


class InstallOffer:
    """The offer as a button: one click installs the package into the kernel's env."""

    def __init__(self, lookup: Lookup, env: str, run: Runner, prefix: str) -> None:
        import ipywidgets as widgets

        assert lookup.package is not None
        self.package = lookup.package
        self._run = run
        self._prefix = prefix
        where = f" {lookup.version} ({html.escape(lookup.channel)})" if lookup.version else ""
        self.label = widgets.HTML(
            f"Install <code>{html.escape(self.package)}</code>{where} into this kernel's "
            f"env ({html.escape(env)})?"
        )
        self.button = widgets.Button(description=f"Install {self.package}", icon="download")
        self.button.on_click(lambda _button: self.install())
        self.output = widgets.Output()
        self.status = widgets.Label("")
        self.widget = widgets.VBox(
            [widgets.HBox([self.label, self.button, self.status]), self.output]
        )

    def install(self) -> bool:
        """Run the install, its progress and result shown under the button; True when done."""
        if self.button.disabled:  # one install per offer
            return False
        self.button.disabled = True
        self.status.value = f"Installing {self.package}..."
        try:
            with self.output:
                outcome = self._run(["install", "-p", self._prefix, self.package, "-y"])
        except ClientError as exc:
            self.status.value = str(exc)
            self.button.disabled = False
            return False
        if outcome.ok:
            self.status.value = f"Installed {self.package}: re-run the cell."
            return True
        self.status.value = f"{self.package} was not installed (see above)."
        self.button.disabled = False
        return False


def offer(lookup: Lookup, prefix: str, run: Runner) -> InstallOffer | None:
    """Show what follows the traceback: the button when ipywidgets is there, else words."""
    words = offer_words(lookup, env_name(prefix))
    if words is None:
        return None
    if lookup.package is not None and _has_widgets():
        shown = InstallOffer(lookup, env_name(prefix), run, prefix)
        _display(shown.widget)
        return shown
    print(words, flush=True)
    return None


def _has_widgets() -> bool:
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def _display(obj: Any) -> None:
    from IPython.display import display

    display(obj)


def enabled() -> bool:
    return os.environ.get(OFF_VAR, "1").strip().lower() not in ("0", "false", "no", "off")


def offer_timeout() -> float:
    try:
        return max(0.0, float(os.environ.get(TIMEOUT_VAR, OFFER_TIMEOUT)))
    except ValueError:
        return OFFER_TIMEOUT


def _importable(module: str) -> bool:
    """The top-level module exists: then the missing one is a submodule or something its own
    code imports under that name, and no package should be offered for it."""
    import importlib.util

    try:
        return module in sys.modules or importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def make_handler(client: EnvmgrClient, run: Runner) -> Callable[..., Any]:
    """The handler for `shell.set_custom_exc((ModuleNotFoundError,), ...)`."""

    def handler(
        shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None
    ) -> None:
        # IPython ignores what a custom handler returns, so it shows the traceback itself,
        # first: nothing that follows can hide the original error.
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset, running_compiled_code=True)
        try:
            module = top_level(value)
            if module is None or not enabled() or _importable(module):
                return None
            prefix = own_prefix()
            offer(find_package(client, module, prefix, offer_timeout()), prefix, run)
        except (Exception, KeyboardInterrupt):  # noqa: BLE001 - never hide the original error
            pass
        return None

    return handler


def register(shell: Any, client: EnvmgrClient, run: Runner) -> bool:
    """Install the handler, unless the shell has a custom exception handler already (someone's
    own: not ours to replace). True when installed."""
    if getattr(shell, "custom_exceptions", ()):
        return False
    shell.set_custom_exc((ModuleNotFoundError,), make_handler(client, run))
    return True
