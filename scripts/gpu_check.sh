#!/usr/bin/env bash
# Issue 10 in one go on an NVIDIA GPU machine: versions, the transformer LM
# (MFU per style), an XLA profile of its train step, then the rest of the
# `gpu` suite until the time limit; reports rendered beside the run files.
#
#   scripts/gpu_check.sh OUTDIR [LIMIT_S]      (default limit 480 s)
#
# Needs python3 with jax (CUDA), flax and optax. Pure-Python packages the
# machine lacks (dm-haiku, jmp, xprof, ...) can wait in .whl/ as wheels
# (scripts/gpu_wheels.sh downloads them on a machine with a package index);
# they are installed into /tmp/site. nnbench itself runs from this checkout.
# Run files are rewritten after every group, so a run cut off by the limit
# keeps what finished (`nnbench run --resume FILE` completes it later).
set -uo pipefail
out=${1:?usage: scripts/gpu_check.sh OUTDIR [LIMIT_S]}
limit=${2:-480}
cd "$(dirname "$0")/.."
mkdir -p "$out"
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
end=$((SECONDS + limit))
left() { echo $((end - SECONDS)); }

{
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
    python3 - <<'PY'
import importlib
for name in ("jax", "jaxlib", "flax", "optax", "haiku", "numpy", "scipy", "rich", "pandas", "matplotlib", "xprof"):
    try:
        print(name, getattr(importlib.import_module(name), "__version__", "?"))
    except Exception as e:  # noqa: BLE001 - a version listing
        print(name, "MISSING", type(e).__name__, e)
import jax
print("devices", jax.devices())
PY
} > "$out/versions.txt" 2>&1
cat "$out/versions.txt"
python3 -m nnbench env > "$out/env.txt" 2>&1

# 1. The transformer LM, every style, forward and train, base size, bfloat16: the MFU table.
timeout "$(left)" python3 -m nnbench run --layer transformer_lm --size base --dtype bfloat16 --mode forward,train \
    --budget 2 --timeout 240 --out "$out/transformer.json"
# 2. One XLA profile of the raw-JAX train step (trace viewer + op table).
[ "$(left)" -gt 60 ] && timeout "$(left)" python3 -m nnbench run --layer transformer_lm --size base --dtype bfloat16 --mode train \
    --style jax --budget 1 --profile --out "$out/profile.json"
# 3. The rest of the gpu suite, as far as the time allows.
rest=$(python3 -m nnbench list --suite gpu | cut -d/ -f1 | sort -u | grep -v '^transformer_lm$' | paste -sd, -)
[ "$(left)" -gt 60 ] && timeout "$(left)" python3 -m nnbench run --suite gpu --layer "$rest" --budget 0.5 --timeout 120 --out "$out/gpu.json"

for f in "$out"/transformer.json "$out"/gpu.json; do
    [ -f "$f" ] && python3 -m nnbench report "$f" --format md --out "${f%.json}.md"
done
ls -la "$out"
