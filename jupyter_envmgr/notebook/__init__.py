"""The notebook faces: `%envmgr` magics and the ipywidgets panel, over the envmgr CLI.

Standard library and IPython only (ipywidgets when present), and jupyter_envmgr/progress_text.py
through _shared.py: this folder runs inside every env's kernel, whose Python has no
jupyter_envmgr (see client.py for how it gets there).
"""

from __future__ import annotations

from typing import Any


def load_ipython_extension(ip: Any) -> None:
    from .magics import EnvmgrMagics
    from .missing_import import register

    magics = EnvmgrMagics(ip)
    ip.register_magics(magics)
    # A ModuleNotFoundError in a cell offers to install the module's package (missing_import.py).
    register(ip, magics.client, magics._run)


def unload_ipython_extension(ip: Any) -> None:
    # IPython keeps registered magics; nothing of ours holds resources between calls.
    return None
