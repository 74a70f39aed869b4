"""What every report plot shares: the one plot registry, matplotlib on the
Agg backend (no display, no network), and a figure rendered to PNG bytes.

The registry: each plot function is declared where its data is read, with
``@register(scope, key, title, file)``; a report builder asks for every plot
of a scope (``figures(scope, data)``) and gets them in declaration order.
Scopes and what their plot functions take:

- ``run``: one run's records (``nnbench.report.plots``);
- ``records``: every run's records together (``nnbench.report.scaling``);
- ``runs``: ``[(name, run), ...]`` (``nnbench.report.devices``);
- ``compare`` and ``history``: the result dict (``nnbench.report.compare``,
  ``nnbench.report.history``).

Adding a plot: one decorated function in the module of its scope.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

from nnbench.report.document import Figure
from nnbench.results import escape as _escape

SCOPES = ("run", "records", "runs", "compare", "history")


class PlotSpec(NamedTuple):
    scope: str
    key: str  # unique within its scope
    title: str  # alt text and link text
    file: str  # tail of the PNG's name beside a Markdown report; ``{run}`` becomes ``.<run number>`` with several runs
    draw: Callable[[Any], bytes | None]


REGISTRY: dict[str, dict[str, PlotSpec]] = {scope: {} for scope in SCOPES}


def register(scope: str, key: str, title: str, file: str | None = None):
    """Declare the decorated ``draw(data) -> PNG bytes | None`` as a plot of
    ``scope``; ``file`` defaults to ``{run}.<key>.png``."""

    def add(draw):
        if key in REGISTRY[scope]:
            raise ValueError(f"plot {scope}/{key} registered twice")
        REGISTRY[scope][key] = PlotSpec(scope, key, title, file or f"{{run}}.{key}.png", draw)
        return draw

    return add


# A report's plot order, whichever plot module was imported first (keys not
# named here follow, in declaration order).
ORDER = {"run": ("ratio", "bars", "compile", "memory", "depth", "roofline")}


def specs(scope: str) -> list[PlotSpec]:
    """The plots of ``scope``, in ``ORDER``, then in declaration order."""
    order = ORDER.get(scope, ())
    found = list(REGISTRY[scope].values())
    return sorted(found, key=lambda s: (order.index(s.key) if s.key in order else len(order), found.index(s)))


def figures(scope: str, data: Any, run: int | None = None) -> list[Figure]:
    """A lazily drawn ``Figure`` per plot of ``scope`` over ``data``; ``run``:
    the run's number (from 1) where a report holds several runs."""
    tag = "" if run is None else f".{run}"
    return [Figure(s.key, s.title, lambda s=s: s.draw(data), s.file.format(run=tag)) for s in specs(scope)]


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
