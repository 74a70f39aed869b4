"""How long does a step run slow after an XLA compile?

Why ``TimingPolicy.settle_s`` exists. One jitted step (4 × tanh(x @ w),
128 × 128 float32) is called back to back for 1.6 s, blocking on every
output, many times over. Before each repetition either JAX's caches are
cleared and the step recompiled (``--after compile``: what every nnbench
case goes through right before it is timed) or nothing happens
(``--after nothing``: the control). Each call's time is binned by how long
after the start it began; the study prints, per bin, the median over
repetitions of (bin median ÷ the same repetition's 1.2–1.6 s median).

    PYTHONPATH=$PWD python studies/settle.py [--reps 40] [--after compile|nothing]

On the 2-core CI machine (2026-11-26, idle): after a compile the step ran
1–3 % slow for about 0.6 s (0.5–1 % until 1.2 s); without one only the
first ~50 ms were slow. A 5-call steady-state window cannot see a 2 %
drift, so the timing loop settles for 0.5 s after the last compile.
"""

from __future__ import annotations

import argparse
import gc
import time

import jax
import jax.numpy as jnp
import numpy as np

EDGES = (0.0, 0.01, 0.05, 0.1, 0.2, 0.35, 0.6, 0.9, 1.2, 1.6)  # seconds after the start; the last bin is the reference


def step_fn(w, x):
    for _ in range(4):
        x = jnp.tanh(x @ w)
    return x


def one_repetition(f, args) -> tuple[np.ndarray, np.ndarray]:
    """(start offset, duration) of every call over EDGES[-1] seconds."""
    gc.collect()
    gc.disable()
    try:
        starts, times = [], []
        t_start = time.perf_counter()
        while (t0 := time.perf_counter()) - t_start < EDGES[-1]:
            jax.block_until_ready(f(*args))
            starts.append(t0 - t_start)
            times.append(time.perf_counter() - t0)
    finally:
        gc.enable()
    return np.asarray(starts), np.asarray(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=40)
    p.add_argument("--after", choices=("compile", "nothing"), default="compile")
    a = p.parse_args()
    f = jax.jit(step_fn)
    key_w, key_x = jax.random.split(jax.random.key(0))
    args = (jax.random.normal(key_w, (128, 128)) / 128**0.5, jax.random.normal(key_x, (128, 128)))
    jax.block_until_ready(f(*args))
    ratios: list[list[float]] = [[] for _ in EDGES[:-1]]
    for _ in range(a.reps):
        if a.after == "compile":
            jax.clear_caches()
            jax.block_until_ready(f(*args))
        starts, times = one_repetition(f, args)
        reference = np.median(times[starts >= EDGES[-2]])
        for i, (lo, hi) in enumerate(zip(EDGES, EDGES[1:])):
            in_bin = (starts >= lo) & (starts < hi)
            if in_bin.any():
                ratios[i].append(float(np.median(times[in_bin]) / reference))
    print(f"after {a.after}, {a.reps} repetitions; step time per bin ÷ the {EDGES[-2]:g}–{EDGES[-1]:g} s median:")
    for (lo, hi), r in zip(zip(EDGES, EDGES[1:]), ratios):
        print(f"  {lo * 1e3:6.0f}–{hi * 1e3:4.0f} ms  {np.median(r):.4f}")


if __name__ == "__main__":
    main()
