"""Where a run's wall time went, from its run file: cold compile stages,
the re-compile after JAX's cache clears (``reprime``), timed samples, and
each layer's share of the workers' time.

    python studies/run_time.py reports/ci-cpu.json.gz
"""

from __future__ import annotations

import collections
import sys

from nnbench.results import runfile as _results


def main(path: str) -> None:
    data = _results.read_run(path)
    records = data["records"]
    totals: collections.Counter[str] = collections.Counter()
    for r in records:
        c, t = r.get("compile") or {}, r.get("time") or {}
        totals["cold trace + lower + compile"] += sum(c.get(k) or 0 for k in ("trace_s", "lower_s", "compile_s"))
        totals["re-compile after cache clears (reprime)"] += c.get("reprime_s") or 0
        totals["timed samples"] += sum(t.get("samples_s") or []) * t.get(
            "calls_per_sample", 1
        )  # a sample is a burst's time per call
    walls = {}
    for r in records:  # every record of a group carries the group's wall time
        walls.setdefault(
            (r["case"]["layer"], r["case"]["mode"], r["case"]["size"], r["case"]["dtype"]), r.get("group_wall_s") or 0
        )
    per_layer: collections.Counter[str] = collections.Counter()
    for (layer, *_), wall in walls.items():
        per_layer[layer] += wall
    print(
        f"{len(records)} records {dict(collections.Counter(r['status'] for r in records))}; "
        f"started {data['started']}, finished {data.get('finished')}"
    )
    print(f"time inside the groups (workers): {sum(walls.values()):.0f} s")
    for what, seconds in totals.items():
        print(f"  {what}: {seconds:.0f} s")
    print("by layer: " + ", ".join(f"{layer} {seconds:.0f} s" for layer, seconds in per_layer.most_common()))


if __name__ == "__main__":
    main(sys.argv[1])
