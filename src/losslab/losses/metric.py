"""Metric-learning losses beyond pairs and triplets: multi-view contrastive, pair-weighting, sigmoid, angular-margin, redundancy reduction.

Family "embedding" (the family of ``losses/embedding.py``, whose helpers this module
uses; it is a module of its own only to keep each file readable). Every loss here is
non-separable: a sample's loss depends on the other rows of the batch (``ntxent``,
``siglip``, ``npair``; and every pair of a labelled batch in ``multi_similarity``,
``circle``, ``lifted_structure`` and ``margin_based``), on a class matrix shared by all rows
(``arcface``, ``cosface``, ``sphereface``, ``subcenter_arcface``; the proxies of
``proxy_nca`` and ``proxy_anchor``), or on the whole batch's statistics (``barlow_twins`` and
``vicreg``, whose loss is one number per batch: shape (1,), like the transport losses;
``proxy_anchor``'s too). Each computes the value and the exact gradient of
Σᵢ cᵢℓᵢ for any sample weights (``_weighted_value_and_gradient``); reduction="none" has no
gradient, and none has a Hessian (the Hessian diagonal of a loss whose rows interact is not
the per-sample quantity the contract defines).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from array_api_compat import device

from .. import _stable as S
from .. import _validate as V
from .._array import float_dtype, is_tracing, to_numpy
from ..loss import Param, register
from ..loss.weights import scalar as _scalar
from ..traits import Traits
from .embedding import (
    InfoNCE,
    SupCon,
    _eye,
    _InBatch,
    check_labels,
    check_rows,
    check_same_rows,
    normalize,
    normalize_backward,
)

_METRIC = dict(task="metric_learning", twice_differentiable=True)


# ----------------------------------------------------------------------------- NT-Xent
@register
class NTXent(_InBatch):
    r"""NT-Xent (SimCLR): every other view of the same image is a positive, each against the negatives only.

    - Formula: rows L2-normalised, :math:`s_{ij} = \hat z_i\cdot\hat z_j/\tau`, P(i) the other
      rows with i's label (the other views of i's image), N(i) the rows with another label:
      :math:`\ell_i = \frac{1}{|P(i)|}\sum_{p\in P(i)} -\log\frac{e^{s_{ip}}}{e^{s_{ip}} + \sum_{n\in N(i)} e^{s_{in}}}`.
      An anchor with no positive gets weight 0 (as in ``supcon``).
    - Domains: embeddings (N, dim) (2N views of N images: any number of views per label);
      labels (N,) whole numbers, equal for views of one image; temperature > 0.
    - Gradient of Σᵢ cᵢℓᵢ: with σ_ip = e^{s_ip}/D_ip (D_ip the denominator) and q_in the softmax
      of s_i· over N(i), ∂s_ip = cᵢ(σ_ip − 1)/|P(i)|, ∂s_in = cᵢ q_in Σ_p(1 − σ_ip)/|P(i)|;
      ∂ẑ = (∂s + ∂sᵀ)ẑ/τ, then through the normalisation. No Hessian; not separable.
    - Estimates: embeddings in which views of one image coincide ("other").
    - Relations: with exactly two views per label it equals ``supcon`` (SupCon's denominator
      then holds the one positive and the negatives, as here) and SimCLR's
      ℓ(i, j) = −log(e^{s_ij}/Σ_{k≠i} e^{s_ik}) averaged over the 2N anchors. With more views
      they differ: SupCon keeps the other positives in each denominator, NT-Xent does not.
      Optax's ``ntxent`` and pytorch-metric-learning's ``NTXentLoss`` (temperature 0.07
      both) average over positive *pairs*, which weights anchor i by |P(i)|: the same number
      here with ``sample_weight`` = |P(i)|, and the same unweighted whenever every label has
      as many views. SimCLR uses τ = 0.1–0.5.
    - Reference: Chen, Kornblith, Norouzi & Hinton (2020), A simple framework for contrastive
      learning of visual representations (SimCLR), eq. 1.

    >>> import losslab as ll
    >>> emb = [[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0]]
    >>> print(round(float(ll.ntxent(emb, [0, 0, 1, 1], temperature=1.0)), 6))
    0.597808
    """

    name = "ntxent"
    family = "embedding"
    aliases = ("nt_xent", "simclr")
    description = "SimCLR's NT-Xent: other views of an image are positives, other images negatives."
    formula = r"-\log\frac{e^{s_{ip}}}{e^{s_{ip}} + \sum_{n\in N(i)} e^{s_{in}}}"
    parameters = (Param("temperature", 0.07, V.POSITIVE, "τ: the softmax temperature"),)
    inputs = ("embeddings", "labels")
    differentiable_inputs = ("embeddings",)
    TRAITS = InfoNCE.TRAITS

    _prepare = SupCon._prepare
    _check_values = SupCon._check_values
    _extra_weights = SupCon._extra_weights

    def _parts(self, xp: Any, embeddings: Any, labels: Any) -> tuple:
        z_hat, norm = normalize(xp, embeddings)
        s = (z_hat @ z_hat.T) / self.temperature
        eye = _eye(xp, s.shape[0], s)
        same = xp.astype(labels[:, None] == labels[None, :], s.dtype)
        positives, negatives = same * (1.0 - eye), 1.0 - same
        count = xp.sum(positives, axis=1)
        # log Σ_{n∈N(i)} e^{s_in}: the other entries get a constant 100 below the least
        # possible similarity (−1/τ), whose exponential is below the rounding of any real
        # negative's term; a row with no negative then gives D = e^{s_ip} and ℓ = 0.
        fill = xp.full_like(s, -1.0 / self.temperature - 100.0)
        lse_negative = S.logsumexp(xp, xp.where(negatives > 0, s, fill), axis=1)
        log_d = xp.logaddexp(s, lse_negative[:, None])
        return z_hat, norm, s, positives, negatives, count, lse_negative, log_d

    def _per_sample(self, xp: Any, embeddings: Any, labels: Any) -> Any:
        _, _, s, positives, _, count, _, log_d = self._parts(xp, embeddings, labels)
        return xp.sum(positives * (log_d - s), axis=1) / xp.maximum(count, 1.0)

    def _weighted_value_and_gradient(self, xp, arrays, options, cotangent, value, gradient):
        z_hat, norm, s, positives, negatives, count, lse_negative, log_d = self._parts(xp, *arrays)
        total = None
        if value:
            per_sample = xp.sum(positives * (log_d - s), axis=1) / xp.maximum(count, 1.0)
            total = _scalar(xp, xp.sum(cotangent * per_sample))
        if not gradient:
            return total, None
        coef = (cotangent * xp.astype(count > 0, s.dtype) / xp.maximum(count, 1.0))[:, None]
        sigma = positives * xp.exp(xp.minimum(s - log_d, 0.0))
        q = negatives * xp.exp(xp.minimum(s - lse_negative[:, None], 0.0))
        missing = xp.sum(positives - sigma, axis=1, keepdims=True)  # Σ_p (1 − σ_ip)
        g = coef * (sigma - positives + q * missing)
        d_hat = ((g + g.T) @ z_hat) / self.temperature
        return total, normalize_backward(xp, z_hat, norm, d_hat)


# ----------------------------------------------------------------------------- multi-similarity
def _log1p_sum_exp(xp: Any, a: Any, mask: Any) -> tuple[Any, Any]:
    """log(1 + Σ_{k: mask} e^{a_k}) per row, and each term's share e^{a_k}/(1 + Σ e^{a})
    (0 off the mask), shifted by the row's largest term (at least the 1's 0)."""
    masked = xp.where(mask > 0, a, xp.full_like(a, -math.inf))
    top = xp.maximum(xp.max(masked, axis=1), 0.0)
    e = xp.exp(masked - top[:, None])
    log_total = top + xp.log(xp.exp(-top) + xp.sum(e, axis=1))
    return log_total, e / xp.exp(log_total - top)[:, None]


@register
class MultiSimilarity(_InBatch):
    r"""Multi-similarity loss (Wang et al. 2019): soft weighting of all positive and negative pairs of a batch.

    - Formula: rows L2-normalised, :math:`S_{ik} = \hat z_i\cdot\hat z_k`, P(i) the other rows
      with i's label, N(i) the rows with another:
      :math:`\ell_i = \frac1\alpha\log\big(1 + \sum_{k\in P(i)} e^{-\alpha(S_{ik} - \lambda)}\big)
      + \frac1\beta\log\big(1 + \sum_{k\in N(i)} e^{\beta(S_{ik} - \lambda)}\big)`
      (an empty sum gives 0).
    - Domains: embeddings (N, dim); labels (N,) whole numbers; alpha, beta > 0; base λ real.
    - Gradient of Σᵢ cᵢℓᵢ: ∂S_ik = −cᵢ e^{−α(S_ik−λ)}/(1 + Σ_P …) on positives and
      +cᵢ e^{β(S_ik−λ)}/(1 + Σ_N …) on negatives; ∂ẑ = (∂S + ∂Sᵀ)ẑ, then through the
      normalisation. No Hessian; not separable.
    - Estimates: embeddings whose same-label similarities exceed λ and other-label ones fall
      below it ("other").
    - Relations: the paper's loss after its pair-mining step; here every pair is weighted (no
      mining), as pytorch-metric-learning's ``MultiSimilarityLoss(alpha=2, beta=50, base=0.5)``
      (its defaults, here too) computes it without a miner, with the same mean over anchors.
    - Reference: Wang, Han, Huang, Dong & Scott (2019), Multi-similarity loss with general pair
      weighting for deep metric learning, eq. 12.

    >>> import losslab as ll
    >>> emb = [[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0]]
    >>> print(round(float(ll.multi_similarity(emb, [0, 0, 1, 1])), 6))
    0.15797
    """

    name = "multi_similarity"
    family = "embedding"
    aliases = ("ms_loss", "MultiSimilarityLoss")
    description = "Multi-similarity: soft-weighted positive and negative pairs around the base λ."
    formula = (r"\frac1\alpha\log\big(1 + \sum_{P} e^{-\alpha(S_{ik} - \lambda)}\big)"
               r" + \frac1\beta\log\big(1 + \sum_{N} e^{\beta(S_{ik} - \lambda)}\big)")
    parameters = (
        Param("alpha", 2.0, V.POSITIVE, "α: scale of the positive pairs' weighting"),
        Param("beta", 50.0, V.POSITIVE, "β: scale of the negative pairs' weighting"),
        Param("base", 0.5, V.FINITE, "λ: the similarity margin both pair kinds are measured from"),
    )
    inputs = ("embeddings", "labels")
    differentiable_inputs = ("embeddings",)
    TRAITS = InfoNCE.TRAITS

    _prepare = SupCon._prepare
    _check_values = SupCon._check_values

    def _parts(self, xp: Any, embeddings: Any, labels: Any) -> tuple:
        z_hat, norm = normalize(xp, embeddings)
        sim = z_hat @ z_hat.T
        same = xp.astype(labels[:, None] == labels[None, :], sim.dtype)
        positives, negatives = same * (1.0 - _eye(xp, sim.shape[0], sim)), 1.0 - same
        pos_log, pos_share = _log1p_sum_exp(xp, -self.alpha * (sim - self.base), positives)
        neg_log, neg_share = _log1p_sum_exp(xp, self.beta * (sim - self.base), negatives)
        per_sample = pos_log / self.alpha + neg_log / self.beta
        return z_hat, norm, per_sample, pos_share, neg_share

    def _per_sample(self, xp: Any, embeddings: Any, labels: Any) -> Any:
        return self._parts(xp, embeddings, labels)[2]

    def _weighted_value_and_gradient(self, xp, arrays, options, cotangent, value, gradient):
        z_hat, norm, per_sample, pos_share, neg_share = self._parts(xp, *arrays)
        total = _scalar(xp, xp.sum(cotangent * per_sample)) if value else None
        if not gradient:
            return total, None
        g = cotangent[:, None] * (neg_share - pos_share)
        return total, normalize_backward(xp, z_hat, norm, (g + g.T) @ z_hat)


# ----------------------------------------------------------------------------- circle
def _masked_logsumexp(xp: Any, a: Any, mask: Any) -> tuple[Any, Any]:
    """log Σ_{k: mask} e^{a_k} per row (any finite number where the row's mask is empty: the
    caller masks those rows) and the softmax over the mask (0 off it)."""
    masked = xp.where(mask > 0, a, xp.full_like(a, -math.inf))
    top = xp.max(masked, axis=1, keepdims=True)
    top = xp.where(xp.isfinite(top), top, xp.zeros_like(top))
    e = xp.exp(masked - top)
    total = xp.maximum(xp.sum(e, axis=1, keepdims=True), 1.0)  # >= 1 wherever the row has an entry
    return (top + xp.log(total))[:, 0], e / total


@register
class Circle(_InBatch):
    r"""Circle loss (Sun et al. 2020), pair form: each similarity re-weighted by its distance from its optimum.

    - Formula: rows L2-normalised, :math:`s_{ik} = \hat z_i\cdot\hat z_k`, P(i) the other rows
      with i's label, N(i) the rows with another;
      :math:`\alpha_p = [1 + m - s_p]_+`, :math:`\alpha_n = [s_n + m]_+`, Δ_p = 1 − m, Δ_n = m:
      :math:`\ell_i = \log\Big(1 + \sum_{n\in N(i)} e^{\gamma\alpha_n(s_{in} - \Delta_n)}
      \sum_{p\in P(i)} e^{-\gamma\alpha_p(s_{ip} - \Delta_p)}\Big)`
      = softplus(LSE_p + LSE_n). An anchor with no positive or no negative gets weight 0
      (as in ``supcon``: it is left out of the mean, and ℓ = 0 there).
    - Domains: embeddings (N, dim); labels (N,) whole numbers; margin m >= 0; gamma > 0.
    - Gradient of Σᵢ cᵢℓᵢ: the exact gradient of the value. With the weights kept in,
      a_ip = −γα_p(s − Δ_p) = γ(s − 1 − m)(s − 1 + m) and b_in = γ[s + m]_+(s − m), so
      ∂a/∂s = −2γ(1 − s) and ∂b/∂s = 2γs where s > −m (0 below); with A = LSE_P(a) and
      B = LSE_N(b), ∂s_ip = cᵢσ(A + B) softmax_P(a)_p ∂a/∂s and ∂s_in = cᵢσ(A + B)
      softmax_N(b)_n ∂b/∂s; ∂ẑ = (∂s + ∂sᵀ)ẑ, then through the normalisation. Not differentiable where a negative's s = −m (α_n's kink);
      no Hessian; not separable.
    - Training-code difference: the paper (which back-propagates with α_p, α_n held
      constant) and pytorch-metric-learning's ``CircleLoss`` (``.detach()``) stop the
      gradient through α:
      their ∂a/∂s = −γ(1 + m − s) and ∂b/∂s = γ(s + m). The value is the same; losslab's
      gradient is that of the value it returns (Keras's ``circle`` does not stop it
      either), so trainings differ. The two agree at the margins s_p = 1 − m and s_n = m;
      beyond them the exact one is up to about twice as steep (positives below 1 − m,
      negatives above m) and flatter inside. As a function of s, b = γ(s² − m²) is
      smallest at s = 0: the exact gradient pulls a negative with −m < s < 0 back up
      towards 0, where the frozen weights push every negative above −m down.
    - Estimates: embeddings whose same-label similarities pass 1 − m and other-label ones
      fall below m ("other").
    - Relations: Keras's ``Circle``/``circle`` (gamma=80, margin=0.4, the defaults here)
      computes the same per-sample numbers on L2-normalised y_pred (it does not normalise;
      its arguments are (y_true=labels, y_pred=embeddings)), and its mean leaves out the
      zero losses (a Keras mask), as the weight 0 does here. pytorch-metric-learning's
      ``CircleLoss(m=0.4, gamma=80)`` gives the same values and mean (its reducer averages
      the non-zero losses) but the detached gradient above, so its name is no alias here.
      The paper uses m = 0.25, γ = 256 for faces and m = 0.4, γ = 80 for fine-grained
      retrieval.
    - Reference: Sun, Cheng, Zhang, Zhang, Zheng, Wang & Wei (2020), Circle loss: a unified
      perspective of pair similarity optimization, eq. 6.

    >>> import losslab as ll
    >>> emb = [[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]]
    >>> print(round(float(ll.circle(emb, [0, 0, 1], gamma=1.0, margin=0.25, reduction="none")[0]), 6))
    0.7108
    """

    name = "circle"
    family = "embedding"
    aliases = ("circle_loss", "Circle")
    description = "Circle loss: pair similarities re-weighted by their distance from the optimum."
    formula = (r"\log\Big(1 + \sum_{n} e^{\gamma\alpha_n(s_n - \Delta_n)}"
               r"\sum_{p} e^{-\gamma\alpha_p(s_p - \Delta_p)}\Big)")
    parameters = (
        Param("gamma", 80.0, V.POSITIVE, "γ: the scale of the similarities"),
        Param("margin", 0.4, V.NONNEGATIVE, "m: the relaxation (optima 1 + m and −m, margins 1 − m and m)"),
    )
    inputs = ("embeddings", "labels")
    differentiable_inputs = ("embeddings",)
    TRAITS = Traits(convex=False, estimates="other", **{**_METRIC, "differentiable": False,
                                                          "twice_differentiable": False})

    _prepare = SupCon._prepare
    _check_values = SupCon._check_values

    def _extra_weights(self, xp: Any, arrays: tuple, options: dict) -> Any:
        embeddings, labels = arrays
        same = xp.astype(labels[:, None] == labels[None, :], embeddings.dtype)
        count = xp.sum(same, axis=1)
        return xp.astype((count > 1) & (count < same.shape[1]), embeddings.dtype)

    def _parts(self, xp: Any, embeddings: Any, labels: Any) -> tuple:
        z_hat, norm = normalize(xp, embeddings)
        sim = z_hat @ z_hat.T
        same = xp.astype(labels[:, None] == labels[None, :], sim.dtype)
        positives, negatives = same * (1.0 - _eye(xp, sim.shape[0], sim)), 1.0 - same
        m, gamma = self.margin, self.gamma
        # a = −γ[1 + m − s]_+(s − (1 − m)), b = γ[s + m]_+(s − m); 1 + m − s >= 0 for |s| <= 1.
        alpha_p = xp.maximum(1.0 + m - sim, 0.0)
        alpha_n = xp.maximum(sim + m, 0.0)
        a = -gamma * alpha_p * (sim - (1.0 - m))
        b = gamma * alpha_n * (sim - m)
        da = -gamma * (alpha_p - xp.astype(alpha_p > 0, sim.dtype) * (sim - (1.0 - m)))
        db = gamma * (alpha_n + xp.astype(alpha_n > 0, sim.dtype) * (sim - m))
        lse_p, share_p = _masked_logsumexp(xp, a, positives)
        lse_n, share_n = _masked_logsumexp(xp, b, negatives)
        has = xp.astype((xp.sum(positives, axis=1) > 0) & (xp.sum(negatives, axis=1) > 0), sim.dtype)
        x = xp.where(has > 0, lse_p + lse_n, xp.zeros_like(has))
        per_sample = has * S.softplus(xp, x)
        return z_hat, norm, per_sample, has * S.sigmoid(xp, x), share_p * da, share_n * db

    def _per_sample(self, xp: Any, embeddings: Any, labels: Any) -> Any:
        return self._parts(xp, embeddings, labels)[2]

    def _weighted_value_and_gradient(self, xp, arrays, options, cotangent, value, gradient):
        z_hat, norm, per_sample, outer, d_pos, d_neg = self._parts(xp, *arrays)
        total = _scalar(xp, xp.sum(cotangent * per_sample)) if value else None
        if not gradient:
            return total, None
        g = (cotangent * outer)[:, None] * (d_pos + d_neg)
        return total, normalize_backward(xp, z_hat, norm, (g + g.T) @ z_hat)


# ----------------------------------------------------------------------------- N-pair
@register
class NPair(_InBatch):
    r"""Multi-class N-pair loss (Sohn 2016): each anchor must pick its own positive among N pairs' positives.

    - Formula: N pairs (f_i, f_i⁺) of N different classes, unnormalised dot products
      :math:`z_{ij} = f_i\cdot f_j^+`:
      :math:`\ell_i = \log\big(1 + \sum_{j\ne i} e^{f_i\cdot f_j^+ - f_i\cdot f_i^+}\big)
      = -\log\frac{e^{z_{ii}}}{\sum_j e^{z_{ij}}}`.
    - Domains: anchors, positives (N, dim), the same shape, row i of both from class i (N
      different classes: every other pair's positive is a negative).
    - Gradient of Σᵢ cᵢℓᵢ: G = c ⊙ (softmax(z) − I) row-wise, ∂f = G f⁺, ∂f⁺ = Gᵀ f. No
      Hessian; not separable.
    - Estimates: embeddings whose same-class dot products exceed the other classes' ("other").
    - Relations: ``info_nce`` with temperature 1 on L2-normalised rows is the same softmax on
      cosines; here the rows are not normalised (the paper's choice), so the loss falls by
      growing the norms: Sohn adds a small L2 penalty on the embeddings (a regulariser,
      not part of this loss). pytorch-metric-learning's ``NPairsLoss`` takes (embeddings,
      labels) and keeps the first two rows of each label as a pair; its default
      ``DotProductSimilarity`` normalises the rows (then it is ``info_nce`` at τ = 1), and
      with ``normalize_embeddings=False`` it is this loss on those pairs.
    - Reference: Sohn (2016), Improved deep metric learning with multi-class N-pair loss
      objective (the N-pair-mc loss).

    >>> import losslab as ll
    >>> print(round(float(ll.npair([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 2.0]], reduction="none")[1]), 6))
    0.126928
    """

    name = "npair"
    family = "embedding"
    aliases = ("n_pair", "npairs", "n_pairs", "multiclass_n_pair")
    description = "N-pair: each anchor's own positive against the other pairs' positives (dot products)."
    formula = r"\log\Big(1 + \sum_{j\ne i} e^{f_i\cdot f_j^+ - f_i\cdot f_i^+}\Big)"
    inputs = ("anchors", "positives")
    differentiable_inputs = ("anchors", "positives")
    TRAITS = InfoNCE.TRAITS

    _prepare = InfoNCE._prepare

    def _per_sample(self, xp: Any, anchors: Any, positives: Any) -> Any:
        z = anchors @ positives.T
        # z_ii from the same product as the row's log-sum-exp, so that ℓ >= 0 to the last bit.
        return S.logsumexp(xp, z, axis=1) - xp.sum(z * _eye(xp, z.shape[0], z), axis=1)

    def _weighted_value_and_gradient(self, xp, arrays, options, cotangent, value, gradient):
        anchors, positives = arrays
        z = anchors @ positives.T
        total = None
        if value:
            per_sample = self._per_sample(xp, anchors, positives)
            total = _scalar(xp, xp.sum(cotangent * per_sample))
        if not gradient:
            return total, None
        g = cotangent[:, None] * (S.softmax(xp, z, axis=1) - _eye(xp, z.shape[0], z))
        return total, (g @ positives, g.T @ anchors)


# ----------------------------------------------------------------------------- pairwise distances
#: Entries of the (N, N, block) differences formed at once (32 MiB in float64): a few
#: columns at a time keeps the memory O(N²) and a traced (jit) graph short, where one
#: column per step unrolled into one operation per embedding dimension (512 for D = 512).
_DIFFERENCE_BUDGET = 1 << 22


def _column_blocks(n_rows: int, n_columns: int) -> tuple[range, int]:
    width = max(1, min(n_columns, _DIFFERENCE_BUDGET // max(n_rows * n_rows, 1)))
    return range(0, n_columns, width), width


def _pairwise_distances(xp: Any, x: Any) -> Any:
    """D_ik = ‖x_i − x_k‖₂ (N, N), summed over the dimensions a block of columns at a time:
    O(N²) memory, and from the differences, with no cancellation (‖x‖² − 2x·y + ‖y‖² loses
    every digit of a small distance). The rows are divided by the batch's largest |entry|
    first (no square overflows), and the square is floored so that the diagonal's D = 0 has
    a finite autodiff derivative."""
    top = xp.max(xp.abs(x))
    scale = xp.where(top > 0, top, xp.ones_like(top))
    u = x / scale
    squares = xp.zeros((x.shape[0], x.shape[0]), dtype=x.dtype, device=device(x))
    starts, width = _column_blocks(x.shape[0], x.shape[1])
    for start in starts:
        block = u[:, start:start + width]
        step = block[:, None, :] - block[None, :, :]
        squares = squares + xp.sum(step * step, axis=2)
    return scale * xp.sqrt(xp.maximum(squares, 1e-30))


def _distance_backward(xp: Any, g: Any, d: Any, x: Any) -> Any:
    """∂/∂x of Σ g_ik D_ik, D_ik = ‖x_i − x_k‖: Σ_k (g + gᵀ)_ik (x_i − x_k)/D_ik (g = 0 on the
    diagonal), a block of columns at a time from the differences, as the distances are
    formed: (x_i − x_k)/D_ik is a unit vector's entry (|·| <= 1, no overflow), and rows that
    coincide contribute exactly 0 (the subgradient), where h = (g + gᵀ)/D of ~1e15 times
    Σ_k h_ik·x_i − (h @ x)_i cancelled into rounding noise."""
    h = (g + g.T)[:, :, None]
    inverse = 1.0 / d[:, :, None]
    starts, width = _column_blocks(x.shape[0], x.shape[1])
    blocks = []
    for start in starts:
        block = x[:, start:start + width]
        blocks.append(xp.sum(h * ((block[:, None, :] - block[None, :, :]) * inverse), axis=1))
    return blocks[0] if len(blocks) == 1 else xp.concat(blocks, axis=1)


# ----------------------------------------------------------------------------- lifted structure
@register
class LiftedStructure(_InBatch):
    r"""Smooth lifted structured loss (Oh Song et al. 2016): every positive pair against all of both ends' negatives.

    - Formula: D_ij = ‖x_i − x_j‖₂, P(i) the other rows with i's label, N(i) the rows with
      another, :math:`L_i = \log\sum_{k\in N(i)} e^{\alpha - D_{ik}}`; for a positive pair
      :math:`J_{ij} = \log\big(e^{L_i} + e^{L_j}\big) + D_{ij}` and
      :math:`\ell_i = \frac{1}{2|P(i)|}\sum_{j\in P(i)} [J_{ij}]_+^2`. The mean over anchors is
      the paper's :math:`\frac{1}{2|\hat P|}\sum_{(i,j)\in\hat P}[J_{ij}]_+^2` whenever every
      label has as many rows (and with ``sample_weight`` = |P(i)| in general). An anchor with
      no positive gets weight 0 (as in ``supcon``); a batch of one label has J = −∞, ℓ = 0.
    - Domains: embeddings (N, dim) (not normalised); labels (N,) whole numbers; margin α real.
    - Gradient of Σᵢ cᵢℓᵢ: w_ij = cᵢ[J_ij]_+/|P(i)|; ∂D_ij = w_ij, and each pair's
      ∂J/∂L_i = softmax(L_i, L_j)_i carries w_ij to the negatives of both ends:
      ∂D_ik = −(Σ_j (w_ij + w_ji)·softmax(L_i, L_j)_i)·softmax_{N(i)}(α − D_i·)_k; then
      ∂x_i = Σ_k h_ik (x_i − x_k), h = (∂D + ∂Dᵀ)/D. Differentiable (the square smooths
      the hinge) but not twice; no Hessian; not separable.
    - Estimates: embeddings where each positive pair is closer than both ends' negatives by α
      ("other").
    - Relations: pytorch-metric-learning's ``LiftedStructureLoss(neg_margin=1, pos_margin=0)``
      computes it with α = neg_margin (1, the default here) on L2-normalised rows (its
      default ``LpDistance`` normalises; ``LpDistance(normalize_embeddings=False)`` gives
      this loss) and averages over ordered positive pairs (``sample_weight`` = |P(i)| here):
      its name is no alias, the defaults differ. Its ``GeneralizedLiftedStructureLoss``
      (Hermans et al. 2017) is a different, per-anchor form.
    - Reference: Oh Song, Xiang, Jegelka & Savarese (2016), Deep metric learning via lifted
      structured feature embedding, eq. 4.

    >>> import losslab as ll
    >>> print(round(float(ll.lifted_structure([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]], [0, 0, 1])), 6))
    0.169399
    """

    name = "lifted_structure"
    family = "embedding"
    aliases = ("lifted_structured", "lifted_structure_loss")
    description = "Lifted structure: each positive pair's distance against both ends' negatives (smooth)."
    formula = r"\frac{1}{2|P(i)|}\sum_{j\in P(i)}\Big[\log\big(e^{L_i} + e^{L_j}\big) + D_{ij}\Big]_+^2"
    parameters = (Param("margin", 1.0, V.FINITE, "α: how much closer than the negatives a positive pair must be"),)
    inputs = ("embeddings", "labels")
    differentiable_inputs = ("embeddings",)
    TRAITS = Traits(convex=False, estimates="other", **{**_METRIC, "twice_differentiable": False})

    _prepare = SupCon._prepare
    _check_values = SupCon._check_values
    _extra_weights = SupCon._extra_weights

    def _parts(self, xp: Any, embeddings: Any, labels: Any) -> tuple:
        d = _pairwise_distances(xp, embeddings)
        same = xp.astype(labels[:, None] == labels[None, :], d.dtype)
        positives, negatives = same * (1.0 - _eye(xp, d.shape[0], d)), 1.0 - same
        count = xp.sum(positives, axis=1)
        # L_i = α − m_i + r_i with m_i = min_{N(i)} D_ik and r_i = log Σ_{N(i)} e^{−(D_ik − m_i)}
        # (in [0, log N]); J_ij = α + logaddexp(D_ij − m_i + r_i, D_ij − m_j + r_j), each
        # D_ij − m first: formed as L_i + D_ij, α would round away once D ≫ α/ε.
        masked = xp.where(negatives > 0, -d, xp.full_like(d, -math.inf))
        top = xp.max(masked, axis=1)  # −m_i
        top = xp.where(xp.isfinite(top), top, xp.zeros_like(top))
        e = xp.exp(masked - top[:, None])
        total = xp.maximum(xp.sum(e, axis=1), 1.0)  # >= 1 wherever i has a negative
        q, r = e / total[:, None], xp.log(total)
        own = (d + top[:, None]) + r[:, None]  # D_ij − m_i + r_i
        other = (d + top[None, :]) + r[None, :]  # D_ij − m_j + r_j
        # N(i) = N(j) for a positive pair: both have negatives, or neither (then J = −∞).
        has_negative = (xp.sum(negatives, axis=1) > 0)[:, None]
        j = xp.where(has_negative, self.margin + xp.logaddexp(own, other), xp.zeros_like(d))
        hinge = positives * xp.where(has_negative, xp.maximum(j, 0.0), xp.zeros_like(d))
        per_sample = 0.5 * xp.sum(hinge * hinge, axis=1) / xp.maximum(count, 1.0)
        return d, count, own - other, q, hinge, per_sample

    def _per_sample(self, xp: Any, embeddings: Any, labels: Any) -> Any:
        return self._parts(xp, embeddings, labels)[-1]

    def _weighted_value_and_gradient(self, xp, arrays, options, cotangent, value, gradient):
        embeddings = arrays[0]
        d, count, gap, q, hinge, per_sample = self._parts(xp, *arrays)
        total = _scalar(xp, xp.sum(cotangent * per_sample)) if value else None
        if not gradient:
            return total, None
        w = (cotangent / xp.maximum(count, 1.0))[:, None] * hinge
        # softmax(L_i, L_j)_i = σ(L_i − L_j), L_i − L_j = gap_ij.
        diff = xp.where(w > 0, gap, xp.zeros_like(w))
        to_end = w * S.sigmoid(xp, diff)  # the share of w_ij reaching i's negatives
        g_lse = xp.sum(to_end, axis=1) + xp.sum(w.T - (w * S.sigmoid(xp, diff)).T, axis=1)
        g_d = w - g_lse[:, None] * q
        return total, _distance_backward(xp, g_d, d, embeddings)


# ----------------------------------------------------------------------------- margin (Wu et al.)
@register
class MarginBased(_InBatch):
    r"""Margin-based loss (Wu et al. 2017, "Sampling matters"): a hinge on each pair's distance around a learnable β.

    - Formula: rows L2-normalised, D_ij = ‖ẑ_i − ẑ_j‖₂, y_ij = +1 for the same label and −1
      for another, β_i the anchor's boundary:
      :math:`\ell_i = \frac{1}{N-1}\sum_{j\ne i}\big[\alpha + y_{ij}(D_{ij} - \beta_i)\big]_+`
      (every pair of the batch: no sampling; the mean over anchors is the mean over pairs).
    - Domains: embeddings (N, dim); labels (N,) whole numbers; beta (1,) one boundary for all,
      or (C,) one per class, then labels are class indices in [0, C); margin α >= 0.
    - Gradient of Σᵢ cᵢℓᵢ: with a_ij = [α + y_ij(D_ij − β_i) > 0], ∂D_ij = cᵢ y_ij a_ij/(N − 1)
      and ∂β_i = −cᵢ Σ_j y_ij a_ij/(N − 1), summed into β's entry of i's class; ∂x_i =
      Σ_k h_ik(ẑ_i − ẑ_k), h = (∂D + ∂Dᵀ)/D, then through the normalisation. beta is
      differentiable so that it can be learned, as the paper does; pass a constant to fix it.
      Not differentiable at each hinge's kink; no Hessian; not separable.
    - Estimates: embeddings with same-label pairs closer than β − α and other-label pairs
      farther than β + α ("other").
    - Relations: named ``margin_based`` because ``MarginLoss`` is losslab's shape of
      margin losses φ(y·f) and "margin" alone names a parameter of many losses. The paper
      samples pairs by distance and adds ν·(β⁽⁰⁾ + β_class) to the objective (ν·Σβ, a
      regulariser of the input beta, not part of this loss); here every pair counts, with
      α = 0.2 and β⁽⁰⁾ = 1.2 as in the paper. pytorch-metric-learning's ``MarginLoss``
      (margin 0.2, beta 1.2, normalised embeddings) enumerates triplets: each positive pair
      counts once per negative of its anchor and the sum is divided by the number of
      non-zero terms, a different weighting of the same hinges.
    - Reference: Wu, Manmatha, Smola & Krähenbühl (2017), Sampling matters in deep embedding
      learning (the margin based loss, with learned β).

    >>> import losslab as ll
    >>> print(round(float(ll.margin_based([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], [0, 0, 1], [1.2], reduction="none")[0]), 6))
    0.207107
    """

    name = "margin_based"
    family = "embedding"
    aliases = ("margin_based_loss", "sampling_matters_margin")
    description = "Wu et al.'s margin loss: [α + y(D − β)]₊ over all pairs, β learnable per class."
    formula = r"\frac{1}{N-1}\sum_{j\ne i}\big[\alpha + y_{ij}(D_{ij} - \beta_i)\big]_+"
    parameters = (Param("margin", 0.2, V.NONNEGATIVE, "α: half the width of the band around β"),)
    inputs = ("embeddings", "labels", "beta")
    differentiable_inputs = ("embeddings", "beta")
    TRAITS = Traits(convex=False, estimates="other", **{**_METRIC, "differentiable": False,
                                                          "twice_differentiable": False})

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        embeddings, labels, beta = arrays
        check_rows(embeddings, "embeddings")
        check_labels(labels, embeddings.shape[0], "labels")
        # (an empty batch has no pair, so any boundary vector will do, an empty one included)
        if beta.ndim != 1 or (beta.shape[0] < 1 and embeddings.shape[0] > 0):
            raise ValueError(f"beta must have shape (1,) (one boundary) or (n_classes,) (one per class);"
                             f" got shape {tuple(beta.shape)}")
        dtype = float_dtype(xp, embeddings, beta)
        return (xp.astype(embeddings, dtype, copy=False), labels, xp.astype(beta, dtype, copy=False)), options

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        embeddings, labels, beta = arrays
        SupCon._check_values(self, xp, (embeddings, labels), options)
        V.check_finite(xp, beta, "beta")
        if beta.shape[0] > 1:
            _check_class_labels(xp, labels, beta.shape[0])

    def _parts(self, xp: Any, embeddings: Any, labels: Any, beta: Any) -> tuple:
        z_hat, norm = normalize(xp, embeddings)
        d = _pairwise_distances(xp, z_hat)
        n, classes = d.shape[0], beta.shape[0]
        if classes == 1:
            onehot = xp.ones((n, 1), dtype=d.dtype, device=device(d))
        else:
            index = xp.astype(xp.arange(classes, device=device(d)), d.dtype)
            onehot = xp.astype(xp.astype(labels, d.dtype)[:, None] == index[None, :], d.dtype)
        beta_i = onehot @ beta
        sign = 2.0 * xp.astype(labels[:, None] == labels[None, :], d.dtype) - 1.0
        off = 1.0 - _eye(xp, n, d)
        z = self.margin + sign * (d - beta_i[:, None])
        hinge = off * xp.maximum(z, 0.0)
        scale = 1.0 / max(n - 1, 1)
        return z_hat, norm, d, onehot, sign * off * xp.astype(z > 0, d.dtype) * scale, xp.sum(hinge, axis=1) * scale

    def _per_sample(self, xp: Any, embeddings: Any, labels: Any, beta: Any) -> Any:
        return self._parts(xp, embeddings, labels, beta)[-1]

    def _weighted_value_and_gradient(self, xp, arrays, options, cotangent, value, gradient):
        z_hat, norm, d, onehot, slope, per_sample = self._parts(xp, *arrays)
        total = _scalar(xp, xp.sum(cotangent * per_sample)) if value else None
        if not gradient:
            return total, None
        g_d = cotangent[:, None] * slope
        d_beta = onehot.T @ (-xp.sum(g_d, axis=1))
        d_x = normalize_backward(xp, z_hat, norm, _distance_backward(xp, g_d, d, z_hat))
        return total, (d_x, d_beta)


# ----------------------------------------------------------------------------- SigLIP
@register
class SigLIP(InfoNCE):
    r"""SigLIP's sigmoid loss (Zhai et al. 2023): every image–text pair of the batch is a binary problem.

    - Formula: rows L2-normalised, logits :math:`z_{ij} = \hat x_i\cdot\hat y_j/\tau + b`, labels
      :math:`t_{ij} = 1` if i = j else −1:
      :math:`\ell_i = -\sum_j \log\sigma(t_{ij} z_{ij})`, so that the mean over i is the paper's
      :math:`-\frac{1}{|B|}\sum_i\sum_j \log\sigma(t_{ij} z_{ij})`.
    - Domains: image_embeddings, text_embeddings (N, dim), the same shape; temperature > 0
      (the paper's t is 1/τ); bias real.
    - Gradient of Σᵢ cᵢℓᵢ: ∂z_ij = −cᵢ t_ij σ(−t_ij z_ij); ∂x̂ = ∂z ŷ/τ, ∂ŷ = ∂zᵀ x̂/τ, then
      through the normalisation. No Hessian; not separable (each text is in every row).
    - Estimates: σ(z_ij) estimates whether image i and text j match ("other").
    - Relations: Zhai et al. learn t = exp(t′) and b, initialised at t = 10 (τ = 0.1) and
      b = −10, the defaults here; big_vision's ``sigmoid`` loss is the same per-image sum.
      ``clip`` is the softmax counterpart; sample weights weight the rows (images).
    - Reference: Zhai, Mustafa, Kolesnikov & Beyer (2023), Sigmoid loss for language image
      pre-training (SigLIP), Algorithm 1.

    >>> import losslab as ll
    >>> print(round(float(ll.siglip([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]], temperature=1.0, bias=0.0)), 6))
    1.006409
    """

    name = "siglip"
    aliases = ("sigmoid_contrastive", "siglip_loss")
    description = "SigLIP: −log σ(±(cos/τ + b)) over every image–text pair of the batch."
    formula = r"-\sum_j\log\sigma\big(t_{ij}(\hat x_i\cdot\hat y_j/\tau + b)\big)"
    parameters = (
        Param("temperature", 0.1, V.POSITIVE, "τ: logits are cos/τ + b (the paper's t = 1/τ)"),
        Param("bias", -10.0, V.FINITE, "b: the logits' bias (the paper's initial −10)"),
    )
    inputs = ("image_embeddings", "text_embeddings")
    differentiable_inputs = ("image_embeddings", "text_embeddings")

    def _signed(self, xp: Any, a: Any, b: Any) -> tuple:
        parts = self._logits(xp, a, b)
        z = parts[-1] + self.bias
        sign = 2.0 * _eye(xp, z.shape[0], z) - 1.0
        return parts, z, sign

    def _per_sample(self, xp: Any, image_embeddings: Any, text_embeddings: Any) -> Any:
        _, z, sign = self._signed(xp, image_embeddings, text_embeddings)
        return xp.sum(S.softplus(xp, -sign * z), axis=1)

    def _weighted_value_and_gradient(self, xp, arrays, options, cotangent, value, gradient):
        (x_hat, x_norm, y_hat, y_norm, _), z, sign = self._signed(xp, *arrays)
        total = None
        if value:
            total = _scalar(xp, xp.sum(cotangent * xp.sum(S.softplus(xp, -sign * z), axis=1)))
        if not gradient:
            return total, None
        g = -cotangent[:, None] * sign * S.sigmoid(xp, -sign * z)
        return total, self._back(xp, g, x_hat, x_norm, y_hat, y_norm)


# ----------------------------------------------------------------------------- angular margins
def _check_class_labels(xp: Any, labels: Any, n_classes: int, rows: str = "one row of weight per class") -> None:
    """Whole class indices in [0, n_classes); the message names ``labels`` and says where
    the number of classes comes from (``rows``)."""
    if is_tracing(labels):  # under jit: the result becomes NaN (DESIGN §7)
        bad = (labels < 0) | (labels >= n_classes)
        if xp.isdtype(labels.dtype, "real floating"):
            bad = bad | (labels != xp.round(labels))
        V.traced_invalid(xp, bad, f"labels must be class indices in [0, {n_classes})")
        return
    values = to_numpy(labels)
    if values.size == 0:
        return
    if n_classes == 0:
        raise ValueError(f"labels need at least one class, {rows}; the class matrix has no rows")
    if values.dtype.kind == "f":
        V.check_finite(np, values, "labels")
        if np.any(values != np.round(values)):
            raise ValueError(f"labels must hold whole class indices; got {float(values[values != np.round(values)][0]):g}")
    if values.min() < 0 or values.max() >= n_classes:
        bad = values.min() if values.min() < 0 else values.max()
        raise ValueError(
            f"labels must hold class indices in [0, {n_classes - 1}] ({rows}); got {float(bad):g}"
        )


def _divide_or_zero(xp: Any, num: Any, den: Any) -> Any:
    """num/den, and 0 where den is 0 (a unit direction of a zero vector: the subgradient 0)."""
    nonzero = den > 0
    return xp.where(nonzero, num / xp.where(nonzero, den, xp.ones_like(den)), xp.zeros_like(num))


class _ClassMatrix(_InBatch):
    """Embeddings against a matrix of class rows (class weights, sub-centres or proxies),
    the input named ``inputs[2]``, with ``_rows_per_class()`` rows per class in class-major
    order (row c·K + k is sub-centre k of class c). A class's cosine is the largest of its
    rows' cosines; the gradient goes through the row that gives it."""

    family = "embedding"
    inputs = ("embeddings", "labels", "weight")
    differentiable_inputs = ("embeddings", "weight")
    TRAITS = Traits(convex=False, estimates="other", **_METRIC)

    def _rows_per_class(self) -> int:
        return 1

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        embeddings, labels, matrix = arrays
        name, k = self.inputs[2], self._rows_per_class()
        check_rows(embeddings, "embeddings")
        check_labels(labels, embeddings.shape[0], "labels")
        if matrix.ndim != 2 or matrix.shape[1] != embeddings.shape[1] or matrix.shape[0] % k:
            rows = "one row per class" if k == 1 else f"n_classes·{k} rows, {k} sub-centres per class (sub_centers={k})"
            raise ValueError(f"{name} must be of shape (rows, {embeddings.shape[1]}): {rows}, each of the width of"
                             f" embeddings; got shape {tuple(matrix.shape)}")
        dtype = float_dtype(xp, embeddings, matrix)
        return (xp.astype(embeddings, dtype, copy=False), labels, xp.astype(matrix, dtype, copy=False)), options

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        embeddings, labels, matrix = arrays
        name, k = self.inputs[2], self._rows_per_class()
        V.check_finite(xp, embeddings, "embeddings")
        V.check_finite(xp, matrix, name)
        rows = f"one row of {name} per class" if k == 1 else f"{k} rows of {name} per class"
        _check_class_labels(xp, labels, matrix.shape[0] // k, rows)

    def _cosines(self, xp: Any, embeddings: Any, labels: Any, matrix: Any) -> tuple:
        """(x̂, ‖x‖, ŵ, ‖w‖, cos (N, C), onehot (N, C), select): select (N, C, K) marks the
        sub-centre each class's cosine comes from (None for one row per class)."""
        x_hat, x_norm = normalize(xp, embeddings)
        w_hat, w_norm = normalize(xp, matrix)
        cos = x_hat @ w_hat.T
        k, select = self._rows_per_class(), None
        if k > 1:
            grouped = xp.reshape(cos, (cos.shape[0], cos.shape[1] // k, k))
            # argmax returns the first of tied maxima (NumPy, PyTorch, JAX alike): the
            # gradient then goes to the lowest-numbered sub-centre, in autodiff too.
            first = xp.argmax(grouped, axis=2)
            select = xp.astype(first[:, :, None] == xp.arange(k, device=device(cos))[None, None, :], cos.dtype)
            cos = xp.sum(select * grouped, axis=2)
        classes = xp.astype(xp.arange(cos.shape[1], device=device(cos)), cos.dtype)
        onehot = xp.astype(xp.astype(labels, cos.dtype)[:, None] == classes[None, :], cos.dtype)
        return x_hat, x_norm, w_hat, w_norm, cos, onehot, select

    def _cosine_backward(self, xp: Any, parts: tuple, g_cos: Any, extra_x: Any = None,
                         extra_w: Any = None) -> tuple[Any, Any]:
        """From ∂/∂cos (N, C) to the raw embeddings and matrix: through the selected
        sub-centre only, then through both normalisations; ``extra_x`` and ``extra_w`` are
        further gradients in x̂ and ŵ (rows of the matrix), added before the normalisations."""
        x_hat, x_norm, w_hat, w_norm, _, _, select = parts
        if select is not None:
            g_cos = xp.reshape(select * g_cos[:, :, None], (g_cos.shape[0], w_hat.shape[0]))
        d_x_hat, d_w_hat = g_cos @ w_hat, g_cos.T @ x_hat
        if extra_x is not None:
            d_x_hat, d_w_hat = d_x_hat + extra_x, d_w_hat + extra_w
        return normalize_backward(xp, x_hat, x_norm, d_x_hat), normalize_backward(xp, w_hat, w_norm, d_w_hat)


class _MarginSoftmax(_ClassMatrix):
    """Softmax cross-entropy on logits a_i·u_ij, u the cosines with the true class's replaced
    by φ(cos θ, sin θ) (``_phi``); a_i = f·s, or f·s·‖x_i‖ where the embedding's norm is kept
    (``_norm_scaled``, SphereFace), f = ``_logit_factor``."""

    _norm_scaled = False
    _logit_factor = 1.0
    #: φ takes sin θ (ArcFace's cos(θ + m)); the others get sin=None and skip forming it.
    _phi_uses_sin = False

    def _phi(self, xp: Any, c: Any, sin: Any) -> tuple[Any, Any, Any]:
        """φ of the true class from its cos θ and sin θ, with ∂φ/∂cos θ and ∂φ/∂sin θ (None
        where φ does not use sin θ)."""
        raise NotImplementedError

    def _softmax_parts(self, xp: Any, embeddings: Any, labels: Any, matrix: Any) -> tuple:
        parts = self._cosines(xp, embeddings, labels, matrix)
        x_hat, x_norm, w_hat, cos, onehot, select = parts[0], parts[1][:, 0], parts[2], parts[4], parts[5], parts[6]
        # Rounding can put |cos| a few ulp above 1, where arccos-type margins have no value.
        c_true = S.clip(xp, xp.sum(onehot * cos, axis=1), -1.0, 1.0)
        # The true row (the selected sub-centre) and sin θ as the length of its component
        # orthogonal to x̂, ŵ − cos θ·x̂: an absolute error of about eps at every angle, where
        # √(1 − cos²θ) has lost all its digits below θ ≈ √eps. √ has an infinite slope at 0
        # (a row equal to its class row): taken through a base of 1 there, so that autodiff
        # of the value stays finite.
        pick = w_true = tangent = sin = None
        if self._phi_uses_sin:  # one more (N, C·K)·(C·K, dim) product: only where φ needs it
            pick = onehot if select is None else xp.reshape(onehot[:, :, None] * select,
                                                            (onehot.shape[0], w_hat.shape[0]))
            w_true = pick @ w_hat
            tangent = w_true - c_true[:, None] * x_hat
            squared = xp.sum(tangent * tangent, axis=1)
            nonzero = squared > 0
            sin = xp.where(nonzero, xp.sqrt(xp.where(nonzero, squared, xp.ones_like(squared))), xp.zeros_like(squared))
        phi, dphi, dphi_dsin = self._phi(xp, c_true, sin)
        a = self._logit_factor * self.scale * (x_norm if self._norm_scaled else xp.ones_like(c_true))
        u = cos + onehot * (phi - c_true)[:, None]
        logits = a[:, None] * u
        geometry = (pick, w_true, tangent, sin, c_true, dphi, dphi_dsin)
        return parts, u, a, geometry, logits, S.logsumexp(xp, logits, axis=1) - a * phi

    def _per_sample(self, xp: Any, embeddings: Any, labels: Any, matrix: Any) -> Any:
        return self._softmax_parts(xp, embeddings, labels, matrix)[-1]

    def _weighted_value_and_gradient(self, xp, arrays, options, cotangent, value, gradient):
        parts, u, a, geometry, logits, per_sample = self._softmax_parts(xp, *arrays)
        total = _scalar(xp, xp.sum(cotangent * per_sample)) if value else None
        if not gradient:
            return total, None
        x_hat, onehot = parts[0], parts[5]
        pick, w_true, tangent, sin, c_true, dphi, dphi_dsin = geometry
        g_logits = cotangent[:, None] * (S.softmax(xp, logits, axis=1) - onehot)
        g_cos = a[:, None] * g_logits * (1.0 + onehot * (dphi - 1.0)[:, None])
        extra_x = extra_w = None
        if dphi_dsin is not None:
            # Through sin θ: ∂sin θ/∂x̂ = −cos θ·t̂ and ∂sin θ/∂ŵ = −cos θ·v̂, with t̂, v̂ the unit
            # tangents (ŵ − cos θ·x̂)/sin θ and (x̂ − cos θ·ŵ)/sin θ, each of length 1: applied as
            # unit vectors, not as ∂φ/∂cos θ ∝ 1/sin θ times a tangent of length sin θ, so that
            # the pull stays bounded and right as θ → 0.
            # Below a few eps the tangents are rounding noise (a row equal to its class row,
            # e.g. imprinted from it): their direction means nothing, and the pull is the
            # subgradient 0.
            other = x_hat - c_true[:, None] * w_true
            other_norm = xp.sqrt(xp.sum(other * other, axis=1))
            noise = 8.0 * float(xp.finfo(sin.dtype).eps)
            g_sin = xp.sum(a[:, None] * g_logits * onehot, axis=1) * dphi_dsin * (-c_true)
            g_sin = xp.where((sin > noise) & (other_norm > noise), g_sin, xp.zeros_like(g_sin))
            extra_x = _divide_or_zero(xp, g_sin, sin)[:, None] * tangent
            extra_w = pick.T @ (_divide_or_zero(xp, g_sin, other_norm)[:, None] * other)
        d_x, d_w = self._cosine_backward(xp, parts, g_cos, extra_x, extra_w)
        if self._norm_scaled:  # a = f·s·‖x‖, ∂a/∂x = f·s·x̂
            d_x = d_x + self._logit_factor * self.scale * xp.sum(g_logits * u, axis=1, keepdims=True) * x_hat
        return total, (d_x, d_w)


@register
class ArcFace(_MarginSoftmax):
    r"""ArcFace (additive angular margin, Deng et al. 2019): the true class's angle is widened by m.

    - Formula: with :math:`\cos\theta_{ij} = \hat x_i\cdot\hat w_j` (rows of the embeddings and
      of the class matrix L2-normalised), :math:`\ell_i = -\log\frac{e^{s\cos(\theta_{iy_i} + m)}}
      {e^{s\cos(\theta_{iy_i} + m)} + \sum_{j\ne y_i} e^{s\cos\theta_{ij}}}`, with
      cos(θ + m) = cos θ cos m − sin θ sin m, sin θ = ‖ŵ_y − cos θ·x̂‖ (the same number as
      √(1 − cos²θ), computed so that it keeps its digits at small angles).
    - Domains: embeddings (N, dim); labels (N,) class indices in [0, C); weight (C, dim) the
      class matrix (a learned parameter: differentiable); scale > 0; margin in [0, π/2).
    - Gradient of Σᵢ cᵢℓᵢ: G = c ⊙ (softmax − onehot) on the logits; ∂cos_ij = sG_ij for
      j ≠ yᵢ and sG_iy·(cos m + cos θ sin m / sin θ) for the true class; ∂x̂ = ∂cos ŵ,
      ∂ŵ = ∂cosᵀ x̂, then through both normalisations. The true-class derivative in cos θ
      grows without bound as θ → 0 while the tangent it multiplies, ŵ − cos θ·x̂, shrinks:
      their product, sin m·cos θ along the unit tangent, is bounded and is applied as such.
      The normalised rows' rounding leaves the tangent an absolute error of about eps, so
      the pull's direction has a relative error of about eps/θ (θ = 1e-9: 1e-7 in float64),
      where √(1 − cos²θ) lost every digit below θ ≈ √eps. Below sin θ = 8·eps (a row equal
      to its class row up to rounding, as when a class row is imprinted from an embedding)
      the pull is the subgradient 0: the angle has a kink there (differentiable False). No
      Hessian; not separable (the class matrix is shared).
    - Estimates: class-separable directions with an angular gap m between classes ("other").
    - Relations: the paper's cos(θ + m) without insightface's fallback for θ + m > π
      (``easy_margin``/``th`` there); pytorch-metric-learning's ``ArcFaceLoss`` (margin in
      *degrees*, 28.6° = 0.5 rad, scale 64) computes cos(θ + m) through arccos, the same
      number (its class name is no alias here: its margin's unit differs). margin=0 is the normalised softmax (NormFace) at scale s.
    - Reference: Deng, Guo, Xue & Zafeiriou (2019), ArcFace: additive angular margin loss for
      deep face recognition, eq. 3.

    >>> import losslab as ll
    >>> print(round(float(ll.arcface([[0.6, 0.8]], [0], [[1.0, 0.0], [0.0, 1.0]], scale=1.0, margin=0.5)), 6))
    1.074654
    """

    name = "arcface"
    aliases = ("additive_angular_margin",)
    description = "ArcFace: softmax on s·cos θ with the true class's angle widened by m."
    formula = r"-\log\frac{e^{s\cos(\theta_{y}+m)}}{e^{s\cos(\theta_{y}+m)} + \sum_{j\ne y}e^{s\cos\theta_j}}"
    parameters = (
        Param("scale", 64.0, V.POSITIVE, "s: the radius of the hypersphere (logit scale)"),
        Param("margin", 0.5, V.interval_rule(0.0, math.pi / 2, True, False), "m: the additive angular margin (radians)"),
    )
    # The angle between x̂ and ŵ_y has a cone-shaped kink where they coincide (θ = 0).
    TRAITS = Traits(convex=False, estimates="other",
                    **{**_METRIC, "differentiable": False, "twice_differentiable": False})

    _phi_uses_sin = True

    def _phi(self, xp: Any, c: Any, sin: Any) -> tuple[Any, Any, Any]:
        cm, sm = math.cos(self.margin), math.sin(self.margin)
        return c * cm - sin * sm, xp.full_like(c, cm), xp.full_like(c, -sm)


@register
class CosFace(_MarginSoftmax):
    r"""CosFace (large-margin cosine loss, Wang et al. 2018): the true class's cosine lowered by m.

    - Formula: :math:`\ell_i = -\log\frac{e^{s(\cos\theta_{iy_i} - m)}}{e^{s(\cos\theta_{iy_i} - m)}
      + \sum_{j\ne y_i} e^{s\cos\theta_{ij}}}`, :math:`\cos\theta_{ij} = \hat x_i\cdot\hat w_j`.
    - Domains: embeddings (N, dim); labels (N,) class indices in [0, C); weight (C, dim) the
      class matrix (differentiable); scale > 0; margin >= 0.
    - Gradient of Σᵢ cᵢℓᵢ: ∂cos = sG with G = c ⊙ (softmax − onehot) (the margin is a
      constant shift), then ∂x̂ = ∂cos ŵ, ∂ŵ = ∂cosᵀ x̂ and both normalisations. No
      Hessian; not separable (the class matrix is shared).
    - Estimates: class-separable directions with a cosine gap m ("other").
    - Relations: pytorch-metric-learning's ``CosFaceLoss`` (margin 0.35, scale 64, the
      defaults here) and AM-Softmax (Wang et al. 2018, "additive margin softmax") are the
      same loss.
    - Reference: Wang et al. (2018), CosFace: large margin cosine loss for deep face
      recognition, eq. 4.

    >>> import losslab as ll
    >>> print(round(float(ll.cosface([[0.6, 0.8]], [0], [[1.0, 0.0], [0.0, 1.0]], scale=1.0, margin=0.35)), 6))
    1.005492
    """

    name = "cosface"
    aliases = ("large_margin_cosine", "am_softmax", "CosFaceLoss")
    description = "CosFace: softmax on s·cos θ with the true class's cosine lowered by m."
    formula = r"-\log\frac{e^{s(\cos\theta_{y}-m)}}{e^{s(\cos\theta_{y}-m)} + \sum_{j\ne y}e^{s\cos\theta_j}}"
    parameters = (
        Param("scale", 64.0, V.POSITIVE, "s: the logit scale"),
        Param("margin", 0.35, V.NONNEGATIVE, "m: the additive cosine margin"),
    )

    def _phi(self, xp: Any, c: Any, sin: Any) -> tuple[Any, Any, Any]:
        return c - self.margin, xp.ones_like(c), None


# ----------------------------------------------------------------------------- SphereFace, sub-centres, proxies
_POSITIVE_INTEGER = V.Rule(
    lambda v: isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) and v >= 1, "an integer >= 1"
)


@register
class SphereFace(_MarginSoftmax):
    r"""SphereFace (A-Softmax, Liu et al. 2017): the true class's angle multiplied by m, made monotone by ψ.

    - Formula: with :math:`\cos\theta_{ij} = \hat x_i\cdot\hat w_j` (the rows of the class
      matrix normalised, zero biases), :math:`\ell_i = -\log\frac{e^{s\|x_i\|\psi(\theta_{iy_i})}}
      {e^{s\|x_i\|\psi(\theta_{iy_i})} + \sum_{j\ne y_i} e^{s\|x_i\|\cos\theta_{ij}}}`,
      :math:`\psi(\theta) = (-1)^k\cos(m\theta) - 2k` for θ in [kπ/m, (k+1)π/m], k = 0…m−1:
      continuous and decreasing on [0, π], from 1 down to 1 − 2m. cos(mθ) is the Chebyshev
      polynomial T_m(cos θ), and k counts the boundaries cos(jπ/m) at or above cos θ: no arccos.
    - Feature norm: this is the paper's A-Softmax, *not* the normalised-feature variant:
      the embedding's norm ‖x‖ stays in the logits, times scale s (1 in the paper and in
      pytorch-metric-learning). The normalised-feature variant (logits s·ψ, s fixed, as in
      ArcFace/CosFace) is this loss on L2-normalised embeddings with scale = s.
    - Domains: embeddings (N, dim); labels (N,) class indices in [0, C); weight (C, dim) the
      class matrix (differentiable); margin m an integer >= 1 (m = 1: the normalised-weight
      softmax, the paper's "modified softmax"); scale > 0.
    - Gradient of Σᵢ cᵢℓᵢ: G = c ⊙ (softmax − onehot) on the logits a_i u_ij (a_i = s‖x_i‖);
      ∂cos_ij = a_i G_ij, times ψ′(cos θ) = (−1)^k m U_{m−1}(cos θ) = (−1)^k m sin(mθ)/sin θ
      (|ψ′| <= m², finite at θ = 0) for the true class; ∂x̂ = ∂cos ŵ, ∂ŵ = ∂cosᵀ x̂, both
      normalisations, and s(Σ_j G_ij u_ij) x̂_i more for x_i through ‖x_i‖. ψ′ is
      continuous but ψ″ jumps at θ = kπ/m (twice_differentiable False); no Hessian; not
      separable (the class matrix is shared).
    - Estimates: class-separable directions, the true class's angle m times smaller than
      the others' ("other").
    - Relations: pytorch-metric-learning's ``SphereFaceLoss(margin=4, scale=1)``
      (the defaults here) computes the same logits s‖x‖·(cos θ or ψ(θ)). The paper trains
      with ψ annealed in, (λ cos θ + ψ(θ))/(1 + λ) with λ decreasing: a training schedule,
      not this loss. ``arcface`` and ``cosface`` put the margin on θ + m and cos θ − m.
    - Reference: Liu, Wen, Yu, Li, Raj & Song (2017), SphereFace: deep hypersphere embedding
      for face recognition, eq. 7.

    >>> import losslab as ll
    >>> print(round(float(ll.sphereface([[3.0, 4.0]], [0], [[1.0, 0.0], [0.0, 1.0]])), 6))
    9.784056
    """

    name = "sphereface"
    aliases = ("a_softmax", "angular_softmax", "SphereFaceLoss")
    description = "SphereFace (A-Softmax): softmax on ‖x‖·cos θ with the true class's angle multiplied by m."
    formula = (r"-\log\frac{e^{s\|x\|\psi(\theta_{y})}}{e^{s\|x\|\psi(\theta_{y})} + \sum_{j\ne y}e^{s\|x\|\cos\theta_j}},"
               r"\ \psi(\theta) = (-1)^k\cos(m\theta) - 2k")
    parameters = (
        Param("scale", 1.0, V.POSITIVE, "s: multiplies the logits ‖x‖·cos θ (1 in the paper)"),
        Param("margin", 4, _POSITIVE_INTEGER, "m: the multiplicative angular margin, an integer (the paper's 4)"),
    )
    TRAITS = Traits(convex=False, estimates="other", **{**_METRIC, "twice_differentiable": False})
    _norm_scaled = True

    def _phi(self, xp: Any, c: Any, sin: Any) -> tuple[Any, Any, Any]:
        m = int(self.margin)
        # T_m(c) = cos(mθ) and U_{m−1}(c) = sin(mθ)/sin θ by their three-term recurrences.
        t_prev, t = xp.ones_like(c), c
        u_prev, u = xp.zeros_like(c), xp.ones_like(c)
        for _ in range(m - 1):
            t_prev, t = t, 2.0 * c * t - t_prev
            u_prev, u = u, 2.0 * c * u - u_prev
        # k = #{j in 1…m−1: θ >= jπ/m}; at a boundary either k gives the same ψ (ψ is continuous).
        k = xp.zeros_like(c)
        for j in range(1, m):
            k = k + xp.astype(c <= math.cos(j * math.pi / m), c.dtype)
        sign = 1.0 - 2.0 * (k - 2.0 * xp.floor(k / 2.0))
        return sign * t - 2.0 * k, sign * m * u, None


@register
class SubCenterArcFace(_MarginSoftmax):
    r"""Sub-center ArcFace (Deng et al. 2020): K sub-centres per class, the nearest one carries ArcFace's margin.

    - Formula: the class matrix holds K rows per class, row c·K + k the sub-centre k of class
      c (class-major, as in the authors' and pytorch-metric-learning's code);
      :math:`\cos\theta_{ic} = \max_k \hat x_i\cdot\hat w_{ck}`, then ArcFace:
      :math:`\ell_i = -\log\frac{e^{s\cos(\theta_{iy_i} + m)}}{e^{s\cos(\theta_{iy_i} + m)}
      + \sum_{c\ne y_i} e^{s\cos\theta_{ic}}}`.
    - Domains: embeddings (N, dim); labels (N,) class indices in [0, C); weight (C·K, dim)
      (differentiable); scale > 0; margin in [0, π/2); sub_centers K an integer >= 1.
    - Gradient of Σᵢ cᵢℓᵢ: as ``arcface``'s in the class cosines, each class's going to the
      sub-centre that attains the maximum (the others of the class get none). Ties: where
      two sub-centres of a class attain it, the max is not differentiable, and the gradient
      goes to the first of them (the lowest k, as ``argmax`` in NumPy, PyTorch and JAX picks,
      and as pytorch-metric-learning's ``torch.max(dim=…)`` sends it; autodiff of
      ``jnp.max`` or ``torch.amax`` would split it equally): differentiable False. No
      Hessian; not separable.
    - Estimates: class directions with an angular gap m, each class allowed K modes (noisy
      or multi-modal classes; "other").
    - Relations: sub_centers = 1 is ``arcface``. pytorch-metric-learning's
      ``SubCenterArcFaceLoss`` (margin 28.6 *degrees*, scale 64, sub_centers 3) takes the
      same maximum over the same layout; its margin's unit differs, so its name is no alias
      (margin = radians(28.6) here). The paper's second stage (dropping samples far from
      their class's dominant sub-centre, then K = 1) is data cleaning, not part of the loss.
    - Reference: Deng, Guo, Liu, Xue & Zafeiriou (2020), Sub-center ArcFace: boosting face
      recognition by large-scale noisy web faces (ECCV).

    >>> import losslab as ll
    >>> weight = [[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.8, -0.6]]
    >>> print(round(float(ll.subcenter_arcface([[0.6, 0.8]], [0], weight, scale=1.0, margin=0.5, sub_centers=2)), 6))
    0.507257
    """

    name = "subcenter_arcface"
    aliases = ("sub_center_arcface",)
    description = "Sub-center ArcFace: ArcFace on each class's best of K sub-centres."
    formula = (r"-\log\frac{e^{s\cos(\theta_{y}+m)}}{e^{s\cos(\theta_{y}+m)} + \sum_{c\ne y}e^{s\cos\theta_c}},"
               r"\ \cos\theta_c = \max_k \hat x\cdot\hat w_{ck}")
    parameters = ArcFace.parameters + (
        Param("sub_centers", 3, _POSITIVE_INTEGER, "K: sub-centres (rows of weight) per class (the paper's 3)"),
    )
    TRAITS = Traits(convex=False, estimates="other",
                    **{**_METRIC, "differentiable": False, "twice_differentiable": False})
    _phi = ArcFace._phi
    _phi_uses_sin = True

    def _rows_per_class(self) -> int:
        return int(self.sub_centers)


@register
class ProxyNCA(_MarginSoftmax):
    r"""Proxy-NCA (Movshovitz-Attias et al. 2017), in pytorch-metric-learning's form: a softmax over distances to class proxies.

    - Formula: embeddings and proxies L2-normalised,
      :math:`\ell_i = -\log\frac{e^{-s\|\hat x_i - \hat p_{y_i}\|^2}}{\sum_j e^{-s\|\hat x_i - \hat p_j\|^2}}`
      (the positive proxy in the denominator). As ‖x̂ − p̂‖² = 2 − 2cos θ for unit vectors,
      this is softmax cross-entropy on the logits 2s·cos θ_ij (the constant −2s cancels),
      which is how it is computed.
    - Domains: embeddings (N, dim); labels (N,) class indices in [0, C); proxies (C, dim),
      one per class, learned (differentiable); scale > 0.
    - Gradient of Σᵢ cᵢℓᵢ: ∂cos_ij = 2s G_ij, G = c ⊙ (softmax − onehot); ∂x̂ = ∂cos p̂,
      ∂p̂ = ∂cosᵀ x̂, then both normalisations. No Hessian; not separable (the proxies are
      shared).
    - Estimates: embeddings nearest their class's proxy ("other").
    - Relations: pytorch-metric-learning's ``ProxyNCALoss`` (softmax_scale = 1, the scale
      here; squared L2 distance of normalised vectors), which drops a sample whose softmax
      underflows to 0 where this one stays finite. The paper's NCA form leaves the positive
      proxy out of the denominator, −log(e^{−d_y}/Σ_{j≠y} e^{−d_j}) = ℓ + log(1 − e^{−ℓ}),
      unbounded below. ProxyNCA++ (Teh, DeVries & Taylor 2020) is this loss with
      scale = 1/T. ``cosface`` with margin 0 and scale 2s gives the same number.
    - Reference: Movshovitz-Attias, Toshev, Leung, Ioffe & Singh (2017), No fuss distance
      metric learning using proxies (ICCV).

    >>> import losslab as ll
    >>> print(round(float(ll.proxy_nca([[0.6, 0.8]], [0], [[1.0, 0.0], [0.0, 1.0]])), 6))
    0.913015
    """

    name = "proxy_nca"
    aliases = ("proxynca", "ProxyNCALoss")
    description = "Proxy-NCA: softmax over −s·(squared distance) of normalised embeddings to class proxies."
    formula = r"-\log\frac{e^{-s\|\hat x - \hat p_{y}\|^2}}{\sum_j e^{-s\|\hat x - \hat p_j\|^2}}"
    parameters = (Param("scale", 1.0, V.POSITIVE, "s: multiplies −‖x̂ − p̂‖² (pytorch-metric-learning's softmax_scale)"),)
    inputs = ("embeddings", "labels", "proxies")
    differentiable_inputs = ("embeddings", "proxies")
    _logit_factor = 2.0

    def _phi(self, xp: Any, c: Any, sin: Any) -> tuple[Any, Any, Any]:
        return c, xp.ones_like(c), None


@register
class ProxyAnchor(_ClassMatrix):
    r"""Proxy-anchor loss (Kim et al. 2020): each class proxy is an anchor pulling its batch samples and pushing the rest.

    - Formula: :math:`s(x, p) = \hat x\cdot\hat p` (cosine), P the proxies, P⁺ those with at
      least one sample of their class in the batch, X_p⁺ the rows of p's class, X_p⁻ the others:
      :math:`\ell = \frac{1}{|P^+|}\sum_{p\in P^+}\log\big(1 + \sum_{x\in X_p^+} e^{-\alpha(s(x,p) - \delta)}\big)
      + \frac{1}{|P|}\sum_{p\in P}\log\big(1 + \sum_{x\in X_p^-} e^{\alpha(s(x,p) + \delta)}\big)`.
    - Shape: one loss per batch (the anchors are the proxies, not the samples): the result
      has shape (1,) and a ``sample_weight`` has shape (1,), as for ``barlow_twins``.
    - Domains: embeddings (N, dim), N >= 1; labels (N,) class indices in [0, C); proxies
      (C, dim) learned (differentiable); alpha > 0; margin δ >= 0.
    - Gradient: ∂s(x, p) = −α σ⁺_xp/|P⁺| for x in X_p⁺ and α σ⁻_xp/|P| for x in X_p⁻,
      σ the term's share e^{…}/(1 + Σ e^{…}) of its log; ∂x̂ = ∂s p̂, ∂p̂ = ∂sᵀ x̂, then both
      normalisations. No Hessian.
    - Estimates: embeddings with cosine above δ to their class's proxy and below −δ to the
      others, softly weighted by α ("other").
    - Relations: pytorch-metric-learning's ``ProxyAnchorLoss(margin=0.1, alpha=32)`` (the
      paper's and the defaults here) divides the positive part by the number of proxies with
      positives and the negative part by the number of classes, as here.
    - Reference: Kim, Kim, Cho & Kwak (2020), Proxy anchor loss for deep metric learning
      (CVPR), eq. 4.

    >>> import losslab as ll
    >>> print(round(float(ll.proxy_anchor([[0.6, 0.8], [1.0, 0.0]], [0, 0], [[1.0, 0.0], [0.0, 1.0]], alpha=1.0)), 6))
    1.45886
    """

    name = "proxy_anchor"
    aliases = ("proxyanchor", "ProxyAnchorLoss")
    description = "Proxy-anchor: each proxy pulls its class's batch samples past δ and pushes the others."
    formula = (r"\frac{1}{|P^+|}\sum_{p\in P^+}\log\big(1 + \sum_{X_p^+} e^{-\alpha(s - \delta)}\big)"
               r" + \frac{1}{|P|}\sum_{p\in P}\log\big(1 + \sum_{X_p^-} e^{\alpha(s + \delta)}\big)")
    parameters = (
        Param("alpha", 32.0, V.POSITIVE, "α: the scale of the soft weighting"),
        Param("margin", 0.1, V.NONNEGATIVE, "δ: the cosine margin"),
    )
    inputs = ("embeddings", "labels", "proxies")
    differentiable_inputs = ("embeddings", "proxies")

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        if arrays[0].ndim == 2 and arrays[0].shape[0] == 0:
            raise ValueError("embeddings must be a non-empty batch (the loss is one number per batch); got 0 rows")
        return super()._prepare(xp, arrays, options)

    def _loss_shape(self, arrays: tuple) -> tuple[int, ...]:
        return (1,)

    def _parts(self, xp: Any, embeddings: Any, labels: Any, proxies: Any) -> tuple:
        parts = self._cosines(xp, embeddings, labels, proxies)
        cos, onehot = parts[4], parts[5]
        # Per proxy (a row of the transposes): log(1 + Σ e^…) and each sample's share of it.
        pos_log, pos_share = _log1p_sum_exp(xp, (-self.alpha * (cos - self.margin)).T, onehot.T)
        neg_log, neg_share = _log1p_sum_exp(xp, (self.alpha * (cos + self.margin)).T, (1.0 - onehot).T)
        n_pos = xp.sum(xp.astype(xp.sum(onehot, axis=0) > 0, cos.dtype))
        n_all = float(cos.shape[1])
        value = xp.sum(pos_log) / n_pos + xp.sum(neg_log) / n_all
        return parts, value, pos_share, neg_share, n_pos, n_all

    def _per_sample(self, xp: Any, embeddings: Any, labels: Any, proxies: Any) -> Any:
        return xp.reshape(self._parts(xp, embeddings, labels, proxies)[1], (1,))

    def _weighted_value_and_gradient(self, xp, arrays, options, cotangent, value, gradient):
        parts, loss, pos_share, neg_share, n_pos, n_all = self._parts(xp, *arrays)
        total = _scalar(xp, cotangent[0] * loss) if value else None
        if not gradient:
            return total, None
        g_cos = cotangent[0] * self.alpha * (neg_share.T / n_all - pos_share.T / n_pos)
        return total, self._cosine_backward(xp, parts, g_cos)


# ----------------------------------------------------------------------------- Barlow Twins
#: BatchNorm1d's default eps (the Barlow Twins code normalises with BatchNorm1d(affine=False)).
BATCHNORM_EPS = 1e-5


def _standardize(xp: Any, z: Any) -> tuple[Any, Any]:
    """Each column to mean 0 and (biased) variance 1: (z − μ)/√(var + eps), and the √."""
    centred = z - xp.mean(z, axis=0, keepdims=True)
    std = xp.sqrt(xp.mean(centred * centred, axis=0, keepdims=True) + BATCHNORM_EPS)
    return centred / std, std


def _standardize_backward(xp: Any, z_hat: Any, std: Any, grad: Any) -> Any:
    """∂/∂z of a function of ẑ = (z − μ)/σ, σ² = var + eps: (g − mean(g) − ẑ·mean(g·ẑ))/σ per column."""
    return (grad - xp.mean(grad, axis=0, keepdims=True)
            - z_hat * xp.mean(grad * z_hat, axis=0, keepdims=True)) / std


@register
class BarlowTwins(_InBatch):
    r"""Barlow Twins (Zbontar et al. 2021): the cross-correlation of two views' embeddings driven to the identity.

    - Formula: each column of z_a and z_b standardised over the batch (mean 0, variance 1,
      as BatchNorm without affine: ẑ = (z − μ)/√(var + 1e-5)), :math:`C = \hat z_a^\top \hat z_b / N`,
      :math:`\ell = \sum_k (1 - C_{kk})^2 + \lambda\sum_{k\ne l} C_{kl}^2`.
    - Domains: z_a, z_b (N, dim) two views of the same N inputs, N >= 2; lambda_offdiag >= 0.
    - Gradient: ∂C = 2(C − I) on the diagonal and 2λC off it; ∂ẑ_a = ẑ_b ∂Cᵀ/N,
      ∂ẑ_b = ẑ_a ∂C/N, then through the standardisation:
      ∂z = (g − mean(g) − ẑ·mean(g·ẑ))/σ per column. No Hessian.
    - Shape: one loss per batch (the loss is a function of batch statistics, not a sum over
      samples): the result has shape (1,) and a ``sample_weight`` has shape (1,), as for the
      transport losses.
    - Estimates: embeddings invariant to the augmentation with decorrelated dimensions ("other").
    - Relations: the authors' code (facebookresearch/barlowtwins) uses λ = 0.0051 and sums over
      dimensions as here; some reimplementations divide by the dimension or scale the loss.
      ``vicreg`` regularises variance and covariance separately.
    - Reference: Zbontar, Jing, Misra, LeCun & Deny (2021), Barlow Twins: self-supervised
      learning via redundancy reduction, eq. 1.

    >>> import losslab as ll
    >>> print(round(float(ll.barlow_twins([[1.0, 0.0], [-1.0, 0.0]], [[1.0, 0.0], [-1.0, 0.0]])), 6))
    1.0
    """

    name = "barlow_twins"
    family = "embedding"
    aliases = ("barlow",)
    description = "Barlow Twins: the two views' cross-correlation matrix pushed to the identity."
    formula = r"\sum_k (1 - C_{kk})^2 + \lambda\sum_{k\ne l} C_{kl}^2"
    parameters = (Param("lambda_offdiag", 5e-3, V.NONNEGATIVE, "λ: weight of the off-diagonal (redundancy) terms"),)
    inputs = ("z_a", "z_b")
    differentiable_inputs = ("z_a", "z_b")
    TRAITS = Traits(convex=False, estimates="other", **_METRIC)

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        z_a, z_b = arrays
        check_same_rows(z_a, z_b, "z_a", "z_b")
        if z_a.shape[0] < 2:
            raise ValueError(f"z_a must be a non-empty batch of at least 2 rows (batch statistics); got {z_a.shape[0]}")
        dtype = float_dtype(xp, z_a, z_b)
        return (xp.astype(z_a, dtype, copy=False), xp.astype(z_b, dtype, copy=False)), options

    def _loss_shape(self, arrays: tuple) -> tuple[int, ...]:
        return (1,)

    def _parts(self, xp: Any, z_a: Any, z_b: Any) -> tuple:
        a_hat, a_std = _standardize(xp, z_a)
        b_hat, b_std = _standardize(xp, z_b)
        c = (a_hat.T @ b_hat) / z_a.shape[0]
        eye = _eye(xp, c.shape[0], c)
        return a_hat, a_std, b_hat, b_std, c, eye

    def _value(self, xp: Any, c: Any, eye: Any) -> Any:
        on = xp.sum(eye * (1.0 - c) ** 2)
        off = xp.sum((1.0 - eye) * c * c)
        return on + self.lambda_offdiag * off

    def _per_sample(self, xp: Any, z_a: Any, z_b: Any) -> Any:
        *_, c, eye = self._parts(xp, z_a, z_b)
        return xp.reshape(self._value(xp, c, eye), (1,))

    def _weighted_value_and_gradient(self, xp, arrays, options, cotangent, value, gradient):
        a_hat, a_std, b_hat, b_std, c, eye = self._parts(xp, *arrays)
        total = _scalar(xp, cotangent[0] * self._value(xp, c, eye)) if value else None
        if not gradient:
            return total, None
        g_c = cotangent[0] * 2.0 * (eye * (c - 1.0) + self.lambda_offdiag * (1.0 - eye) * c)
        n = a_hat.shape[0]
        d_a = _standardize_backward(xp, a_hat, a_std, (b_hat @ g_c.T) / n)
        d_b = _standardize_backward(xp, b_hat, b_std, (a_hat @ g_c) / n)
        return total, (d_a, d_b)


# ----------------------------------------------------------------------------- VICReg
@register
class VICReg(_InBatch):
    r"""VICReg (Bardes, Ponce & LeCun 2022): invariance, variance and covariance terms on two views' embeddings.

    - Formula (the paper's eqs. 1-5): with Z, Z′ the (n, d) embeddings of two views,
      :math:`s = \frac1n\sum_i\|z_i - z'_i\|^2`,
      :math:`v(Z) = \frac1d\sum_j\max\big(0, \gamma - \sqrt{\mathrm{Var}(z^j) + \epsilon}\big)` (unbiased
      variance), :math:`c(Z) = \frac1d\sum_{k\ne l} C(Z)_{kl}^2` with
      :math:`C(Z) = \frac{1}{n-1}\sum_i (z_i - \bar z)(z_i - \bar z)^\top`, and
      :math:`\ell = \lambda s + \mu\,[v(Z) + v(Z')] + \nu\,[c(Z) + c(Z')]`.
    - Domains: z_a, z_b (n, d) with n >= 2; invariance_weight λ, variance_weight μ,
      covariance_weight ν >= 0; gamma > 0; eps > 0.
    - Gradient: ∂s/∂z_a = 2(z_a − z_b)/n; ∂v/∂z_ij = −[S_j < γ](z_ij − z̄_j)/(d(n − 1)S_j) with
      S_j = √(Var + ε); ∂c/∂Z = 4 Z̃ (C ⊙ (1 − I))/(d(n − 1)), Z̃ the centred Z. The variance
      hinge has a kink where a dimension's S_j = γ (not differentiable there); no Hessian.
    - Shape: one loss per batch (a function of batch statistics): the result has shape (1,)
      and a ``sample_weight`` has shape (1,), as for ``barlow_twins``.
    - Estimates: embeddings invariant to the augmentation, each dimension's spread at least γ,
      the dimensions decorrelated ("other").
    - Relations: the authors' code (facebookresearch/vicreg) takes the invariance as
      ``mse_loss`` (a mean over n·d, not n) and halves the variance term (it averages the two
      views): code(λ, μ, ν) = this loss with λ/d, μ/2, ν. Its defaults λ = μ = 25, ν = 1, γ = 1,
      ε = 1e-4 are the defaults here, as in the paper. ``barlow_twins`` decorrelates through
      the cross-correlation instead.
    - Reference: Bardes, Ponce & LeCun (2022), VICReg: variance-invariance-covariance
      regularization for self-supervised learning, eqs. 1-6.

    >>> import losslab as ll
    >>> print(round(float(ll.vicreg([[1.0, 0.0], [-1.0, 0.0]], [[1.0, 0.0], [-1.0, 0.0]])), 6))
    24.75
    """

    name = "vicreg"
    family = "embedding"
    aliases = ("variance_invariance_covariance",)
    description = "VICReg: invariance (MSE) + variance hinge + covariance penalty over two views."
    formula = r"\lambda s(Z, Z') + \mu[v(Z) + v(Z')] + \nu[c(Z) + c(Z')]"
    parameters = (
        Param("invariance_weight", 25.0, V.NONNEGATIVE, "λ: weight of the invariance (mean squared distance) term"),
        Param("variance_weight", 25.0, V.NONNEGATIVE, "μ: weight of the variance hinge"),
        Param("covariance_weight", 1.0, V.NONNEGATIVE, "ν: weight of the covariance penalty"),
        Param("gamma", 1.0, V.POSITIVE, "γ: target standard deviation of each dimension"),
        Param("eps", 1e-4, V.POSITIVE, "ε: added to the variance under the square root"),
    )
    inputs = ("z_a", "z_b")
    differentiable_inputs = ("z_a", "z_b")
    TRAITS = Traits(convex=False, estimates="other", **{**_METRIC, "differentiable": False,
                                                          "twice_differentiable": False})

    _prepare = BarlowTwins._prepare
    _loss_shape = BarlowTwins._loss_shape

    def _branch(self, xp: Any, z: Any) -> tuple[Any, Any]:
        """One view's regularisers: μ·v(Z) + ν·c(Z) and its gradient with respect to Z."""
        n, d = z.shape
        centred = z - xp.mean(z, axis=0, keepdims=True)
        std = xp.sqrt(xp.sum(centred * centred, axis=0, keepdims=True) / (n - 1) + self.eps)
        active = xp.astype(std < self.gamma, z.dtype)
        variance = xp.sum(active * (self.gamma - std)) / d
        cov = (centred.T @ centred) / (n - 1)
        off = cov * (1.0 - _eye(xp, d, cov))
        covariance = xp.sum(off * off) / d
        value = self.variance_weight * variance + self.covariance_weight * covariance
        grad = (-self.variance_weight * active * centred / (d * (n - 1) * std)
                + self.covariance_weight * 4.0 * (centred @ off) / (d * (n - 1)))
        return value, grad

    def _terms(self, xp: Any, z_a: Any, z_b: Any) -> tuple:
        n = z_a.shape[0]
        diff = z_a - z_b
        value_a, grad_a = self._branch(xp, z_a)
        value_b, grad_b = self._branch(xp, z_b)
        value = self.invariance_weight * xp.sum(diff * diff) / n + value_a + value_b
        g_inv = self.invariance_weight * 2.0 * diff / n
        return value, grad_a + g_inv, grad_b - g_inv

    def _per_sample(self, xp: Any, z_a: Any, z_b: Any) -> Any:
        return xp.reshape(self._terms(xp, z_a, z_b)[0], (1,))

    def _weighted_value_and_gradient(self, xp, arrays, options, cotangent, value, gradient):
        total, d_a, d_b = self._terms(xp, *arrays)
        c = cotangent[0]
        return (_scalar(xp, c * total) if value else None), ((c * d_a, c * d_b) if gradient else None)
