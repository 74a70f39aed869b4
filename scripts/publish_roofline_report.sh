#!/usr/bin/env bash
# Regenerate the published roofline of the catalog on this machine: a fresh
# calibration (matmul peaks, bandwidth, dispatch floor), the whole catalog at
# tiny and small, forward and train, every style, rendered as Markdown (with
# the roofline plot) and as one HTML file, each with the vendor roofline lower
# bounds on an H100 and a TPU v5e beside the measurements; the run file is kept
# gzipped (reports/roofline-cpu.json.gz). About 27 min on the 2-core CI machine.
#
#   scripts/publish_roofline_report.sh       (nnbench from PATH, or NNBENCH=...)
set -euo pipefail
cd "$(dirname "$0")/.."
nnbench=${NNBENCH:-nnbench}
tmp=$(mktemp -d)
$nnbench calibrate
status=0
$nnbench run --size tiny,small --mode forward,train --budget 0.1 --max-samples 500 --out "$tmp/roofline-cpu.json" \
    || status=$?
[ "$status" -le 1 ] || exit "$status"   # 1: some case failed or is invalid; it is in the report
rm -f reports/roofline-cpu.*
gzip -9 -n -c "$tmp/roofline-cpu.json" > reports/roofline-cpu.json.gz
$nnbench report reports/roofline-cpu.json.gz --format md --out reports/roofline-cpu.md --lower-for h100,tpu-v5e
$nnbench report reports/roofline-cpu.json.gz --format html --out reports/roofline-cpu.html --lower-for h100,tpu-v5e
ls -la reports/
