"""The CLI's one table layout: columns padded to their widest cell, two spaces apart, indented
by two, as micromamba lists packages. Every verb that prints columns uses it."""

from __future__ import annotations

from collections.abc import Sequence


def table_lines(
    rows: Sequence[Sequence[object]],
    header: Sequence[str] = (),
    *,
    figures_from: int | None = None,
    rule: bool = False,
) -> list[str]:
    """The table's lines. Columns from `figures_from` on hold figures (right-aligned, so their
    digits line up); the others are names. `rule` underlines the header."""
    cells = [[str(c) for c in row] for row in ([header] if header else []) + list(rows)]
    if not cells:
        return []
    count = max(len(row) for row in cells)
    widths = [max(len(row[i]) for row in cells if i < len(row)) for i in range(count)]

    def line(row: list[str]) -> str:
        padded = (
            c.rjust(w) if figures_from is not None and i >= figures_from else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=False))
        )
        return ("  " + "  ".join(padded)).rstrip()

    lines = [line(row) for row in cells]
    if header and rule:
        lines.insert(1, "  " + "-" * (sum(widths) + 2 * (count - 1)))
    return lines


def print_table(
    rows: Sequence[Sequence[object]],
    header: Sequence[str] = (),
    *,
    figures_from: int | None = None,
    rule: bool = False,
) -> None:
    for text in table_lines(rows, header, figures_from=figures_from, rule=rule):
        print(text)
