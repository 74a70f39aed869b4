"""Rewrite ``nnbench/run/group_seconds.json`` (what ``nnbench run --shard``
balances shards on) from run files: each catalog group's wall seconds there.

    python scripts/group_seconds.py reports/ci-cpu.json.gz reports/compile-cpu.json.gz
"""

from __future__ import annotations

import json
import sys

from nnbench.results import runfile as _results
from nnbench.run import cases as _cases

if __name__ == "__main__":
    table = _cases.group_seconds_table([_results.read_run(path) for path in sys.argv[1:]])
    _cases.GROUP_SECONDS_FILE.write_text(json.dumps(table, indent=1) + "\n")
    print(f"{len(table['groups'])} groups, {table['per_case']} s per case otherwise -> {_cases.GROUP_SECONDS_FILE}")
