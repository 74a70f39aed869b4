"""Analytic model FLOPs: the one counting rule, and the pieces every catalog
entry's ``flops(config, mode)`` is built from.

The rule (XLA's own units, so a count can be checked against
``cost_analysis()``):

- a multiply-add in a contraction (matmul, convolution) is 2 FLOPs; a
  convolution tap that lands on padding (or between the holes of a strided
  transposed convolution) does no work and is not counted;
- every elementwise arithmetic operation (add, subtract, multiply, divide,
  maximum, compare, select) is 1 FLOP per element of its result; reducing
  ``n`` elements to ``m`` sums is ``n - m`` FLOPs;
- transcendental functions (exp, log, tanh, sqrt, rsqrt) are not FLOPs
  (XLA counts them apart, as transcendentals), but a sigmoid, which JAX
  computes as ``1 / (1 + exp(-x))``, is 3 (negate, add, divide); data
  movement (gather, broadcast, reshape, transpose, concatenate, pad), dtype
  casts, integer index arithmetic and random-number generation are not
  FLOPs either;
- ``forward``: the layer in inference mode, no loss. ``train``: the forward
  pass in training mode, the loss, and the backward pass that gives the
  parameters' gradients. JAX differentiates the parameters only, so the
  gradient of the step's input is never formed, and layers before the first
  one with parameters are not differentiated at all. The optimizer update
  is not model work and is not counted (an AdamW update costs XLA about 15
  FLOPs per parameter; ``nnbench.measure.flops.xla_reference`` counts it apart).

A backward pass is derived from the layer's math term by term: the
gradient of ``a·b`` is one multiply per operand, a value used by ``k``
consumers sums ``k`` incoming gradients (``k - 1`` adds per element), a
broadcast's gradient is a reduction, the gradient of ``tanh`` is
``g·(1 - y²)`` (3 per element) and of ``sigmoid`` ``g·y·(1 - y)`` (3).
Each entry's ``flops`` docstring gives its derivation.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence


@dataclasses.dataclass(frozen=True)
class Work:
    """FLOPs of one part of a model (a layer, a block, the loss).

    Attributes:
      forward: the forward pass in training mode.
      params: the backward work that yields this part's parameter gradients
        from its output's gradient (for the loss: its own gradient).
      inputs: the extra backward work that yields its input's gradient.
      eval: the forward pass in inference mode where it differs from
        ``forward`` (BatchNorm with running statistics); None: the same.
      has_params: the part has parameters of its own.
    """

    forward: float
    params: float = 0.0
    inputs: float = 0.0
    eval: float | None = None
    has_params: bool = True

    def __add__(self, other: Work) -> Work:
        return Work(
            self.forward + other.forward,
            self.params + other.params,
            self.inputs + other.inputs,
            None if self.eval is None and other.eval is None else self.eval_forward + other.eval_forward,
            self.has_params or other.has_params,
        )

    def __mul__(self, k: float) -> Work:
        return Work(
            self.forward * k,
            self.params * k,
            self.inputs * k,
            None if self.eval is None else self.eval * k,
            self.has_params,
        )

    __rmul__ = __mul__

    @property
    def eval_forward(self) -> float:
        return self.forward if self.eval is None else self.eval


def total(works: Sequence[Work]) -> Work:
    """The parts of a block summed. Its ``params`` then holds only its
    parts' own parameter work: right for a block whose input gradient is
    formed anyway (one after the model's first parameters), as in every
    catalog model."""
    out = works[0]
    for w in works[1:]:
        out = out + w
    return out


def step(mode: str, chain: Sequence[Work], loss: Work) -> float:
    """Model FLOPs of one step of ``chain`` (parts from input to output)
    followed by ``loss``; ``mode`` is ``init``, ``forward`` or ``train``.

    Train: every part's training forward, the loss and its gradient, then
    backward from the output to the first part with parameters: each part's
    ``params`` work where it has parameters and its ``inputs`` work where a
    part before it has parameters (its input's gradient is needed there).
    """
    if mode == "init":
        return 0.0
    if mode == "forward":
        return float(sum(w.eval_forward for w in chain))
    if mode != "train":
        raise ValueError(f"unknown mode {mode!r}")
    flops = sum(w.forward for w in chain) + loss.forward
    first = next((i for i, w in enumerate(chain) if w.has_params), None)
    if first is None:  # nothing to differentiate: the loss is all
        return float(flops)
    flops += loss.params + loss.inputs
    for i, w in enumerate(chain[first:], start=first):
        flops += (w.params if w.has_params else 0.0) + (w.inputs if i > first else 0.0)
    return float(flops)


def elementwise(forward: float, backward: float, n: float) -> Work:
    """A parameter-free elementwise function on ``n`` elements: ``forward``
    and ``backward`` (input gradient) FLOPs per element."""
    return Work(forward * n, inputs=backward * n, has_params=False)


# --- losses ---


def mse(n: float) -> Work:
    """Mean squared error over ``n`` predictions: ``mean((y - t)²)``.

    Forward: subtract, square (``n`` each), sum (``n - 1``), divide (1):
    ``3n``. Gradient ``2·(y - t)·g/n``: ``×2`` and ``×g/n`` per element:
    ``2n``.
    """
    return Work(3 * n, params=2 * n, has_params=False)


def cross_entropy(rows: float, classes: float) -> Work:
    """Mean softmax cross-entropy of ``rows`` logit rows over ``classes``
    against integer labels (optax's: ``logsumexp(x) - x[label]``).

    Forward, ``n = rows·classes``: the row max (``n - rows``), ``x - max``
    (``n``), sum of the exponentials (``n - rows``); per row: the max's
    finiteness check and select, ``log + max``, ``- x[label]`` (about 4);
    the mean (``rows``): ``3n + 3·rows``. Gradient: ``g·exp(x - max)/sum``
    (a divide per row, a multiply per logit), the label's ``-g`` scattered
    in and added to the dense gradient (``n``): ``2n + 3·rows``.
    """
    n = rows * classes
    return Work(3 * n + 3 * rows, params=2 * n + 3 * rows, has_params=False)


# --- layers ---


def dense(rows: float, d_in: float, d_out: float, bias: bool = True) -> Work:
    """``y = x @ w (+ b)`` on ``rows`` rows.

    Forward ``2·rows·d_in·d_out`` (+ ``rows·d_out`` for the bias);
    parameter gradients ``dw = xᵀ·g`` (``2·rows·d_in·d_out``) and ``db =
    Σ_rows g`` (``(rows - 1)·d_out``); input gradient ``g·wᵀ`` (``2·rows·
    d_in·d_out``).
    """
    mm = 2 * rows * d_in * d_out
    return Work(mm + (rows * d_out if bias else 0), params=mm + ((rows - 1) * d_out if bias else 0), inputs=mm)


def activation(kind: str, n: float) -> Work:
    """An activation on ``n`` elements.

    - ``relu``: ``max(x, 0)`` (1); gradient ``select(x > 0, g, 0)`` (2).
    - ``tanh``: transcendental (0); gradient ``g·(1 - y²)`` (3).
    - ``gelu`` (tanh approximation, ``jax.nn.gelu``'s default):
      ``0.5·x·(1 + tanh(c·(x + 0.044715·x³)))``: ``x³`` (2), ``0.044715·``,
      ``x +``, ``c·``, ``1 +``, ``0.5·``, ``x·`` (1 each): 8. Gradient: the
      product's two terms (2), ``0.5·`` (1), tanh's ``1 - t²`` and product
      (3), ``c·`` (1), ``0.044715·`` (1), ``3·x²·`` (3), summing the three
      uses of ``x`` (2): 13.
    """
    per = {"relu": (1, 2), "tanh": (0, 3), "gelu": (8, 13)}[kind]
    return elementwise(*per, n)


def softmax(rows: float, n: float) -> Work:
    """``jax.nn.softmax`` of ``n`` elements in ``rows`` rows.

    Forward: row max (``n - rows``), ``x - max`` (``n``), the exponentials'
    row sum (``n - rows``), divide (``n``): ``4n - 2·rows``. Gradient
    ``y·(g - Σ g·y)``: multiply, row sum, subtract, multiply: ``4n - rows``.
    """
    return Work(4 * n - 2 * rows, inputs=4 * n - rows, has_params=False)


def norm_stats(n: float, groups: float) -> float:
    """Mean and biased variance of ``n`` elements in ``groups`` groups as
    ``E[x²] - E[x]²`` (clamped at 0): two sums (``2·(n - groups)``), ``x²``
    (``n``), two divides, ``mean²``, subtract, clamp (5 per group)."""
    return 3 * n + 3 * groups


def normalize(n: float, groups: float, channels: float) -> Work:
    """Statistics-based normalisation of ``n`` elements in ``groups``
    normalisation groups with a per-channel scale and bias of ``channels``
    entries, statistics in the plain ``E[x²] - E[x]²`` form: the
    ``layernorm`` (groups = rows) and ``groupnorm`` (groups = samples ×
    groups) entries.

    Forward: the statistics (``norm_stats``), ``+ eps`` per group,
    ``(x - mean)·rsqrt(var + eps)`` (``2n``), ``·scale`` and ``+ bias``
    (``2n``): ``7n + 4·groups``. Parameter gradients:
    ``dscale = Σ g·x̂`` (``n`` products, ``n - channels`` sums), ``dbias =
    Σ g`` (``n - channels``). The input's gradient is not derived: every
    catalog model that needs it uses ``layer_norm`` below.
    """
    return Work(norm_stats(n, groups) + groups + 4 * n, params=n + 2 * (n - channels))


def layer_norm(rows: float, d: float) -> Work:
    """The models' LayerNorm over the last axis (``transformer_lm._jax``:
    ``var = mean((x - mean)²)``, ``y = (x - mean)·rsqrt(var + eps)·scale +
    bias``) on ``rows`` rows of ``d``, ``n = rows·d``.

    Forward: mean (``n - rows`` sums, ``rows`` divides), ``c = x - mean``
    (``n``), ``c²`` (``n``), the variance's sum and divide (``n``), ``+ eps``
    (``rows``), ``c·rsqrt`` (``n``), ``·scale + bias`` (``2n``): ``7n +
    rows``. Parameter gradients: ``dscale = Σ g·x̂`` (``2n - d``), ``dbias =
    Σ g`` (``n - d``). Input gradient, by the chain rule through those
    operations: ``ĝ = g·scale``, ``ĝ·rsqrt``, ``Σ ĝ·c`` (2), the square's
    ``2·c·`` (2), the two paths into ``c`` summed, the mean's ``-Σ`` (2),
    the two paths into ``x`` summed (``10n``, plus a few per row).
    """
    n = rows * d
    return Work(7 * n + rows, params=3 * n - 2 * d, inputs=10 * n)


def attention(batch: float, seq: float, d: float, heads: float, causal: bool) -> Work:
    """Multi-head self-attention with biased Q/K/V/output projections
    (``layers.attention`` and the models' blocks), ``N = B·T`` tokens.

    Forward: the four projections ``4·2·N·D²`` plus their biases ``4·N·D``;
    ``q/√dh`` (``N·D``); scores ``q·kᵀ`` and the weighted sum ``w·v``, each
    ``2·B·T²·D`` (the full ``T × T`` matrix: the causal mask selects after
    computing it); the mask select (``B·H·T²``; building the ``T × T`` mask,
    a compare and a select, ``2·T²``); softmax over ``B·H·T`` rows.
    Parameter gradients: the four projections' weights (``4·2·N·D²``) and
    biases (``4·(N - 1)·D``), which need the gradients of ``q``, ``k``, ``v``
    and of the heads' output: the output projection's input gradient
    (``2·N·D²``), both operands of both score products (``4·2·B·T²·D``), the
    mask (``B·H·T²``), softmax, the ``1/√dh`` scale (``N·D``). Input
    gradient: ``g·wᵀ`` through the three input projections (``3·2·N·D²``)
    summed (``2·N·D``).
    """
    n, s = batch * seq, batch * heads * seq * seq
    scores = 2 * batch * seq * seq * d
    sm = softmax(batch * heads * seq, s)
    mask = (s + 2 * seq * seq) if causal else 0
    forward = 8 * n * d * d + 4 * n * d + n * d + 2 * scores + mask + sm.forward
    params = 8 * n * d * d + 4 * (n - 1) * d + 2 * n * d * d + 4 * scores + (s if causal else 0) + sm.inputs + n * d
    return Work(forward, params=params, inputs=6 * n * d * d + 2 * n * d)


def valid_taps(n: int, k: int, stride: int, out: int, pad_lo: int, transpose: bool) -> int:
    """Multiply-adds per (input channel, output channel) along one spatial
    axis of a convolution that touch real input: pairs (output position,
    kernel tap) whose input position exists. ``transpose``: a transposed
    convolution as ``lax.conv_transpose`` computes it, a stride-1
    convolution over the input dilated by ``stride`` (holes between inputs
    are not input) with ``pad_lo`` leading padding."""
    count = 0
    for o in range(out):
        for j in range(k):
            if transpose:
                p = o + j - pad_lo
                count += p >= 0 and p % stride == 0 and p // stride < n
            else:
                count += 0 <= o * stride - pad_lo + j < n
    return count


def conv_taps(
    spatial: Sequence[int], kernel: Sequence[int], stride: Sequence[int], padding: str, transpose: bool
) -> tuple[int, tuple[int, ...]]:
    """``(taps, out_spatial)``: the product over spatial axes of
    ``valid_taps`` and the output's spatial shape, with JAX's padding rules
    (``lax.padtype_to_pads`` for a convolution, ``lax.conv_transpose``'s
    for a transposed one)."""
    taps, out_shape = 1, []
    for n, k, s in zip(spatial, kernel, stride, strict=True):
        if transpose:
            out = n * s if padding == "SAME" else (n - 1) * s + k
            if padding == "SAME":
                pad_len = k + s - 2
                pad_lo = k - 1 if s > k - 1 else math.ceil(pad_len / 2)
            else:
                pad_lo = k - 1
        else:
            out = -(-n // s) if padding == "SAME" else (n - k) // s + 1
            pad_lo = max((out - 1) * s + k - n, 0) // 2 if padding == "SAME" else 0
        taps *= valid_taps(n, k, s, out, pad_lo, transpose)
        out_shape.append(out)
    return taps, tuple(out_shape)


def conv(
    batch: int,
    spatial: Sequence[int],
    c_in: int,
    c_out: int,
    kernel: Sequence[int],
    stride: Sequence[int],
    padding: str,
    transpose: bool = False,
    bias: bool = True,
) -> Work:
    """A convolution ``[B, *spatial, c_in] -> [B, *out, c_out]``.

    Forward ``2·B·taps·c_in·c_out`` (``taps`` from ``conv_taps``: only taps
    on real input) plus the bias (``B·positions·c_out``); the kernel's
    gradient (a convolution of the input with the output's gradient) and
    the input's gradient each do the same multiply-adds; the bias gradient
    sums over ``B·positions``.
    """
    taps, out = conv_taps(spatial, kernel, stride, padding, transpose)
    mm = 2 * batch * taps * c_in * c_out
    positions = batch * math.prod(out)
    return Work(
        mm + (positions * c_out if bias else 0), params=mm + ((positions - 1) * c_out if bias else 0), inputs=mm
    )
