"""Sequence losses: token cross-entropy, perplexity, the language-model head loss, CTC and soft-DTW.

``token_cross_entropy`` takes logits over the vocabulary for every token, shape
(batch, time, vocab) (or any leading shape); ``linear_cross_entropy`` takes the hidden
states and the output matrix instead and never builds the N x V logits at once: it walks
the tokens in chunks and, in the same pass, accumulates the gradients with respect to the
hidden states, the output matrix and the bias. On PyTorch tensors that pass is a
``torch.autograd.Function``, so the loss trains in an ordinary ``loss.backward()`` loop.

``ctc`` takes label sequences and per-frame logits, with the lengths as per-call keywords
(``input_lengths=``, ``target_lengths=``), and runs the forward-backward recursion in log
space, vectorised over the batch, one step per frame. ``soft_dtw`` compares two series of
vectors of possibly different lengths, one anti-diagonal of the alignment grid per step.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from array_api_compat import device

from .. import _stable as S
from .. import _validate as V
from .._array import array_namespace, as_array, float_dtype, index_dtype, is_jax, is_numpy, is_torch, is_tracing, to_numpy
from ..loss import Loss, Param, register
from ..loss.weights import scalar as _scalar
from ..traits import Traits

INTEGER = V.Rule(lambda v: isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)), "an integer")
POSITIVE_INTEGER = V.Rule(
    lambda v: isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) and v >= 1, "an integer >= 1"
)
#: Default chunk on PyTorch (and JAX): 64 MiB of logits, but never fewer than
#: MIN_CHUNK_TOKENS tokens. Each chunk adds its part to the (V, d) weight gradient (in place on
#: PyTorch), 8·V·d bytes of memory traffic in float32 against 6·n·V·d flops of products for n
#: tokens, so the traffic's time over the products' depends on n alone: about 18/n on this
#: 2-core machine (~200 GFLOP/s, ~15 GB/s), 4% at 512 tokens, 27% at the 65 tokens that
#: 64 MiB would give at V = 256000. At N = 4096, d = 1024, V = 65536 (2 cores): 512-token
#: chunks 6.6-9.1 s and 448 MiB, 1024-token chunks 6.1-8.2 s and 578 MiB, PyTorch's own
#: chunked F.linear_cross_entropy 10.7-11.5 s and 639 MiB (bench/README.md). A GPU has far
#: more flops per byte: raise ``chunk_size`` there (the same estimate asks for thousands).
CHUNK_BYTES = 64 << 20
MIN_CHUNK_TOKENS = 512
#: Default chunk on NumPy: 48 MiB of logits, so that the working memory beyond the gradients
#: stays under 64 MiB at any V (the per-chunk vectors and BLAS's packing buffers take the
#: rest). Liger sizes its chunks from V/d for the same reason; here the bound is in bytes.
#: Each chunk's products pass over the whole (V, d) weight and its gradient, which costs
#: little as long as all three go through one BLAS library (bench/README.md, quiet machine,
#: N = 4096, d = 512, V = 32768: 1.89 s at 48 MiB against 1.97 s for the naive logits).
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
      any V; on PyTorch 64 MiB but at least 512 tokens), and each chunk's gradient contributions are
      accumulated in the same pass, so the extra memory is one chunk of logits plus the
      gradients, never N x V. On PyTorch
      tensors the pass is a ``torch.autograd.Function`` that computes the gradients in the
      forward pass and scales them by the incoming gradient in the backward pass (as Liger's
      fused linear cross-entropy does); reduction="none" has no such saving (each chunk is
      kept for autograd). ``W`` is not separable over tokens (it is shared), so
      reduction="none" has no gradient. Measured (bench/README.md, N=4096, d=1024,
      V=65536, float32, PyTorch CPU): 448 MiB extra against 3115 MiB for the naive logits,
      and 639 MiB for PyTorch's own chunked ``F.linear_cross_entropy``. On NumPy, float16 is
      computed in float32 (BLAS has no half precision) and an input that is not C-ordered is
      copied once: those copies add to the 48 MiB.
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
              "tokens per chunk (None: 48 MiB of logits on NumPy; on PyTorch and JAX 64 MiB, at least 512 tokens)"),
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

    def _chunk(self, n_tokens: int, n_vocab: int, itemsize: int, budget: int = CHUNK_BYTES,
               min_tokens: int = MIN_CHUNK_TOKENS) -> int:
        size = self.chunk_size
        if size is None:
            size = max(budget // max(n_vocab * itemsize, 1), min_tokens)
        return max(1, min(size, n_tokens))

    def _numpy_chunk(self, n_tokens: int, n_vocab: int, itemsize: int) -> int:
        """NumPy's chunk: a memory bound (NUMPY_CHUNK_BYTES of logits) with no token floor."""
        return self._chunk(n_tokens, n_vocab, itemsize, NUMPY_CHUNK_BYTES, min_tokens=1)

    # ------------------------------------------------------------------ mathematics
    def _per_sample(self, xp: Any, hidden: Any, weight: Any, targets: Any, bias: Any = None) -> Any:
        ids = _safe_ids(xp, targets, self.ignore_index)
        itemsize = xp.finfo(hidden.dtype).bits // 8
        chunk = (self._numpy_chunk if is_numpy(xp) else self._chunk)(hidden.shape[0], weight.shape[0], itemsize)
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
            # float16 is computed in float32 (_numpy_pass): the chunk is sized in the latter
            chunk = self._numpy_chunk(hidden.shape[0], weight.shape[0], max(hidden.dtype.itemsize, 4))
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


