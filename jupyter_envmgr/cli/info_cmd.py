"""`info`: the settings in effect (root prefix, envs and pkgs dirs, channels, solver, config
files) and whether libmambapy is there for the libmamba solver."""

from __future__ import annotations

from .common import Subparsers, add_common
from .session import Session


def add_parsers(sub: Subparsers) -> None:
    p = sub.add_parser(
        "info", help="show settings: root prefix, envs and pkgs dirs, channels, solver"
    )
    add_common(p)
    p.add_argument(
        "-e", "--envs", action="store_true", help="list the environments (as `env list`)"
    )
    p.set_defaults(run=info)


async def info(s: Session) -> int:
    if s.args.envs:  # conda's `info --envs`: the same list, the same header lines
        from .env_cmds import env_list

        return await env_list(s)
    from ..engine.solver import solver_status

    settings = {**s.settings.to_json(), **solver_status(s.settings.solver)}
    settings["read_only_envs_dirs"] = _read_only_envs_dirs(s)
    if s.json:
        s.json.emit({"event": "result", **settings})
    else:
        width = max(map(len, settings))
        for key, value in settings.items():
            if isinstance(value, list):
                value = ", ".join(value)
            elif key == "libmamba_available":
                value = "yes" if value else "no (install libmambapy from conda-forge for it)"
            elif value is None:
                value = "-"
            print(f"  {key:<{width}}: {value}")
    return 0


def _read_only_envs_dirs(s: Session) -> list[str]:
    """Envs dirs this user cannot write (site envs an admin publishes), with their owner:
    their envs are listed and have kernels; `create --clone` copies one to change it."""
    from ..engine.registry import can_write_below, owner_of

    dirs = [d for d in s.settings.envs_dirs if d.is_dir() and not can_write_below(d)]
    return [f"{d} ({owner_of(d)}'s)" for d in dirs]
