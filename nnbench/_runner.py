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
    profile: bool = False  # profile each ok case into <run file>.profile/


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
            profile_dir = str(out.with_suffix(".profile")) if options.profile else None
            for record in _run_group(members, options, profile_dir):
                data["records"].append(record)
                if record["status"] != "ok":
                    progress.console.print(f"[red]{record['status']}[/red] {record['id']}: {record.get('error')}", highlight=False)
                progress.advance(task)
            _results.write_atomic(out, data)
    data["finished"] = _results.now()
    _results.write_atomic(out, data)
    return data


def _run_group(members: Sequence[Case], options: RunOptions, profile_dir: str | None = None) -> list[dict[str, Any]]:
    if options.in_process:
        return run_group(members, options.policy, profile_dir)
    records = run_in_subprocess(members, options.policy, options.timeout_s, profile_dir)
    if len(members) > 1 and any(r.get("fault") in ("timeout", "signal", "exit") for r in records):
        # The worker died: rerun each case alone so only the culprit fails.
        records = [run_in_subprocess([m], options.policy, options.timeout_s, profile_dir)[0] for m in members]
    return records
