"""One renderer per format for a ``Document``: ``terminal`` (a rich
console), ``markdown``, ``html`` (one self-contained page, plots embedded)
and ``json``.

Each walks every section and block, so every format carries every section;
each escapes every string through ``nnbench.results.escape`` for its format.
The terminal shows no figures (it cannot draw them); JSON lists them by key
and title.

Adding a format: one function here taking a ``Document`` and returning its
text, and its entry in ``RENDERERS``; every command's ``--format`` choices
come from ``FORMATS``.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from nnbench.report.document import (
    BAD,
    DIM,
    GOOD,
    INFO,
    WARN,
    Bullets,
    Cell,
    Document,
    Figure,
    Note,
    Pre,
    Section,
    Table,
)
from nnbench.results import escape as _escape
from nnbench.results import files as _files

TERM_COLOURS = {BAD: "red", GOOD: "green", WARN: "yellow", INFO: "cyan", DIM: "dim"}
HTML_COLOURS = {BAD: "#c00", GOOD: "#080", WARN: "#b80", INFO: "#08a", DIM: "#666"}
CSS = (
    "<style>body{font-family:sans-serif;max-width:100em}table{border-collapse:collapse;margin:0.5em 0}"
    "td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}td.r{text-align:right}"
    "pre{background:#f6f6f6;padding:4px}img{display:block;max-width:100%;margin:1em 0}</style>"
)


# --- terminal ---


def _term_tone(text: str, tone: str | None) -> str:
    """Escaped ``text`` in ``tone``'s colour (rich markup of nnbench's own)."""
    colour = TERM_COLOURS.get(tone or "")
    return f"[{colour}]{text}[/{colour}]" if colour else text


def _term_note(note: Note) -> str:
    if note.lead:
        return f"{_term_tone(_escape.term(note.lead), note.tone or BAD)} {_escape.term(note.text)}"
    return _term_tone(_escape.term(note.text), note.tone)


def _term_table(table: Table, console) -> None:
    from rich.table import Table as RichTable

    shown = [i for i, c in enumerate(table.columns) if table.brief is None or c in table.brief]
    align = table.alignment()
    out = RichTable(title=_escape.term(table.title) or None, title_justify="left")
    for i in shown:
        out.add_column(_escape.term(table.columns[i]), justify="right" if align[i] == "r" else "left")
    for row in table.cells():
        out.add_row(*(_term_tone("\n".join(_escape.term(x) for x in row[i].lines), row[i].tone) for i in shown))
    console.print(out)


def terminal(doc: Document, console) -> None:
    """Print ``doc`` on a rich console: level-2 headings in bold, tables as
    rich tables (their ``brief`` columns), notes and lists line by line."""
    for section in doc.sections:
        if section.title and section.level <= 2:
            console.print(_escape.term(section.title), style="bold", highlight=False, soft_wrap=True)
        for block in section.blocks:
            if isinstance(block, Table):
                if block.rows:
                    _term_table(block, console)
            elif isinstance(block, Note):
                console.print(_term_note(block), highlight=False, soft_wrap=True)
            elif isinstance(block, Bullets):
                for item in block.items:
                    console.print(_term_note(item), highlight=False, soft_wrap=True)
            elif isinstance(block, Pre):
                console.print(
                    f"[bold]{_escape.term(block.title)}[/bold]\n{_escape.term_lines(block.text)}",
                    highlight=False,
                    soft_wrap=True,
                )


# --- Markdown ---


def _md_cell(cell: Cell) -> str:
    text = "<br>".join(_escape.md(x) for x in cell.lines)
    return f"**{text}**" if cell.tone == BAD and text else text


def _md_note(note: Note) -> str:
    if note.lead:
        return f"**{_escape.md(note.lead)}** {_escape.md(note.text)}"
    return f"**{_escape.md(note.text)}**" if note.tone in (WARN, BAD) else _escape.md(note.text)


def _md_table(table: Table) -> list[str]:
    if not table.rows:
        return []
    sep = {"l": "---", "r": "---:"}
    lines = [f"*{_escape.md(table.title)}*", ""] if table.title else []
    lines.append("| " + " | ".join(_escape.md(c) for c in table.columns) + " |")
    lines.append("|" + "|".join(sep[a] for a in table.alignment()) + "|")
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.cells()]
    return [*lines, ""]


def markdown(doc: Document, stem: str | None = None) -> str:
    """``doc`` as Markdown. With ``stem`` (the report's file stem), each
    figure that has a plot is linked as ``<stem><figure.file>`` (written
    beside the report by its writer); without, figures are left out."""
    return f"# {_escape.md(doc.title)}\n\n" + markdown_body(doc.sections, stem)


def markdown_body(sections: list[Section], stem: str | None = None) -> str:
    """The sections as Markdown (``markdown`` without the document's title)."""
    lines: list[str] = []
    for section in sections:
        if section.title:
            lines += [f"{'#' * section.level} {_escape.md(section.title)}", ""]
        for block in section.blocks:
            if isinstance(block, Table):
                lines += _md_table(block)
            elif isinstance(block, Note):
                lines += [_md_note(block), ""]
            elif isinstance(block, Bullets):
                lines += [_escape.md(block.title), ""] if block.title else []
                lines += [f"- {_md_note(item)}" for item in block.items] + [""]
            elif isinstance(block, Pre):
                lines += [
                    f"**{_escape.md(block.title)}**",
                    "",
                    "```",
                    _escape.lines(block.text).replace("```", "'''"),
                    "```",
                    "",
                ]
            elif isinstance(block, Figure) and stem is not None and block.png():
                lines += [f"![{_escape.md(block.title)}]({_escape.md(stem + block.file)})", ""]
    return "\n".join(lines)


# --- HTML ---


def img_tag(data: bytes | None, alt: str) -> str:
    """An ``<img>`` holding ``data`` as a ``data:`` URI; ``""`` when there is no plot."""
    if not data:
        return ""
    return f"<img alt='{_escape.html(alt)}' src='data:image/png;base64,{base64.b64encode(data).decode()}'>"


def _html_toned(text: str, tone: str | None) -> str:
    colour = HTML_COLOURS.get(tone or "")
    return f"<span style='color:{colour}'>{text}</span>" if colour else text


def _html_note(note: Note, tag: str = "p") -> str:
    h = _escape.html
    if note.lead:
        body = f"<b>{_html_toned(h(note.lead), note.tone or BAD)}</b> {h(note.text)}"
    elif note.tone == WARN:
        body = f"<b>{h(note.text)}</b>"
    else:
        body = _html_toned(h(note.text), note.tone)
    return f"<{tag}>{body}</{tag}>"


def _html_table(table: Table) -> str:
    if not table.rows:
        return ""
    h = _escape.html
    align = table.alignment()
    parts = [
        f"<h4>{h(table.title)}</h4>" if table.title else "",
        "<table><tr>",
        *(f"<th>{h(c)}</th>" for c in table.columns),
        "</tr>",
    ]
    for row in table.cells():
        parts.append("<tr>")
        for a, cell in zip(align, row, strict=True):
            parts.append(
                f"<td{' class=r' if a == 'r' else ''}>"
                f"{_html_toned('<br>'.join(h(x) for x in cell.lines), cell.tone)}</td>"
            )
        parts.append("</tr>")
    parts.append("</table>")
    return "".join(parts)


def html_body(sections: list[Section]) -> str:
    """The sections as an HTML fragment (figures drawn and embedded)."""
    h = _escape.html
    parts = []
    for section in sections:
        if section.title:
            parts.append(f"<h{section.level}>{h(section.title)}</h{section.level}>")
        for block in section.blocks:
            if isinstance(block, Table):
                parts.append(_html_table(block))
            elif isinstance(block, Note):
                parts.append(_html_note(block))
            elif isinstance(block, Bullets):
                parts.append(
                    (f"<p>{h(block.title)}</p>" if block.title else "")
                    + "<ul>"
                    + "".join(_html_note(i, "li") for i in block.items)
                    + "</ul>"
                )
            elif isinstance(block, Pre):
                parts.append(f"<h4>{h(block.title)}</h4><pre>{_escape.html_lines(block.text)}</pre>")
            elif isinstance(block, Figure):
                parts.append(img_tag(block.png(), block.title))
    return "".join(parts)


def html(doc: Document) -> str:
    """One self-contained page: every plot embedded as a ``data:`` URI."""
    title = _escape.html(doc.title)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>{CSS}</head>"
        f"<body><h1>{title}</h1>{html_body(doc.sections)}</body></html>"
    )


# --- JSON ---


def _json_block(block: Any) -> dict[str, Any]:
    if isinstance(block, Table):
        out = {
            "type": "table",
            "title": block.title,
            "columns": list(block.columns),
            "rows": [[c.text for c in row] for row in block.cells()],
        }
        return {**out, "data": block.data} if block.data is not None else out
    if isinstance(block, Note):
        return {"type": "note", "text": block.text, "tone": block.tone, "lead": block.lead}
    if isinstance(block, Bullets):
        return {"type": "list", "title": block.title, "items": [_json_block(i) for i in block.items]}
    if isinstance(block, Pre):
        return {"type": "pre", "title": block.title, "text": block.text}
    return {"type": "figure", "key": block.key, "title": block.title}


def to_dict(doc: Document) -> dict[str, Any]:
    """``doc`` as plain data: sections of typed blocks (figures by key and title, not drawn)."""
    sections = [
        {"title": s.title, "level": s.level, "blocks": [_json_block(b) for b in s.blocks]} for s in doc.sections
    ]
    return {"title": doc.title, "sections": sections}


def json_text(doc: Document) -> str:
    """``to_dict(doc)`` as JSON (non-finite numbers as null; control characters \\u-escaped by the encoder)."""
    from nnbench.results.runfile import sanitize

    return json.dumps(sanitize(to_dict(doc)), indent=1, allow_nan=False)


def write_markdown_file(path: str | os.PathLike, doc: Document, overwrite: bool = False) -> list[Path]:
    """Write ``doc`` as Markdown at ``path`` and each plot that has data
    beside it (``<stem><figure.file>``); returns what was written.

    Unless ``overwrite``, nothing is written if any of the files is taken
    (``nnbench.results.files.OutputExists``) and each is created exclusively.
    """
    path = Path(path)
    plots = {path.with_name(path.stem + f.file): f.png() for f in doc.figures() if f.png()}
    files = {path: markdown(doc, path.stem).encode("utf-8"), **plots}
    if not overwrite:
        _files.refuse_existing(*files)
    for p, data in files.items():
        if overwrite:
            p.write_bytes(data)
        else:
            _files.create_exclusive(p, data)
    return list(files)


# The formats that render a whole document to one text. The terminal
# (``text``) renders onto a rich console instead, and a Markdown file may
# write its plots beside it (``write_markdown_file``).
RENDERERS = {"md": markdown, "html": html, "json": json_text}
FORMATS = ("text", *RENDERERS)  # every ``--format`` choice
