"""The notebook faces: `%envmgr` magics and the ipywidgets panel, over the envmgr CLI.

Standard library and IPython only (ipywidgets when present), and jupyter_envmgr/progress_text.py
through _shared.py: this folder runs inside every env's kernel, whose Python has no
jupyter_envmgr (see client.py for how it gets there).
"""

from __future__ import annotations

from typing import Any


def load_ipython_extension(ip: Any) -> None:
    from .magics import EnvmgrMagics

    ip.register_magics(EnvmgrMagics(ip))


def unload_ipython_extension(ip: Any) -> None:
    # IPython keeps registered magics; nothing of ours holds resources between calls.
    return None
