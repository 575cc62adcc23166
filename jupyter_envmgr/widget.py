"""`from jupyter_envmgr.widget import EnvPanel` in the server's Python (in env kernels:
`%envmgr panel`)."""

from __future__ import annotations

from .notebook.panel import EnvPanel

__all__ = ["EnvPanel"]
