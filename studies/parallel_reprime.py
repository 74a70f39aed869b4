"""Could the reprime (each case compiled again after later cases' cold
compiles cleared JAX's caches) run on both cores? One layer group's steps,
built as ``nnbench run`` builds them, compiled after ``jax.clear_caches()``
one after the other, then again in a 2-thread pool (``step.lower(*args)
.compile()``: XLA compiles without the GIL, and the executable lands in
the cache the jitted call uses), and each step is called afterwards to
check that no call compiles again.

    PYTHONPATH=$PWD python studies/parallel_reprime.py [--layer mlp] [--size small] [--mode train] [--threads 2]

Measured on the 2-core VM, idle (2026-12-03): mlp small train, 8 styles:
serial 4.4-5.3 s, 2 threads 3.8-4.8 s (x0.93-1.22); resnet tiny train:
serial 56.6-66.2 s, 2 threads 63.5-67.1 s (x0.89-0.99); no call compiled
again after either. Tracing and lowering hold the GIL and XLA:CPU already
spreads a large compile over both cores, so a threaded reprime would not
shorten the ``ci`` suite here: not adopted.

A benchmark, not a test: its figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

import jax

from nnbench import layers
from nnbench.measure import stages as _stages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", default="mlp")
    parser.add_argument("--size", default="small")
    parser.add_argument("--mode", default="train")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args(argv)
    entry = layers.get(args.layer)
    built = [layers.build(entry, s, args.size, args.mode) for s in layers.STYLES]
    counter = _stages.compile_counter()

    inputs = [b.args for b in built]  # train steps donate their inputs: the next call gets the carried ones

    def compile_one(i):
        built[i].step.trace(*inputs[i]).lower().compile()

    for rep in range(args.reps):
        jax.clear_caches()
        t0 = time.perf_counter()
        for i in range(len(built)):
            compile_one(i)
        serial = time.perf_counter() - t0
        jax.clear_caches()
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.threads) as pool:
            list(pool.map(compile_one, range(len(built))))
        parallel = time.perf_counter() - t0
        before = counter.count
        for i, b in enumerate(built):
            out = b.step(*inputs[i])
            jax.block_until_ready(out)
            inputs[i] = b.carry(inputs[i], out) if b.carry is not None else inputs[i]
        again = counter.count - before
        print(
            f"rep {rep}: {len(built)} steps, serial {serial:.2f} s, {args.threads} threads {parallel:.2f} s "
            f"(x{serial / parallel:.2f}); compiles on the calls after: {again}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
