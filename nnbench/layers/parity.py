"""Cross-style parity: the same weights give the same outputs and gradients."""

from __future__ import annotations

import copy

import jax
import jax.numpy as jnp
import numpy as np

from nnbench.layers import untimed
from nnbench.layers.catalog import Entry
from nnbench.layers.styles import FAMILY, STYLES, batch_for, canonical_weights, dropout_fn, forward_fn, grad_fn


class ParityError(AssertionError):
    """A style's output or gradient differs from raw JAX beyond tolerance."""


# The views check that the styles compute the same math, not how fast: they
# compile with ``untimed.VIEW_OPTIONS`` (no LLVM optimisation, XLA:CPU's
# older loop emitters; XLA's own HLO passes, fusion included, still run).
# On the 2-core CI VM that cut the ResNet's tiny float32 report 53 s -> 34 s
# (-O0) -> 18 s (emitters; compile 11.2 -> 4.6 s), the ViT's bfloat16 one
# 29 s -> 21 s, and left the errors where they were (ResNet's largest
# gradient error 2.9e-6 either way; tests/test_parity.py holds every entry to
# its tolerance). The timed steps, and the step gate that compares them,
# compile as usual.


def _view(kind: str, entry: Entry, style: str, size: str, dtype: str) -> untimed.Once:
    """The ``kind`` view (``forward``, ``grad`` or ``dropout``) of a style's
    family, kept for the process: its compiled program serves any weights of
    the entry's shapes, so a report with perturbed weights, a bfloat16
    report's float32 gate and a per-style retry compile nothing twice.
    ``forget_views`` lets them go."""
    key = (id(entry), FAMILY[style], size, dtype, kind)
    if key not in _VIEWS:
        make = {"forward": forward_fn, "grad": grad_fn, "dropout": dropout_fn}[kind]
        _VIEWS[key] = (entry, untimed.Once(make(entry, style, entry.config(size), dtype), untimed.VIEW_OPTIONS))
    return _VIEWS[key][1]


# (id(entry), family, size, dtype, kind) -> (entry, view); the entry is held so its id stays its own.
_VIEWS: dict[tuple, tuple[Entry, untimed.Once]] = {}


def forget_views() -> None:
    """Drop the kept views (and their executables)."""
    _VIEWS.clear()


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


def dropout_properties(entry: Entry, style: str, size: str, dtype: str, weights, x: jax.Array, limit: float) -> dict:
    """Prove dropout is threaded honestly in ``style`` (training mode).

    Flax derives a mask from a key by folding in the module path, Haiku by
    splitting its key sequence and NNX from its ``Rngs`` stream counter, so
    masks from the same key differ *across* libraries by design. What must
    hold in every style: the same key gives the same mask, a new key a new
    one; the kept fraction is ``1 - rate`` (within 5 binomial standard
    deviations); kept units equal the eval output scaled by ``1 / (1 -
    rate)``. Returns those facts and ``message`` (``None`` when all hold).
    """
    fn = _view("dropout", entry, style, size, dtype)
    k1, k2 = jax.random.split(jax.random.key(1234))
    y1, y1_again, y2 = (np.asarray(fn(weights, x, k), np.float64) for k in (k1, k1, k2))
    y_eval = np.asarray(_view("forward", entry, style, size, dtype)(weights, x), np.float64)
    keep = 1.0 - entry.config(size)["rate"]
    kept = y1 != 0
    kept_fraction = float(kept.mean())
    sigma = float(np.sqrt(keep * (1 - keep) / kept.size))
    scaled_err = float(
        np.max(np.abs(y1[kept] - y_eval[kept] / keep) / (1.0 + np.abs(y_eval[kept] / keep)), initial=0.0)
    )
    facts = {
        "same_key_same_mask": bool(np.array_equal(y1 != 0, y1_again != 0)),
        "new_key_new_mask": bool(not np.array_equal(y1 != 0, y2 != 0)),
        "kept_fraction": kept_fraction,
        "keep_rate": keep,
        "kept_scaled_err": scaled_err,
    }
    problems = []
    if not facts["same_key_same_mask"]:
        problems.append("the same key gave different masks")
    if not facts["new_key_new_mask"]:
        problems.append("a new key gave the same mask")
    if abs(kept_fraction - keep) > 5 * sigma:
        problems.append(f"kept fraction {kept_fraction:.3f}, expected {keep:.3f}")
    if not scaled_err <= limit:
        problems.append(f"kept units differ from eval output / keep rate by {scaled_err:.3g}")
    facts["message"] = f"{entry.name}/{dtype}: style {style!r} dropout: " + "; ".join(problems) if problems else None
    return facts


