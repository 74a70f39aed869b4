"""Run cases: parity gate, build, measure. A *group* is the cases of one
layer/mode/size/dtype in several styles; its styles are compiled one by one
and then timed interleaved (see ``_timing.run_rounds``).

Groups run in a fresh worker process (``python -m nnbench._worker``) so a
crash, a hang or a memory blow-up costs one group, not the run; the runner
then retries that group's cases one process each to find the culprit.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from typing import Any

from nnbench._cases import Case
from nnbench._timing import TimingPolicy, run_rounds

DEFAULT_TIMEOUT_S = 600.0


def base_record(case: Case) -> dict[str, Any]:
    return {"id": case.id, "case": case.to_dict(), "status": "failed", "error": None}


def _fail(record: dict[str, Any], exc: BaseException) -> None:
    from nnbench._measure import NonFiniteOutput

    if isinstance(exc, NonFiniteOutput):
        record.update(status="invalid", error=str(exc))
    else:
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}", fault="exception", traceback=traceback.format_exc(limit=8))


def _group_parity(cases: Sequence[Case]) -> dict[str, Any]:
    """One parity report for the styles of a group (the reference is shared).

    A style whose parity check itself raised maps to that exception.
    """
    import layers

    styles = tuple(c.style for c in cases if c.mode != "init")
    if not styles:
        return {}
    c = cases[0]
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


def run_group(cases: Sequence[Case], policy: TimingPolicy | None = None) -> list[dict[str, Any]]:
    """Measure ``cases`` in this process; never raises for a case's fault."""
    import layers
    from nnbench import _env, _measure

    _env.pin_matmul_precision()
    policy = policy or TimingPolicy()
    records = [base_record(c) for c in cases]
    ready: list[tuple[dict[str, Any], _measure.Prepared, Any]] = []
    t0 = time.perf_counter()
    parity = _group_parity(cases)
    for case, record in zip(cases, records):
        try:
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
            rss_before = _measure.current_rss_bytes()
            built = layers.build(entry, case.style, case.size, case.mode, case.dtype)
            prepared = _measure.prepare(
                built.step,
                built.args,
                built.carry,
                model_flops=entry.flops(config, case.mode),
                items_per_step=entry.items(config),
                dtype=case.dtype,
                rss_before=rss_before,
            )
            record["donated"] = built.donated
            ready.append((record, prepared, built))
        except Exception as e:  # noqa: BLE001 - a failing case is data, not a crash
            _fail(record, e)
    if ready:
        try:
            _measure.reprime([p for _, p, _ in ready])
            stop = run_rounds([p.lane for _, p, _ in ready], policy)
        except Exception as e:  # noqa: BLE001
            for record, _, _ in ready:
                _fail(record, e)
        else:
            for record, p, _ in ready:
                try:
                    record.update(_measure.finish(p, stop, policy), error=None)
                    record["interleaved_with"] = len(ready)
                except Exception as e:  # noqa: BLE001
                    _fail(record, e)
    wall = time.perf_counter() - t0
    for record in records:
        record["group_wall_s"] = wall
    return records


def run_in_subprocess(cases: Sequence[Case], policy: TimingPolicy, timeout_s: float = DEFAULT_TIMEOUT_S) -> list[dict[str, Any]]:
    """Run ``cases`` as one group in a fresh worker process.

    A worker that dies (signal, non-zero exit) or outlives ``timeout_s`` gives
    failed records naming the fault: ``fault`` is ``timeout``, ``signal`` or
    ``exit``.
    """
    with tempfile.TemporaryDirectory(prefix="nnbench-") as tmp:
        out_path = os.path.join(tmp, "records.json")
        request = {"cases": [c.to_dict() for c in cases], "policy": policy.__dict__, "out": out_path}
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "nnbench._worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            _, stderr = proc.communicate(json.dumps(request), timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return _faulted(cases, f"timeout: no result after {timeout_s:g} s", "timeout", time.perf_counter() - t0)
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        if proc.returncode == 0 and os.path.exists(out_path):
            with open(out_path) as f:
                return json.load(f)
        tail = next((line for line in reversed((stderr or "").strip().splitlines()) if line.strip()), "")
        if proc.returncode < 0:
            msg, fault = f"worker killed by {signal.Signals(-proc.returncode).name}", "signal"
        else:
            msg, fault = f"worker exited with status {proc.returncode}", "exit"
        return _faulted(cases, f"{msg}: {tail}" if tail else msg, fault, time.perf_counter() - t0)


def _faulted(cases: Sequence[Case], error: str, fault: str, wall: float) -> list[dict[str, Any]]:
    records = []
    for case in cases:
        rec = base_record(case)
        rec.update(error=error, fault=fault, group_wall_s=wall)
        records.append(rec)
    return records


def _main() -> int:
    import layers
    from nnbench._measure import peak_rss_bytes

    request = json.loads(sys.stdin.read())
    layers.all_entries()  # import every style's library before the baseline
    baseline = peak_rss_bytes()
    records = run_group([Case.from_dict(c) for c in request["cases"]], TimingPolicy(**request["policy"]))
    for record in records:
        record.setdefault("memory", {})["worker_baseline_rss_bytes"] = baseline
    tmp = request["out"] + ".tmp"
    with open(tmp, "w") as f:
        json.dump(records, f)
    os.replace(tmp, request["out"])
    return 0


if __name__ == "__main__":
    sys.exit(_main())
