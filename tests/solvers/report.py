"""How two solutions of one problem differ, and the table of them shown after the tests."""

from __future__ import annotations

from collections.abc import Sequence

import rattler

# One row per problem both backends solved: (problem, rattler, libmamba, agree, difference).
PROBLEM_ROWS: list[tuple[str, str, str, str, str]] = []


def outcome(records: Sequence[rattler.RepoDataRecord] | None) -> str:
    return "unsatisfiable" if records is None else f"{len(records)} records"


def difference(
    a: Sequence[rattler.RepoDataRecord], b: Sequence[rattler.RepoDataRecord], limit: int = 6
) -> str:
    """'same set', or what only one side has and which versions/builds differ (a vs b)."""
    left = {r.name.normalized: f"{r.version}={r.build}" for r in a}
    right = {r.name.normalized: f"{r.version}={r.build}" for r in b}
    parts = []
    only_a = sorted(set(left) - set(right))
    only_b = sorted(set(right) - set(left))
    changed = sorted(n for n in set(left) & set(right) if left[n] != right[n])
    if only_a:
        parts.append("rattler only: " + ", ".join(only_a[:limit]) + _more(only_a, limit))
    if only_b:
        parts.append("libmamba only: " + ", ".join(only_b[:limit]) + _more(only_b, limit))
    if changed:
        shown = [f"{n} {left[n]} vs {right[n]}" for n in changed[:limit]]
        parts.append("chosen differently: " + ", ".join(shown) + _more(changed, limit))
    return "; ".join(parts) or "same set"


def _more(items: Sequence[str], limit: int) -> str:
    return f" (+{len(items) - limit})" if len(items) > limit else ""


def table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    head = ("problem", "rattler", "libmamba", "agree", "difference")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head) - 1)]
    lines = []
    for row in [head, *rows]:
        cells = [str(c).ljust(w) for c, w in zip(row[:-1], widths, strict=True)]
        lines.append("  ".join([*cells, str(row[-1])]))
    return lines
