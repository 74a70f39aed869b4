#!/usr/bin/env bash
# Nightly performance check: run a suite, compare with the previous night's
# run file, render reports, fail on regression.
#
#   examples/ci/nightly.sh OUT_DIR [PREVIOUS_RUN.json]
#
# Writes OUT_DIR/run.json (keep it: it is tomorrow's baseline),
# OUT_DIR/report.md, OUT_DIR/report.html and, given a baseline,
# OUT_DIR/compare.md. Appends the Markdown to $GITHUB_STEP_SUMMARY when set.
# Environment: NNBENCH (command, default `nnbench`), NNBENCH_SUITE (default
# `nightly`), NNBENCH_RUN_ARGS (extra `nnbench run` arguments, e.g. filters),
# NNBENCH_THRESHOLD (compare threshold in %, default: compare's own),
# NNBENCH_RUN_FILE (a run file made elsewhere, e.g. merged shards: skip the run).
# Exit status: 0 all fine; 1 a regression or a failed case (reports are still
# written); 2 bad input.
set -uo pipefail

out=${1:?usage: nightly.sh OUT_DIR [PREVIOUS_RUN.json]}
prev=${2:-}
nnbench=${NNBENCH:-nnbench}
status=0
note() { [ "$1" -gt "$status" ] && status=$1; return 0; }

mkdir -p "$out"
# nnbench never overwrites: clear last night's files (the Markdown reports' plots too)
rm -f "$out/run.json" "$out/run.md" "$out"/run*.png "$out/report.md" "$out"/report*.png "$out/report.html" "$out/compare.md" "$out/compare.png"

if [ -n "${NNBENCH_RUN_FILE:-}" ]; then
    # The suite already ran elsewhere (e.g. shards merged by `nnbench merge`): compare and report it.
    cp "$NNBENCH_RUN_FILE" "$out/run.json" || exit 2
else
    # shellcheck disable=SC2086  # NNBENCH_RUN_ARGS is a list of arguments
    $nnbench run --suite "${NNBENCH_SUITE:-nightly}" ${NNBENCH_RUN_ARGS:-} --out "$out/run.json" || note $?
fi
[ -f "$out/run.json" ] || { echo "nightly: no run file written" >&2; exit 2; }

$nnbench report "$out/run.json" --format md --out "$out/report.md" || note $?
$nnbench report "$out/run.json" --format html --out "$out/report.html" || note $?

if [ -n "$prev" ] && [ -f "$prev" ]; then
    threshold=()
    [ -n "${NNBENCH_THRESHOLD:-}" ] && threshold=(--threshold "$NNBENCH_THRESHOLD")
    $nnbench compare "$prev" "$out/run.json" "${threshold[@]}" --format md --out "$out/compare.md" || note $?
else
    echo "nightly: no previous run file; this run becomes the baseline" >&2
fi

if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    for f in "$out/compare.md" "$out/report.md"; do
        [ -f "$f" ] && { cat "$f"; echo; } >> "$GITHUB_STEP_SUMMARY"
    done
fi
exit "$status"
