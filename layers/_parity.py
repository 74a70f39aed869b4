"""Cross-style parity: the same weights give the same outputs and gradients."""

from __future__ import annotations

import jax
import numpy as np

from layers._catalog import Entry
from layers._styles import STYLES, batch_for, canonical_weights, forward_fn, grad_fn


class ParityError(AssertionError):
    """A style's output or gradient differs from raw JAX beyond tolerance."""


def _max_err(a, b) -> tuple[float, str]:
    worst, where = 0.0, ""
    flat_a = jax.tree_util.tree_flatten_with_path(a)[0]
    flat_b = dict(jax.tree_util.tree_flatten_with_path(b)[0])
    if len(flat_a) != len(flat_b):
        raise ParityError(f"tree structures differ: {len(flat_a)} vs {len(flat_b)} leaves")
    for path, leaf in flat_a:
        if path not in flat_b:
            raise ParityError(f"leaf {jax.tree_util.keystr(path)} missing")
        x = np.asarray(leaf, dtype=np.float64)
        y = np.asarray(flat_b[path], dtype=np.float64)
        if x.shape != y.shape:
            raise ParityError(f"leaf {jax.tree_util.keystr(path)} shape {y.shape} != {x.shape}")
        err = float(np.max(np.abs(x - y) / (1.0 + np.abs(x)))) if x.size else 0.0
        if not np.isfinite(y).all():
            err = float("inf")
        if err > worst:
            worst, where = err, jax.tree_util.keystr(path)
    return worst, where


def _finite(x: float) -> float | None:
    """Errors go into JSON run files: non-finite becomes None (see message)."""
    return x if np.isfinite(x) else None


def parity_report(
    entry: Entry,
    size: str,
    dtype: str = "float32",
    styles: tuple[str, ...] = STYLES,
    seed: int = 0,
    canonical=None,
) -> dict[str, dict]:
    """Compare every style's forward output, loss and param gradients with ``jax``.

    Returns ``{style: {"forward": err, "grad": err, "loss": err, "limit":
    tol, "ok": bool, "message": str | None}}`` where err is the largest
    ``|a - b| / (1 + |a|)`` over all elements and tol is the entry's
    ``atol + rtol`` for ``dtype``.

    ``canonical`` overrides the weights given to the compared styles (the
    reference always uses the raw-JAX initialiser's), so tests can prove a
    perturbed weight is caught.
    """
    config = entry.config(size)
    k_data, k_init = jax.random.split(jax.random.key(seed))
    batch = batch_for(entry, config, dtype, k_data)
    reference = canonical_weights(entry, config, dtype, k_init, batch["x"])
    weights = reference if canonical is None else canonical
    rtol, atol = entry.tolerance[dtype]
    limit = atol + rtol

    # Each view is jitted: op-by-op evaluation of a model costs seconds.
    want_y = jax.jit(forward_fn(entry, "jax", config, dtype))(reference, batch["x"])
    want_loss, want_g = jax.jit(grad_fn(entry, "jax", config, dtype))(reference, batch)
    report: dict[str, dict] = {}
    for style in styles:
        got_y = jax.jit(forward_fn(entry, style, config, dtype))(weights, batch["x"])
        got_loss, got_g = jax.jit(grad_fn(entry, style, config, dtype))(weights, batch)
        message = None
        try:
            fwd, _ = _max_err(want_y, got_y)
            grad, where = _max_err(want_g, got_g)
            lerr, _ = _max_err(want_loss, got_loss)
        except ParityError as e:
            fwd = grad = lerr = float("inf")
            message = f"{entry.name}/{size}/{dtype}: style {style!r}: {e}"
        else:
            for what, err in (("forward output", fwd), ("gradient" + (f" {where}" if where else ""), grad), ("loss", lerr)):
                if not err <= limit:
                    message = f"{entry.name}/{size}/{dtype}: style {style!r} {what} differs from jax by {err:.3g} (limit {limit:.3g})"
                    break
        report[style] = {
            "forward": _finite(fwd),
            "grad": _finite(grad),
            "loss": _finite(lerr),
            "limit": limit,
            "ok": message is None,
            "message": message,
        }
    return report


def check_parity(entry: Entry, size: str, dtype: str = "float32", styles: tuple[str, ...] = STYLES, seed: int = 0, canonical=None) -> dict[str, dict]:
    """``parity_report``, raising ``ParityError`` on the first failing style."""
    report = parity_report(entry, size, dtype, styles, seed, canonical)
    for result in report.values():
        if not result["ok"]:
            raise ParityError(result["message"])
    return report
