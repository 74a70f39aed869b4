"""Where a step stands against the hardware: the roofline and the bound.

A step of ``flops`` FLOPs moving ``bytes`` bytes (XLA's ``cost_analysis`` of
the compiled program) cannot run faster than its *roofline time*
``max(flops / peak, bytes / bandwidth)`` on a device of ``peak`` FLOP/s and
``bandwidth`` bytes/s. *Roofline efficiency* is that time over the measured
median step (1 is on the ceiling). The *bound* says which of the three
regimes limits the step, checked in this order:

- ``overhead``: the step is within ``OVERHEAD_FLOOR_FACTOR`` × the dispatch
  floor (the median time of an empty jitted call, ``nnbench calibrate``),
  or the host's dispatch is more than ``OVERHEAD_DISPATCH_SHARE`` of the
  step: the host, not the device, sets the pace;
- ``memory``: else, when ``bytes / bandwidth`` exceeds ``flops / peak``
  (arithmetic intensity below the ridge point ``peak / bandwidth``);
- ``compute``: otherwise.

Vendor memory bandwidths per device kind sit beside the vendor peaks
(``nnbench.measure.flops.PEAKS``); ``ACCELERATORS`` names the devices
``nnbench report --lower-for`` bounds a case on. Plain functions of
numbers: no JAX here.
"""

from __future__ import annotations

from typing import Any

from nnbench.measure import flops as _flops

OVERHEAD_FLOOR_FACTOR = 2.0  # step < 2 × the empty call's time: mostly the call itself
OVERHEAD_DISPATCH_SHARE = 0.5  # the host spends more than half the step issuing it
BOUNDS = ("overhead", "memory", "compute")

# Vendor HBM bandwidth (bytes/s) of one device, by exact device_kind; from the
# same datasheets and Cloud TPU pages as the peaks.
BANDWIDTH: dict[str, float] = {
    "NVIDIA H100 80GB HBM3": 3.35e12,
    "NVIDIA H100 PCIe": 2.0e12,
    "NVIDIA H100 NVL": 3.9e12,
    "NVIDIA H200": 4.8e12,
    "NVIDIA H200 NVL": 4.8e12,
    "NVIDIA A100-SXM4-40GB": 1.555e12,
    "NVIDIA A100-SXM4-80GB": 2.039e12,
    "NVIDIA A100-PCIE-40GB": 1.555e12,
    "NVIDIA A100 80GB PCIe": 1.935e12,
    "NVIDIA B200": 8.0e12,
    "NVIDIA GB200": 8.0e12,
    "TPU v4": 1.2e12,
    "TPU v5 lite": 8.19e11,
    "TPU v5e": 8.19e11,
    "TPU v5": 2.765e12,
    "TPU v5p": 2.765e12,
    "TPU v6 lite": 1.64e12,
    "TPU v6e": 1.64e12,
}

# Short names for --lower-for -> the device_kind whose vendor figures bound a case.
ACCELERATORS: dict[str, str] = {
    "h100": "NVIDIA H100 80GB HBM3",
    "h100-pcie": "NVIDIA H100 PCIe",
    "h200": "NVIDIA H200",
    "a100": "NVIDIA A100-SXM4-80GB",
    "b200": "NVIDIA B200",
    "tpu-v4": "TPU v4",
    "tpu-v5e": "TPU v5 lite",
    "tpu-v5p": "TPU v5p",
    "tpu-v6e": "TPU v6 lite",
}


def vendor_bandwidth(device_kind: str) -> float | None:
    """Vendor memory bandwidth (bytes/s) of one device of exactly ``device_kind``, or None."""
    return BANDWIDTH.get(device_kind)


def roofline_time(
    flops: float | None, nbytes: float | None, peak: float | None, bandwidth: float | None
) -> float | None:
    """``max(flops / peak, bytes / bandwidth)`` over the terms that are known; None when neither is."""
    terms = [w / r for w, r in ((flops, peak), (nbytes, bandwidth)) if w is not None and r]
    return max(terms) if terms else None


