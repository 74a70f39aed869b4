#!/usr/bin/env bash
# Regenerate the published compile-vs-depth report: the `compile` suite (MLP
# and Transformer LM train steps at depth 1-32, unrolled and with each
# library's scan, every style; cold trace, lower and XLA compile per case,
# the parity gate and a short interleaved timing), rendered as Markdown (with
# its plots) and as one HTML file; the run file is kept gzipped
# (reports/compile-cpu.json.gz).
#
#   scripts/publish_compile_report.sh       (nnbench from PATH, or NNBENCH=...)
set -euo pipefail
cd "$(dirname "$0")/.."
nnbench=${NNBENCH:-nnbench}
tmp=$(mktemp -d)
status=0
$nnbench run --suite compile --out "$tmp/compile-cpu.json" || status=$?
[ "$status" -le 1 ] || exit "$status"   # 1: some case failed or is invalid; it is in the report
rm -f reports/compile-cpu.*
gzip -9 -n -c "$tmp/compile-cpu.json" > reports/compile-cpu.json.gz
$nnbench report reports/compile-cpu.json.gz --format md --out reports/compile-cpu.md
$nnbench report reports/compile-cpu.json.gz --format html --out reports/compile-cpu.html
ls -la reports/compile-cpu.*
