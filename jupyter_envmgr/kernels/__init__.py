"""A notebook kernel for every environment, started with the environment activated.

Also a jupyter_server extension (`jupyter_envmgr.kernels`): enabling it makes the server use
`EnvKernelSpecManager`. A server extension rather than a config file because jupyter_server
reads only `jpserver_extensions` from `jupyter_server_config.d/*.json`; other keys there (such
as `ServerApp.kernel_spec_manager_class`) are ignored. Linking runs before the server builds
its kernelspec manager, so setting the class then is enough.
"""

from __future__ import annotations

from typing import Any

from .discovery import FoundKernel, KernelDiscovery, shared_discovery
from .manager import EnvKernelSpecManager, load_jupyter_config
from .names import NamedKernel, name_kernels
from .provisioner import PROVISIONER_NAME, EnvProvisioner
from .sync import sync_kernelspecs

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


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "jupyter_envmgr.kernels"}]


def _link_jupyter_server_extension(serverapp: Any) -> None:
    """Use EnvKernelSpecManager unless the admin chose a manager or a gateway serves kernels."""
    from jupyter_server.gateway.gateway_client import GatewayClient

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
