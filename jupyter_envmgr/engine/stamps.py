"""Caching by a file's stat, and when not to (git's "racy" rule).

A server re-reads a local channel's index, the package cache's listing or an env's kernels only
when their stat changed. Two changes within one tick of the filesystem's clock can leave the
stat as the first one left it, so a timestamp younger than `RACY_NS` is never trusted: what was
read then is read again next time.
"""

from __future__ import annotations

import time

RACY_NS = 2_000_000_000


def too_recent(*stamps_ns: int, now_ns: int | None = None) -> bool:
    """Whether any of these timestamps (ns) is too recent to cache by."""
    limit = (time.time_ns() if now_ns is None else now_ns) - RACY_NS
    return any(stamp > limit for stamp in stamps_ns)
