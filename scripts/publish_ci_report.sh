#!/usr/bin/env bash
# Regenerate the published CPU findings in reports/: a fresh `ci`-suite run
# on this machine, rendered as Markdown with PNG plots and as one HTML file;
# the run file is kept gzipped (reports/ci-cpu.json.gz).
#
#   scripts/publish_ci_report.sh            (nnbench from PATH, or NNBENCH=...)
set -euo pipefail
cd "$(dirname "$0")/.."
nnbench=${NNBENCH:-nnbench}
tmp=$(mktemp -d)
status=0
$nnbench run --suite ci --out "$tmp/ci-cpu.json" || status=$?
[ "$status" -le 1 ] || exit "$status"   # 1: some case failed or is invalid; it is in the report
rm -f reports/ci-cpu.*
gzip -9 -n -c "$tmp/ci-cpu.json" > reports/ci-cpu.json.gz   # nnbench reads gzip run files as they are
$nnbench report reports/ci-cpu.json.gz --format md --out reports/ci-cpu.md
$nnbench report reports/ci-cpu.json.gz --format html --out reports/ci-cpu.html
ls -la reports/
