"""What every report plot shares: matplotlib on the Agg backend (no display,
no network), a figure rendered to PNG bytes, and a PNG embedded in HTML as a
``data:`` URI so a page is one self-contained file."""

from __future__ import annotations

import base64
import io
import warnings

from nnbench.results import escape as _escape

# Text properties for names that come from run files: drawn literally, as a
# ``$`` in one must not start mathtext (which can fail to parse and abort the
# report). Pass to ``set_xticks``, ``set_title``, ``text`` ...
LITERAL = {"parse_math": False}


def short(text: str, most: int = 32) -> str:
    """``text`` cut to ``most`` characters (with ``…``), control characters
    shown (``_escape.label``): a plot's label, not its record."""
    text = _escape.label(text)
    return text if len(text) <= most else text[: most - 1] + "…"


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png(fig) -> bytes:
    """Render ``fig`` (tight layout where the labels let it fit) to PNG bytes and close it."""
    plt = pyplot()
    with warnings.catch_warnings():  # names from run files can be longer than any margin: drawn as they are, no warning
        warnings.filterwarnings("ignore", "Tight layout not applied", UserWarning)
        fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def legend(ax, **kwargs):
    """``ax.legend(**kwargs)`` with its labels (names from run files) drawn literally."""
    box = ax.legend(**kwargs)
    for text in box.get_texts():
        text.set_parse_math(False)
        text.set_text(_escape.label(text.get_text()))
    return box


def img_tag(data: bytes | None, alt: str) -> str:
    """An ``<img>`` holding ``data`` as a ``data:`` URI; ``""`` when there is no plot."""
    if not data:
        return ""
    return f"<img alt='{_escape.html(alt)}' src='data:image/png;base64,{base64.b64encode(data).decode()}'>"
