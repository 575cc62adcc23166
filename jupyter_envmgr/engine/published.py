"""What a server publishes to the processes it starts (kernels, and the CLI they run).

The server's admin configures settings (`c.EnvMgrExtension.envs_dirs`, `default_channels`, ...)
and a policy (allow list, read-only envs, no cleaning). A `%envmgr` magic in an env's kernel
runs the CLI: it must act on the same envs with the same rules, "before trying". The server
puts both, as JSON, in one environment variable that its children inherit; the CLI reads it.

This is a courtesy, not a wall: the user who owns the kernel owns the CLI too and can unset
the variable. What the server does on a user's behalf is enforced by the server itself.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import BadInput
from .policy import Policy
from .settings import Settings, solver_name

VARIABLE = "ENVMGR_SERVER_CONFIG"


def publish(settings: Settings, policy: Policy) -> str:
    return json.dumps(
        {
            "root_prefix": str(settings.root_prefix),
            "envs_dirs": [str(p) for p in settings.envs_dirs],
            "pkgs_dirs": [str(p) for p in settings.pkgs_dirs],
            "channels": list(settings.channels),
            "channel_alias": settings.channel_alias,
            "custom_channels": dict(settings.custom_channels),
            "channel_priority": settings.channel_priority,
            "solver": settings.solver,
            "policy": dataclasses.asdict(policy),
        }
    )


def policy_from_json(rules: Mapping[str, Any]) -> Policy:
    """A policy as `publish` (and the server's child processes, engine/worker.py) spell it;
    KeyError or TypeError when it is not whole."""
    return Policy(
        allowed_channels=tuple(rules["allowed_channels"]),
        read_only_envs=tuple(rules["read_only_envs"]),
        read_only_dirs=tuple(rules["read_only_dirs"]),
        allow_clean=bool(rules["allow_clean"]),
        pip_index_urls=tuple(rules["pip_index_urls"]),
    )


def load_published(
    environ: Mapping[str, str], settings: Settings
) -> tuple[Settings, Policy | None]:
    """The server's settings and policy when this process was started by one, else as given."""
    text = environ.get(VARIABLE)
    if not text:
        return settings, None
    try:
        data: dict[str, Any] = json.loads(text)
        overrides = {
            "root_prefix": Path(data["root_prefix"]),
            "envs_dirs": tuple(Path(p) for p in data["envs_dirs"]),
            "pkgs_dirs": tuple(Path(p) for p in data["pkgs_dirs"]),
            "channels": tuple(data["channels"]),
            "channel_alias": str(data["channel_alias"]),
            "custom_channels": dict(data["custom_channels"]),
            "channel_priority": str(data["channel_priority"]),
        }
        if "solver" in data:  # servers before 0.1.1 did not publish it
            overrides["solver"] = solver_name(data["solver"])
        policy = policy_from_json(data["policy"])
    except (ValueError, KeyError, TypeError) as exc:
        raise BadInput(
            f"{VARIABLE} is set but unreadable ({exc}); unset it, or restart the kernel from "
            "its Jupyter server."
        ) from None
    return settings.with_overrides(**overrides), policy