def _gemm_into(gemm: Any, a: Any, b: Any, c: Any, beta: float = 0.0, **transpose: int) -> None:
    """c ← op(a)·op(b) + beta·c in c's memory (c Fortran-ordered: a C-ordered array's ``.T``).
    BLAS writes in place when it can; when SciPy's wrapper had to copy c (a layout or dtype
    BLAS cannot take), the result is copied back rather than added again."""
    result = gemm(1.0, a, b, beta=beta, c=c, overwrite_c=1, **transpose)
    if not np.shares_memory(result, c):
        c[...] = result


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
    # BLAS works in float32 or float64 on the Fortran-ordered views (.T) of C-ordered arrays,
    # in place. Another dtype (float16) or layout is converted once here; SciPy's wrapper
    # would otherwise copy the whole weight again in every product of every chunk.
    work = np.dtype(np.float32) if dtype.itemsize < 4 else np.dtype(np.float64) if dtype.itemsize > 8 else dtype
    hidden, weight = np.ascontiguousarray(hidden, dtype=work), np.ascontiguousarray(weight, dtype=work)
    bias = None if bias is None else np.asarray(bias, dtype=work)
    ids = np.asarray(ids)
    cotangent = np.asarray(cotangent, dtype=work)
    d_hidden = np.empty_like(hidden) if gradient else None
    d_weight = np.zeros_like(weight) if gradient else None
    d_bias = np.zeros(n_vocab, dtype=work) if gradient and bias is not None else None
    # Every product goes through SciPy's BLAS: NumPy's matmul calls another OpenBLAS (NumPy and
    # SciPy each ship their own), whose threads then wait spinning while the other library's
    # threads work, and on two cores the chunked loop lost half its time to that (bench/README.md).
    gemm = get_blas_funcs("gemm", (hidden,))
    filtering = gradient and filter_eps is not None
    starts = np.arange(0, n_vocab, FILTER_BLOCK)
    dropped2 = whole2 = weight_bound = 0.0
    n_skipped = n_blocks = 0
    bias_error = np.zeros(n_vocab) if filtering else None
    buffer = np.empty((chunk, n_vocab), dtype=work)
    total = 0.0
    for lo in range(0, n, chunk):
        hi = min(lo + chunk, n)
        rows = np.arange(hi - lo)
        z = buffer[: hi - lo]
        h = hidden[lo:hi]
        chunk_ids = ids[lo:hi]
        _gemm_into(gemm, weight.T, h.T, z.T, trans_a=1)  # zᵀ = W hᵀ, into z's memory
        if bias is not None:
            z += bias
        z -= z.max(axis=1, keepdims=True)  # shifted logits: exp cannot overflow
        target = z[rows, chunk_ids]
        np.exp(z, out=z)
        sums = z.sum(axis=1)
        c = cotangent[lo:hi]
        total += math.fsum(c * (np.log(sums) - target))
        if not gradient:
            continue
        keep = None
        if filtering:
            z *= (1.0 / sums)[:, None]  # the softmax
            keep = np.maximum.reduceat(z, starts, axis=1).max(axis=0) >= filter_eps
            keep[chunk_ids // FILTER_BLOCK] = True  # a target's column is −1 + p: never skipped
            z *= c[:, None]
        else:
            z *= (c / sums)[:, None]  # c ⊙ softmax
        z[rows, chunk_ids] -= c  # c ⊙ (softmax − onehot)
        if keep is None or keep.all():
            _gemm_into(gemm, weight.T, z.T, d_hidden[lo:hi].T)  # d_hiddenᵀ = Wᵀ zᵀ
            # d_weight += zᵀ h, accumulated by BLAS in place (d_weight.T is Fortran-ordered),
            # so no (V, d) temporary per chunk.
            _gemm_into(gemm, h.T, z.T, d_weight.T, beta=1.0, trans_b=1)
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
                _gemm_into(gemm, weight[cols].T, block.T, d_hidden[lo:hi].T, beta=1.0)
                _gemm_into(gemm, h.T, block.T, d_weight[cols].T, beta=1.0, trans_b=1)
                if d_bias is not None:
                    d_bias[cols] += block.sum(axis=0)
        if filtering:
            whole2 += float(np.vdot(z, z))
            n_skipped += int((~keep).sum())
            n_blocks += keep.size
    grads = report = None
    if gradient:
        grads = (d_hidden, d_weight) if d_bias is None else (d_hidden, d_weight, d_bias)
        grads = tuple(g.astype(dtype, copy=False) for g in grads)
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


# ------------------------------------------------------------------ CTC
def _shift(xp: Any, x: Any, k: int, fill: float, left: bool = False) -> Any:
    """x moved k places along axis 1 (to the right: x[:, s − k]; to the left: x[:, s + k]), ``fill`` coming in."""
    n, width = x.shape
    k = min(k, width)
    pad = xp.full((n, k), fill, dtype=x.dtype, device=device(x))
    if left:
        return xp.concat([x[:, k:], pad], axis=1)
    return xp.concat([pad, x[:, : width - k]], axis=1)


def _logsumexp_safe(xp: Any, terms: list, axis: int | None = None) -> Any:
    """log Σ e^x of several arrays (or along ``axis`` of one), −inf where every term is −inf.

    Written so that autodiff sees no NaN where every term is −inf (an unreachable state of a
    lattice): the shift and the logarithm go through where() on both sides, so such entries
    get a zero gradient instead of 0·inf.
    """
    if axis is None:
        top = terms[0]
        for t in terms[1:]:
            top = xp.maximum(top, t)
    else:
        top = xp.max(terms[0], axis=axis, keepdims=True)
    reached = top > -math.inf
    shift = xp.where(reached, top, xp.zeros_like(top))
    if axis is None:
        total = xp.exp(terms[0] - shift)
        for t in terms[1:]:
            total = total + xp.exp(t - shift)
    else:
        total = xp.sum(xp.exp(terms[0] - shift), axis=axis, keepdims=True)
    out = xp.where(reached, shift + xp.log(xp.where(reached, total, xp.ones_like(total))),
                   xp.full_like(total, -math.inf))
    return out if axis is None else xp.squeeze(out, axis=axis)


def _whole_ids(values: np.ndarray, name: str) -> np.ndarray:
    """A NumPy array of whole numbers (floats with whole values accepted); the message names ``name``."""
    if values.dtype.kind == "b" or values.dtype.kind not in "fiu":
        raise TypeError(f"{name} must hold whole numbers; got dtype {values.dtype}")
    if values.dtype.kind == "f":
        V.check_finite(np, values, name)
        if np.any(values != np.round(values)):
            bad = values[values != np.round(values)]
            raise ValueError(f"{name} must hold whole numbers; got {float(bad.flat[0]):g}")
    return values.astype(np.int64)


def _scan(xp: Any, step: Any, carry: Any, xs: tuple, reverse: bool = False) -> tuple[Any, Any]:
    """``carry, out_t = step(carry, (x[t] for x in xs))`` over axis 0 of ``xs``: (last carry, outputs stacked).

    A Python loop, except on JAX, where ``lax.scan`` compiles the step once instead of every
    operation of every step (eager JAX compiles each new operation on first use).
    """
    if is_jax(xp):
        from jax import lax

        return lax.scan(step, carry, xs, reverse=reverse)
    steps = xs[0].shape[0]
    outputs: list = [None] * steps
    for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
        carry, outputs[t] = step(carry, tuple(x[t, ...] for x in xs))
    if not steps:
        return carry, None
    return carry, xp.stack(outputs, axis=0)


_COMPILED: dict = {}


def _compiled_on_jax(loss: Loss, tag: str, fn: Any, *arrays: Any) -> Any:
    """``fn(*arrays)`` as one compiled JAX program, built once per loss parameters.

    Eager JAX compiles each new operation on first use, and traces a ``lax.scan`` again on
    every call (its step is a new closure each time); one cached ``jax.jit`` of the whole
    recursion compiles it once per shape. Nested in a caller's jit or grad, it is traced like
    any other function.
    """
    import jax

    key = (type(loss).__name__, tag, tuple(sorted((k, repr(v)) for k, v in loss.params.items())))
    compiled = _COMPILED.get(key)
    if compiled is None:
        compiled = _COMPILED[key] = jax.jit(fn)
    return compiled(*arrays)


@register
class CTC(Loss):
    r"""Connectionist temporal classification: −log of the probability of a label sequence,
    summed over every alignment of it with the frames.

    - Formula: :math:`\ell = -\log\sum_{\pi\in\mathcal B^{-1}(y)}\prod_{t<T}p_{t,\pi_t}`, p =
      softmax of the logits per frame; :math:`\mathcal B` removes repeats, then blanks, so a
      repeated label needs a blank between its copies. Computed by the forward recursion
      over the blank-extended labels y′ (length 2L + 1), in log space:
      :math:`\alpha_t(s) = \log p_{t,y'_s} + \mathrm{lse}(\alpha_{t-1}(s), \alpha_{t-1}(s-1),
      \alpha_{t-1}(s-2))`, the last term only where y′_s is no blank and differs from y′_{s−2};
      ℓ = −lse(α_{T−1}(2L), α_{T−1}(2L − 1)).
    - Domains: targets (N, S) label ids in [0, C) other than ``blank``, padded after each
      sequence's length (or concatenated, shape (ΣL,)); logits real, (N, T, C)
      (``time_major=True``: (T, N, C), PyTorch's layout); per-call keywords
      ``input_lengths`` (N,) in [0, T] (default T) and ``target_lengths`` (N,) in [0, S]
      (default: the count of non-blank entries, the padding being the blank, as in Keras).
      The logits go through log_softmax, which leaves log-probabilities unchanged: PyTorch's
      log_probs are accepted as they are.
    - Gradient with respect to the logits: softmax(z)_{tk} − γ_{tk} for frames t < T_i, 0
      after, where γ_{tk} = Σ_{s: y′_s = k} e^{α_t(s) + β_t(s) + ℓ} is the posterior
      probability that frame t emits k (β: the backward recursion). This is what PyTorch's
      ``ctc_loss`` returns as the gradient of its log_probs: not the gradient with the
      log-probabilities as free inputs (−γ_{tk}, whose rows sum to −1) but the one through
      log_softmax (rows sum to 0), which is why the two libraries' gradients are equal.
      Hessian diagonal p(1 − p) − γ(1 − γ) (the variance of the one-hot of frame t under
      the softmax minus its variance under the alignment posterior); with
      ``time_major=True`` the frames are the rows, so there is no Hessian (and
      reduction="none" has no gradient): transpose to (N, T, C) for those.
    - A sequence with no alignment (T_i < L_i + the number of adjacent repeats) has ℓ = +inf:
      reduction="none" returns inf, "mean"/"sum" raise LossOverflow naming the sequence;
      ``zero_infinity=True`` counts it as 0 with a zero gradient, as PyTorch's does.
    - Estimates the probability of the label sequence: the log score of the distribution over
      label sequences the frames induce (every path collapses to exactly one sequence), so
      proper; not convex (a log-partition over alignments is subtracted); each gradient entry
      lies in [−1, 1] (Lipschitz where an alignment exists).
    - Relations: PyTorch's ``CTCLoss()`` / ``ctc_loss(log_probs, targets, input_lengths,
      target_lengths)`` is the preset "CTCLoss" (time_major=True,
      divide_by_target_length=True): its default 'mean' divides each sequence's loss by its
      target length (at least 1) before averaging; its 'sum' and 'none' do not divide
      (``ll.get('ctc', time_major=True)``). Keras 3's ``CTC``/``ctc`` (logits (N, T, C), blank
      0, labels padded with 0, every frame used) is this loss with its defaults; Keras's
      'sum_over_batch_size' is Σwℓ/N, this "mean" Σwℓ/Σw (equal without sample weights).
      Optax's ``ctc_loss`` takes paddings and uses a finite log 0 (log_epsilon = −1e5), so
      an impossible alignment gives a large finite number there (see ll.get('ctc_loss')).
    - Reference: Graves, Fernández, Gomez, Schmidhuber (2006), Connectionist temporal
      classification: labelling unsegmented sequence data with recurrent neural networks.

    >>> import losslab as ll
    >>> print(round(float(ll.ctc([[1]], [[[0.0, 0.0], [0.0, 0.0]]])), 6))  # 3 of 4 paths: -log(3/4)
    0.287682
    """

    name = "ctc"
    family = "sequence"
    aliases = ("connectionist_temporal_classification",)
    preset_aliases = {"CTCLoss": {"time_major": True, "divide_by_target_length": True}}
    description = "−log P(labels | frames), summed over alignments (CTC), with input/target lengths."
    formula = r"-\log\sum_{\pi\in\mathcal B^{-1}(y)}\prod_t \mathrm{softmax}(z_t)_{\pi_t}"
    parameters = (
        Param("blank", 0, V.Rule(lambda v: INTEGER.check(v) and v >= 0, "an integer >= 0"), "class id of the blank"),
        Param("zero_infinity", False, V.BOOLEAN, "count a sequence with no alignment as 0 (and its gradient)"),
        Param("divide_by_target_length", False, V.BOOLEAN,
              "divide each sequence's loss by its target length (at least 1): PyTorch's 'mean'"),
        Param("time_major", False, V.BOOLEAN, "logits are (T, N, C), PyTorch's layout, instead of (N, T, C)"),
    )
    inputs = ("targets", "logits")
    differentiable_inputs = ("logits",)
    call_options = ("input_lengths", "target_lengths")
    event_ndim = 2
    TRAITS = Traits(task="sequence", convex=False, twice_differentiable=True, lipschitz=True, proper=True,
                    estimates="probability",
                    notes=("not convex: a log-partition over alignments is subtracted",
                           "Lipschitz in the logits where an alignment exists: each gradient entry is in [-1, 1]",
                           "proper as the log score of the distribution over label sequences it induces"))

    @property
    def separable(self) -> bool:  # type: ignore[override]
        # Each sequence's loss depends on its own sequence only; the engine's rows are the
        # first axis, which holds the sequences only in the batch-first layout.
        return not self.time_major

    _no_unreduced_gradient_reason = (
        "with time_major=True the gradient's rows are frames, not sequences (for one gradient per sequence,"
        " pass the logits as (N, T, C), logits.transpose(0, 1), with time_major=False)"
    )

    def _loss_shape(self, arrays: tuple) -> tuple[int, ...]:
        logits = arrays[1]
        return (logits.shape[1] if self.time_major else logits.shape[0],)

    # ------------------------------------------------------------------ checks
    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        targets, logits = arrays
        layout = "(time, batch, classes)" if self.time_major else "(batch, time, classes)"
        if logits.ndim != 3:
            raise ValueError(f"logits must be 3-D, {layout}; got shape {tuple(logits.shape)}")
        logits = xp.astype(logits, float_dtype(xp, logits), copy=False)
        n, t_max = (logits.shape[1], logits.shape[0]) if self.time_major else logits.shape[:2]
        n_classes = logits.shape[2]
        if t_max == 0:
            raise ValueError(f"logits must have at least one frame; got shape {tuple(logits.shape)}")
        if self.blank >= n_classes:
            raise ValueError(f"blank must be a class id in [0, {n_classes - 1}] for {n_classes} classes; got {self.blank}")
        dev = device(logits)
        input_lengths = self._lengths(xp, options.get("input_lengths"), "input_lengths", n, t_max, dev)
        if input_lengths is None:
            input_lengths = xp.full((n,), t_max, dtype=index_dtype(xp), device=dev)
        target_lengths = self._lengths(xp, options.get("target_lengths"), "target_lengths", n, None, dev)
        if targets.ndim == 1:
            targets = self._pad_concatenated(xp, targets, target_lengths, n, dev)
        elif targets.ndim != 2 or targets.shape[0] != n:
            raise ValueError(
                f"targets must be ({n}, S), one padded label sequence per sequence of logits, or (sum of"
                f" target_lengths,) concatenated; got shape {tuple(targets.shape)}"
            )
        tracing = is_tracing(targets)
        if not tracing:
            self._check_targets(targets, target_lengths, n_classes)
        ids = xp.astype(targets, index_dtype(xp))
        if target_lengths is None:
            target_lengths = xp.sum(xp.astype(ids != self.blank, index_dtype(xp)), axis=1)
        elif is_tracing(target_lengths):
            V.traced_invalid(xp, target_lengths > targets.shape[1], "target_lengths must be at most the width of targets")
        elif targets.shape[1] < int(np.max(to_numpy(target_lengths), initial=0)):
            raise ValueError(
                f"target_lengths must be at most the width of targets, {targets.shape[1]}; got"
                f" {int(np.max(to_numpy(target_lengths)))}"
            )
        return (ids, logits), {"input_lengths": input_lengths, "target_lengths": target_lengths}

    @staticmethod
    def _lengths(xp: Any, lengths: Any, name: str, n: int, high: int | None, dev: Any) -> Any:
        if lengths is None:
            return None
        lengths = as_array(lengths, name)
        if not V.same_namespace(xp, lengths):
            lengths = xp.asarray(to_numpy(lengths), device=dev)
        V.check_floating_or_integer(xp, lengths, name)
        if tuple(lengths.shape) != (n,):
            raise ValueError(f"{name} must have shape ({n},), one per sequence; got {tuple(lengths.shape)}")
        if is_tracing(lengths):  # under jit: the result becomes NaN (DESIGN §7)
            bad = lengths < 0
            if high is not None:
                bad = bad | (lengths > high)
            if xp.isdtype(lengths.dtype, "real floating"):
                bad = bad | (lengths != xp.round(lengths))
            V.traced_invalid(xp, bad, f"{name} must hold whole lengths in " + (f"[0, {high}]" if high is not None else "[0, inf)"))
        else:
            values = _whole_ids(to_numpy(lengths), name)
            if values.size and (values.min() < 0 or (high is not None and values.max() > high)):
                bad = values.min() if values.min() < 0 else values.max()
                allowed = f"[0, {high}] (the number of frames)" if high is not None else "[0, inf)"
                raise ValueError(f"{name} must hold lengths in {allowed}; got {int(bad)}")
        return xp.astype(lengths, index_dtype(xp))

    def _pad_concatenated(self, xp: Any, targets: Any, target_lengths: Any, n: int, dev: Any) -> Any:
        """Concatenated targets (ΣL,) as (N, max L), padded with the blank (PyTorch's second form)."""
        if target_lengths is None or is_tracing(target_lengths):
            raise ValueError(
                "targets given concatenated (1-D) need target_lengths as concrete numbers, to split them;"
                " pass target_lengths=, or pad targets to (N, S)"
            )
        lengths = to_numpy(target_lengths).astype(np.int64)
        if targets.shape[0] != int(lengths.sum()):
            raise ValueError(
                f"targets given concatenated (1-D) must hold sum(target_lengths) = {int(lengths.sum())} labels;"
                f" got {targets.shape[0]}"
            )
        width = int(lengths.max(initial=0))
        column = np.arange(width)
        keep = column[None, :] < lengths[:, None]
        index = np.where(keep, (np.cumsum(lengths) - lengths)[:, None] + column[None, :], 0)
        if width == 0:
            return xp.zeros((n, 0), dtype=targets.dtype, device=dev)
        picked = xp.reshape(xp.take(targets, xp.asarray(index.reshape(-1), device=dev), axis=0), (n, width))
        return xp.where(xp.asarray(keep, device=dev), picked, xp.full_like(picked, self.blank))

    def _check_targets(self, targets: Any, target_lengths: Any, n_classes: int) -> None:
        values = _whole_ids(to_numpy(targets), "targets")
        if target_lengths is None:
            blank = values == self.blank
            # The padding is the blank and comes last: a label after a blank would be dropped.
            after = np.cumsum(blank, axis=1) > 0
            if np.any(after & ~blank):
                row = int(np.argwhere(after & ~blank)[0][0])
                raise ValueError(
                    f"targets row {row} has a label after a blank ({self.blank}): without target_lengths, the"
                    " blank marks the padding at the end of each row. Pass target_lengths= (or pad at the end)."
                )
            used = ~blank
        else:
            used = np.arange(values.shape[1])[None, :] < to_numpy(target_lengths)[:, None]
        labels = values[used]
        if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
            bad = labels.min() if labels.min() < 0 else labels.max()
            raise ValueError(f"targets must hold class ids in [0, {n_classes - 1}] for {n_classes} classes; got {bad}")
        if np.any(labels == self.blank):
            raise ValueError(
                f"targets must not hold the blank ({self.blank}) within a sequence's target_lengths: the blank is"
                " no label"
            )

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        targets, logits = arrays
        V.check_finite(xp, logits, "logits")
        lengths = options["target_lengths"]
        if is_tracing(targets) or is_tracing(lengths):
            # Eager calls checked the labels in _prepare; traced ones poison the result instead.
            used = xp.arange(targets.shape[1])[None, :] < lengths[:, None]
            bad = used & ((targets < 0) | (targets >= logits.shape[2]) | (targets == self.blank))
            V.traced_invalid(xp, bad, f"targets must hold class ids in [0, {logits.shape[2] - 1}] other than the blank")

    def _nonfinite_reason(self, arrays: tuple, options: dict) -> str | None:
        _, arrays, options = self._prepared(arrays, options)
        targets, logits = (to_numpy(a) for a in arrays)
        t_in, lengths = to_numpy(options["input_lengths"]), to_numpy(options["target_lengths"])
        for i in range(len(lengths)):
            labels = targets[i, : lengths[i]]
            repeats = int(np.sum(labels[1:] == labels[:-1]))
            if t_in[i] < lengths[i] + repeats:
                return (
                    f"sequence {i} has no alignment: its {lengths[i]} labels with {repeats} adjacent repeat(s) need"
                    f" at least {lengths[i] + repeats} frames, and input_lengths[{i}] = {t_in[i]}, so its loss is"
                    " +inf. Pass zero_infinity=True to count such sequences as 0 (PyTorch's zero_infinity)."
                )
        return None

    def _prepared(self, arrays: tuple, options: dict) -> tuple:
        arrays, options = self._bind(arrays, dict(options))
        xp = array_namespace(*arrays)
        arrays, options = self._prepare(xp, arrays, options)
        return xp, arrays, options

    # ------------------------------------------------------------------ mathematics
    def _lattice(self, xp: Any, targets: Any, logits: Any, input_lengths: Any, target_lengths: Any,
                 order: int) -> tuple:
        """(per-sequence loss, gradient, Hessian diagonal) in the input's layout, for order 0, 1 or 2."""
        if is_jax(xp):
            return _compiled_on_jax(self, f"lattice{order}", lambda *a: self._recursions(xp, *a, order),
                                    targets, logits, input_lengths, target_lengths)
        return self._recursions(xp, targets, logits, input_lengths, target_lengths, order)

    def _recursions(self, xp: Any, targets: Any, logits: Any, input_lengths: Any, target_lengths: Any,
                    order: int) -> tuple:
        if self.time_major:
            logits = xp.permute_dims(logits, (1, 0, 2))
        n, t_max, n_classes = logits.shape
        dtype, dev = logits.dtype, device(logits)
        log_p, p = S.log_softmax_and_softmax(xp, logits)
        width = targets.shape[1]
        column = xp.arange(width, device=dev)
        labels = xp.where(column[None, :] < target_lengths[:, None], targets, xp.full_like(targets, self.blank))
        # y′: blank, y₁, blank, y₂, …, blank.
        blanks = xp.full_like(labels, self.blank)
        ext = xp.concat([xp.reshape(xp.stack([blanks, labels], axis=2), (n, 2 * width)), blanks[:, :1]
                         if width else xp.full((n, 1), self.blank, dtype=labels.dtype, device=dev)], axis=1)
        states = 2 * width + 1
        skip = (ext != self.blank) & (ext != _shift(xp, ext, 2, self.blank))
        position = xp.arange(states, device=dev)[None, :]
        final = (position == 2 * target_lengths[:, None]) | (position == 2 * target_lengths[:, None] - 1)
        # log p_{t, y′_s} for every frame and state, by one gather from the flattened log-probabilities.
        base = xp.reshape(xp.arange(n * t_max, device=dev), (n, t_max, 1)) * n_classes
        emit = xp.reshape(xp.take(xp.reshape(log_p, (-1,)), xp.reshape(base + ext[:, None, :], (-1,))),
                          (n, t_max, states))
        frames = xp.arange(t_max, device=dev)[None, :]
        active = frames < input_lengths[:, None]  # (N, T)
        never = xp.full((n, states), -math.inf, dtype=dtype, device=dev)
        # The frames on axis 0, for the scans.
        emit_by_frame = xp.permute_dims(emit, (1, 0, 2))  # (T, N, S′)
        active_by_frame = xp.permute_dims(active, (1, 0))[:, :, None]  # (T, N, 1)

        def forward(alpha: Any, frame: tuple) -> tuple[Any, Any]:
            emitted, on = frame
            step = _logsumexp_safe(xp, [alpha, _shift(xp, alpha, 1, -math.inf),
                                        xp.where(skip, _shift(xp, alpha, 2, -math.inf), never)]) + emitted
            alpha = xp.where(on, step, alpha)  # frozen after each sequence's last frame
            return alpha, alpha

        # α before the first frame: the empty prefix, at state 0.
        start = xp.where(position == 0, xp.zeros_like(never), never)
        alpha, alphas = _scan(xp, forward, start, (emit_by_frame, active_by_frame))
        log_likelihood = _logsumexp_safe(xp, [xp.where(final, alpha, never)], axis=1)
        feasible = log_likelihood > -math.inf
        divisor = xp.astype(xp.maximum(target_lengths, xp.ones_like(target_lengths)), dtype) \
            if self.divide_by_target_length else xp.ones_like(log_likelihood)
        infinite = xp.full_like(log_likelihood, 0.0 if self.zero_infinity else math.inf)
        loss = xp.where(feasible, -log_likelihood, infinite) / divisor
        if not order:
            return loss, None, None
        # β_t(s): log-probability of the frames after t given state s at t (no emission at t);
        # the end state from each sequence's last frame on.
        end = xp.where(final, xp.zeros_like(never), never)
        skip_ahead = _shift(xp, skip, 2, False, left=True)
        last_by_frame = xp.permute_dims(frames >= input_lengths[:, None] - 1, (1, 0))[:, :, None]

        def backward(beta: Any, frame: tuple) -> tuple[Any, Any]:
            emitted_next, last = frame
            ahead = emitted_next + beta
            step = _logsumexp_safe(xp, [ahead, _shift(xp, ahead, 1, -math.inf, left=True),
                                        xp.where(skip_ahead, _shift(xp, ahead, 2, -math.inf, left=True), never)])
            beta = xp.where(last, end, step)
            return beta, beta

        _, betas = _scan(xp, backward, end, (emit_by_frame[1:, ...], last_by_frame[:-1, ...]), reverse=True)
        betas = end[None, ...] if betas is None else xp.concat([betas, end[None, ...]], axis=0)  # (T, N, S′)
        shift = xp.where(feasible, log_likelihood, xp.zeros_like(log_likelihood))[:, None, None]
        occupancy = xp.permute_dims(alphas + betas, (1, 0, 2)) - shift
        occupancy = xp.where(active[:, :, None] & feasible[:, None, None], xp.exp(occupancy),
                             xp.zeros_like(occupancy))
        onehot = xp.astype(ext[:, :, None] == xp.arange(n_classes, device=dev)[None, None, :], dtype)
        posterior = occupancy @ onehot  # γ_{tk}: (N, T, C)
        frame_mask = xp.astype(active, dtype)[:, :, None]
        # Per sequence: 1/divisor; a sequence with no alignment gets 0 (zero_infinity) or NaN,
        # which the contract reports as an infinite loss (never a plausible gradient).
        factor = xp.where(feasible, 1.0 / divisor, xp.full_like(divisor, 0.0 if self.zero_infinity else math.nan))
        factor = factor[:, None, None]
        grad = (p * frame_mask - posterior) * factor
        hess = (p * (1.0 - p) * frame_mask - posterior * (1.0 - posterior)) * factor if order > 1 else None
        if self.time_major:
            grad = xp.permute_dims(grad, (1, 0, 2))
            hess = None if hess is None else xp.permute_dims(hess, (1, 0, 2))
        return loss, grad, hess

    def _per_sample(self, xp: Any, targets: Any, logits: Any, input_lengths: Any = None,
                    target_lengths: Any = None) -> Any:
        return self._lattice(xp, targets, logits, input_lengths, target_lengths, 0)[0]

    def _value_and_gradient(self, xp: Any, targets: Any, logits: Any, input_lengths: Any = None,
                            target_lengths: Any = None) -> tuple[Any, Any]:
        loss, grad, _ = self._lattice(xp, targets, logits, input_lengths, target_lengths, 1)
        return loss, grad

    def _gradient(self, xp: Any, targets: Any, logits: Any, input_lengths: Any = None,
                  target_lengths: Any = None) -> Any:
        return self._lattice(xp, targets, logits, input_lengths, target_lengths, 1)[1]

    def _hessian(self, xp: Any, targets: Any, logits: Any, input_lengths: Any = None,
                 target_lengths: Any = None) -> Any:
        if self.time_major:
            raise ValueError(
                "ctc with time_major=True has no Hessian (the rows are frames, not sequences): pass the logits as"
                " (N, T, C), logits.transpose(0, 1), with time_major=False"
            )
        return self._lattice(xp, targets, logits, input_lengths, target_lengths, 2)[2]

    def _weighted_value_and_gradient(
        self, xp: Any, arrays: tuple, options: dict, cotangent: Any, value: bool, gradient: bool
    ) -> tuple[Any, Any]:
        # Reached with time_major=True only: the sequences are on axis 1.
        loss, grad, _ = self._lattice(xp, *arrays, options["input_lengths"], options["target_lengths"],
                                      1 if gradient else 0)
        total = None
        if value:
            # As in the batch-first layout (the engine's weighted sum), a sequence without an
            # alignment makes the loss infinite even at weight 0 (0·∞): reported, with its cure
            # (zero_infinity=True), never dropped silently.
            total = _scalar(xp, xp.sum(loss * cotangent))
        if gradient:
            grad = grad * cotangent[None, :, None]
            if not is_tracing(grad) and not bool(V.concrete(xp.all(xp.isfinite(grad)))):
                from ..loss.contract import LossOverflow

                reason = self._nonfinite_reason(arrays, options) or "the gradient overflows; rescale the logits"
                raise LossOverflow(f"{self.name}: {reason}")
        return total, grad


# ------------------------------------------------------------------ soft-DTW
@register
class SoftDTW(Loss):
    r"""Soft dynamic time warping: DTW with its min over alignments replaced by a soft-min.

    - Formula: :math:`r_{i,j} = \delta_{ij} + \mathrm{min}^\gamma(r_{i-1,j-1}, r_{i-1,j},
      r_{i,j-1})`, :math:`\mathrm{min}^\gamma(a) = -\gamma\log\sum_k e^{-a_k/\gamma}`,
      :math:`r_{0,0} = 0`, :math:`r_{i,0} = r_{0,j} = \infty`, ℓ = r_{T_1,T_2}, with
      :math:`\delta_{ij} = \lVert x_i - y_j\rVert^2` between y_true x (N, T1, D) and y_pred y
      (N, T2, D); equivalently −γ log Σ over alignment paths A of e^{−⟨A, Δ⟩/γ}. Computed
      along anti-diagonals (T1 + T2 steps, each vectorised over the batch and the diagonal).
    - Domains: y_true (N, T1, D) and y_pred (N, T2, D) real (the lengths may differ; a
      univariate series is (N, T, 1)); gamma > 0.
    - Gradient ∂ℓ/∂y_j = Σ_i e_{ij}·2(y_j − x_i), with E = ∂r_{T1,T2}/∂Δ the expected
      alignment matrix, from the backward recursion of Cuturi & Blondel's Algorithm 2:
      e_{ij} = Σ over the successors (i', j') ∈ {(i+1, j), (i, j+1), (i+1, j+1)} of
      e_{i'j'}·exp((r_{i'j'} − δ_{i'j'} − r_{ij})/γ), e_{T1,T2} = 1. No Hessian: its
      diagonal needs the second derivatives of r between every pair of cells of a column;
      each Hessian-vector product costs a further forward-backward pass (Mensch & Blondel
      2018), and the diagonal would need T2·D of them per series.
    - Estimates: an alignment-invariant average (soft-DTW barycenters, "other"). The value
      can be negative (soft-DTW(x, x) < 0, by up to γ log of the number of alignments);
      it tends to DTW as γ → 0 and is smooth for γ > 0.
    - Relations: tslearn's ``soft_dtw`` and the ``sdtw`` package compute the same r_{T1,T2}
      with the squared Euclidean cost; the soft-DTW divergence of Blondel, Mensch & Vert
      (2021), ℓ(x, y) − (ℓ(x, x) + ℓ(y, y))/2, is non-negative.
    - Reference: Cuturi & Blondel (2017), Soft-DTW: a differentiable loss function for
      time-series, ICML (Algorithms 1 and 2).

    >>> import losslab as ll
    >>> # x = y = (0, 1): r_22 = 0 + softmin(0, 1, 1) = -log(1 + 2/e)
    >>> print(round(float(ll.soft_dtw([[[0.0], [1.0]]], [[[0.0], [1.0]]], gamma=1.0)), 6))
    -0.551445
    """

    name = "soft_dtw"
    family = "sequence"
    aliases = ("softdtw",)
    description = "Soft-DTW (Cuturi & Blondel): DTW with a soft-min over alignments; differentiable."
    formula = r"r_{T_1T_2},\ r_{ij} = \lVert x_i - y_j\rVert^2 + \min{}^{\gamma}(r_{i-1,j-1}, r_{i-1,j}, r_{i,j-1})"
    parameters = (Param("gamma", 1.0, V.POSITIVE, "smoothing: the soft-min's temperature (→ 0: DTW)"),)
    event_ndim = 2
    TRAITS = Traits(task="sequence", convex=False, twice_differentiable=True, estimates="other",
                    notes=("can be negative: soft-DTW(x, x) < 0 for gamma > 0",))

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        y_true, y_pred = arrays
        for name, a in (("y_true", y_true), ("y_pred", y_pred)):
            if a.ndim != 3:
                raise ValueError(
                    f"{name} must be 3-D, (batch, time, features); got shape {tuple(a.shape)} (a univariate series"
                    " is (batch, time, 1): x[..., None])"
                )
        if y_true.shape[0] != y_pred.shape[0] or y_true.shape[2] != y_pred.shape[2]:
            raise ValueError(
                f"y_true and y_pred must have the same batch size and features (their lengths may differ); got"
                f" shapes {tuple(y_true.shape)} and {tuple(y_pred.shape)}"
            )
        if y_true.shape[1] == 0 or y_pred.shape[1] == 0:
            raise ValueError(f"y_true and y_pred must have at least one time step; got shapes {tuple(y_true.shape)}"
                             f" and {tuple(y_pred.shape)}")
        dtype = float_dtype(xp, y_true, y_pred)
        return (xp.astype(y_true, dtype, copy=False), xp.astype(y_pred, dtype, copy=False)), options

    def _costs(self, xp: Any, x: Any, y: Any) -> tuple[Any, Any]:
        diff = y[:, None, :, :] - x[:, :, None, :]  # (N, T1, T2, D): y_j − x_i, without cancellation
        return diff, xp.sum(diff * diff, axis=-1)

    def _diagonals(self, xp: Any, cost: Any) -> tuple[Any, Any]:
        """The costs by anti-diagonal, (N, T1 + T2 + 1, T1 + 2): δ_{i, k−i} (1-based cells) at
        [:, k, i], and the mask (T1 + T2 + 1, T1 + 2) of the entries on the grid (the others
        hold some cost, which the recursions mask)."""
        n, t1, t2 = cost.shape
        k = np.arange(t1 + t2 + 1)[:, None]
        i = np.arange(t1 + 2)[None, :]
        j = k - i
        valid = (i >= 1) & (i <= t1) & (j >= 1) & (j <= t2)
        flat = np.where(valid, (i - 1) * t2 + (j - 1), 0)
        index = (np.arange(n)[:, None, None] * (t1 * t2) + flat[None]).reshape(-1)
        dev = device(cost)
        skewed = xp.reshape(xp.take(xp.reshape(cost, (-1,)), xp.asarray(index, device=dev)),
                            (n, t1 + t2 + 1, t1 + 2))
        return skewed, xp.asarray(valid, device=dev)

    def _forward(self, xp: Any, delta: Any, valid: Any) -> Any:
        """r along the anti-diagonals, (T1 + T2 + 1, N, T1 + 2): r_{i, k−i} at [k, :, i], +inf off the grid."""
        n, n_diag, width = delta.shape
        inf = xp.full((n, width), math.inf, dtype=delta.dtype, device=device(delta))
        start = xp.where(xp.arange(width, device=device(delta))[None, :] == 0, xp.zeros_like(inf), inf)
        g = self.gamma

        def step(carry: tuple, diagonal: tuple) -> tuple[tuple, Any]:
            before, previous = carry  # diagonals k − 2 and k − 1
            costs, on = diagonal
            up_left, up = _shift(xp, before, 1, math.inf), _shift(xp, previous, 1, math.inf)
            soft_min = -g * _logsumexp_safe(xp, [-up_left / g, -up / g, -previous / g])
            current = xp.where(on[None, :], costs + soft_min, inf)
            return (previous, current), current

        _, rest = _scan(xp, step, (start, inf), (xp.permute_dims(delta, (1, 0, 2))[2:, ...], valid[2:, ...]))
        return xp.concat([xp.stack([start, inf], axis=0), rest], axis=0)  # T1 + T2 + 1 >= 3 diagonals

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        if is_jax(xp):
            return _compiled_on_jax(self, "value", lambda x, y: self._value(xp, x, y), y_true, y_pred)
        return self._value(xp, y_true, y_pred)

    def _value(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        _, cost = self._costs(xp, y_true, y_pred)
        delta, valid = self._diagonals(xp, cost)
        return self._forward(xp, delta, valid)[-1, :, y_true.shape[1]]

    def _value_and_gradient(self, xp: Any, y_true: Any, y_pred: Any) -> tuple[Any, Any]:
        if is_jax(xp):
            return _compiled_on_jax(self, "value_and_gradient", lambda x, y: self._backward(xp, x, y), y_true, y_pred)
        return self._backward(xp, y_true, y_pred)

    def _backward(self, xp: Any, y_true: Any, y_pred: Any) -> tuple[Any, Any]:
        """Value and gradient: the forward recursion, then Algorithm 2's backward one."""
        diff, cost = self._costs(xp, y_true, y_pred)
        delta, valid = self._diagonals(xp, cost)
        r = self._forward(xp, delta, valid)
        n, n_diag, width = delta.shape
        t1, t2 = cost.shape[1], cost.shape[2]
        g = self.gamma
        dev = device(delta)
        # r − δ on each cell (the soft-min of its predecessors); −inf off the grid and past the
        # last diagonal, so that a successor off the grid carries weight e^{−inf} = 0.
        never = xp.full((1, n, width), -math.inf, dtype=delta.dtype, device=dev)
        inner = xp.where(valid[:, None, :], r - xp.permute_dims(delta, (1, 0, 2)), never)
        inner = xp.concat([inner, never], axis=0)
        zeros = xp.zeros((n, width), dtype=delta.dtype, device=dev)
        last = xp.where(xp.arange(width, device=dev)[None, :] == t1, xp.ones_like(zeros), zeros)

        def weight(successor: Any, here: Any) -> Any:
            # e^{(r′ − δ′ − r)/γ}: the successor's soft-min weight on this cell, at most 1 since
            # a soft-min is below each of its arguments; the clamp at 0 only removes rounding,
            # which γ ≪ |r| would blow up into an overflow. Off the grid r = +inf: weight 0.
            return xp.exp(xp.minimum((successor - here) / g, xp.zeros_like(here)))

        def step(carry: tuple, cell: tuple) -> tuple[tuple, Any]:
            after, two_after = carry  # e on diagonals k + 1 and k + 2
            here, inner_after, inner_two_after, on = cell
            down = _shift(xp, after, 1, 0.0, left=True) * weight(_shift(xp, inner_after, 1, -math.inf, left=True), here)
            right = after * weight(inner_after, here)
            diagonal = _shift(xp, two_after, 1, 0.0, left=True) * weight(
                _shift(xp, inner_two_after, 1, -math.inf, left=True), here)
            current = xp.where(on[None, :], down + right + diagonal, zeros)
            return (current, after), current

        # Diagonals k = n_diag − 2 down to 2 (step t holds k = t + 2).
        cells = (r[2:n_diag - 1, ...], inner[3:n_diag, ...], inner[4:n_diag + 1, ...], valid[2:n_diag - 1, ...])
        _, middle = _scan(xp, step, (last, zeros), cells, reverse=True)
        parts = [xp.zeros((2, n, width), dtype=delta.dtype, device=dev)]
        parts += [middle] if middle is not None else []
        e = xp.reshape(xp.concat(parts + [last[None, ...]], axis=0), (-1,))
        # Back from the diagonals to the (T1, T2) grid: cell (i, j) is diagonal i + j + 2 at index i + 1.
        i, j = np.meshgrid(np.arange(t1), np.arange(t2), indexing="ij")
        index = ((i + j + 2)[None] * (n * width) + np.arange(n)[:, None, None] * width + (i + 1)[None]).reshape(-1)
        alignment = xp.reshape(xp.take(e, xp.asarray(index, device=dev)), (n, t1, t2))
        grad = 2.0 * xp.sum(alignment[:, :, :, None] * diff, axis=1)
        return r[-1, :, t1], grad

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return self._value_and_gradient(xp, y_true, y_pred)[1]