def parity_report(
    entry: Entry,
    size: str,
    dtype: str = "float32",
    styles: tuple[str, ...] = STYLES,
    seed: int = 0,
    canonical=None,
) -> dict[str, dict]:
    """Compare every style's forward output, loss, param gradients and state with ``jax``.

    Returns ``{style: {"forward": err, "grad": err, "loss": err, "state":
    err, "limit": tol, "ok": bool, "message": str | None}}`` where err is
    the largest ``|a - b| / (1 + |a|)`` over all elements and tol is the
    entry's ``atol + rtol`` for ``dtype``. ``forward`` is eval mode (BatchNorm
    uses running statistics, dropout is off); ``grad``, ``loss`` and
    ``state`` come from one training-mode pass with dropout off, ``state``
    being every non-param collection after it (BatchNorm running mean and
    variance). For a stochastic entry, ``"dropout"`` holds
    ``dropout_properties`` and must pass too.

    ``canonical`` overrides the weights given to the compared styles (the
    reference always uses the raw-JAX initialiser's), so tests can prove a
    perturbed weight is caught.

    A ``dtype`` other than float32 is also gated in float32 (each style's
    ``"float32"`` entry, see ``_gate_in_float32``): its own tolerance is a
    few per cent, too coarse to see a 5 % weight change on its own.

    Reports of the entry's own weights (no ``canonical``) are kept for the
    process: the same entry object, size, dtype, styles and seed give the
    same report, so a bfloat16 report's float32 gate reuses a float32
    report already made (each costs a compile of every library's views).
    """
    if canonical is not None:
        return _parity_report(entry, size, dtype, tuple(styles), seed, canonical)
    key = (id(entry), size, dtype, tuple(styles), seed)
    if key not in _REPORTS:
        _REPORTS[key] = (entry, _parity_report(entry, size, dtype, tuple(styles), seed, None))
    return copy.deepcopy(_REPORTS[key][1])


# (id(entry), size, dtype, styles, seed) -> (entry, report); the entry is held so its id stays its own.
_REPORTS: dict[tuple, tuple[Entry, dict[str, dict]]] = {}


