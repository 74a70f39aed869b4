"""Where one ``nnbench ab`` comparison's wall time goes, pair by pair.

Runs the sensitivity study's case (``studies/sensitivity.py``'s user-case
loop, the same code on both sides) through ``nnbench.run.ab.run`` with
``SteppedWorker``'s methods wrapped to note when each phase ends, and
prints, per worker pair: the wait for the pair's imports, each side's
preparation (build, cold compile stages, reprime, settle, warm-up) and the
rounds, then the finish (records written). The parent's clock only: what a
user waits for.

    PYTHONPATH=$PWD python studies/ab_timeline.py [--pairs 3] [--extra 0.05]

A benchmark, not a test: its figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sensitivity  # noqa: E402

import nnbench  # noqa: E402
from nnbench.run import ab as _ab  # noqa: E402
from nnbench.run import stepped as _stepped  # noqa: E402

EVENTS: list[tuple[float, str]] = []


def _wrap(name: str) -> None:
    original = getattr(_stepped.SteppedWorker, name)

    def wrapped(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        EVENTS.append((time.perf_counter(), f"{name} {' '.join(map(str, args))} {id(self) % 10007}"))
        return out

    setattr(_stepped.SteppedWorker, name, wrapped)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3, help="worker pairs, exactly (default 3)")
    parser.add_argument("--extra", type=float, default=0.0, help="the candidate's extra iterations (default 0)")
    args = parser.parse_args(argv)
    for name in ("__init__", "wait_ready", "release", "wait_gate", "wait_sampling", "stop", "finish"):
        _wrap(name)
    options = _ab.ABOptions(pairs=args.pairs, max_pairs=None)
    case = nnbench.UserCase("loop", None).case("abstudy.py:CASES")
    with tempfile.TemporaryDirectory(prefix="nnbench-timeline-") as tmp:
        sides = (
            sensitivity._checkout(Path(tmp) / "base", sensitivity.BASE_ITERS, "baseline"),
            sensitivity._checkout(Path(tmp) / "cand", round(sensitivity.BASE_ITERS * (1 + args.extra)), "candidate"),
        )
        t0 = time.perf_counter()
        _ab.run([case], sides, options)
        wall = time.perf_counter() - t0
    prev = t0
    for t, what in EVENTS:
        print(f"{t - t0:7.2f} s  +{t - prev:5.2f}  {what}")
        prev = t
    print(f"wall {wall:.1f} s for {args.pairs} pairs ({wall / args.pairs:.1f} s a pair)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
