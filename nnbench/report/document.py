"""A report as a document: sections of tables, notes, lists, preformatted
blocks and figures, built once from records by the builders (run, compare,
history, scaling, devices) and written by one renderer per format
(``nnbench.report.render``: terminal, Markdown, HTML, JSON).

Everything here is plain text nnbench composed, with untrusted parts (names
from run files, error messages) left raw: each renderer escapes every string
for its own format, so a builder cannot forget to.

Example::

    >>> from nnbench.report.document import Document, Note, Section, Table
    >>> blocks = [Note("linen ×1.05"), Table("t", ("a", "b"), [["x", "1"]])]
    >>> doc = Document("nnbench report", [Section("summary", blocks)])
    >>> [type(b).__name__ for b in doc.sections[0].blocks]
    ['Note', 'Table']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

# A tone says what a piece of text means; each renderer picks its look
# (terminal colour, HTML colour, Markdown emphasis).
BAD, GOOD, WARN, INFO, DIM = "bad", "good", "warn", "info", "dim"
TONES = (BAD, GOOD, WARN, INFO, DIM)


@dataclasses.dataclass(frozen=True)
class Cell:
    """A table cell of one or more lines, with an optional tone."""

    lines: tuple[str, ...]
    tone: str | None = None

    @classmethod
    def of(cls, value: Cell | str | Sequence[str], tone: str | None = None) -> Cell:
        if isinstance(value, Cell):
            return value
        return cls((value,) if isinstance(value, str) else tuple(value), tone)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclasses.dataclass(frozen=True)
class Table:
    """Rows of cells under ``columns``. ``align``: one ``l`` or ``r`` per
    column (default: the first left, the rest right). ``brief``: the columns
    a narrow output (the terminal) shows, None for all. ``data``: the rows'
    numbers, unformatted, for machine-readable output (JSON)."""

    title: str
    columns: tuple[str, ...]
    rows: list[list[Cell | str]]
    align: str = ""
    brief: tuple[str, ...] | None = None
    data: list[dict[str, Any]] | None = None

    def alignment(self) -> str:
        return self.align or "l" + "r" * (len(self.columns) - 1)

    def cells(self) -> list[list[Cell]]:
        return [[Cell.of(c) for c in row] for row in self.rows]


@dataclasses.dataclass(frozen=True)
class Note:
    """A sentence; ``lead`` (a word or two, e.g. a verdict) is set apart in
    ``tone``, or the whole note is when there is no lead."""

    text: str
    tone: str | None = None
    lead: str = ""


@dataclasses.dataclass(frozen=True)
class Bullets:
    """A titled list of notes."""

    title: str
    items: list[Note]


@dataclasses.dataclass(frozen=True)
class Pre:
    """A preformatted block of nnbench's own lines (a profile diff)."""

    title: str
    text: str


@dataclasses.dataclass
class Figure:
    """A plot, drawn on first use (``png()``; None when there is nothing to
    draw). ``file``: the tail added to a Markdown report's stem for the PNG
    written beside it (``.ratio.png``)."""

    key: str
    title: str
    draw: Callable[[], bytes | None]
    file: str
    _png: bytes | None = dataclasses.field(default=None, repr=False)
    _drawn: bool = dataclasses.field(default=False, repr=False)

    def png(self) -> bytes | None:
        if not self._drawn:
            self._png, self._drawn = self.draw(), True
        return self._png


Block = Table | Note | Bullets | Pre | Figure


@dataclasses.dataclass
class Section:
    """A heading (``level`` 2 or 3; an empty title shows none) and its blocks in order."""

    title: str
    blocks: list[Block]
    level: int = 2


@dataclasses.dataclass
class Document:
    title: str
    sections: list[Section]

    def figures(self) -> list[Figure]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Figure)]
