"""One domain error hierarchy; each face maps it once (exit codes, HTTP statuses, messages)."""

from __future__ import annotations


class EnvMgrError(Exception):
    """Base of every error the engine raises on purpose.

    `message` says what went wrong and what to do about it; `status` is the HTTP status the
    server maps it to, so the mapping lives with the error and not in every face.
    """

    status = 500
    reason = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_json(self) -> dict[str, str]:
        """The one JSON form of an error: REST bodies, task errors and `--json` error lines."""
        return {"message": self.message, "reason": self.reason}


class BadInput(EnvMgrError):
    """The user's input (name, spec, channel, file, path) is malformed."""

    status = 400
    reason = "bad-input"


class EnvNotFound(EnvMgrError):
    status = 404
    reason = "env-not-found"


class EnvExists(EnvMgrError):
    status = 409
    reason = "env-exists"


class Conflict(EnvMgrError):
    """The request clashes with the current state (e.g. cancelling a finished task)."""

    status = 409
    reason = "conflict"


class Unsatisfiable(EnvMgrError):
    """The solver found no solution; the message carries its explanation."""

    status = 409
    reason = "unsatisfiable"


class ChannelError(EnvMgrError):
    """A channel is unknown or cannot be read."""

    status = 400
    reason = "channel"


class PackageNotInstalled(EnvMgrError):
    status = 400
    reason = "not-installed"


class Locked(EnvMgrError):
    """Another process holds the environment's lock and did not release it in time."""

    status = 423
    reason = "locked"


class Forbidden(EnvMgrError):
    status = 403
    reason = "forbidden"


class ConfirmationRequired(EnvMgrError):
    """An operation needs a yes from the user and none can be asked for."""

    status = 400
    reason = "confirmation-required"


class Cancelled(EnvMgrError):
    """The user cancelled; the environment was restored."""

    status = 409
    reason = "cancelled"


class DownloadError(EnvMgrError):
    """A package could not be fetched; the environment was restored."""

    status = 502
    reason = "download"


class UnsafePackage(EnvMgrError):
    """A package would link something outside the env (or into its conda-meta/): refused
    before anything of it is linked."""

    status = 422
    reason = "unsafe-package"


class EngineCrashed(EnvMgrError):
    """The child process doing a task's rattler work died (abort, panic, segfault, kill)."""

    status = 500
    reason = "engine-crashed"


class RestoreForbidden(Forbidden):
    """A restore would download packages from a channel the policy does not allow; the env
    keeps its journal, so `repair` can finish it once they are allowed (or cached again)."""

    reason = "restore-forbidden"


class NoSpace(EnvMgrError):
    """The disk (or the user's quota) is full; nothing was changed."""

    status = 507
    reason = "no-space"


class TooManyTasks(EnvMgrError):
    """The server already holds its limit of unfinished tasks; a new one must wait."""

    status = 429
    reason = "too-many-tasks"


class EnvInUse(EnvMgrError):
    """Kernels of the environment are running: deleting it would break their imports."""

    status = 409
    reason = "env-in-use"
