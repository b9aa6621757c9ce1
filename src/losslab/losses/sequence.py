"""Sequence losses: token cross-entropy, perplexity, and the language-model head loss.

``token_cross_entropy`` takes logits over the vocabulary for every token, shape
(batch, time, vocab) (or any leading shape); ``linear_cross_entropy`` takes the hidden
states and the output matrix instead and never builds the N x V logits at once: it walks
the tokens in chunks and, in the same pass, accumulates the gradients with respect to the
hidden states, the output matrix and the bias. On PyTorch tensors that pass is a
``torch.autograd.Function``, so the loss trains in an ordinary ``loss.backward()`` loop.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from array_api_compat import device

from .. import _stable as S
from .. import kernels
from .. import _validate as V
from .._array import array_namespace, as_array, float_dtype, index_dtype, is_numpy, is_torch, is_tracing, to_numpy
from ..loss import Loss, Param, register
from ..loss.weights import scalar as _scalar
from ..traits import Traits

INTEGER = V.Rule(lambda v: isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)), "an integer")
POSITIVE_INTEGER = V.Rule(
    lambda v: isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) and v >= 1, "an integer >= 1"
)
#: Default chunk on PyTorch: about 256 MiB of logits at a time (1024 tokens at V = 65536 in
#: float32): larger chunks mean fewer read-modify-writes of the (V, d) weight gradient.
CHUNK_BYTES = 1 << 28
#: Default chunk on NumPy: 48 MiB of logits, so that the working memory beyond the gradients
#: stays under 64 MiB at any V (the per-chunk vectors and BLAS's packing buffers take the
#: rest). Liger sizes its chunks from V/d for the same reason; here the bound is in bytes.
#: The gradient's cost does not grow with smaller chunks until they are too thin for BLAS
#: (bench/README.md: the same time at 48 MiB as at 256 MiB).
NUMPY_CHUNK_BYTES = 48 << 20
#: Vocabulary columns per block of the filtered mode (filter_eps).
FILTER_BLOCK = 2048

_SEQUENCE = dict(task="sequence")


def _check_targets(xp: Any, targets: Any, n_vocab: int, ignore_index: int, name: str = "targets") -> None:
    """Whole numbers in [0, n_vocab), ``ignore_index`` entries excepted; the message names ``name``."""
    if is_tracing(targets) or targets.size == 0:
        return
    values = to_numpy(targets)
    if values.dtype.kind == "f":
        V.check_finite(np, values, name)
        if np.any(values != np.round(values)):
            bad = values[values != np.round(values)]
            raise ValueError(f"{name} must hold whole token ids; got {float(bad.flat[0]):g}")
    kept = values[values != ignore_index]
    if kept.size and (kept.min() < 0 or kept.max() >= n_vocab):
        bad = kept.min() if kept.min() < 0 else kept.max()
        raise ValueError(
            f"{name} must hold token ids in [0, {n_vocab - 1}] for a vocabulary of {n_vocab}"
            f" (or ignore_index={ignore_index}); got {float(bad):g}"
        )


def _safe_ids(xp: Any, targets: Any, ignore_index: int) -> Any:
    """Integer ids with ignored entries replaced by 0 (their weight is 0; any valid id will do)."""
    ids = xp.astype(targets, index_dtype(xp))
    return xp.where(ids == ignore_index, xp.zeros_like(ids), ids)


def _one_hot(xp: Any, ids: Any, n_classes: int, dtype: Any) -> Any:
    classes = xp.arange(n_classes, device=device(ids))
    return xp.astype(ids[..., None] == classes, dtype)


@register
class TokenCrossEntropy(Loss):
    r"""Softmax cross-entropy of every token: logits (batch, time, vocab), targets (batch, time).

    - Formula: :math:`\ell_{bt} = \log\sum_v e^{z_{btv}} - z_{bt,y_{bt}}`; a token whose
      target is ``ignore_index`` gets weight 0, so "mean" is the mean over the kept tokens
      (Σ w ℓ / Σ w, with sample_weight per sequence multiplying every token of its row).
    - Domains: targets whole token ids in [0, V) or ``ignore_index`` (floats with whole
      values are accepted); logits real, −inf allowed for a masked token.
    - Gradient softmax(z) − onehot(y); Hessian diagonal p(1 − p).
    - Estimates the next-token probability (a proper scoring rule).
    - Relations: PyTorch ``cross_entropy(logits.transpose(1, 2), targets, ignore_index=-100)``
      (which takes the class axis second and returns NaN when every token is ignored;
      losslab returns 0); reduction="none" gives the (batch, time) grid of losses.
      ``perplexity`` is exp of this mean.
    - Reference: Shannon (1948); Bengio et al. (2003), a neural probabilistic language model.

    >>> import losslab as ll
    >>> logits = [[[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]]]
    >>> print(round(float(ll.token_cross_entropy([[0, -100]], logits)), 6))
    0.239545
    """

    name = "token_cross_entropy"
    family = "sequence"
    aliases = ("sequence_cross_entropy", "lm_cross_entropy")
    description = "Softmax cross-entropy per token over (batch, time, vocab), with ignore_index."
    formula = r"\log\sum_v e^{z_{tv}} - z_{t,y_t}"
    parameters = (Param("ignore_index", -100, INTEGER, "target id that marks a token to skip (padding)"),)
    inputs = ("targets", "logits")
    differentiable_inputs = ("logits",)
    event_ndim = 1
    TRAITS = Traits(convex=True, proper=True, classification_calibrated=True, estimates="probability", **_SEQUENCE)

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        targets, logits = arrays
        if logits.ndim < 2:
            raise ValueError(f"logits must have a vocabulary axis last, e.g. (batch, time, vocab); got shape {tuple(logits.shape)}")
        if tuple(targets.shape) != tuple(logits.shape[:-1]):
            raise ValueError(
                f"targets must have the shape of logits without its vocabulary axis, {tuple(logits.shape[:-1])};"
                f" got {tuple(targets.shape)}"
            )
        return (targets, xp.astype(logits, float_dtype(xp, logits), copy=False)), options

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        targets, logits = arrays
        _check_targets(xp, targets, logits.shape[-1], self.ignore_index)
        V.check_finite(xp, logits, "logits", allow_neg_inf=True)

    def _extra_weights(self, xp: Any, arrays: tuple, options: dict) -> Any:
        targets, logits = arrays
        return xp.astype(targets != self.ignore_index, logits.dtype)

    def _per_sample(self, xp: Any, targets: Any, logits: Any) -> Any:
        onehot = _one_hot(xp, _safe_ids(xp, targets, self.ignore_index), logits.shape[-1], logits.dtype)
        log_p = S.log_softmax(xp, logits)
        # Multiply-and-sum picks the target's log-probability; a masked (−inf) non-target
        # entry must not meet the 0 of the one-hot row, hence the where().
        return -xp.sum(xp.where(onehot > 0, log_p, xp.zeros_like(log_p)), axis=-1)

    def _gradient(self, xp: Any, targets: Any, logits: Any) -> Any:
        onehot = _one_hot(xp, _safe_ids(xp, targets, self.ignore_index), logits.shape[-1], logits.dtype)
        return S.softmax(xp, logits) - onehot

    def _hessian(self, xp: Any, targets: Any, logits: Any) -> Any:
        p = S.softmax(xp, logits)
        return p * (1.0 - p)


def perplexity(targets: Any, logits: Any, *, ignore_index: int = -100, sample_weight: Any = None) -> Any:
    r"""Perplexity: exp of the mean token cross-entropy (a metric, not a per-sample loss).

    - Formula: :math:`\mathrm{PPL} = \exp\big(\sum w_t \ell_t / \sum w_t\big)` with
      :math:`\ell_t` the token cross-entropy; ignored tokens are left out.
    - Domains: as ``token_cross_entropy``.
    - Gradient: PPL · ∂(mean CE) (autograd on PyTorch/JAX; exp of a mean is not a sum over
      samples, so it has no reduction="sum"/"none" and no entry in the catalog).
    - Relations: 1 for a perfect model, V for a uniform guess over V tokens.

    >>> import losslab as ll
    >>> print(float(ll.perplexity([[0, 1]], [[[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]])))
    4.0
    """
    value = TokenCrossEntropy(ignore_index=ignore_index)(targets, logits, sample_weight=sample_weight)
    if isinstance(value, np.generic):
        return np.exp(value)
    return array_namespace(value).exp(value)


# ------------------------------------------------------------------- the LM head loss
@register
class LinearCrossEntropy(Loss):
    r"""Language-model head loss: softmax cross-entropy of ``hidden @ weight.T + bias``, chunked.

    - Formula: :math:`\ell_i = \log\sum_v e^{z_{iv}} - z_{i,y_i}`,
      :math:`z = h W^\top + b`, for hidden states h (N, d), output matrix W (V, d), optional
      ``bias=`` (V,) given per call, targets (N,) token ids; ``ignore_index`` tokens get weight 0.
      Flatten (batch, time) first: ``hidden.reshape(-1, d)``, ``targets.reshape(-1)``.
    - Domains: hidden, weight, bias real; targets whole ids in [0, V) or ``ignore_index``.
    - Gradient, with G = c ⊙ (softmax(z) − onehot(y)) and c the weights of the reduction:
      ∂/∂h = G W, ∂/∂W = Gᵀ h, ∂/∂b = Σᵢ Gᵢ. ``gradient`` returns (∂h, ∂W), and
      (∂h, ∂W, ∂b) when a bias is given. No Hessian.
    - Memory: the tokens are taken ``chunk_size`` at a time (default: 48 MiB of logits per
      chunk on NumPy, so that the working memory beyond the gradients stays under 64 MiB at
      any V; about 256 MiB on PyTorch), and each chunk's gradient contributions are
      accumulated in the same pass, so the extra memory is one chunk of logits plus the
      gradients, never N x V. On PyTorch
      tensors the pass is a ``torch.autograd.Function`` that computes the gradients in the
      forward pass and scales them by the incoming gradient in the backward pass (as Liger's
      fused linear cross-entropy does); reduction="none" has no such saving (each chunk is
      kept for autograd). ``W`` is not separable over tokens (it is shared), so
      reduction="none" has no gradient. Measured (bench/README.md, N=4096, d=1024,
      V=65536, float32, PyTorch CPU): 549 MiB extra against 3105 MiB for the naive logits.
    - Filtered gradient (``filter_eps``, NumPy inputs): as in Cut Cross-Entropy, blocks of
      2048 vocabulary columns whose softmax probabilities are all below ``filter_eps`` for a
      chunk of tokens (and hold none of its targets) are left out of the gradients, saving two
      of the three matrix products there; the value stays exact. Each such call sets
      ``loss.last_filter_report`` (a dict: the fraction of blocks skipped, the exact norm of
      the dropped part of the logits' gradient against the whole, the exact error of ∂/∂bias
      and bounds on the errors of ∂/∂hidden and ∂/∂weight). Measured in bench/README.md.
    - Estimates the next-token probability.
    - Relations: equals ``cross_entropy(hidden @ weight.T + bias, targets, ignore_index=-100)``
      in PyTorch (mean over kept tokens; 0, not NaN, when all are ignored). Cut Cross-Entropy
      (Wijmans et al. 2024) and Liger Kernel fuse the same computation on GPUs.
    - Reference: Wijmans et al. (2024), Cut your losses in large-vocabulary language models.

    >>> import numpy as np, losslab as ll
    >>> hidden = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> weight = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    >>> print(round(float(ll.linear_cross_entropy(hidden, weight, [0, 2], chunk_size=1)), 6))
    1.051445
    """

    name = "linear_cross_entropy"
    family = "sequence"
    aliases = ("fused_linear_cross_entropy", "lm_head_cross_entropy")
    description = "LM-head softmax cross-entropy of hidden @ W.T in token chunks: no N x V logits."
    formula = r"\log\sum_v e^{h_i\cdot w_v + b_v} - (h_i\cdot w_{y_i} + b_{y_i})"
    parameters = (
        Param("ignore_index", -100, INTEGER, "target id that marks a token to skip (padding)"),
        Param("chunk_size", None, V.optional(POSITIVE_INTEGER),
              "tokens per chunk (None: 48 MiB of logits on NumPy, 256 MiB on PyTorch)"),
        Param("filter_eps", None, V.optional(V.POSITIVE),
              "NumPy: skip vocabulary blocks whose probabilities are all below this in the gradient"),
    )
    inputs = ("hidden", "weight", "targets")
    differentiable_inputs = ("hidden", "weight")
    call_options = ("bias",)
    event_ndim = 1
    separable = False
    TRAITS = Traits(task="sequence", convex=False, twice_differentiable=True,
                    estimates="probability", notes=("convex in the logits, not in (hidden, weight) jointly",))

    # ------------------------------------------------------------------ checks
    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        hidden, weight, targets = arrays
        if hidden.ndim != 2:
            raise ValueError(
                f"hidden must be 2-D (n_tokens, d); got shape {tuple(hidden.shape)}. Flatten (batch, time) first:"
                " hidden.reshape(-1, d)"
            )
        if weight.ndim != 2 or weight.shape[1] != hidden.shape[1]:
            raise ValueError(
                f"weight must be the output matrix of shape (vocab, d) with d = {hidden.shape[1]} (the width of"
                f" hidden); got shape {tuple(weight.shape)}"
            )
        if tuple(targets.shape) != (hidden.shape[0],):
            raise ValueError(
                f"targets must have shape ({hidden.shape[0]},), one token id per row of hidden; got shape"
                f" {tuple(targets.shape)}"
            )
        dtype = float_dtype(xp, hidden, weight)
        bias = options.get("bias")
        if bias is not None:
            bias = as_array(bias, "bias")
            if not V.same_namespace(xp, bias):
                bias = xp.asarray(to_numpy(bias), device=device(hidden))
            V.check_floating_or_integer(xp, bias, "bias")
            if tuple(bias.shape) != (weight.shape[0],):
                raise ValueError(f"bias must have shape ({weight.shape[0]},), one per vocabulary entry; got {tuple(bias.shape)}")
            bias = xp.astype(bias, dtype, copy=False)
        # copy=False: no copy of the (V, d) output matrix when its dtype is already right.
        return (xp.astype(hidden, dtype, copy=False), xp.astype(weight, dtype, copy=False), targets), {"bias": bias}

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        hidden, weight, targets = arrays
        V.check_finite(xp, hidden, "hidden")
        V.check_finite(xp, weight, "weight")
        if options["bias"] is not None:
            V.check_finite(xp, options["bias"], "bias")
        _check_targets(xp, targets, weight.shape[0], self.ignore_index)

    def _extra_weights(self, xp: Any, arrays: tuple, options: dict) -> Any:
        hidden, weight, targets = arrays
        return xp.astype(targets != self.ignore_index, hidden.dtype)

    def _chunk(self, n_tokens: int, n_vocab: int, itemsize: int, budget: int = CHUNK_BYTES) -> int:
        size = self.chunk_size if self.chunk_size is not None else budget // max(n_vocab * itemsize, 1)
        return max(1, min(size, n_tokens))

    # ------------------------------------------------------------------ mathematics
    def _per_sample(self, xp: Any, hidden: Any, weight: Any, targets: Any, bias: Any = None) -> Any:
        ids = _safe_ids(xp, targets, self.ignore_index)
        chunk = self._chunk(hidden.shape[0], weight.shape[0], xp.finfo(hidden.dtype).bits // 8)
        parts = []
        for lo in range(0, hidden.shape[0], chunk):
            z = hidden[lo:min(lo + chunk, hidden.shape[0]), :] @ weight.T
            if bias is not None:
                z = z + bias
            onehot = _one_hot(xp, ids[lo:min(lo + chunk, hidden.shape[0])], weight.shape[0], z.dtype)
            parts.append(S.logsumexp(xp, z, axis=-1) - xp.sum(z * onehot, axis=-1))
        return xp.concat(parts) if parts else xp.zeros((0,), dtype=hidden.dtype)

    def _weighted_value_and_gradient(
        self, xp: Any, arrays: tuple, options: dict, cotangent: Any, value: bool, gradient: bool
    ) -> tuple[Any, Any]:
        hidden, weight, targets = arrays
        bias = options["bias"]
        chunk = self._chunk(hidden.shape[0], weight.shape[0], xp.finfo(hidden.dtype).bits // 8)
        if self.filter_eps is not None and not is_numpy(xp):
            raise ValueError(
                f"filter_eps is implemented for NumPy inputs only; got {type(hidden).__module__} arrays. Use"
                " filter_eps=None (the exact gradient) on other libraries."
            )
        if is_torch(xp):
            return _torch_path(self, hidden, weight, targets, bias, cotangent, chunk, value, gradient)
        if is_numpy(xp):
            chunk = self._chunk(hidden.shape[0], weight.shape[0], hidden.dtype.itemsize, NUMPY_CHUNK_BYTES)
            total, grads, report = _numpy_pass(hidden, weight, _safe_ids(xp, targets, self.ignore_index), bias,
                                               cotangent, chunk, gradient, self.filter_eps)
            if report is not None:
                self.last_filter_report = report
            return (_scalar(xp, total) if value else None), grads
        if not gradient:  # JAX, array_api_strict: their own autodiff goes through the chunks
            return xp.sum(self._per_sample(xp, hidden, weight, targets, bias) * cotangent), None
        total, grads = _generic_pass(xp, hidden, weight, _safe_ids(xp, targets, self.ignore_index), bias, cotangent,
                                     chunk)
        return (total if value else None), grads


def _numpy_pass(hidden, weight, ids, bias, cotangent, chunk, gradient, filter_eps=None):
    """One pass over the tokens in chunks, in place: one chunk of logits at a time.

    Returns (Σ cᵢℓᵢ, gradients, report). With ``filter_eps`` (Cut Cross-Entropy's gradient
    filtering, Wijmans et al. 2024), the vocabulary is cut into blocks of ``FILTER_BLOCK``
    columns and, per chunk of tokens, a block whose softmax probabilities are all below
    ``filter_eps`` and which holds no target is left out of ∂/∂hidden, ∂/∂weight and ∂/∂bias
    (two of the three matrix products); the value stays exact. ``report`` then says what was
    dropped: the fraction of blocks skipped, the Frobenius norm of the dropped part ΔG of
    the logits' gradient (exact) against that of the whole, the exact error of ∂/∂bias, and
    bounds on the others, ‖ΔG W‖_F ≤ ‖ΔG‖_F‖W‖_F and ‖ΔGᵀh‖_F ≤ Σ_chunks ‖ΔG‖_F‖h‖_F.
    """
    from scipy.linalg.blas import get_blas_funcs

    n, n_vocab = hidden.shape[0], weight.shape[0]
    dtype = hidden.dtype
    ids = np.asarray(ids)
    cotangent = np.asarray(cotangent, dtype=dtype)
    d_hidden = np.empty_like(hidden) if gradient else None
    d_weight = np.zeros_like(weight) if gradient else None
    d_bias = np.zeros(n_vocab, dtype=dtype) if gradient and bias is not None else None
    gemm = get_blas_funcs("gemm", (hidden,)) if gradient else None
    filtering = gradient and filter_eps is not None
    starts = np.arange(0, n_vocab, FILTER_BLOCK)
    dropped2 = whole2 = weight_bound = 0.0
    n_skipped = n_blocks = 0
    bias_error = np.zeros(n_vocab) if filtering else None
    buffer = np.empty((chunk, n_vocab), dtype=dtype)
    total = 0.0
    for lo in range(0, n, chunk):
        hi = min(lo + chunk, n)
        rows = np.arange(hi - lo)
        z = buffer[: hi - lo]
        h = hidden[lo:hi]
        chunk_ids = ids[lo:hi]
        np.matmul(h, weight.T, out=z)
        if bias is not None:
            z += bias
        c = cotangent[lo:hi]
        # The compiled step (max, exp, sum, scale: one parallel pass per row, in place) where
        # numba is installed; NumPy's five single-threaded passes over the chunk otherwise.
        losses = None if filtering else kernels.softmax_ce_rows_inplace(z, chunk_ids, c)
        if losses is not None:
            total += math.fsum(c * losses)
        else:
            z -= z.max(axis=1, keepdims=True)  # shifted logits: exp cannot overflow
            target = z[rows, chunk_ids]
            np.exp(z, out=z)
            sums = z.sum(axis=1)
            total += math.fsum(c * (np.log(sums) - target))
        if not gradient:
            continue
        keep = None
        if filtering:
            z *= (1.0 / sums)[:, None]  # the softmax
            keep = np.maximum.reduceat(z, starts, axis=1).max(axis=0) >= filter_eps
            keep[chunk_ids // FILTER_BLOCK] = True  # a target's column is −1 + p: never skipped
            z *= c[:, None]
        elif losses is None:
            z *= (c / sums)[:, None]  # c ⊙ softmax
        if losses is None:  # (the compiled step left c ⊙ (softmax − onehot) in z already)
            z[rows, chunk_ids] -= c  # c ⊙ (softmax − onehot)
        if keep is None or keep.all():
            np.matmul(z, weight, out=d_hidden[lo:hi])
            # d_weight += zᵀ h, accumulated by BLAS in place (d_weight.T is Fortran-ordered),
            # so no (V, d) temporary per chunk.
            out = gemm(1.0, h.T, z.T, beta=1.0, c=d_weight.T, trans_b=1, overwrite_c=1)
            if not np.shares_memory(out, d_weight):
                d_weight += out.T
            if d_bias is not None:
                d_bias += z.sum(axis=0)
        else:
            d_hidden[lo:hi] = 0.0
            for b, start in enumerate(starts):
                cols = slice(start, min(start + FILTER_BLOCK, n_vocab))
                block = z[:, cols]
                if not keep[b]:
                    dropped = float(np.vdot(block, block))
                    dropped2 += dropped
                    weight_bound += math.sqrt(dropped) * float(np.linalg.norm(h))
                    bias_error[cols] += block.sum(axis=0)
                    continue
                d_hidden[lo:hi] += block @ weight[cols]
                out = gemm(1.0, h.T, block.T, beta=1.0, c=d_weight[cols].T, trans_b=1, overwrite_c=1)
                if not np.shares_memory(out, d_weight):
                    d_weight[cols] += out.T
                if d_bias is not None:
                    d_bias[cols] += block.sum(axis=0)
        if filtering:
            whole2 += float(np.vdot(z, z))
            n_skipped += int((~keep).sum())
            n_blocks += keep.size
    grads = report = None
    if gradient:
        grads = (d_hidden, d_weight) if d_bias is None else (d_hidden, d_weight, d_bias)
    if filtering:
        dropped_norm = math.sqrt(dropped2)
        report = {
            "filter_eps": float(filter_eps),
            "skipped_fraction": n_skipped / max(n_blocks, 1),
            "dropped_logit_gradient_norm": dropped_norm,
            "logit_gradient_norm": math.sqrt(whole2),
            "bias_gradient_error": float(np.linalg.norm(bias_error)) if bias is not None else 0.0,
            "hidden_gradient_error_bound": dropped_norm * float(np.linalg.norm(weight)),
            "weight_gradient_error_bound": weight_bound,
        }
    return np.asarray(total, dtype=dtype), grads, report


def _generic_pass(xp, hidden, weight, ids, bias, cotangent, chunk):
    """The same pass with Array-API calls only (JAX, array_api_strict)."""
    n_vocab = weight.shape[0]
    d_weight = xp.zeros_like(weight)
    d_bias = xp.zeros((n_vocab,), dtype=hidden.dtype, device=device(hidden)) if bias is not None else None
    d_hidden, total = [], 0.0
    for lo in range(0, hidden.shape[0], chunk):
        h = hidden[lo:min(lo + chunk, hidden.shape[0]), :]
        z = h @ weight.T
        if bias is not None:
            z = z + bias
        onehot = _one_hot(xp, ids[lo:min(lo + chunk, hidden.shape[0])], n_vocab, z.dtype)
        lse = S.logsumexp(xp, z, axis=-1, keepdims=True)
        c = cotangent[lo:min(lo + chunk, hidden.shape[0])]
        total = total + xp.sum(c * (lse[:, 0] - xp.sum(z * onehot, axis=-1)))
        g = c[:, None] * (xp.exp(z - lse) - onehot)
        d_hidden.append(g @ weight)
        d_weight = d_weight + g.T @ h
        if d_bias is not None:
            d_bias = d_bias + xp.sum(g, axis=0)
    d_hidden = xp.concat(d_hidden, axis=0)
    grads = (d_hidden, d_weight) if d_bias is None else (d_hidden, d_weight, d_bias)
    return total, grads


# ------------------------------------------------------------------ PyTorch
def _torch_pass(hidden, weight, ids, bias, cotangent, chunk):
    """The chunked pass on torch tensors, in place, under no_grad: (Σ cᵢℓᵢ, gradients)."""
    import torch

    with torch.no_grad():
        n, n_vocab = hidden.shape[0], weight.shape[0]
        hidden, weight = hidden.detach(), weight.detach()
        cotangent = cotangent.detach().to(hidden.dtype)
        d_hidden = torch.empty_like(hidden)
        d_weight = torch.zeros_like(weight)
        d_bias = torch.zeros(n_vocab, dtype=hidden.dtype, device=hidden.device) if bias is not None else None
        buffer = torch.empty((chunk, n_vocab), dtype=hidden.dtype, device=hidden.device)
        total = torch.zeros((), dtype=torch.float64, device=hidden.device)
        for lo in range(0, n, chunk):
            hi = min(lo + chunk, n)
            z = buffer[: hi - lo]
            h = hidden[lo:hi]
            t = ids[lo:hi, None]
            if bias is not None:
                torch.addmm(bias.detach(), h, weight.t(), out=z)  # the bias added inside the GEMM
            else:
                torch.mm(h, weight.t(), out=z)
            # In place, pass by pass (torch.logsumexp would allocate a chunk-sized temporary).
            z -= z.amax(dim=1, keepdim=True)
            target = z.gather(1, t)[:, 0]
            z.exp_()
            sums = z.sum(dim=1)
            c = cotangent[lo:hi]
            total += (c * (sums.log() - target)).sum(dtype=torch.float64)
            z.mul_((c / sums)[:, None])  # c ⊙ softmax
            z.scatter_add_(1, t, -c[:, None])  # c ⊙ (softmax − onehot)
            torch.mm(z, weight, out=d_hidden[lo:hi])
            d_weight.addmm_(z.t(), h)
            if d_bias is not None:
                d_bias += z.sum(dim=0)
    grads = (d_hidden, d_weight) if d_bias is None else (d_hidden, d_weight, d_bias)
    return total.to(hidden.dtype), grads


_FUNCTION = None


def _torch_function():
    """The autograd.Function, built on first use so that torch stays an optional dependency."""
    global _FUNCTION
    if _FUNCTION is None:
        import torch

        class LinearCrossEntropyFunction(torch.autograd.Function):
            """Value Σ cᵢℓᵢ; the gradients are computed in the forward pass and only scaled here."""

            @staticmethod
            def forward(ctx, hidden, weight, bias, ids, cotangent, chunk, holder):
                total, grads = _torch_pass(hidden, weight, ids, bias, cotangent, chunk)
                if holder is not None:
                    holder["grads"] = grads
                # Kept as a plain attribute, not save_for_backward, and released in backward:
                # with no other reference left, autograd adopts the buffers as .grad instead
                # of copying the (V, d) weight gradient.
                ctx.grads = grads
                ctx.has_bias = bias is not None
                return total

            @staticmethod
            def backward(ctx, grad_output):
                grads = ctx.grads
                del ctx.grads
                # The common case (loss.backward()) passes 1: hand the buffers over uncopied.
                if not bool(grad_output == 1):
                    grads = tuple(g * grad_output for g in grads)
                d_bias = grads[2] if ctx.has_bias else None
                return grads[0], grads[1], d_bias, None, None, None, None

        _FUNCTION = LinearCrossEntropyFunction
    return _FUNCTION


def _torch_path(loss, hidden, weight, targets, bias, cotangent, chunk, value, gradient):
    import torch

    ids = torch.where(targets.long() == loss.ignore_index, torch.zeros_like(targets.long()), targets.long())
    tracked = [t for t in (hidden, weight, bias) if t is not None]
    if value and torch.is_grad_enabled() and any(t.requires_grad for t in tracked):
        holder: dict | None = {} if gradient else None
        total = _torch_function().apply(hidden, weight, bias, ids, cotangent, chunk, holder)
        return total, (holder["grads"] if gradient else None)
    total, grads = _torch_pass(hidden, weight, ids, bias, cotangent, chunk)
    return (total if value else None), (grads if gradient else None)
