#!/usr/bin/env bash
# Download, on a machine with a package index, the wheels scripts/gpu_check.sh
# installs on a GPU machine that has jax/flax/optax but not these (see the
# device notes: Python 3.12, x86-64). Output: .whl/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo /.whl/ >> .git/info/exclude
get() {
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform any -d .whl "$@"
}
get dm-haiku==0.0.17 jmp                         # the haiku style
get xprof==2.24.2 gviz-api cheroot fire duckdb   # XLA profile conversion (--profile); the rest of xprof's needs are in the image
du -sh .whl && ls .whl
