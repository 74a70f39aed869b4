"""Do two runs of the same suite agree? For every style-to-jax ratio (the
paired per-round ratio of the report's style table) present in both runs:
how many are flagged unstable in either, and how many of the rest differ by
more than 10 % between the runs; plus the records whose median is over 3×
their minimum and whose CV is over 0.5.

Usage: ``PYTHONPATH=$PWD python studies/run_agreement.py RUN1 RUN2``.
"""

import sys

import numpy as np

from nnbench.report import run as report
from nnbench.results import runfile


def cells(path):
    data = runfile.read_run(path)
    styles, rows = report.side_by_side(data["records"])
    out = {}
    for row in rows:
        for s, c in row["cells"].items():
            if "median" in c and c.get("ratio") is not None and s != "jax":
                out[(row["group"], s)] = (c["ratio"], c.get("ratio_unstable", False))
    recs = [r for r in data["records"] if r["status"] == "ok"]
    bimodal = sum(r["time"]["median"] > 3 * r["time"]["min"] for r in recs)
    cv = sum(r["time"]["cv"] > 0.5 for r in recs)
    return out, bimodal, cv, len(recs)


a, ba, ca, na = cells(sys.argv[1])
b, bb, cb, nb = cells(sys.argv[2])
common = sorted(set(a) & set(b))
stable = [k for k in common if not a[k][1] and not b[k][1]]
diffs = {k: b[k][0] / a[k][0] for k in stable}
bad = {k: d for k, d in diffs.items() if abs(d - 1) > 0.10}
print(f"records ok: {na} / {nb}; median > 3x min: {ba} / {bb}; CV > 0.5: {ca} / {cb}")
print(f"ratios: {len(common)} in both; flagged in either run: {len(common) - len(stable)}; unflagged: {len(stable)}")
print(f"unflagged ratios differing by more than 10 %: {len(bad)}")
d = np.array(list(diffs.values()))
print(
    f"ratio run2/run1 of unflagged: median {np.median(d):.3f}, "
    f"5-95 % {np.percentile(d, 5):.3f}-{np.percentile(d, 95):.3f}, max dev {np.max(np.abs(d - 1)):.3f}"
)
for k, v in sorted(bad.items(), key=lambda kv: -abs(kv[1] - 1))[:20]:
    print("  ", k, f"{a[k][0]:.3f} -> {b[k][0]:.3f} ({v:.3f})")
