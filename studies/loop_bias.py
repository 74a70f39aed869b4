"""Which part of nnbench's timing loop reads higher than a bare loop?

One jitted step (4 × tanh(x @ w), 128 × 128 float32) timed four ways in
one process, in shuffled order, for many rounds of 120 calls each: a bare
``perf_counter`` loop blocking on the output, the same with the garbage
collector off (nnbench disables it while sampling), a loop over
``Lane.call`` (nnbench's per-call fence), and ``run_rounds`` itself
(warm-up, blocks, stop checks). Prints each variant's median and its ratio
to the bare loop (median and geometric mean of the per-round ratios).

    PYTHONPATH=$PWD python studies/loop_bias.py [ROUNDS]      (default 150)
"""

from __future__ import annotations

import gc
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from nnbench.measure.timing import Lane, TimingPolicy, run_rounds

CALLS = 120


def step_fn(w, x):
    for _ in range(4):
        x = jnp.tanh(x @ w)
    return x


def main(rounds: int) -> None:
    f = jax.jit(step_fn)
    k1, k2 = jax.random.split(jax.random.key(0))
    args = (jax.random.normal(k1, (128, 128)) / 128**0.5, jax.random.normal(k2, (128, 128)))
    jax.block_until_ready(f(*args))

    def bare(gc_off=False):
        if gc_off:
            gc.disable()
        samples = []
        for _ in range(CALLS):
            t0 = time.perf_counter()
            out = f(*args)
            jax.block_until_ready(out)
            samples.append(time.perf_counter() - t0)
        if gc_off:
            gc.enable()
        return samples

    lane = Lane(f, args, None)

    def lane_calls():
        return [lane.call()[1] for _ in range(CALLS)]

    policy = TimingPolicy(
        budget_s=0.05, warmup_budget_s=0.05, target_ci=1e-6, min_samples=10
    )  # ~0.05 s of samples, about CALLS calls

    def timing_loop():
        fresh = Lane(f, args, None)
        run_rounds([fresh], policy)
        return fresh.samples_s

    variants = {
        "bare loop": bare,
        "bare, gc off": lambda: bare(True),
        "Lane.call loop": lane_calls,
        "run_rounds": timing_loop,
    }
    medians: dict[str, list[float]] = {k: [] for k in variants}
    rng = np.random.default_rng(0)
    for _ in range(rounds):
        for name in rng.permutation(list(variants)):
            medians[name].append(float(np.median(variants[name]())))
    base = np.array(medians["bare loop"])
    for name, values in medians.items():
        ratio = np.array(values) / base
        print(
            f"{name:15s} median {np.median(values) * 1e6:7.1f} µs   "
            f"ratio to the bare loop: median {np.median(ratio):.4f}, "
            f"geometric mean {np.exp(np.log(ratio).mean()):.4f}"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 150)
