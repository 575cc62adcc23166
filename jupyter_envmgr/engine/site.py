"""Envs other users read: a site env an admin publishes is used by every user, so its
package records must be readable by them as its other files are.

rattler writes `conda-meta/<dist>.json` with mode 0600 (a private temporary file renamed into
place); conda and micromamba leave them as the umask says (0644 under the usual 022). A record
another user cannot read makes the env unusable to them: its packages cannot be listed,
exported or cloned. After each change the records get the mode the umask gives a new file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .prefix import META


def current_umask() -> int:
    """The process's umask, read without changing it (Linux: /proc/self/status)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def share_records(prefix: Path) -> None:
    """Give the env's records the mode a new file gets (0644 under umask 022), as conda does."""
    mode = 0o666 & ~current_umask()
    uid = os.geteuid()
    try:
        entries = list(os.scandir(prefix / META))
    except OSError:
        return
    for entry in entries:
        if not entry.name.endswith(".json"):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(st.st_mode) and st.st_uid == uid and stat.S_IMODE(st.st_mode) != mode:
                os.chmod(entry.path, mode)
        except OSError:
            continue
