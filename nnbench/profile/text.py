"""Plain-text pieces shared by profile summaries and diffs: the op categories,
number formats and a fixed-width table. No JAX here (``compare`` imports
the diff without importing JAX)."""

from __future__ import annotations

from collections.abc import Sequence

CATEGORIES = ("matmul/conv", "fusion", "collective", "copy", "other")


def fmt_s(s: float | None) -> str:
    """Seconds as ``"1.2 ms"``; ``"n/a"`` for None."""
    if s is None:
        return "n/a"
    a = abs(s)
    if a >= 1:
        return f"{s:.3g} s"
    if a >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} µs"


def fmt_n(x: float | None) -> str:
    """A count with an SI prefix, ``"1.2M"``; ``"n/a"`` for None."""
    if x is None:
        return "n/a"
    for unit, f in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= f:
            return f"{x / f:.3g}{unit}"
    return f"{x:.3g}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> list[str]:
    """Lines of a fixed-width table; ``align``: one ``<`` or ``>`` per column."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if a == "<" else c.rjust(w) for c, w, a in zip(cells, widths, align, strict=True)
        ).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]
