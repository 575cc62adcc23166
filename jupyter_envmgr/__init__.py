"""jupyter_envmgr: conda environments as first-class citizens of Jupyter."""

from typing import Any

__version__ = "0.1.0"


def _jupyter_server_extension_points() -> list[dict[str, object]]:
    # Imported lazily: the engine and CLI must not pay for (or need) jupyter_server.
    from .server.app import EnvMgrExtension

    return [{"module": "jupyter_envmgr.server.app", "app": EnvMgrExtension}]


def load_ipython_extension(ip: Any) -> None:
    """`%load_ext jupyter_envmgr` in the server's own Python (env kernels load it by
    themselves)."""
    from .notebook import load_ipython_extension as load

    load(ip)
