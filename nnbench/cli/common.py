"""What the verbs share: the exit codes, the one-line refusal of a bad
request (``BadInput``: exit 2), the parser's value checks, the case
filters and their selection, and the output formats."""

from __future__ import annotations

import argparse

from nnbench.report.render import FORMATS as FORMATS  # every --format choice: one per renderer

EXIT_OK, EXIT_FOUND, EXIT_BAD_INPUT = 0, 1, 2
EXIT_PIPE = 128 + 13  # stdout closed early (``nnbench list | head``): as a process killed by SIGPIPE reports


class BadInput(Exception):
    """The request itself was bad: exit 2 with this one-line message."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2; "--budget: ..." as nnbench's own messages name an option
        raise BadInput(message.removeprefix("argument "))


def positive(kind, most: float = float("inf"), zero: bool = False):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not (value > 0 or (zero and value == 0)) or value != value or value in (float("inf"),):
            raise argparse.ArgumentTypeError(
                f"must be a {'non-negative' if zero else 'positive'} finite number: {text!r}"
            )
        if value > most:
            raise argparse.ArgumentTypeError(f"{text!r} is absurd (at most {most:g})")
        return value

    return parse


_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def memory_size(text: str) -> int:
    """``512M``, ``2G``, ``1.5G`` or plain bytes; 16 MiB to 1 TiB."""
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = t[-1:] if t[-1:] in _UNITS and t[-1:] else ""
    try:
        value = float(t[: len(t) - len(unit)]) * _UNITS[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 512M, 2G)") from None
    if not 2**24 <= value <= 2**40:
        raise argparse.ArgumentTypeError(f"{text!r} is out of range (16M to 1T)")
    return int(value)


_APPENDED = (
    "layer",
    "style",
    "mode",
    "size",
    "dtype",
    "devices",
    "strategy",
    "scaling",
)  # repeatable, each comma-separated
_LISTS = (*_APPENDED, "lower_for", "threshold")  # comma-separated: an empty item is refused


def nonempty(text: str) -> str:
    """A string option's value: refused when empty or blank (``--out ''``, ``--threshold ''``)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("empty value")
    return text


def items(text: str) -> str:
    """A comma-separated option's value: refused with an empty item (``--devices ''``, ``--layer mlp,``)."""
    if not text.strip() or any(not item.strip() for item in text.split(",")):
        raise argparse.ArgumentTypeError(f"empty item in {text!r}")
    return text


def refuse_empty(parser: argparse.ArgumentParser) -> None:
    """Give every string option and argument of every command ``nonempty``
    (comma lists ``items``), so a new option cannot forget it."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                refuse_empty(sub)
        elif action.type is None and action.nargs != 0 and action.dest != "help":
            action.type = items if action.dest in _LISTS else nonempty


def add_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--suite", help="named selection: smoke, ci, nightly, gpu, overhead, compile")
    for name in ("layer", "style", "mode", "size", "dtype"):
        p.add_argument(
            f"--{name}", action="append", metavar=name.upper(), help=f"only these {name}s (repeatable, comma-separated)"
        )
    p.add_argument(
        "--devices",
        action="append",
        metavar="N",
        help="device counts for sharded train steps, e.g. 1,2,4,8 (strategy dp unless --strategy)",
    )
    p.add_argument(
        "--strategy",
        action="append",
        metavar="NAME",
        help="dp, fsdp, tp, dp_shard_map (devices 1,2,4,8 unless --devices)",
    )
    p.add_argument(
        "--scaling",
        action="append",
        metavar="KIND",
        help="strong (fixed global batch, default), weak (fixed per-device batch)",
    )


def add_format(p: argparse.ArgumentParser, formats: tuple[str, ...] = FORMATS, help: str | None = None) -> None:
    """``--format``, one of ``formats`` (default ``text``)."""
    p.add_argument("--format", choices=formats, default="text", help=help)


FILTERS = ("suite", "layer", "style", "mode", "size", "dtype")


def add_worker_limits(p: argparse.ArgumentParser) -> None:
    """``--timeout`` and ``--memory-limit``: what each worker process may spend (``run`` and ``ab``)."""
    from nnbench.run.options import RunOptions

    timeout = RunOptions().timeout
    p.add_argument(
        "--timeout",
        type=positive(float, 7 * 86400),
        default=timeout,
        help=f"per-case time limit in seconds (default {timeout:g})",
    )
    p.add_argument(
        "--memory-limit",
        type=memory_size,
        help="each worker may grow its address space by this much past its imports (e.g. 2G)",
    )


def add_shard(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--shard",
        metavar="K/N",
        help="only the K-th of N parts of the selection (whole worker groups, balanced on their expected seconds; "
        "every case in exactly one part); nnbench merge joins the parts' run files",
    )


def select(args, distributed: bool = False):
    """The cases ``args`` selects (a namespace or ``RunOptions``: the filters,
    ``cases`` and ``shard``); ``distributed``: no one-device baseline is added."""
    from nnbench.run import cases as _cases

    cases = _select(args, distributed)
    if getattr(args, "shard", None):
        try:
            cases = _cases.shard(cases, *_cases.parse_shard(args.shard))
        except _cases.SelectionError as e:
            raise BadInput(str(e)) from None
    return cases


def _select(args, distributed: bool):
    from nnbench.run import cases as _cases
    from nnbench.run import scaling as _scaling

    if getattr(args, "cases", None):
        from nnbench.run import usercases as _usercases

        given = [f"--{f}" for f in FILTERS if getattr(args, f)]
        if given:
            raise BadInput(f"--cases runs the user's own list; it cannot be combined with {', '.join(given)}")
        try:
            return _usercases.cases(args.cases)
        except _usercases.UserCasesError as e:
            raise BadInput(str(e)) from None
    try:
        cases = _cases.select(args.suite, args.layer, args.style, args.mode, args.size, args.dtype)
        return _scaling.expand(
            cases, args.devices, args.strategy, args.scaling, bool(args.style), baseline=not distributed
        )
    except _cases.SelectionError as e:
        raise BadInput(str(e)) from None


def is_distributed(args) -> bool:
    """Whether ``nnbench run`` was asked to join a jax.distributed job."""
    return bool(
        getattr(args, "distributed", False)
        or getattr(args, "coordinator", None)
        or getattr(args, "num_processes", None)
        or getattr(args, "process_id", None) is not None
    )


def render_check(name: str, run: dict) -> None:
    """Refuse a run whose records a report cannot render, before anything is written."""
    from nnbench.report import run as _report

    try:
        _report.side_by_side(run["records"])
        _report.memory_side_by_side(run["records"])
        _report.detail_rows(run["records"])
    except (KeyError, TypeError, ValueError, AttributeError, ZeroDivisionError) as e:
        raise BadInput(f"{name}: a record lacks what a report needs ({type(e).__name__}: {e})") from None
