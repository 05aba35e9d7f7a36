"""Plain-text tables for the commands' readable output."""

from __future__ import annotations


def text_table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=False))
        for row in [headers, *rows]
    ]
    return "\n".join(line.rstrip() for line in lines)
