"""``nnbench run``: measure the selected cases, write a run file and a report.

The command line becomes one ``RunOptions`` (``nnbench.run.options``),
stored whole in the run file as its ``request``; ``--resume`` reads it back
whole, checks it as the command line is checked, and runs what is missing.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import signal
import sys
from pathlib import Path

from nnbench.cli.common import (
    EXIT_FOUND,
    EXIT_OK,
    FILTERS,
    BadInput,
    Parser,
    add_filters,
    add_shard,
    add_worker_limits,
    is_distributed,
    positive,
    refuse_empty,
    render_check,
    select,
)
from nnbench.cli.output import make_dir, resolve_out
from nnbench.run.options import ADDED_LATER, OptionsError, RunOptions, profile_dir

NAME = "run"
HELP = "measure the selected cases, write a run file and a report"

_D = RunOptions()  # the defaults, stated once


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_filters(p)
    p.add_argument(
        "--out", default="results", help="run file (*.json, must not exist) or directory (default: results/)"
    )
    p.add_argument(
        "--cases",
        metavar="MODULE:ATTR",
        help="run a user's list of nnbench.UserCase (mypkg.bench:CASES or bench.py:CASES)",
    )
    p.add_argument(
        "--resume",
        metavar="RUNFILE",
        help="complete the cases missing from an interrupted run file, with its selection and options",
    )
    add_shard(p)
    p.add_argument("--in-process", action="store_true", help="run cases in this process (debugging; no isolation)")
    add_worker_limits(p)
    p.add_argument(
        "--budget",
        type=positive(float, 86400),
        default=_D.budget,
        help="timing budget per case in seconds (default 1; the ci suite 0.25, the compile suite 0.05)",
    )
    p.add_argument(
        "--target-ci",
        type=positive(float, 1.0),
        default=_D.target_ci,
        help=f"stop once the median's 95%% CI is this narrow, relative (default {_D.target_ci:g})",
    )
    p.add_argument(
        "--min-samples",
        type=positive(int, 10**7),
        default=_D.min_samples,
        help=f"timed calls at least (default {_D.min_samples})",
    )
    p.add_argument(
        "--max-samples",
        type=positive(int, 10**7),
        default=_D.max_samples,
        help="timed calls at most per case (default 10000; the ci suite 2000)",
    )
    p.add_argument(
        "--settle",
        type=positive(float, 3600, zero=True),
        default=_D.settle,
        metavar="S",
        help=(
            "untimed calls, every case of a worker in turn, for S seconds after the last compile before warm-up "
            f"(default {_D.settle:g})"
        ),
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="after timing, capture an XLA profile of each ok case into <run file>.profile/",
    )
    p.add_argument(
        "--compile-cache",
        metavar="DIR",
        help="use JAX's persistent compilation cache in DIR and record cold vs warm compile (default: off)",
    )
    p.add_argument(
        "--lower-for",
        metavar="PLATFORMS",
        help="also lower each case for these platforms (tpu,gpu,rocm,cpu): lowering time, StableHLO op count",
    )
    p.add_argument(
        "--calibrate",
        action="store_true",
        help="first measure this machine's peaks if none are stored (nnbench calibrate; about 30 s): MFU and roofline",
    )
    g = p.add_argument_group(
        "multi-process (jax.distributed; implies --in-process; unset values are auto-detected where JAX can)"
    )
    g.add_argument("--coordinator", metavar="HOST:PORT", help="address of process 0's coordinator")
    g.add_argument("--num-processes", type=positive(int), metavar="N")
    g.add_argument(
        "--process-id", type=int, metavar="I", help="this process's id, 0..N-1 (process 0 writes the run file)"
    )
    g.add_argument("--distributed", action="store_true", help="call jax.distributed.initialize() with auto-detection")


def command(args) -> int:
    from rich.console import Console

    from nnbench.report import run as _report
    from nnbench.results import runfile as _results
    from nnbench.run import runner as _runner
    from nnbench.run import scaling as _scaling

    resume = None
    if args.resume:
        out, resume, options = _resume(args)
    else:
        options = RunOptions.from_args(args)
    if options.cases and options.cases.rpartition(":")[0].endswith(".py"):
        module, _, attr = options.cases.rpartition(":")
        options = options.replace(cases=f"{os.path.abspath(module)}:{attr}")  # resumable from anywhere
    distributed = resume is None and is_distributed(args)  # a resumed run's request has no jax.distributed job
    cases = select(options, distributed)
    if options.sample_cap() < options.min_samples:
        raise BadInput(f"--max-samples {options.sample_cap()} is below --min-samples {options.min_samples}")
    try:
        options.platforms()
    except OptionsError as e:
        raise BadInput(str(e)) from None
    options = options.replace(compile_cache=_compile_cache(options.compile_cache))
    processes, policy = 1, None
    if distributed:
        processes, policy = _start_distributed(args, cases), _scaling.lockstep_policy(options.min_samples)
    elif options.in_process:
        _scaling.use_cpu_devices(_scaling.max_devices(cases))
    err = Console(stderr=True, highlight=False)
    if resume is not None:
        lock = hold_lock(out)
        cases = _runner.missing(cases, resume)
        err.print(
            f"nnbench: resuming {out}: {len(resume['records'])} cases kept, {len(cases)} to run",
            markup=False,
            soft_wrap=True,
        )
    else:
        out = resolve_out(args.out) if _scaling.process_index() == 0 else None
        lock = None
        err.print(f"nnbench: {len(cases)} cases -> {out or 'process 0'}", markup=False, soft_wrap=True)
    if options.compile_cache and (options.in_process or processes > 1):
        from nnbench.measure.stages import enable_compile_cache

        enable_compile_cache(options.compile_cache)
    console = Console()
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        data = _runner.run(
            cases, out, options, argv=sys.argv, console=err, resume=resume, processes=processes, policy=policy
        )
    except KeyboardInterrupt as e:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the message short
        try:
            kept = len(_results.read_run(out)["records"]) if out is not None else 0
        except _results.RunFileError:
            kept = 0
        how = "terminated (SIGTERM)" if isinstance(e, _Terminated) else "interrupted"
        where = (
            f"{kept} finished cases are kept in {out}; resume with: nnbench run --resume {out}"
            if out is not None
            else "process 0 keeps the run file"
        )
        err.print(f"nnbench: {how}; {where}", markup=False, soft_wrap=True)
        return 128 + signal.SIGTERM if isinstance(e, _Terminated) else 130
    finally:
        signal.signal(signal.SIGTERM, previous)
        if lock is not None:
            lock.close()
    _report.print_run(data, console)
    if out is not None:
        written = _report.write_markdown(out.with_suffix(".md"), [(out.name, data)], overwrite=resume is not None)
        console.print(f"run file: {out}\nreport:   {', '.join(str(p) for p in written)}", highlight=False, markup=False)
        if options.profile:
            from nnbench.profile import capture as _profile

            console.print(
                f"profiles: {profile_dir(out)}\nview:     {_profile.view_commands(profile_dir(out))[0]}",
                highlight=False,
                soft_wrap=True,
            )
    bad = [r for r in data["records"] if r["status"] != "ok"]
    return EXIT_FOUND if bad else EXIT_OK


def _resume(args) -> tuple[Path, dict, RunOptions]:
    """Read ``--resume RUNFILE``: its path, its run dict, and the options it recorded."""
    from nnbench.results import runfile as _results

    clash = [f"--{f.replace('_', '-')}" for f in (*FILTERS, "cases") if getattr(args, f)]
    if args.out != "results":
        clash.append("--out")
    if clash:
        raise BadInput(f"--resume takes the selection and output from the run file; drop {', '.join(clash)}")
    path = Path(args.resume)
    try:
        data = _results.read_run(path)
    except _results.RunFileError as e:
        raise BadInput(str(e)) from None
    request = data.get("request")
    fields = [f.name for f in dataclasses.fields(RunOptions)]
    if not isinstance(request, dict) or not all(k in request for k in fields if k not in ADDED_LATER):
        raise BadInput(f"{path}: records no request to resume (written by an older nnbench, or by hand)")
    try:
        recorded = RunOptions.from_json(request)
    except OptionsError as e:
        raise BadInput(f"{path}: its recorded request has {e}") from None
    options = _checked(path, recorded)
    render_check(str(path), data)  # the report written at the end must render: known before any case runs
    if not os.access(path.parent, os.W_OK | os.X_OK) or not os.access(path, os.W_OK):
        raise BadInput(f"{path}: not writable; cannot resume it")
    return path, data, options


def _checked(path: Path, options: RunOptions) -> RunOptions:
    """Recorded options, checked by the same parser as the command line
    (``--resume`` must refuse a hand-edited budget of -1 or a layer list
    that names no layer before it writes anything)."""
    argv = []
    for key, value in options.to_json().items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif isinstance(value, list):
            argv += [f"{flag}={v}" for v in value]
        elif value is not None and value is not False:
            argv.append(f"{flag}={value}")
    parser = Parser(prog="nnbench run")
    add_arguments(parser)
    refuse_empty(parser)
    try:
        return RunOptions.from_args(parser.parse_args(argv))
    except BadInput as e:
        raise BadInput(f"{path}: its recorded request is not valid ({e})") from None


def _compile_cache(text: str | None) -> str | None:
    """The persistent-cache directory, created if missing; checked writable."""
    if text is None:
        return None
    path = Path(text)
    make_dir(path, f"--compile-cache {text}")
    if not os.access(path, os.W_OK):
        raise BadInput(f"--compile-cache {text}: directory is not writable")
    return str(path.resolve())


class _Lock:
    """An exclusive ``flock`` on a resumed run file's sidecar ``.<name>.lock``
    (the kernel releases it when the process dies, even by SIGKILL);
    ``close`` removes the sidecar, so a finished resume leaves no file."""

    def __init__(self, path: Path):
        import fcntl

        self.path = path.parent / f".{path.name}.lock"
        try:
            self.file = open(self.path, "a")  # noqa: SIM115 - held until the run ends
        except OSError as e:
            raise BadInput(f"{path}: cannot lock for resuming ({e.strerror})") from None
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # A holder that finished unlinks the sidecar after we opened it: then our lock guards nothing.
            if os.fstat(self.file.fileno()).st_ino != os.stat(self.path).st_ino:
                raise OSError
        except OSError:
            self.file.close()
            raise BadInput(f"{path}: another nnbench is writing this run file") from None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.path)  # while still holding the lock
        self.file.close()


def hold_lock(path: Path) -> _Lock:
    """Hold the resume lock of run file ``path``; BadInput when another nnbench holds it."""
    return _Lock(path)


class _Terminated(KeyboardInterrupt):
    """SIGTERM during a run: stopped like Ctrl-C (workers killed, finished cases kept, the resume hint printed)."""


def _on_sigterm(signum, frame):
    raise _Terminated


def _start_distributed(args, cases) -> int:
    """Join the jax.distributed job; the number of processes in it."""
    from nnbench.run import scaling as _scaling

    if args.num_processes is not None and args.process_id is not None and not 0 <= args.process_id < args.num_processes:
        raise BadInput(f"--process-id {args.process_id}: must be in 0..{args.num_processes - 1}")
    n = _scaling.max_devices(cases) or 1
    local = n // args.num_processes if args.num_processes and n % args.num_processes == 0 else None
    try:
        _scaling.init_distributed(args.coordinator, args.num_processes, args.process_id, local)
    except (ValueError, RuntimeError) as e:
        raise BadInput(
            f"jax.distributed.initialize: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
        ) from None
    return _scaling.process_count()
