"""FLOP accounting: peak FLOP/s per device kind, utilisation, and XLA's
count of a catalog step as the reference for the analytic model FLOPs.

Peaks: dense (no sparsity) vendor figures per device, keyed by the exact
``jax.Device.device_kind`` string JAX reports; any other kind has an unknown
peak (``None``: MFU is then ``None`` and reports say n/a, never a guess).
``float32`` on NVIDIA GPUs is the non-tensor-core FP32 peak; XLA's default
matmul precision there uses TF32 tensor cores, so a float32 MFU can read
high. TPUs have no float32 peak (float32 matmuls run as several bfloat16
passes): unknown. CPUs: unknown.
"""

from __future__ import annotations

from typing import Any

# NVIDIA: dense tensor-core BF16 (the datasheets' "with sparsity" figure
# halved) and CUDA-core FP32. H100 SXM5 and PCIe: the NVIDIA H100 Tensor Core
# GPU Architecture whitepaper (Table 3: BF16 989.4 / 756 TF dense, FP32
# 66.9 / 51.2 TF); the others from their datasheets as noted.
_H100_SXM = {"bfloat16": 989.4e12, "float32": 66.9e12}
_H100_PCIE = {"bfloat16": 756e12, "float32": 51.2e12}
# H100 NVL and H200 NVL datasheets: BF16 1,671 TF sparse, FP32 60 TF.
_NVL = {"bfloat16": 835.5e12, "float32": 60e12}
# A100 datasheet (SXM4 and PCIe alike): BF16 312 TF dense, FP32 19.5 TF.
_A100 = {"bfloat16": 312e12, "float32": 19.5e12}

# Exact jax Device.device_kind -> {dtype: peak FLOP/s of one device}.
PEAKS: dict[str, dict[str, float]] = {
    # CUDA device names (cudaDeviceProp.name), as JAX reports them.
    "NVIDIA H100 80GB HBM3": _H100_SXM,
    "NVIDIA H100 PCIe": _H100_PCIE,
    "NVIDIA H100 NVL": _NVL,
    # H200 SXM datasheet: BF16 1,979 TF sparse, FP32 67 TF.
    "NVIDIA H200": {"bfloat16": 989.5e12, "float32": 67e12},
    "NVIDIA H200 NVL": _NVL,
    "NVIDIA A100-SXM4-40GB": _A100,
    "NVIDIA A100-SXM4-80GB": _A100,
    "NVIDIA A100-PCIE-40GB": _A100,
    "NVIDIA A100 80GB PCIe": _A100,
    # HGX B200 datasheet ÷ 8 GPUs: BF16 36 PF sparse, FP32 600 TF.
    "NVIDIA B200": {"bfloat16": 2.25e15, "float32": 75e12},
    # GB200 NVL72 datasheet ÷ 72 GPUs: BF16 360 PF sparse, FP32 5,760 TF.
    "NVIDIA GB200": {"bfloat16": 2.5e15, "float32": 80e12},
    # TPU device kinds as jax/_src/mesh_utils.py and pallas/mosaic/tpu_info.py
    # name them; Cloud TPU system-architecture pages, BF16 per chip. v4 and
    # v5p run as one device per chip (megacore), the lite chips have one core.
    "TPU v4": {"bfloat16": 275e12},
    "TPU v5 lite": {"bfloat16": 197e12},  # v5e
    "TPU v5e": {"bfloat16": 197e12},
    "TPU v5": {"bfloat16": 459e12},  # v5p
    "TPU v5p": {"bfloat16": 459e12},
    "TPU v6 lite": {"bfloat16": 918e12},  # v6e (Trillium)
    "TPU v6e": {"bfloat16": 918e12},
}


def peak_flops(device_kind: str, dtype: str) -> float | None:
    """Peak FLOP/s of one device of exactly ``device_kind`` for ``dtype``, or None."""
    return PEAKS.get(device_kind, {}).get(dtype)


def utilisation(flops: float | None, seconds: float, peak: float | None, devices: int = 1) -> float | None:
    """``flops`` done in ``seconds`` by ``devices`` devices of ``peak`` FLOP/s
    each, as a fraction of their combined peak; None when unknown."""
    if not flops or not peak or seconds <= 0:
        return None
    return flops / seconds / (devices * peak)


def update_flops(params: Any, opt_state: Any, tx: Any, compile: bool = False) -> float:
    """XLA's count of one optimizer update over ``params``: ``tx.update`` with
    gradients shaped like ``params``, then ``optax.apply_updates``; lowered
    (or compiled) on its own."""
    import jax
    import optax

    def update(grads, state, p):
        deltas, state = tx.update(grads, state, p)
        return optax.apply_updates(p, deltas), state

    lowered = jax.jit(update).trace(params, opt_state, params).lower()
    return float((lowered.compile() if compile else lowered).cost_analysis().get("flops", 0.0))


def _step_and_args(entry: Any, style: str, size: str, mode: str) -> tuple[Any, tuple[Any, ...]]:
    """The jitted step ``layers.build`` makes and its arguments; for the
    functional styles the arguments are shapes only (``jax.eval_shape`` of
    the build: no weights are initialised, nothing is compiled)."""
    import jax

    from nnbench import layers
    from nnbench.layers import styles as _styles

    if _styles.FAMILY[style] == "nnx":  # NNX modules hold their arrays: build them
        built = layers.build(entry, style, size, mode)
        return built.step, built.args
    box: dict[str, Any] = {}

    def make():
        built = layers.build(entry, style, size, mode)
        box["step"] = built.step
        return built.args

    args = jax.eval_shape(make)
    return box["step"], args


def xla_reference(entry: Any, size: str, mode: str, style: str = "jax", compile: bool = False) -> dict[str, Any]:
    """XLA's count of one catalog step, the reference the analytic model
    FLOPs (``entry.flops``) are checked against.

    The step ``layers.build`` makes (float32), every loop iteration counted
    (``_compile.program_cost``); ``compile``: XLA's count of the optimized
    program (what the device runs, fusion recompute included), else of the
    program as JAX lowered it (no XLA compile). Train steps also give the
    count of the optimizer update alone over the same parameter tree
    (model FLOPs exclude it). Returns ``{"xla", "update", "model_xla"
    (xla − update), "lower_bound"}``.
    """
    import optax

    from nnbench.layers import styles as _styles
    from nnbench.measure import stages as _compile

    step, args = _step_and_args(entry, style, size, mode)
    traced = step.trace(*args)
    lowered = traced.lower()
    analysis = lowered.compile().cost_analysis() if compile else lowered.cost_analysis()
    cost = _compile.program_cost(_compile.jaxpr_of(traced), analysis, compile=compile)
    update = 0.0
    if mode == "train":  # NNX keeps its optimizer in a module: the same parameters in the canonical layout
        functional_args = args if _styles.FAMILY[style] != "nnx" else _step_and_args(entry, "jax", size, mode)[1]
        variables, opt_state = functional_args[0], functional_args[1]
        update = update_flops(variables["params"], opt_state, optax.adamw(_styles.LEARNING_RATE), compile)
    return {
        "xla": cost["flops"],
        "update": update,
        "model_xla": cost["flops"] - update,
        "lower_bound": cost["lower_bound"],
    }
