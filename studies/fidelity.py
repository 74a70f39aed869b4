"""Fidelity study: does ``nnbench.measure`` report what a careful hand loop
measures?

The same jitted function is timed two ways, interleaved in one process:
``nnbench.measure`` (its median step time) and a hand-written
``time.perf_counter`` loop that blocks on the whole output of every call
(its median). Rounds alternate the order, and the study prints each
round's ratio and the median ratio with a 95 % CI (target: within 1 %).

Run from the repository root::

    PYTHONPATH=$PWD python studies/fidelity.py [--rounds 6] [--size 256] [--budget 0.5]

Timing figures on a shared machine are noisy: report the load (printed).
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

import nnbench
from nnbench.measure import stats as _stats


def step_fn(w, x):
    """A small MLP-like forward: ``x [n, n] -> [n, n]`` float32."""
    for _ in range(4):
        x = jnp.tanh(x @ w)
    return x


def hand_loop(f, args, seconds: float) -> list[float]:
    """Per-call times of ``f(*args)``, each blocked on its whole output."""
    samples = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(samples) < 10:
        t0 = time.perf_counter()
        out = f(*args)
        jax.block_until_ready(out)
        samples.append(time.perf_counter() - t0)
    return samples


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--budget", type=float, default=0.5, help="seconds per method per round")
    a = p.parse_args()

    f = jax.jit(step_fn)
    key_w, key_x = jax.random.split(jax.random.key(0))
    args = (jax.random.normal(key_w, (a.size, a.size)) / a.size**0.5, jax.random.normal(key_x, (a.size, a.size)))
    jax.block_until_ready(f(*args))
    hand_loop(f, args, 0.2)  # warm-up
    policy = nnbench.TimingPolicy(budget_s=a.budget, warmup_budget_s=0.2, target_ci=0.002, min_samples=20)
    ratios = []
    print(f"load average before: {os.getloadavg()}")
    print(f"{'round':>5} {'nnbench median':>15} {'hand median':>12} {'ratio':>7} {'n (nnbench/hand)':>17}")
    for r in range(a.rounds):
        order = ("nnbench", "hand") if r % 2 == 0 else ("hand", "nnbench")
        res = {}
        for who in order:
            if who == "nnbench":
                rec = nnbench.measure(f, *args, policy=policy)
                res[who] = (rec["time"]["median"], rec["time"]["n"])
            else:
                s = hand_loop(f, args, a.budget)
                res[who] = (float(np.median(s)), len(s))
        ratio = res["nnbench"][0] / res["hand"][0]
        ratios.append(ratio)
        print(
            f"{r:>5} {res['nnbench'][0] * 1e6:>12.1f} µs {res['hand'][0] * 1e6:>9.1f} µs "
            f"{ratio:>7.4f} {res['nnbench'][1]:>8}/{res['hand'][1]}"
        )
    low, high = _stats.median_ci(ratios) if len(ratios) >= 6 else (min(ratios), max(ratios))
    print(f"median ratio nnbench/hand: {np.median(ratios):.4f} (95 % CI {low:.4f} – {high:.4f}, {len(ratios)} rounds)")
    print(
        f"load average after: {os.getloadavg()}; cpus: {os.cpu_count()}; "
        f"jax {jax.__version__}, {jax.devices()[0].device_kind}"
    )


if __name__ == "__main__":
    main()
