"""Writing output files without ever overwriting one: the one place nnbench
decides that a path is taken.

- ``refuse_existing(*paths)``: raise ``OutputExists`` for the first path that
  exists (a dangling symlink counts: writing through it would create a file
  elsewhere).
- ``create_exclusive(path, data)``: a new file holding ``data`` (bytes or
  text), or ``OutputExists``. It is written to a temp file in the same
  directory, flushed to disk and hard-linked into place; the link fails if
  ``path`` appeared meanwhile, so two writers never both win and a reader
  never sees a part-written file.

Example::

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> create_exclusive(d / "out.md", "# report\\n").read_text()
    '# report\\n'
    >>> create_exclusive(d / "out.md", "again")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ...
    OutputExists: .../out.md: already exists; refusing to overwrite it
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class OutputExists(FileExistsError):
    """An output path is taken; nnbench never overwrites (a bad-input error)."""

    def __init__(self, path: str | os.PathLike):
        super().__init__(f"{path}: already exists; refusing to overwrite it")
        self.path = str(path)


def taken(path: str | os.PathLike) -> bool:
    """Whether ``path`` exists or is a symlink (even a dangling one)."""
    return os.path.lexists(path)


def refuse_existing(*paths: str | os.PathLike) -> None:
    """``OutputExists`` for the first of ``paths`` that is ``taken``."""
    for p in paths:
        if taken(p):
            raise OutputExists(p)


def create_exclusive(path: str | os.PathLike, data: bytes | str, mode: int = 0o644) -> Path:
    """Create ``path`` holding ``data`` (text is UTF-8), never overwriting.

    Raises ``OutputExists`` when ``path`` is taken (before or while
    writing), ``OSError`` when the directory refuses the write (nothing is
    left behind). Returns ``path`` as a ``Path``.
    """
    path = Path(path)
    refuse_existing(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)  # mkstemp's 0600 would make results private to the writer
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise OutputExists(path) from None
    finally:
        os.unlink(tmp)
    return path
