"""Run a list of cases, writing the run file after every finished case."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from nnbench.measure import calibration as _calibration
from nnbench.measure import env as _env
from nnbench.measure.step import current_rss_bytes
from nnbench.measure.timing import TimingPolicy
from nnbench.results import escape as _escape
from nnbench.results import runfile as _results
from nnbench.results.case import Case
from nnbench.run import scaling as _scaling
from nnbench.run.group import group_key, run_groups
from nnbench.run.options import RunOptions, profile_dir
from nnbench.run.spawn import WorkerTask, run_in_subprocess

__all__ = ["RunOptions", "missing", "run"]


def run(
    cases: Sequence[Case],
    out: Path | None,
    options: RunOptions | None = None,
    argv: list[str] | None = None,
    console: Console | None = None,
    resume: dict[str, Any] | None = None,
    processes: int = 1,
    policy: TimingPolicy | None = None,
) -> dict[str, Any]:
    """Measure every case; ``out`` must already be claimed (see
    ``_results.create_exclusive``). Returns the finished run dict.

    The run file is rewritten atomically each time records arrive (a group,
    or one case when a dead group's cases are retried one by one), so a
    parent killed at any point leaves every finished case on disk.
    ``options`` are stored whole as the run's ``request`` so ``--resume``
    can redo the selection; ``resume`` is an existing run dict whose
    records are kept and whose missing cases are the ones in ``cases``.
    ``processes`` > 1: a jax.distributed job, run in this process in
    lockstep. ``policy``: the timing policy (default ``options.policy()``).
    """
    options = options or RunOptions()
    policy = policy or options.policy()
    console = console or Console(stderr=True)
    _env.pin_matmul_precision()
    if options.calibrate and _calibration.current() is None:
        console.print("nnbench: calibrating this machine (nnbench calibrate) ...", markup=False)
        _calibration.save(_calibration.calibrate())
    if resume is None:
        data = _results.new_run(_env.fingerprint(), argv=argv, suite=options.suite)
        data["request"] = options.to_json()
    else:
        data = resume
        data["finished"] = None
        data.setdefault("resumed", []).append({"at": _results.now(), "argv": argv or [], "cases": len(cases)})
    rss = data.setdefault("parent_rss", [])
    rss.append({"start_bytes": current_rss_bytes(), "cases": len(cases)})
    if processes > 1:  # a multi-process job: every process's environment
        data["processes"] = _scaling.allgather_json(data["env"])
    if out is not None:  # None: a non-zero process of a multi-process job writes nothing
        _results.write_atomic(out, data)
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    batches: dict[str, list[Case]] = {}
    for case in cases:
        batches.setdefault(_worker_key(case), []).append(case)
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("starting", total=len(cases))
        for members in batches.values():
            n_groups = len({group_key(c) for c in members})
            what = (
                members[0].group
                if n_groups == 1
                else f"{members[0].layer}/{members[0].size}/{members[0].dtype}: {n_groups} modes"
            )
            progress.update(task, description=_escape.term(f"{what} ({len(members)} cases)"))
            for batch in _run_group(members, options, policy, out, in_process=options.in_process or processes > 1):
                for record in batch:
                    data["records"].append(record)
                    if record["status"] != "ok":
                        # one line: a multi-line error's full text stays in the record
                        first = str(record.get("error")).strip().split("\n", 1)[0]
                        progress.console.print(
                            _escape.term(f"{record['status']} {record['id']}: {first}"),
                            style="red",
                            highlight=False,
                            soft_wrap=True,
                        )
                    progress.advance(task)
                _scaling.annotate(data["records"])
                if out is not None:
                    _results.write_atomic(out, data)
    data["finished"] = _results.now()
    rss[-1]["end_bytes"] = current_rss_bytes()
    if out is not None:
        _results.write_atomic(out, data)
    return data


def _worker_key(case: Case) -> str:
    """Cases that share one worker process: every mode of one layer, size
    and dtype (one import of the libraries, one parity check), each mode
    still timed as its own interleaved group. Sharded cases get a worker
    per group: its virtual device count is the group's."""
    if case.sharded:
        return group_key(case)
    return f"{case.source or ''}|{case.layer}/{case.size}/{case.dtype}"


def missing(cases: Sequence[Case], data: dict[str, Any]) -> list[Case]:
    """The cases that have no record in run ``data`` yet."""
    done = {r["id"] for r in data["records"]}
    return [c for c in cases if c.id not in done]


def _run_group(
    members: Sequence[Case], options: RunOptions, policy: TimingPolicy, out: Path | None, in_process: bool
) -> Iterator[list[dict[str, Any]]]:
    """Yield record batches: the group's, or one per case if the worker died."""
    run_file = str(out) if out is not None else None
    if in_process:
        profiles = str(profile_dir(run_file)) if options.profile and run_file else None
        yield run_groups(members, policy, options.platforms(), profiles)
        return
    # The timing worker runs without the persistent cache: its compile is
    # the cold one (a cache entry written by the parity gate's identical
    # program would otherwise turn it into a cache read).
    task = WorkerTask(run_file=run_file)
    records = run_in_subprocess(members, policy, options, task)
    if len(members) > 1 and any(
        r.get("fault") in ("timeout", "signal", "exit", "oom") and "traceback" not in r for r in records
    ):
        # The worker died: rerun each case alone so only the culprit fails.
        records = []
        for m in members:
            again = run_in_subprocess([m], policy, options, task)
            records += again
            if not options.compile_cache:
                yield again
        if not options.compile_cache:
            return
    if options.compile_cache:
        _add_warm_compile(members, records, options, policy)
    yield records


def _add_warm_compile(
    members: Sequence[Case], records: list[dict[str, Any]], options: RunOptions, policy: TimingPolicy
) -> None:
    """Compile the group twice more over the persistent cache, each time in a
    fresh process: ``compile.cache_fill`` (hit or miss: a miss writes the
    entry) and ``compile.warm`` (the compile a user sees on a rerun)."""
    todo = [(m, r) for m, r in zip(members, records, strict=True) if r["status"] == "ok"]
    if not todo:
        return
    for key in ("cache_fill", "warm"):
        again = run_in_subprocess([m for m, _ in todo], policy, options, WorkerTask(compile_only=True))
        for (_, record), w in zip(todo, again, strict=True):
            record["compile"][key] = w["compile"] if w["status"] == "ok" else {"error": w.get("error")}
