"""Untrusted text made inert for each output nnbench writes.

Strings from run files, profile summaries, file names and a user's error
messages reach terminals, Markdown, HTML and plots. Every renderer passes
them through one of these, never through ``html.escape`` or
``rich.markup.escape`` directly (``tests/test_report_safety.py`` checks), so
a new renderer cannot forget a case:

- ``visible``: control characters shown as escapes (``\\x1b``, ``\\n``), so
  a colour code, an OSC set-title or a clear-screen sequence is printed as
  text and a value stays on its line. Covers C0, DEL, C1, the Unicode line
  and paragraph separators, the bidirectional overrides, and lone
  surrogates (which no UTF-8 output can encode).
- ``term``: ``visible`` plus rich markup escaped (rich tables and
  ``console.print``).
- ``lines``, ``term_lines``, ``html_lines``: the same on each line of a
  block nnbench built itself from untrusted parts, keeping its line breaks.
- ``md`` and ``html``: ``visible`` plus the format's own escapes.
- ``label``: ``visible`` for plot text (matplotlib draws a control character
  as a missing glyph and warns).

JSON output needs nothing: the encoder writes every control character as a
``\\u`` escape.
"""

from __future__ import annotations

import html as _html
import re

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _shown(m: re.Match) -> str:
    ch = m.group()
    return _NAMED.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")


def visible(text: object) -> str:
    """``str(text)`` with every control character replaced by its escape."""
    s = str(text)
    return _CONTROL.sub(_shown, s) if _CONTROL.search(s) else s


def lines(text: object) -> str:
    """``visible`` per line, the line breaks kept (a block of nnbench's own)."""
    return "\n".join(visible(line) for line in str(text).split("\n"))


def term(text: object) -> str:
    """For a rich console or table: ``visible`` and rich markup escaped."""
    from rich.markup import escape

    return escape(visible(text))


def term_lines(text: object) -> str:
    """``term`` per line, the line breaks kept (a block of nnbench's own)."""
    return "\n".join(term(line) for line in str(text).split("\n"))


def html_lines(text: object) -> str:
    """``html`` per line, the line breaks kept (inside ``<pre>``)."""
    return "\n".join(html(line) for line in str(text).split("\n"))


def md(text: object) -> str:
    """Inert Markdown (one line): ``visible``, HTML escaped, Markdown punctuation backslash-escaped."""
    out = _html.escape(visible(text), quote=False)
    for ch in "\\`*_[]|#":
        out = out.replace(ch, "\\" + ch)
    return out


def html(text: object) -> str:
    """Inert HTML text or attribute value: ``visible``, then ``html.escape``."""
    return _html.escape(visible(text))


def label(text: object) -> str:
    """Plot text (tick labels, legends, titles): ``visible``."""
    return visible(text)
