"""Run cases: parity gate, build, measure. A *group* is the cases of one
layer/mode/size/dtype in several styles; its styles are compiled one by one
and then timed interleaved (see ``_timing.run_rounds``).

Groups run in a fresh worker process (``python -m nnbench.run.worker``) so a
crash, a hang or a memory blow-up costs one group, not the run; the runner
then retries that group's cases one process each to find the culprit.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from typing import Any

from nnbench.measure.timing import TimingPolicy, Until, run_rounds
from nnbench.results.case import Case
from nnbench.run.scaling import child_env

DEFAULT_TIMEOUT_S = 600.0
STARTUP_TIMEOUT_S = 300.0  # importing JAX and the layer library, before any case's clock starts


def base_record(case: Case) -> dict[str, Any]:
    return {"id": case.id, "case": case.to_dict(), "status": "failed", "error": None}


def _fail(record: dict[str, Any], exc: BaseException) -> None:
    from nnbench.measure.step import NonFiniteOutput
    from nnbench.run.scaling import GateFailed, Unavailable

    if isinstance(exc, Unavailable):
        record.update(status="skipped", error=str(exc))
    elif isinstance(exc, (NonFiniteOutput, GateFailed)):
        record.update(status="invalid", error=str(exc))
        if hasattr(exc, "info"):
            record["scaling"] = exc.info
    else:
        fault = "oom" if _is_oom(exc) else "exception"
        record.update(status="failed", error=_one_line(exc), fault=fault, traceback=traceback.format_exc(limit=8))


_OOM_TEXT = re.compile(r"RESOURCE_EXHAUSTED|Out of memory|std::bad_alloc|^MemoryError\b", re.M)


def _is_oom(exc: BaseException) -> bool:
    """Memory ran out: a ``MemoryError`` (itself or behind it in the
    exception chain), XLA failing an allocation (``RESOURCE_EXHAUSTED``), or
    a ``MemoryError`` inside the step that XLA re-raised as its own error
    with the inner traceback in its message (a host callback)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, MemoryError) or _OOM_TEXT.search(str(exc)):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _one_line(exc: BaseException) -> str:
    """A record's ``error``: the exception type and the first line of its
    message, plus its last line when there are more (an XLA error that
    wraps a callback's traceback ends with the inner exception); the whole
    text stays in the record's ``traceback``."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    first = lines[0].split("Traceback (most recent call last)")[0].rstrip(" :")  # the traceback is the record's
    text = lines[-1] if not first else first if len(lines) == 1 else f"{first} … {lines[-1]}"
    return f"{type(exc).__name__}: {text}"


def _group_parity(cases: Sequence[Case]) -> dict[str, Any]:
    """One parity report for the styles of a group (the reference is shared).

    A style whose parity check itself raised maps to that exception.
    """

    styles = tuple(c.style for c in cases if c.mode != "init" and c.source is None)
    if not styles:
        return {}
    c = cases[0]
    ident = (c.layer, c.size, c.dtype, styles)
    if ident in _PARITY:  # the forward and train groups of a layer share one worker
        return _PARITY[ident]
    _PARITY[ident] = _parity_by_style(c, styles)
    return _PARITY[ident]


_PARITY: dict[tuple[str, str, str, tuple[str, ...]], dict[str, Any]] = {}


def _step_gate(ready: list[tuple[dict[str, Any], Any, Any]]) -> list[tuple[dict[str, Any], Any, Any]]:
    """Gate the very steps about to be timed: each is called once more and
    what it returns (``Built.result``: a forward step's output, a train
    step's loss after the updates of the calls before) is compared with raw
    JAX's step after as many calls (``layers.parity.step_results``).

    The parity report checks each library's math once; this catches a jit
    mode that steps it wrongly (``nnx_cached``, ``nnx_partial``, ...). The
    ``jax`` case of the group is the reference; without one, the raw-JAX
    step is built and called here. Stochastic train steps are not compared
    (libraries draw different dropout masks by design; their masks are
    gated by ``dropout_properties``). Returns the cases that may be timed;
    a mismatch makes its record ``invalid``. ``record["parity"]["step"]``
    holds the comparison.
    """
    from nnbench import layers
    from nnbench.layers import parity as _parity

    gated = [item for item in ready if item[2] is not None and getattr(item[2], "result", None) is not None and item[0].get("parity")]
    if not gated:
        return ready
    case = Case.from_dict(gated[0][0]["case"])
    entry = layers.get(case.layer)
    if entry.stochastic and case.mode == "train":
        for record, _, _ in gated:
            record["parity"] = dict(record["parity"], step={"ok": None, "message": "not compared: libraries draw different dropout masks (see dropout)"})
        return ready
    results = {}
    for record, p, built in gated:
        p.lane.call()
        results[record["id"]] = jax_host(built.result(p.lane.last_out))
    reference = next((results[r["id"]] for r, _, _ in gated if r["case"]["style"] == "jax"), None)
    if reference is None:
        reference = _reference_result(entry, case, gated[0][1].lane.calls)
    keep = []
    for item in ready:
        record = item[0]
        if record["id"] in results:
            res = _parity.step_results(entry, case.dtype, reference, results[record["id"]])
            res["calls"] = item[1].lane.calls
            record["parity"] = dict(record["parity"], step=res)  # a copy: the report is shared by the layer's groups
            if not res["ok"]:
                record.update(status="invalid", error=f"parity: {case.group}/{record['case']['style']} {res['message']}")
                continue
        keep.append(item)
    return keep


def _reference_result(entry, case: Case, calls: int):
    """``Built.result`` of the raw-JAX step of ``case`` after ``calls`` calls."""
    from nnbench import layers
    from nnbench.measure.timing import fenced_call

    built = layers.build(entry, "jax", case.size, case.mode, case.dtype)
    args, out = built.args, None
    for _ in range(calls):
        out, args, _, _ = fenced_call(built.step, args, built.carry)
    return jax_host(built.result(out))


def jax_host(tree):
    """A pytree of arrays copied to host numpy (outlives donation)."""
    import jax
    import numpy as np

    return jax.tree.map(np.asarray, jax.device_get(tree))


def _parity_by_style(c: Case, styles: tuple[str, ...]) -> dict[str, Any]:
    from nnbench import layers

    try:
        return layers.parity_report(layers.get(c.layer), c.size, c.dtype, styles=styles)
    except Exception:  # noqa: BLE001 - find which style raises
        out: dict[str, Any] = {}
        for style in styles:
            try:
                out.update(layers.parity_report(layers.get(c.layer), c.size, c.dtype, styles=(style,)))
            except Exception as e:  # noqa: BLE001
                out[style] = e
        return out


def enable_compile_cache(path: str) -> None:
    """Use JAX's persistent compilation cache in ``path`` for this process.

    JAX by default only caches programs whose compile took at least
    ``jax_persistent_cache_min_compile_time_secs = 1.0`` s, which leaves
    every small benchmark uncached; nnbench sets it to 0 so every case is.
    """
    import jax

    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def compile_pass(cases: Sequence[Case]) -> list[dict[str, Any]]:
    """Build and compile each case (stage API, JAX caches cleared), untimed
    steps: the warm-compile pass run in a fresh process over a persistent
    cache. Records hold ``compile`` only."""
    from nnbench import layers
    from nnbench.measure import stages as _compile

    records = [base_record(case) for case in cases]
    built = {}
    for i, case in enumerate(cases):  # every build before the first cache clear (see run_group)
        try:
            built[i] = layers.build(layers.get(case.layer), case.style, case.size, case.mode, case.dtype)
        except Exception as e:  # noqa: BLE001
            _fail(records[i], e)
    for i, b in built.items():
        try:
            _, info, _, _ = _compile.compile_stages(b.step, b.args)
            info.pop("hlo_op_histogram", None)
            records[i].update(status="ok", compile=info)
        except Exception as e:  # noqa: BLE001
            _fail(records[i], e)
    return records


def _param_summary(entry, case: Case) -> dict[str, int]:
    """Parameter leaves and scalars of the case's model (shapes only, no compute)."""
    import jax

    from nnbench.layers import styles as _styles

    config = entry.config(case.size)

    def weights():
        k_data, k_init = jax.random.split(jax.random.key(0))
        batch = _styles.batch_for(entry, config, case.dtype, k_data)
        return _styles.canonical_weights(entry, config, case.dtype, k_init, batch["x"])

    leaves = jax.tree_util.tree_leaves(jax.eval_shape(weights)["params"])
    return {"param_leaves": len(leaves), "params": int(sum(leaf.size for leaf in leaves))}


def group_key(case: Case) -> str:
    """The styles of one layer/mode/size/dtype (and device axis) are
    measured together, interleaved."""
    return f"{case.source or ''}|{case.group}"


def run_groups(
    cases: Sequence[Case],
    policy: TimingPolicy | None = None,
    lower_for: Sequence[str] = (),
    profile_dir: str | None = None,
    until: Until | None = None,
) -> list[dict[str, Any]]:
    """``run_group`` for each group in ``cases`` (in order), one after the other."""
    groups: dict[str, list[Case]] = {}
    for case in cases:
        groups.setdefault(group_key(case), []).append(case)
    return [r for members in groups.values() for r in run_group(members, policy, lower_for, profile_dir, until)]


def run_group(
    cases: Sequence[Case],
    policy: TimingPolicy | None = None,
    lower_for: Sequence[str] = (),
    profile_dir: str | None = None,
    until: Until | None = None,
) -> list[dict[str, Any]]:
    """Measure ``cases`` in this process; never raises for a case's fault.

    ``lower_for``: platforms (``tpu``, ``gpu``, ...) to also lower each case
    for, recorded under ``lower_for``. With ``profile_dir``, each ok case is
    then profiled in a separate pass (``_profile.profile_records``), after
    its timing. ``until``: who ends sampling, round by round (see
    ``_timing.run_rounds``; default: the policy).
    """
    from nnbench import layers
    from nnbench.measure import env as _env
    from nnbench.measure import stages as _compile
    from nnbench.measure import step as _measure
    from nnbench.run import scaling as _scaling

    _env.pin_matmul_precision()
    policy = policy or TimingPolicy()
    records = [base_record(c) for c in cases]
    ready: list[tuple[dict[str, Any], _measure.Prepared, Any]] = []
    t0 = time.perf_counter()
    parity = _group_parity(cases)
    # Phase 1: build every case (weights, batches, gates: eager JAX work).
    # Phase 2: prepare each (caches cleared for a cold trace, compile, first
    # call). Building first matters: each prepare clears JAX's caches, and
    # eager ops (random init, batch makers) run after a clear recompile —
    # interleaving builds with prepares cost ~40 s of XLA compiles per group.
    built_cases: list[tuple[dict[str, Any], Any, Any, float | None, int | None]] = []
    for case, record in zip(cases, records, strict=True):
        try:
            if case.source is not None:
                step, args, carry, uc = _user_step(case, record)
                built_cases.append((record, (step, args, carry), None, uc.model_flops, uc.items_per_step))
                continue
            entry = layers.get(case.layer)
            config = entry.config(case.size)
            if case.mode == "init":
                record["parity"] = None  # styles initialise differently by design
            else:
                result = parity[case.style]
                if isinstance(result, BaseException):
                    raise result
                record["parity"] = result
                if not result["ok"]:
                    record.update(status="invalid", error=f"parity: {result['message']}")
                    continue
            record["model"] = _param_summary(entry, case)
            if case.sharded:  # laid out on a mesh, gated against one device
                built, model_flops, items, record["scaling"] = _scaling.build(case)
            else:
                built = layers.build(entry, case.style, case.size, case.mode, case.dtype)
                model_flops, items = entry.flops(config, case.mode), entry.items(config)
            if lower_for:
                record["lower_for"] = _compile.lower_for(built.step, built.args, tuple(lower_for))
            record["donated"] = built.donated
            built_cases.append((record, (built.step, built.args, built.carry), built, model_flops, items))
        except Exception as e:  # noqa: BLE001 - a failing case is data, not a crash
            _fail(record, e)
    for record, (step, args, carry), built, model_flops, items in built_cases:
        try:
            _measure.reset_peak_rss()  # this case's own peak from here
            prepared = _measure.prepare(
                step, args, carry, model_flops=model_flops, items_per_step=items, dtype=record["case"]["dtype"], rss_before=_measure.current_rss_bytes()
            )
            ready.append((record, prepared, built))
        except Exception as e:  # noqa: BLE001
            _fail(record, e)
    if ready:
        try:
            _measure.reprime([p for _, p, _ in ready])
            ready = _step_gate(ready)
            stop = run_rounds([p.lane for _, p, _ in ready], policy, until) if ready else None
        except Exception as e:  # noqa: BLE001
            for record, _, _ in ready:
                _fail(record, e)
        else:
            for record, p, _ in ready:
                try:
                    record.update(_measure.finish(p, stop, policy), error=None)
                    record["interleaved_with"] = len(ready)
                    if "scaling" in record:
                        _scaling.finish_record(record)
                except Exception as e:  # noqa: BLE001
                    _fail(record, e)
    if profile_dir is not None and ready:
        from nnbench.profile.capture import profile_records

        profile_records([(r, p.lane) for r, p, _ in ready], profile_dir)
    wall = time.perf_counter() - t0
    for record in records:
        record["group_wall_s"] = wall
    return records


def _user_step(case: Case, record: dict[str, Any]):
    """A user's case built: ``(step, args, carry, UserCase)`` (no parity:
    there is no reference)."""
    from nnbench.run import usercases as _usercases

    record["parity"] = None
    return _usercases.built(case)


def run_in_subprocess(
    cases: Sequence[Case], policy: TimingPolicy, timeout_s: float = DEFAULT_TIMEOUT_S, options: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Run ``cases`` as one group in a fresh worker process.

    ``options``: ``memory_limit`` (bytes the worker may grow its address
    space by past its imports, ``RLIMIT_AS``), ``profile_dir`` (profile each
    ok case after timing), ``compile_cache`` (directory of JAX's persistent
    cache), ``lower_for`` (platform names), ``compile_only`` (the
    warm-compile pass: ``compile_pass`` instead of ``run_group``). The worker
    runs with GPU preallocation disabled so device memory statistics are per
    use, and gets ``timeout_s`` per case.

    A worker that dies or outlives its time gives failed records naming the
    fault: ``fault`` is ``timeout``, ``signal`` (with ``signal``: its name),
    ``oom`` (out of memory under the limit) or ``exit``. The worker runs in
    its own session; on any exception here (``KeyboardInterrupt`` included)
    its whole process group is killed.
    """
    # The request and the records pass through unlinked temp files handed to
    # the worker as file descriptors: a runner killed by SIGKILL leaves
    # nothing in the temp directory (its worker dies with it).
    with tempfile.TemporaryFile("w+") as request, tempfile.TemporaryFile("w+") as out:
        proc = _spawn_fds(cases, policy, options or {}, request, out)
        limit = timeout_s * len(cases)
        t0 = time.perf_counter()
        try:
            # The per-case clock starts once the worker has imported JAX.
            phase = "start" if _Lines(proc).wait_for("", STARTUP_TIMEOUT_S) is None else "run"
            _, stderr = proc.communicate(timeout=limit if phase == "run" else 0.01)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.communicate()
            return _faulted(cases, _timeout_message(phase, timeout_s, len(cases)), "timeout", time.perf_counter() - t0)
        except BaseException:
            _kill_group(proc)
            proc.wait()
            raise
        records = None
        if proc.returncode == 0:
            out.seek(0)
            text = out.read()
            records = json.loads(text) if text else None
        return _outcome(proc, stderr, records, cases, (options or {}).get("memory_limit"), t0)


def _spawn_fds(cases: Sequence[Case], policy: TimingPolicy, options: dict[str, Any], request, out) -> subprocess.Popen:
    """Start ``python -m nnbench.run.worker --fd N`` in its own session: its
    request read from open file ``request`` (descriptor N), its records
    written to open file ``out`` (``out_fd`` in the request)."""
    json.dump({**_request(cases, policy, options), "out": None, "out_fd": out.fileno()}, request)
    request.flush()
    request.seek(0)  # the worker reads through the same open file, from here
    fds = (request.fileno(), out.fileno())
    return subprocess.Popen(
        [sys.executable, "-m", "nnbench.run.worker", "--fd", str(request.fileno())],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=_worker_env(cases),
        pass_fds=fds,
    )


def _request(cases: Sequence[Case], policy: TimingPolicy, options: dict[str, Any]) -> dict[str, Any]:
    return {"cases": [c.to_dict() for c in cases], "policy": policy.__dict__, "options": options, "parent": os.getpid()}


def _worker_env(cases: Sequence[Case], path: str | None = None) -> dict[str, str]:
    env = {**(child_env(cases) or os.environ), "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}  # virtual CPU devices for sharded cases
    if path is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (path, env.get("PYTHONPATH")) if p)
    return env


def _spawn(
    cases: Sequence[Case], policy: TimingPolicy, options: dict[str, Any], tmp: str, python: str | None = None, path: str | None = None
) -> tuple[subprocess.Popen, str]:
    """Write the request into ``tmp`` and start ``python -m nnbench.run.worker``
    on it in its own session: ``(process, path of its records file)``.

    ``python``: the interpreter (default: this one). ``path``: a checkout
    directory, the worker's working directory and first on its
    ``PYTHONPATH``, so its ``nnbench``, ``layers`` and user modules are the
    ones imported. A stepped worker (``options["stepped"]``) reads its
    commands from stdin and writes stderr to ``tmp/stderr``.
    """
    out_path = os.path.join(tmp, "records.json")
    request = {**_request(cases, policy, options), "out": out_path}
    request_path = os.path.join(tmp, "request.json")
    with open(request_path, "w") as f:
        json.dump(request, f)
    env = _worker_env(cases, path)
    stepped = bool(options.get("stepped"))
    err = open(os.path.join(tmp, "stderr"), "w") if stepped else subprocess.PIPE  # noqa: SIM115 - closed once the child has it
    try:
        proc = subprocess.Popen(
            [python or sys.executable, "-m", "nnbench.run.worker", request_path],
            stdin=subprocess.PIPE if stepped else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            start_new_session=True,
            env=env,
            cwd=path,
        )
    finally:
        if stepped:
            err.close()
    return proc, out_path


def _timeout_message(phase: str, timeout_s: float, n: int) -> str:
    if phase == "start":
        return f"timeout: the worker did not start within {STARTUP_TIMEOUT_S:g} s"
    return f"timeout: no result after {timeout_s * n:g} s ({timeout_s:g} s per case)"


def _outcome(proc: subprocess.Popen, stderr: str | None, records: list[dict[str, Any]] | None, cases: Sequence[Case], memory_limit: int | None, t0: float) -> list[dict[str, Any]]:
    """The records of a worker that has exited: its own (``records``, read
    by the caller when it exited 0), or failed ones naming how it died."""
    if proc.returncode == 0 and records is not None:
        return records
    lines = [line for line in (stderr or "").strip().splitlines() if line.strip()]
    tail = lines[-1].strip() if lines else ""
    oom_seen = any(m in (stderr or "") for m in ("MemoryError", "bad_alloc", "RESOURCE_EXHAUSTED", "Out of memory"))
    extra: dict[str, Any] = {}
    if proc.returncode < 0:
        name = signal.Signals(-proc.returncode).name
        msg, fault = f"worker killed by {name}", "signal"
        extra["signal"] = name
    else:
        msg, fault = f"worker exited with status {proc.returncode}", "exit"
    if oom_seen and memory_limit is not None:
        msg, fault = f"out of memory under --memory-limit {memory_limit} bytes ({msg})", "oom"
    return _faulted(cases, f"{msg}: {tail}" if tail else msg, fault, time.perf_counter() - t0, **extra)


class _Lines:
    """A worker's stdout, line by line, never blocking past a deadline."""

    def __init__(self, proc: subprocess.Popen):
        self.fd = proc.stdout.fileno()
        self.buf = b""

    def wait_for(self, prefix: str, timeout_s: float) -> bool | None:
        """Skip lines until one starts with ``prefix``: True; False if stdout
        closed first (the worker exited); None if ``timeout_s`` passed."""
        import select

        deadline = time.monotonic() + timeout_s
        want = prefix.encode()
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                if line.startswith(want):
                    return True
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if select.select([self.fd], [], [], left)[0]:
                chunk = os.read(self.fd, 4096)
                if not chunk:
                    return False
                self.buf += chunk


class SteppedWorker:
    """One side of ``nnbench ab``: a worker that prepares its group as
    ``run_group`` does (parity, build, compile, warm-up), says ``sampling``,
    then runs one round of its lanes per ``step()``; ``finish()`` stops it
    and returns its records. Faults (death, timeouts) become failed records
    as in ``run_in_subprocess``. Use as a context manager: leaving it kills
    the worker's process group if it still runs.
    """

    def __init__(self, cases: Sequence[Case], policy: TimingPolicy, timeout_s: float, options: dict[str, Any], python: str | None = None, path: str | None = None):
        self.cases, self.timeout_s, self.memory_limit = list(cases), timeout_s, options.get("memory_limit")
        self._tmp = tempfile.TemporaryDirectory(prefix="nnbench-ab-")
        self.env_path = os.path.join(self._tmp.name, "env.json")
        self.proc, self.out_path = _spawn(cases, policy, {**options, "stepped": True, "env_out": self.env_path}, self._tmp.name, python, path)
        self.lines = _Lines(self.proc)
        self.t0 = time.perf_counter()
        self.fault: str | None = None  # a timeout message, once one happened
        self.sampling = False

    def __enter__(self) -> SteppedWorker:
        return self

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            _kill_group(self.proc)
            self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
            except OSError:  # a broken pipe's flush
                pass
        self._tmp.cleanup()

    def wait_sampling(self) -> bool:
        """Wait until the worker is ready to sample: True; False when it
        ended first (nothing to time, or it died; ``finish`` tells)."""
        started = self.lines.wait_for("ready", STARTUP_TIMEOUT_S)
        got = self.lines.wait_for("sampling", self.timeout_s * len(self.cases)) if started else started
        if got is None:
            self._timed_out("start" if started is None else "run")
        self.sampling = bool(got)
        return self.sampling

    def step(self) -> bool:
        """One round of every lane: True when done, False when the worker ended."""
        if not self.sampling:
            return False
        try:
            self.proc.stdin.write("round\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self.sampling = False
            return False
        got = self.lines.wait_for("done", self.timeout_s)
        if got is None:
            self._timed_out("run")
        self.sampling = bool(got)
        return self.sampling

    def finish(self) -> list[dict[str, Any]]:
        """Stop sampling, let the worker write its records, return them."""
        if self.fault is None:
            try:
                self.proc.stdin.write("stop\n")
                self.proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass
            try:
                self.proc.wait(timeout=self.timeout_s * len(self.cases))
            except subprocess.TimeoutExpired:
                self._timed_out("run")
        if self.fault is not None:
            return _faulted(self.cases, self.fault, "timeout", time.perf_counter() - self.t0)
        with open(os.path.join(self._tmp.name, "stderr")) as f:
            stderr = f.read()
        records = None
        if self.proc.returncode == 0 and os.path.exists(self.out_path):
            with open(self.out_path) as f:
                records = json.load(f)
        return _outcome(self.proc, stderr, records, self.cases, self.memory_limit, self.t0)

    def env(self) -> dict[str, Any] | None:
        """The worker's environment fingerprint (once it finished), if it wrote one."""
        try:
            with open(self.env_path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def _timed_out(self, phase: str) -> None:
        _kill_group(self.proc)
        self.proc.wait()
        self.sampling = False
        self.fault = _timeout_message(phase, self.timeout_s, len(self.cases))


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # JAX catches SIGTERM
    except ProcessLookupError:
        pass


def _faulted(cases: Sequence[Case], error: str, fault: str, wall: float, **extra: Any) -> list[dict[str, Any]]:
    records = []
    for case in cases:
        rec = base_record(case)
        rec.update(error=error, fault=fault, group_wall_s=wall, **extra)
        records.append(rec)
    return records


def _main() -> int:
    from nnbench import layers
    from nnbench.measure.step import peak_rss_bytes

    _die_with_parent()
    if sys.argv[1] == "--fd":  # a request file handed over open (``_spawn_fds``)
        with os.fdopen(int(sys.argv[2])) as f:
            request = json.load(f)
    else:
        with open(sys.argv[1]) as f:
            request = json.load(f)
    if os.getppid() != request.get("parent", os.getppid()):
        return 1  # the runner died before the death signal was set
    cases = [Case.from_dict(c) for c in request["cases"]]
    options = request.get("options") or {}
    from nnbench.measure import env as _env

    _env.pin_matmul_precision()  # the compile-only pass must build the same programs
    if options.get("compile_cache"):
        enable_compile_cache(options["compile_cache"])
    if any(c.source is None for c in cases):
        layers.all_entries()  # import every style's library before the baseline
    import jax.numpy as jnp

    jnp.zeros(1).block_until_ready()  # start the backend (its threads) before any limit
    baseline = peak_rss_bytes()
    if options.get("memory_limit"):
        _limit_address_space(int(options["memory_limit"]))
    print("ready", flush=True)
    if options.get("compile_only"):
        records = compile_pass(cases)
    else:
        until = _stdin_rounds if options.get("stepped") else None
        records = run_groups(cases, TimingPolicy(**request["policy"]), options.get("lower_for") or (), options.get("profile_dir"), until)
    for record in records:
        record.setdefault("memory", {})["worker_baseline_rss_bytes"] = baseline
    if options.get("env_out"):
        with open(options["env_out"], "w") as f:
            json.dump(_env.fingerprint(), f)
    if request.get("out_fd") is not None:  # read by the runner only after this process exits 0
        with os.fdopen(int(request["out_fd"]), "w") as f:
            json.dump(records, f)
        return 0
    tmp = request["out"] + ".tmp"
    with open(tmp, "w") as f:
        json.dump(records, f)
    os.replace(tmp, request["out"])
    return 0


def _stdin_rounds(rounds: int) -> str | None:
    """A stepped worker's stop rule (``nnbench ab``): say where it stands
    (``sampling`` after warm-up, ``done N`` after round N), then run one more
    round on a ``round`` line; ``stop`` or end of input stops sampling."""
    print("sampling" if rounds == 0 else f"done {rounds}", flush=True)
    return None if sys.stdin.readline().strip() == "round" else "rounds"


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this worker when the runner dies (even by SIGKILL)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return


def _limit_address_space(extra_bytes: int) -> None:
    """Cap this process's address space at its current size plus ``extra_bytes``."""
    import resource

    with open("/proc/self/statm") as f:
        current = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    cap = current + extra_bytes if hard == resource.RLIM_INFINITY else min(current + extra_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


if __name__ == "__main__":
    sys.exit(_main())