def _parity_report(
    entry: Entry, size: str, dtype: str, styles: tuple[str, ...], seed: int, canonical
) -> dict[str, dict]:
    """``parity_report``, computed."""
    config = entry.config(size)
    k_data, k_init = jax.random.split(jax.random.key(seed))
    batch = batch_for(entry, config, dtype, k_data)
    reference = canonical_weights(entry, config, dtype, k_init, batch["x"])
    weights = reference if canonical is None else canonical
    rtol, atol = entry.tolerance[dtype]
    limit = atol + rtol

    # Each view is jitted: op-by-op evaluation of a model costs seconds.
    want_y = _view("forward", entry, "jax", size, dtype)(reference, batch["x"])
    want_loss, want_g, want_state = _view("grad", entry, "jax", size, dtype)(reference, batch)
    report: dict[str, dict] = {}
    # The views depend on the style family only (the NNX jit modes run the
    # same module code); each family is evaluated once.
    views: dict[str, tuple] = {}
    for style in styles:
        family = FAMILY[style]
        if family not in views:
            views[family] = (
                _view("forward", entry, style, size, dtype)(weights, batch["x"]),
                *_view("grad", entry, style, size, dtype)(weights, batch),
            )
        got_y, got_loss, got_g, got_state = views[family]
        message, dropout = None, None
        try:
            fwd, _ = _max_err(want_y, got_y)
            grad, where = _max_err(want_g, got_g)
            lerr, _ = _max_err(want_loss, got_loss)
            serr, swhere = _max_err(want_state, got_state)
        except ParityError as e:
            fwd = grad = lerr = serr = float("inf")
            message = f"{entry.name}/{size}/{dtype}: style {style!r}: {e}"
        else:
            for what, err in (
                ("forward output", fwd),
                ("gradient" + (f" {where}" if where else ""), grad),
                ("loss", lerr),
                (f"state {swhere}", serr),
            ):
                if not err <= limit:
                    message = (
                        f"{entry.name}/{size}/{dtype}: style {style!r} {what} differs from jax by {err:.3g} "
                        f"(limit {limit:.3g})"
                    )
                    break
        if message is None and entry.stochastic:
            if (family, "dropout") not in views:
                views[family, "dropout"] = dropout_properties(entry, style, size, dtype, weights, batch["x"], limit)
            dropout = views[family, "dropout"]
            message = dropout["message"]
        report[style] = {
            "forward": _finite(fwd),
            "grad": _finite(grad),
            "loss": _finite(lerr),
            "state": _finite(serr),
            "limit": limit,
            "ok": message is None,
            "message": message,
        }
        if entry.stochastic:
            report[style]["dropout"] = dropout
    if dtype != "float32":
        _gate_in_float32(report, entry, size, dtype, styles, seed, canonical)
    return report


def _as_float32(tree):
    return jax.tree.map(lambda a: a.astype(jnp.float32) if jnp.issubdtype(a.dtype, jnp.floating) else a, tree)


def _gate_in_float32(
    report: dict[str, dict], entry: Entry, size: str, dtype: str, styles: tuple[str, ...], seed: int, canonical
) -> None:
    """Add each style's float32 parity to a lower-precision ``report``.

    A bfloat16 tolerance (``entry.tolerance``, a few per cent) cannot see a
    weight 5 % off; the same style code run in float32 from the same weights
    can (its limit is ~1e-5). A style passes only if both hold: the math is
    gated in float32, the low-precision program within its own tolerance.
    """
    f32 = parity_report(entry, size, "float32", styles, seed, None if canonical is None else _as_float32(canonical))
    for style, res in report.items():
        gate = {k: f32[style][k] for k in ("forward", "grad", "loss", "state", "limit", "ok")}
        res["float32"] = gate
        if res["ok"] and not gate["ok"]:
            res.update(ok=False, message=f"{f32[style]['message']} (the float32 gate of a {dtype} case)")


def step_results(entry: Entry, dtype: str, want, got) -> dict:
    """Compare what one timed step returned with raw JAX's after as many calls.

    ``want``/``got``: ``Built.result`` of the ``jax`` style's step and of
    another style's step, each after the same number of calls from the same
    weights (for a train step, the loss after the updates before it: it
    moves if the forward pass, the gradient or the update differs). The
    parity views are evaluated once per library; this checks the very step
    each NNX jit mode times. Returns ``{"err", "limit", "ok", "message"}``.
    """
    rtol, atol = entry.tolerance[dtype]
    limit = atol + rtol
    try:
        err, where = _max_err(want, got)
    except ParityError as e:
        return {"err": None, "limit": limit, "ok": False, "message": f"timed step's output: {e}"}
    ok = err <= limit
    message = (
        None
        if ok
        else f"timed step's output{' ' + where if where else ''} differs from jax's by {err:.3g} (limit {limit:.3g})"
    )
    return {"err": _finite(err), "limit": limit, "ok": ok, "message": message}


def check_parity(
    entry: Entry, size: str, dtype: str = "float32", styles: tuple[str, ...] = STYLES, seed: int = 0, canonical=None
) -> dict[str, dict]:
    """``parity_report``, raising ``ParityError`` on the first failing style."""
    report = parity_report(entry, size, dtype, styles, seed, canonical)
    for result in report.values():
        if not result["ok"]:
            raise ParityError(result["message"])
    return report
