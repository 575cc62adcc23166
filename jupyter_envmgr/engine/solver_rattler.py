"""The rattler backend (the default): `rattler.solve` (resolvo) on a `Problem`, with the
repodata of the gateway it is given."""

from __future__ import annotations

import rattler
from rattler.exceptions import SolverError

from .gateway import CHANNEL_ERRORS, channel_error, explain
from .rattler_guard import rattler_guard
from .solver_interface import Problem, unsatisfiable


def _priority(name: str) -> rattler.ChannelPriority:
    # rattler has no flexible priority (conda's: priorities without strictness): strict.
    if name == "disabled":
        return rattler.ChannelPriority.Disabled
    return rattler.ChannelPriority.Strict


async def solve(gateway: rattler.Gateway, problem: Problem) -> list[rattler.RepoDataRecord]:
    """The records to install for `problem`; a channel that cannot be read is a ChannelError,
    an unsatisfiable request `Unsatisfiable` with rattler's explanation."""
    try:
        with rattler_guard("solving"):
            return await rattler.solve(
                [rattler.Channel(url) for url in problem.channels],
                list(problem.specs),
                gateway=gateway,
                platforms=list(problem.platforms),
                locked_packages=list(problem.locked),
                constraints=list(problem.constraints) or None,
                virtual_packages=list(problem.virtual_packages),
                channel_priority=_priority(problem.channel_priority),
            )
    except CHANNEL_ERRORS as exc:
        raise channel_error(exc) from None
    except SolverError as exc:
        raise unsatisfiable(explain(exc)) from None
