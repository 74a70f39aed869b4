"""Peak FLOP/s per device kind and dtype, for model FLOPs utilisation (MFU).

Dense (non-sparse) vendor peaks. A device kind not in the table has an
unknown peak: MFU is then ``None`` and reports say so, never a guess.
``float32`` on GPUs is the non-tensor-core FP32 peak; XLA's default matmul
precision there uses TF32 tensor cores, so a float32 MFU can read high.
TPUs have no float32 peak (float32 matmuls run as several bfloat16
passes): unknown. CPUs: unknown.
"""

from __future__ import annotations

# (substring of jax Device.device_kind, lowercase) -> {dtype: peak FLOP/s}
PEAKS: dict[str, dict[str, float]] = {
    "h200": {"bfloat16": 989.4e12, "float32": 66.9e12},
    # Longer keys first: "NVIDIA H100 PCIe" must not match the SXM row.
    "h100 pcie": {"bfloat16": 756e12, "float32": 51.2e12},
    "h100 nvl": {"bfloat16": 835e12, "float32": 60e12},
    "h100": {"bfloat16": 989.4e12, "float32": 66.9e12},
    "a100": {"bfloat16": 312e12, "float32": 19.5e12},
    "b200": {"bfloat16": 2250e12, "float32": 80e12},
    "tpu v4": {"bfloat16": 275e12},
    "tpu v5 lite": {"bfloat16": 197e12},
    "tpu v5e": {"bfloat16": 197e12},
    "tpu v5p": {"bfloat16": 459e12},
    "tpu v5": {"bfloat16": 459e12},
    "tpu v6 lite": {"bfloat16": 918e12},
    "tpu v6e": {"bfloat16": 918e12},
}


def peak_flops(device_kind: str, dtype: str) -> float | None:
    """Peak FLOP/s of one device of ``device_kind`` for ``dtype``, or None."""
    kind = device_kind.lower()
    for key, peaks in PEAKS.items():
        if key in kind:
            return peaks.get(dtype)
    return None
