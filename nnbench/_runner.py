"""Run a list of cases, writing the run file after every finished case."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from nnbench import _env, _results
from nnbench._cases import Case
from nnbench._timing import TimingPolicy
from nnbench._worker import DEFAULT_TIMEOUT_S, run_group, run_in_subprocess


@dataclasses.dataclass(frozen=True)
class RunOptions:
    policy: TimingPolicy = TimingPolicy()
    in_process: bool = False
    timeout_s: float = DEFAULT_TIMEOUT_S


def run(
    cases: Sequence[Case],
    out: Path,
    options: RunOptions = RunOptions(),
    argv: list[str] | None = None,
    suite: str | None = None,
    console: Console | None = None,
) -> dict[str, Any]:
    """Measure every case; ``out`` must already be claimed (see
    ``_results.create_exclusive``). Returns the finished run dict."""
    console = console or Console(stderr=True)
    _env.pin_matmul_precision()
    data = _results.new_run(_env.fingerprint(), argv=argv, suite=suite)
    _results.write_atomic(out, data)
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    groups: dict[str, list[Case]] = {}
    for case in cases:
        groups.setdefault(case.group, []).append(case)
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("starting", total=len(cases))
        for group, members in groups.items():
            progress.update(task, description=f"{group} ({len(members)} styles)")
            for record in _run_group(members, options):
                data["records"].append(record)
                if record["status"] != "ok":
                    progress.console.print(f"[red]{record['status']}[/red] {record['id']}: {record.get('error')}", highlight=False)
                progress.advance(task)
            _results.write_atomic(out, data)
    data["finished"] = _results.now()
    _results.write_atomic(out, data)
    return data


def _run_group(members: Sequence[Case], options: RunOptions) -> list[dict[str, Any]]:
    if options.in_process:
        return run_group(members, options.policy)
    records = run_in_subprocess(members, options.policy, options.timeout_s)
    if len(members) > 1 and any(r.get("fault") in ("timeout", "signal", "exit") for r in records):
        # The worker died: rerun each case alone so only the culprit fails.
        records = [run_in_subprocess([m], options.policy, options.timeout_s)[0] for m in members]
    return records
