"""The parity gates of a group: each style's math against raw JAX once per
layer (``parity_report``), and the very steps about to be timed against
raw JAX's step after as many calls (``step_gate``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nnbench.results.case import Case


def group_parity(cases: Sequence[Case]) -> dict[str, Any]:
    """One parity report for the styles of a group (the reference is shared).

    A style whose parity check itself raised maps to that exception.
    """

    styles = tuple(c.style for c in cases if c.mode != "init" and c.source is None)
    if not styles:
        return {}
    c = cases[0]
    ident = (c.layer, c.size, c.dtype, styles)
    if ident in _PARITY:  # the forward and train groups of a layer share one worker
        return _PARITY[ident]
    _PARITY[ident] = _parity_by_style(c, styles)
    from nnbench.layers import parity

    parity.forget_views()  # their executables would stay alive through the group's timing
    return _PARITY[ident]


_PARITY: dict[tuple[str, str, str, tuple[str, ...]], dict[str, Any]] = {}


def step_gate(ready: list[tuple[dict[str, Any], Any, Any]]) -> list[tuple[dict[str, Any], Any, Any]]:
    """Gate the very steps about to be timed: each is called once more and
    what it returns (``Built.result``: a forward step's output, a train
    step's loss after the updates of the calls before) is compared with raw
    JAX's step after as many calls (``layers.parity.step_results``).

    The parity report checks each library's math once; this catches a jit
    mode that steps it wrongly (``nnx_cached``, ``nnx_partial``, ...). The
    ``jax`` case of the group is the reference; without one, the raw-JAX
    step is built and called here. Stochastic train steps are not compared
    (libraries draw different dropout masks by design; their masks are
    gated by ``dropout_properties``). Returns the cases that may be timed;
    a mismatch makes its record ``invalid``. ``record["parity"]["step"]``
    holds the comparison.
    """
    gated = [
        item
        for item in ready
        if item[2] is not None and getattr(item[2], "result", None) is not None and item[0].get("parity")
    ]
    if not gated:  # user cases: no reference, and no reason to import every style's library
        return ready
    from nnbench import layers
    from nnbench.layers import parity as _parity

    case = Case.from_dict(gated[0][0]["case"])
    entry = layers.get(case.layer)
    if entry.stochastic and case.mode == "train":
        for record, _, _ in gated:
            record["parity"] = dict(
                record["parity"],
                step={"ok": None, "message": "not compared: libraries draw different dropout masks (see dropout)"},
            )
        return ready
    results = {}
    for record, p, built in gated:
        p.lane.call()
        results[record["id"]] = jax_host(built.result(p.lane.last_out))
    reference = next((results[r["id"]] for r, _, _ in gated if r["case"]["style"] == "jax"), None)
    if reference is None:
        reference = _reference_result(entry, case, gated[0][1].lane.calls)
    keep = []
    for item in ready:
        record = item[0]
        if record["id"] in results:
            res = _parity.step_results(entry, case.dtype, reference, results[record["id"]])
            res["calls"] = item[1].lane.calls
            record["parity"] = dict(record["parity"], step=res)  # a copy: the report is shared by the layer's groups
            if not res["ok"]:
                record.update(
                    status="invalid", error=f"parity: {case.group}/{record['case']['style']} {res['message']}"
                )
                continue
        keep.append(item)
    return keep


def _reference_result(entry, case: Case, calls: int):
    """``Built.result`` of the raw-JAX step of ``case`` after ``calls`` calls."""
    from nnbench import layers
    from nnbench.measure.timing import fenced_call

    built = layers.build(entry, "jax", case.size, case.mode, case.dtype)
    args, out = built.args, None
    for _ in range(calls):
        out, args, _, _ = fenced_call(built.step, args, built.carry)
    return jax_host(built.result(out))


def jax_host(tree):
    """A pytree of arrays copied to host numpy (outlives donation)."""
    import jax
    import numpy as np

    return jax.tree.map(np.asarray, jax.device_get(tree))


def _parity_by_style(c: Case, styles: tuple[str, ...]) -> dict[str, Any]:
    from nnbench import layers

    try:
        return layers.parity_report(layers.get(c.layer), c.size, c.dtype, styles=styles)
    except Exception:  # noqa: BLE001 - find which style raises
        out: dict[str, Any] = {}
        for style in styles:
            try:
                out.update(layers.parity_report(layers.get(c.layer), c.size, c.dtype, styles=(style,)))
            except Exception as e:  # noqa: BLE001
                out[style] = e
        return out
