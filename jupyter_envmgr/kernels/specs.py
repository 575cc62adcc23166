"""Env kernels as kernelspecs: the names, the kernel.json content and the options behind them.

Both faces build their specs here: `EnvKernelSpecManager` (manager.py, in the server, lists them
live) and `sync_for_settings` (sync.py, after every CLI change, writes them for the tools
outside the server). The CLI's path imports neither jupyter_client nor traitlets: loading them
costs about 50 ms a command, ten times the work of a sync (issue 19's create figure).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .discovery import FoundKernel
from .names import DEFAULT_DISPLAY_NAME_FORMAT, DEFAULT_NAME_FORMAT, NamedKernel, name_kernels

# The entry point name of our kernel provisioner (provisioner.py), which activates the env.
PROVISIONER_NAME = "envmgr-provisioner"
# Copies written by sync.py carry this file, so we recognise (and only ever delete) our own
# spec dirs.
MARKER = ".envmgr-kernel"

# The fields each format may use, with sample values to try it with.
_FORMAT_FIELDS = {
    "name_format": dict(env="e", kernel="k", hash="h"),
    "display_name_format": dict(display_name="d", env="e", kernel="k", language="l", prefix="p"),
}


@dataclass(frozen=True)
class EnvKernelSpec:
    """A named env kernel as Jupyter sees it."""

    name: str
    resource_dir: str
    spec: dict[str, Any]
    named: NamedKernel


@dataclass(frozen=True)
class KernelOptions:
    """How env kernels are named and which envs are left out (the `EnvKernelSpecManager`
    options of the Jupyter config; their help is on the manager's traits)."""

    exclude_envs: tuple[str, ...] = ()
    name_format: str = DEFAULT_NAME_FORMAT
    display_name_format: str = DEFAULT_DISPLAY_NAME_FORMAT
    refresh_interval: float = 2.0

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> KernelOptions:
        """From the plain values of a config section (a JSON config file's); ValueError naming
        the option when one is of the wrong type or an unusable format."""
        exclude = section.get("exclude_envs", [])
        if not isinstance(exclude, list | tuple) or not all(isinstance(p, str) for p in exclude):
            raise ValueError("EnvKernelSpecManager.exclude_envs must be a list of patterns.")
        interval = section.get("refresh_interval", cls.refresh_interval)
        if isinstance(interval, bool) or not isinstance(interval, int | float):
            raise ValueError("EnvKernelSpecManager.refresh_interval must be a number.")
        formats = {}
        for option in _FORMAT_FIELDS:
            value = section.get(option, getattr(cls, option))
            problem = format_problem(option, value)
            if problem:
                raise ValueError(problem)
            formats[option] = value
        return cls(tuple(exclude), refresh_interval=float(interval), **formats)


def format_problem(option: str, value: object) -> str | None:
    """Why `value` cannot be the `name_format`/`display_name_format` option, or None."""
    try:
        if not isinstance(value, str):
            raise ValueError("not a string")
        value.format(**_FORMAT_FIELDS[option])
    except (KeyError, IndexError, ValueError) as exc:
        return (
            f"{option} {value!r} is not a valid format ({exc!r}); "
            f"see the help of EnvKernelSpecManager.{option}."
        )
    return None


def kernel_spec_dict(named: NamedKernel) -> dict[str, Any]:
    """The kernel.json content: the env's own spec, our display name and the provisioner."""
    found = named.found
    env = found.env
    metadata = dict(found.spec["metadata"])
    metadata.update(
        conda_env_name=env.name,
        conda_env_path=str(env.prefix),
        # Replaces any provisioner the env's spec named: without ours the env is not activated.
        kernel_provisioner={
            "provisioner_name": PROVISIONER_NAME,
            "config": {"env_prefix": str(env.prefix), "env_name": env.name},
        },
    )
    return {**found.spec, "display_name": named.display_name, "metadata": metadata}


def env_kernel_specs(
    found: Iterable[FoundKernel],
    options: KernelOptions,
    *,
    home: Path | None,
    logger: logging.Logger,
) -> dict[str, EnvKernelSpec]:
    """name -> spec of every found kernel whose env is not excluded."""
    named = name_kernels(
        found,
        name_format=options.name_format,
        display_name_format=options.display_name_format,
        exclude_envs=options.exclude_envs,
        home=home,
        logger=logger,
    )
    return {
        n.name: EnvKernelSpec(n.name, n.found.resource_dir, kernel_spec_dict(n), n) for n in named
    }


def is_env_spec(spec: dict[str, Any]) -> bool:
    provisioner = spec.get("metadata", {}).get("kernel_provisioner", {})
    return isinstance(provisioner, dict) and provisioner.get("provisioner_name") == PROVISIONER_NAME


def is_written_copy(resource_dir: str) -> bool:
    return os.path.exists(os.path.join(resource_dir, MARKER))
