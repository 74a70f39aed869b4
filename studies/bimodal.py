"""Why tiny steps read bimodal on the CPU backend, and what state to measure.

A ~10 µs jitted step on the 2-core VM, timed one fenced call at a time,
gives many calls several times slower than the fastest. Each experiment
below isolates one candidate cause; all run in this one process except
``sync`` (a fresh process: JAX's CPU async dispatch is fixed at backend
start).

- ``fenced``: N calls, each blocked on its output before the next
  (nnbench's per-call timing, no pauses).
- ``pause``: one fenced call after the host idles for P µs — spinning
  (busy-wait, the host thread stays on a core) or sleeping.
- ``stream``: K calls dispatched back to back, then one block on all K
  outputs (a training loop); time per call.
- ``switch``: two different steps in alternating blocks of B calls (the
  interleaved rounds): the first call of a block against the rest.
- ``sync``: ``fenced`` with ``jax_cpu_enable_async_dispatch`` off (the
  step runs on the calling thread).
- ``rounds``: nnbench's own timing (``_timing.run_rounds``), the step and
  another interleaved, one call per sample (``burst_s=0``) against bursts
  of back-to-back calls (the default ``burst_s``).

Usage (idle machine): ``PYTHONPATH=$PWD python studies/bimodal.py [--n 3000]``.
Prints one table per experiment: median, minimum and the share of calls
above 3× the minimum.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time

import numpy as np


def _step():
    import jax
    import jax.numpy as jnp

    from nnbench import layers

    built = layers.build(layers.get("rmsnorm"), "jax", "tiny", "forward")
    other = jax.jit(lambda x: jnp.tanh(x) * 2.0)
    x = jnp.ones((2, 8))
    jax.block_until_ready((built.step(*built.args), other(x)))
    return (built.step, built.args), (other, (x,))


def _summary(x) -> dict:
    x = np.asarray(x) * 1e6
    lo = float(x.min())
    return {
        "n": int(x.size),
        "median_us": round(float(np.median(x)), 2),
        "min_us": round(lo, 2),
        "above_3x_min": round(float(np.mean(x > 3 * lo)), 3),
    }


def fenced(step, args, n):
    import jax

    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        jax.block_until_ready(step(*args))
        out.append(time.perf_counter() - t0)
    return out


def after_pause(step, args, n, pause_s, spin):
    import jax

    out = []
    for _ in range(n):
        end = time.perf_counter() + pause_s
        if spin:
            while time.perf_counter() < end:
                pass
        else:
            time.sleep(pause_s)
        t0 = time.perf_counter()
        jax.block_until_ready(step(*args))
        out.append(time.perf_counter() - t0)
    return out


def stream(step, args, n, k):
    import jax

    out = []
    for _ in range(max(1, n // k)):
        t0 = time.perf_counter()
        outs = [step(*args) for _ in range(k)]
        jax.block_until_ready(outs)
        out.append((time.perf_counter() - t0) / k)
    return out


def switch(a, b, n, block):
    import jax

    first, rest = [], []
    for _ in range(max(1, n // (2 * block))):
        for step, args in (a, b):
            for i in range(block):
                t0 = time.perf_counter()
                jax.block_until_ready(step(*args))
                (first if i == 0 else rest).append(time.perf_counter() - t0) if step is a[0] else None
    return first, rest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument(
        "--only", default=None, help="comma-separated experiments (fenced,pause,stream,switch,rounds,sync)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object instead of tables")
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else {"fenced", "pause", "stream", "switch", "rounds", "sync"}
    (step, sargs), other = _step()
    gc.disable()
    rows: dict[str, dict] = {}
    if "fenced" in only:
        rows["fenced"] = _summary(fenced(step, sargs, args.n))
    if "pause" in only:
        for spin in (True, False):
            for us in (0, 10, 30, 100, 300, 1000, 3000):
                rows[f"pause {'spin' if spin else 'sleep'} {us} µs"] = _summary(
                    after_pause(step, sargs, max(200, args.n // 10), us * 1e-6, spin)
                )
    if "stream" in only:
        for k in (1, 2, 5, 20, 100):
            rows[f"stream k={k}"] = _summary(stream(step, sargs, args.n, k))
    if "switch" in only:
        for block in (1, 10, 100):
            first, rest = switch((step, sargs), other, args.n, block)
            rows[f"switch block={block}: first"] = _summary(first)
            if rest:
                rows[f"switch block={block}: rest"] = _summary(rest)
    if "rounds" in only:
        from nnbench.measure.timing import Lane, TimingPolicy, run_rounds

        for burst_s in (0.0, TimingPolicy.burst_s):
            lanes = [Lane(step, sargs, None), Lane(other[0], other[1], None)]
            run_rounds(lanes, TimingPolicy(budget_s=args.n * 2e-5, max_samples=args.n, settle_s=0.2, burst_s=burst_s))
            rows[f"rounds burst_s={burst_s * 1e3:g} ms (k={lanes[0].calls_per_sample})"] = _summary(lanes[0].samples_s)
    if "sync" in only and os.environ.get("_BIMODAL_SYNC") is None:
        env = {**os.environ, "_BIMODAL_SYNC": "1"}
        out = subprocess.run(
            [sys.executable, __file__, "--n", str(args.n), "--only", "fenced,stream", "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items():
            rows[f"sync dispatch: {k}"] = v
    if args.json:
        print(json.dumps(rows))
        return
    print(f"{'experiment':34s} {'n':>6s} {'median µs':>10s} {'min µs':>8s} {'>3×min':>7s}")
    for name, r in rows.items():
        print(f"{name:34s} {r['n']:6d} {r['median_us']:10.2f} {r['min_us']:8.2f} {r['above_3x_min']:7.1%}")


if __name__ == "__main__":
    if os.environ.get("_BIMODAL_SYNC"):
        import jax

        jax.config.update("jax_cpu_enable_async_dispatch", False)
    main()
