"""The demo's channel: conda-forge when it answers, else an offline channel of real packages;
and the working copy of the demo notebook (``working_notebook``).

The offline "demo" channel holds what a newcomer expects to find: ``python`` (this
interpreter), ``ipykernel`` and ``ipywidgets`` for the env's kernel, and familiar packages to
install from the notebook (``numpy``, a compiled one, and ``requests``, pure), each with its
runtime closure, all converted from the distributions installed next to this package (the
``channels`` extra installs them). It has no synthetic test packages. It is cached like the test
channels, keyed by the factory's sources and the versions converted.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .factory import REQUIRED_ROOTS, _cache_key, cached_build, index_channel
from .python_pkg import build_python_package, python_version
from .wheels import distribution_closure, package_installed_distribution

# What the demo notebook installs: one compiled package and one pure one, both well known.
FAMILIAR = ("numpy", "requests")
# ENVMGR_DEMO_CHANNEL: "auto" (the default), "conda-forge", "local", or any channel name or URL.
VARIABLE = "ENVMGR_DEMO_CHANNEL"
CONDA_FORGE = "conda-forge"
PROBE_URL = "https://conda.anaconda.org/conda-forge/noarch/repodata.json"
PROBE_TIMEOUT = 5.0


def default_demo_cache_dir() -> Path:
    env = os.environ.get("ENVMGR_DEMO_CHANNEL_CACHE")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "jupyter_envmgr" / "demo-channel"


def _build_demo(dest: Path, names: list[str]) -> None:
    channel = dest / "demo"
    build_python_package(channel / "linux-64")
    for name in names:
        package_installed_distribution(name, channel)
    index_channel(channel)
    (dest / "meta.json").write_text(
        json.dumps({"python_version": python_version(), "built": time.time(), "packages": names})
    )


def build_demo_channel(cache_dir: Path | None = None) -> Path:
    """The offline demo channel's folder (built once, then reused from ``cache_dir``)."""
    roots = [*REQUIRED_ROOTS, *FAMILIAR]
    try:
        dists = distribution_closure(roots)
    except RuntimeError as exc:
        raise RuntimeError(
            f"{exc}: the demo channel is made from installed distributions; "
            "pip install -e '.[channels]' installs them."
        ) from None
    names = [str(d.metadata["Name"]) for d in dists]
    cache = Path(cache_dir) if cache_dir is not None else default_demo_cache_dir()
    final = cached_build(cache, _cache_key("demo", dists), lambda tmp: _build_demo(tmp, names))
    return final / "demo"


def probe(url: str = PROBE_URL, timeout: float = PROBE_TIMEOUT) -> str | None:
    """None when ``url`` answers; otherwise why not, in a few words."""
    request = urllib.request.Request(url, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return None
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except urllib.error.URLError as exc:
        return str(exc.reason)
    except OSError as exc:  # timeouts, resets
        return str(exc) or type(exc).__name__


@dataclass(frozen=True)
class DemoChannel:
    channel: str  # a channel name or URL, as it goes into the demo's condarc
    local: bool  # the offline channel built here
    why: str  # one sentence for the user


def choose_channel(
    requested: str | None = None,
    *,
    environ: dict[str, str] | None = None,
    reach: Callable[[], str | None] = probe,
    build: Callable[[], Path] = build_demo_channel,
) -> DemoChannel:
    """The channel the demo uses: ``requested`` (a flag), else ``$ENVMGR_DEMO_CHANNEL``, else
    "auto": conda-forge when it answers, the offline channel when it does not."""
    env = os.environ if environ is None else environ
    wanted = (requested or env.get(VARIABLE) or "auto").strip()
    how = "--channel" if requested else VARIABLE
    if wanted == "local":
        url = build().as_uri()
        return DemoChannel(url, True, f"Using the offline demo channel {url} ({how}=local).")
    if wanted != "auto":
        return DemoChannel(wanted, False, f"Using {wanted} ({how}={wanted}).")
    problem = reach()
    if problem is None:
        return DemoChannel(
            CONDA_FORGE,
            False,
            f"Using conda-forge (it answers; {VARIABLE}=local uses the offline channel instead).",
        )
    url = build().as_uri()
    return DemoChannel(
        url,
        True,
        f"conda-forge is not reachable ({problem}): using the offline demo channel {url} "
        f"(python {python_version()}, ipykernel, ipywidgets, {', '.join(FAMILIAR)} and their "
        f"dependencies, made from this Python's packages). {VARIABLE}=conda-forge insists.",
    )


# JupyterLab writes the kernel's `language_info` into a notebook's metadata when the kernel
# starts; a notebook that holds less (the tracked one has only the name, the version being the
# env's) is marked modified on open before the user did anything. The working copy holds what
# the demo env's kernel reports, so that write changes nothing.
LANGUAGE_INFO = (
    "import json, ipykernel.ipkernel as k; print(json.dumps(k.IPythonKernel.language_info))"
)


def working_notebook(tracked: Path, dest: Path, prefix: Path) -> bool:
    """Copy the tracked demo notebook to ``dest`` (the notebook the server opens) unless it is
    there: the user's runs, outputs and kernel switches go into the copy, the repository's file
    stays as committed. True when it copied."""
    if dest.exists():
        return False
    notebook = json.loads(tracked.read_text(encoding="utf-8"))
    python = prefix / "bin" / "python"
    reply = subprocess.run(
        [str(python), "-c", LANGUAGE_INFO], capture_output=True, text=True, timeout=120
    )
    if reply.returncode == 0:
        notebook["metadata"]["language_info"] = json.loads(reply.stdout)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(dest)
    return True


if __name__ == "__main__":
    # `python -m jupyter_envmgr.channels.demo notebook TRACKED DEST PREFIX` (scripts/demo-prepare)
    import sys

    if len(sys.argv) != 5 or sys.argv[1] != "notebook":
        sys.exit("usage: python -m jupyter_envmgr.channels.demo notebook TRACKED DEST PREFIX")
    tracked, dest, prefix = (Path(a) for a in sys.argv[2:])
    made = working_notebook(tracked, dest, prefix)
    print(f"The demo notebook: {dest}" + (f" (a copy of {tracked})" if made else ""))
