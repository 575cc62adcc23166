"""A notebook kernel for every environment, started with the environment activated.

Also a jupyter_server extension (`jupyter_envmgr.kernels`): enabling it makes the server use
`EnvKernelSpecManager`. A server extension rather than a config file because jupyter_server
reads only `jpserver_extensions` from `jupyter_server_config.d/*.json`; other keys there (such
as `ServerApp.kernel_spec_manager_class`) are ignored. Linking runs before the server builds
its kernelspec manager, so setting the class then is enough.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config_files import load_jupyter_config
    from .discovery import FoundKernel, KernelDiscovery, shared_discovery
    from .manager import EnvKernelSpecManager
    from .names import NamedKernel, name_kernels
    from .provisioner import EnvProvisioner
    from .specs import PROVISIONER_NAME
    from .sync import sync_kernelspecs

# name -> submodule. Loaded on first use: the CLI imports the discovery and the sync after
# each change, and must not pay for jupyter_client (manager, provisioner) to do so.
_LAZY = {
    "PROVISIONER_NAME": "specs",
    "EnvKernelSpecManager": "manager",
    "EnvProvisioner": "provisioner",
    "FoundKernel": "discovery",
    "KernelDiscovery": "discovery",
    "NamedKernel": "names",
    "load_jupyter_config": "config_files",
    "name_kernels": "names",
    "shared_discovery": "discovery",
    "sync_kernelspecs": "sync",
}
__all__ = [
    "PROVISIONER_NAME",
    "EnvKernelSpecManager",
    "EnvProvisioner",
    "FoundKernel",
    "KernelDiscovery",
    "NamedKernel",
    "load_jupyter_config",
    "name_kernels",
    "shared_discovery",
    "sync_kernelspecs",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "jupyter_envmgr.kernels"}]


def _link_jupyter_server_extension(serverapp: Any) -> None:
    """Use EnvKernelSpecManager unless the admin chose a manager or a gateway serves kernels."""
    from jupyter_server.gateway.gateway_client import GatewayClient

    from .manager import EnvKernelSpecManager

    if "kernel_spec_manager_class" in serverapp.config.get("ServerApp", {}):
        serverapp.log.info("jupyter_envmgr.kernels: keeping the configured kernel_spec_manager")
        return
    if GatewayClient.instance(parent=serverapp).gateway_enabled:
        serverapp.log.info("jupyter_envmgr.kernels: kernels come from a gateway; not listing envs")
        return
    serverapp.kernel_spec_manager_class = EnvKernelSpecManager


def _load_jupyter_server_extension(serverapp: Any) -> None:
    serverapp.log.info(
        "jupyter_envmgr.kernels: listing env kernels with %s",
        type(serverapp.kernel_spec_manager).__name__,
    )