def classify(
    flops: float | None,
    nbytes: float | None,
    step_s: float | None,
    dispatch_s: float | None,
    peak: float | None,
    bandwidth: float | None,
    floor_s: float | None,
) -> str | None:
    """The bound of a step (module docstring); None when nothing decides it
    (no step time, and no peak, bandwidth or floor to hold it against)."""
    if step_s is None or step_s <= 0:
        return None
    if floor_s and step_s < OVERHEAD_FLOOR_FACTOR * floor_s:
        return "overhead"
    if dispatch_s is not None and dispatch_s / step_s > OVERHEAD_DISPATCH_SHARE:
        return "overhead"
    if not (peak and bandwidth) or flops is None or nbytes is None:
        return None
    return "memory" if nbytes / bandwidth > flops / peak else "compute"


def ceilings(
    work: dict[str, Any], bandwidth: float | None, bandwidth_source: str | None, floor_s: float | None
) -> dict[str, Any]:
    """The part of a record's ``roofline`` section known before timing: from
    its ``work`` XLA's per-device FLOPs and bytes, the peak it uses and the
    peak's source; the bandwidth and dispatch floor in use (``None`` where
    no calibration or vendor figure gives them). ``set_times`` completes it."""
    flops, nbytes = work.get("xla_flops"), work.get("xla_bytes_accessed")
    return {
        "flops": flops,
        "bytes": nbytes,
        "intensity": flops / nbytes if flops is not None and nbytes else None,
        "peak_flops_per_s": work.get("peak_flops_per_s"),
        "peak_source": work.get("peak_source"),
        "bandwidth_bytes_per_s": bandwidth,
        "bandwidth_source": bandwidth_source,
        "dispatch_floor_s": floor_s,
    }


def set_times(section: dict[str, Any], step_s: float | None, dispatch_s: float | None) -> None:
    """Complete a ``ceilings`` section with the median step and dispatch:
    ``dispatch_share``, the roofline ``time_s``, ``efficiency`` (roofline
    time ÷ step) and the ``bound``."""
    flops, nbytes = section.get("flops"), section.get("bytes")
    peak, bandwidth = section.get("peak_flops_per_s"), section.get("bandwidth_bytes_per_s")
    bound_s = roofline_time(flops, nbytes, peak, bandwidth) if peak and bandwidth else None
    section.update(
        dispatch_share=dispatch_s / step_s if dispatch_s is not None and step_s else None,
        time_s=bound_s,
        efficiency=bound_s / step_s if bound_s is not None and step_s else None,
        bound=classify(flops, nbytes, step_s, dispatch_s, peak, bandwidth, section.get("dispatch_floor_s")),
    )


def lower_bound(flops: float | None, nbytes: float | None, accelerator: str, dtype: str) -> dict[str, Any]:
    """The roofline lower bound of a step of ``flops`` FLOPs and ``bytes``
    bytes on one ``accelerator`` (a key of ``ACCELERATORS``) from the vendor
    figures: never a measurement. Where the device lists no peak for
    ``dtype`` (float32 on a TPU), its fastest listed peak stands in — still
    a lower bound, as no dtype runs faster — and ``peak_dtype`` says so.
    Returns ``{"device_kind", "time_s", "bound" (memory / compute),
    "peak_dtype"}``."""
    kind = ACCELERATORS[accelerator]
    peaks = _flops.PEAKS.get(kind, {})
    peak_dtype = dtype if dtype in peaks else max(peaks, key=peaks.get, default=None)
    peak = peaks.get(peak_dtype) if peak_dtype else None
    bandwidth = vendor_bandwidth(kind)
    t = roofline_time(flops, nbytes, peak, bandwidth)
    bound = None
    if t is not None and flops is not None and nbytes is not None and peak and bandwidth:
        bound = "memory" if nbytes / bandwidth > flops / peak else "compute"
    return {"device_kind": kind, "time_s": t, "bound": bound, "peak_dtype": peak_dtype}
