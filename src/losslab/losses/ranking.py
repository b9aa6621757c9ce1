"""Ranking losses: pairwise (margin ranking, RankNet, pairwise hinge, LambdaLoss) and
listwise (ListNet, ApproxNDCG, Optax's ranking softmax).

``margin_ranking`` compares two given scores per sample and is separable. The query-level
losses take one relevance label (y_true) and one score (y_pred) per item, shape (N,), and
optional ``query_ids=`` given per call (items with the same id form one query; without
them the whole batch is one query). Their items interact within a query, so they are not
separable: the gradient is that of Σᵢ cᵢℓᵢ, exact for any sample weights, and
reduction="none" has no gradient. They are evaluated query by query, in O(Σ n_q²) memory
(``_QueryLoss``). ``ranking_softmax`` takes Optax's layout instead, one list per row
(n_lists, list_size) with an optional ``where=`` mask, and has one loss per list.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from array_api_compat import device

from .. import _stable as S
from .. import _validate as V
from .._array import as_array, float_dtype, is_tracing, to_numpy
from ..loss import Loss, Param, register
from ..loss.weights import scalar as _scalar
from ..traits import NONNEGATIVE, Traits
from ..loss.shapes import signed_labels


@register
class MarginRanking(Loss):
    r"""Margin ranking loss (PyTorch's MarginRankingLoss): score a above b when y = 1, below when y = −1.

    - Formula: :math:`\ell = \max(0,\ -y\,(a - b) + m)`.
    - Domains: y_true in {−1, +1} ({0, 1} is mapped to {−1, +1}: 0 means b should rank
      higher); scores_a, scores_b real, the same shape; margin real.
    - Gradient: with respect to a, −y where the hinge is active (0 elsewhere); with
      respect to b, +y. No Hessian (0 almost everywhere).
    - Estimates the sign of the preference ("sign").
    - Relations: PyTorch ``margin_ranking_loss(input1, input2, target, margin=0)`` (which
      accepts only ±1 labels); with b = 0 it is the hinge loss of a at margin m.
    - Reference: Herbrich, Graepel & Obermayer (1999), large margin rank boundaries.

    >>> import losslab as ll
    >>> print(ll.margin_ranking([1, -1], [2.0, 2.0], [1.0, 1.0], margin=0.5, reduction="none"))
    [0.  1.5]
    """

    name = "margin_ranking"
    family = "ranking"
    aliases = ("margin_ranking_loss", "MarginRankingLoss")
    description = "Pairwise hinge: score a above b (y = 1) or below it (y = −1) by a margin."
    formula = r"\max(0,\ -y(a-b) + m)"
    parameters = (Param("margin", 0.0, V.FINITE, "required score gap"),)
    inputs = ("y_true", "scores_a", "scores_b")
    differentiable_inputs = ("scores_a", "scores_b")
    TRAITS = Traits(task="ranking", convex=True, differentiable=False,
                    twice_differentiable=False, lipschitz=True, margin_based=True, estimates="sign")

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        y_true, a, b = arrays
        V.check_same_shape(a, b, "scores_a", "scores_b")
        V.check_same_shape(y_true, a, "y_true", "scores_a")
        dtype = float_dtype(xp, a, b)
        return tuple(xp.astype(x, dtype, copy=False) for x in (y_true, a, b)), options

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        super()._check_values(xp, arrays, options)
        signed_labels(xp, arrays[0])

    def _per_sample(self, xp: Any, y_true: Any, a: Any, b: Any) -> Any:
        return xp.maximum(self.margin - signed_labels(xp, y_true) * (a - b), 0.0)

    def _gradient(self, xp: Any, y_true: Any, a: Any, b: Any) -> Any:
        y = signed_labels(xp, y_true)
        active = xp.astype(self.margin - y * (a - b) > 0, a.dtype)
        return -y * active, y * active


class _QueryLoss(Loss):
    """Items (N,) with relevance y_true and scores y_pred, grouped by optional query_ids.

    The loss of a query depends on its own items only, so the items are evaluated query by
    query: sorted by query id, queries of equal size stacked into a (G, n) batch, and the
    loss written once for such a batch (``_batch_value_and_gradient``), with every pair
    inside one query. Memory is O(Σ n_q²), not O(N²) (1e6 items in queries of 100 need
    about 10⁸ pair entries in all, in batches, where one N×N matrix would need 10¹²). Under
    ``jax.jit`` the query ids are abstract and cannot be grouped: the batch is then the
    whole input with a same-query mask (O(N²), as a jitted function needs fixed shapes).
    """

    call_options = ("query_ids",)
    separable = False
    #: Pair entries per stacked batch of queries (bounds the working memory, ~64 MB in float64).
    PAIR_BUDGET = 1 << 23

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        y_true, y_pred = arrays
        if y_pred.ndim != 1:
            raise ValueError(f"y_pred must hold one score per item, shape (n_items,); got shape {tuple(y_pred.shape)}")
        V.check_same_shape(y_true, y_pred, "y_true", "y_pred")
        dtype = float_dtype(xp, y_true, y_pred)
        query_ids = options.get("query_ids")
        if query_ids is not None:
            query_ids = as_array(query_ids, "query_ids")
            if not V.same_namespace(xp, query_ids):
                query_ids = xp.asarray(to_numpy(query_ids), device=device(y_pred))
            if tuple(query_ids.shape) != tuple(y_pred.shape):
                raise ValueError(
                    f"query_ids must have shape {tuple(y_pred.shape)}, one query id per item; got {tuple(query_ids.shape)}"
                )
        return (xp.astype(y_true, dtype, copy=False), xp.astype(y_pred, dtype, copy=False)), {"query_ids": query_ids}

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        super()._check_values(xp, arrays, options)
        if options["query_ids"] is not None and xp.isdtype(options["query_ids"].dtype, "real floating"):
            V.check_finite(xp, options["query_ids"], "query_ids")

    def _batch_value_and_gradient(self, xp: Any, y: Any, s: Any, c: Any, mask: Any, gradient: bool) -> tuple:
        """For queries stacked as (G, n) rows (``mask``: (G, n, n) same-query, or None when
        each row is one whole query): (per-item loss (G, n), gradient of Σ c·ℓ (G, n) or None)."""
        raise NotImplementedError

    def _evaluate(self, xp: Any, y_true: Any, y_pred: Any, query_ids: Any, cotangent: Any, gradient: bool) -> tuple:
        """(per-item loss (N,), gradient of Σ cᵢℓᵢ (N,) or None), query by query."""
        n = y_pred.shape[0]
        if cotangent is None:
            cotangent = xp.ones_like(y_pred)
        if query_ids is None:
            groups = [np.arange(n)[None, :]] if n else []
        elif is_tracing(query_ids):
            same = xp.astype(query_ids[:, None] == query_ids[None, :], y_pred.dtype)[None]
            value, grad = self._batch_value_and_gradient(xp, y_true[None], y_pred[None], cotangent[None], same, gradient)
            return value[0], (grad[0] if gradient else None)
        else:
            groups = _query_batches(to_numpy(query_ids), self.PAIR_BUDGET)
        values, grads, order = [], [], []
        for index in groups:
            take = xp.asarray(index, device=device(y_pred))
            rows = [xp.reshape(xp.take(a, xp.reshape(take, (-1,))), index.shape) for a in (y_true, y_pred, cotangent)]
            value, grad = self._batch_value_and_gradient(xp, *rows, None, gradient)
            values.append(xp.reshape(value, (-1,)))
            if gradient:
                grads.append(xp.reshape(grad, (-1,)))
            order.append(index.reshape(-1))
        if not values:
            empty = xp.zeros_like(y_pred)
            return empty, (empty if gradient else None)
        # Back to the caller's item order: the inverse of the grouping permutation.
        inverse = np.empty(n, dtype=np.int64)
        inverse[np.concatenate(order)] = np.arange(n)
        back = xp.asarray(inverse, device=device(y_pred))
        value = xp.take(xp.concat(values), back)
        grad = xp.take(xp.concat(grads), back) if gradient else None
        return value, grad

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any, query_ids: Any = None) -> Any:
        return self._evaluate(xp, y_true, y_pred, query_ids, None, False)[0]

    def _weighted_value_and_gradient(self, xp, arrays, options, cotangent, value, gradient):
        y_true, y_pred = arrays
        per_item, grad = self._evaluate(xp, y_true, y_pred, options["query_ids"], cotangent, gradient)
        total = _scalar(xp, xp.sum(cotangent * per_item)) if value else None
        return total, grad


def _query_batches(query_ids: np.ndarray, pair_budget: int) -> list[np.ndarray]:
    """Item indices grouped by query, as (G, n) arrays of queries of equal size n, each
    batch holding at most ``pair_budget`` pairs (G·n² ≤ budget, at least one query)."""
    order = np.argsort(query_ids, kind="stable")
    sorted_ids = query_ids[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
    sizes = np.diff(np.r_[starts, len(order)])
    batches = []
    for size in np.unique(sizes):
        firsts = starts[sizes == size]
        per_batch = max(1, pair_budget // int(size * size))
        for lo in range(0, len(firsts), per_batch):
            chunk = firsts[lo: lo + per_batch]
            batches.append(order[chunk[:, None] + np.arange(size)[None, :]])
    return batches


@register
class PairwiseLogistic(_QueryLoss):
    r"""RankNet's pairwise logistic loss over all pairs of items within each query.

    - Formula: for every pair (i, j) of one query with :math:`y_i > y_j`, the pair loss
      :math:`\log(1 + e^{-(s_i - s_j)})`; each pair's loss is shared equally by its two
      items, so :math:`\ell_i = \tfrac12\sum_{j:\,y_j \ne y_i} \log(1 + e^{-\mathrm{sign}(y_i - y_j)(s_i - s_j)})`
      and Σᵢ ℓᵢ (reduction="sum") is the RankNet sum over pairs; "mean" divides by the
      number of items. A weight wᵢ gives each of i's pairs the weight (wᵢ + wⱼ)/2.
    - Domains: y_true graded relevance (real; only its order within a query matters);
      y_pred real scores (N,); ``query_ids=`` optional, one id per item.
    - Gradient of Σᵢ cᵢℓᵢ with respect to s_k: Σ over k's pairs of
      ∓ ½(c_i + c_j)·σ(−(s_i − s_j)), − when k is the more relevant item. No Hessian.
    - Estimates the order of the items ("other"): the minimiser ranks more relevant items higher.
    - Relations: TF-Ranking's PairwiseLogisticLoss (which normalises per query);
      XGBoost's rank:pairwise; Burges et al.'s RankNet with target probability 1 for the
      preferred item.
    - Reference: Burges et al. (2005), Learning to rank using gradient descent.

    >>> import losslab as ll
    >>> print(round(float(ll.pairwise_logistic([2.0, 1.0, 0.0], [0.0, 0.0, 0.0], reduction="sum")), 6))
    2.079442
    """

    name = "pairwise_logistic"
    family = "ranking"
    aliases = ("ranknet", "pairwise_logistic_loss", "rank_net")
    description = "RankNet: log(1 + e^{−(s_i − s_j)}) over every ordered pair of a query."
    formula = r"\sum_{y_i > y_j}\log\big(1 + e^{-(s_i - s_j)}\big)"
    TRAITS = Traits(task="ranking", convex=True, lipschitz=True, estimates="other")

    def _batch_value_and_gradient(self, xp: Any, y: Any, s: Any, c: Any, mask: Any, gradient: bool) -> tuple:
        # preferred[g, i, j] = 1 where item i should rank above item j of the same query.
        preferred = xp.astype(y[:, :, None] > y[:, None, :], s.dtype)
        if mask is not None:
            preferred = preferred * mask
        diff = s[:, :, None] - s[:, None, :]
        pair_loss = preferred * S.softplus(xp, -diff)
        value = 0.5 * (xp.sum(pair_loss, axis=2) + xp.sum(pair_loss, axis=1))
        if not gradient:
            return value, None
        # Each pair weighs (c_i + c_j)/2; d softplus(−(s_i − s_j))/d s_i = −σ(−(s_i − s_j)), + for s_j.
        g = preferred * 0.5 * (c[:, :, None] + c[:, None, :]) * S.sigmoid(xp, -diff)
        return value, xp.sum(g, axis=1) - xp.sum(g, axis=2)


@register
class ListNet(_QueryLoss):
    r"""ListNet (top-one): cross-entropy between the softmax of relevance and the softmax of scores, per query.

    - Formula: within each query, :math:`P^y = \mathrm{softmax}(y)`, :math:`P^s = \mathrm{softmax}(s)`;
      the query's loss is :math:`-\sum_{i} P^y_i \log P^s_i`, and item i carries its term
      :math:`\ell_i = -P^y_i \log P^s_i`, so Σ over a query's items is the query's
      cross-entropy (reduction="sum" is the sum over queries; "mean" divides by the number
      of items).
    - Domains: y_true real relevance (graded labels enter through their softmax); y_pred
      real scores (N,); ``query_ids=`` optional.
    - Gradient of Σᵢ cᵢℓᵢ with respect to s_k: −c_k P^y_k + P^s_k Σ_{i in k's query} c_i P^y_i.
      No Hessian.
    - Estimates scores whose softmax matches the relevance softmax ("other").
    - Relations: TF-Ranking's ``SoftmaxLoss`` normalises the relevance as y/Σy instead of
      softmax(y); with one relevant item per query both are softmax cross-entropy.
    - Reference: Cao et al. (2007), Learning to rank: from pairwise approach to listwise approach.

    >>> import losslab as ll
    >>> print(round(float(ll.listnet([1.0, 0.0], [1.0, 0.0], reduction="sum")), 6))
    0.582203
    """

    name = "listnet"
    family = "ranking"
    aliases = ("list_net", "listnet_loss")
    description = "Listwise: cross-entropy of softmax(relevance) against softmax(scores) per query."
    formula = r"-\sum_i \mathrm{softmax}(y)_i \log \mathrm{softmax}(s)_i"
    TRAITS = Traits(task="ranking", convex=True, estimates="other")

    def _batch_value_and_gradient(self, xp: Any, y: Any, s: Any, c: Any, mask: Any, gradient: bool) -> tuple:
        if mask is None:
            p_true, (log_p, p) = S.softmax(xp, y, axis=1), S.log_softmax_and_softmax(xp, s, axis=1)
            value = -p_true * log_p
            if not gradient:
                return value, None
            weighted = c * p_true
            return value, -weighted + p * xp.sum(weighted, axis=1, keepdims=True)
        # The traced fallback: row i of a (1, N, N) matrix holds i's query, −inf elsewhere.
        minus_inf = xp.full_like(mask, -float("inf"))

        def log_softmax(v: Any) -> Any:
            spread = xp.where(mask > 0, xp.broadcast_to(v[:, None, :], mask.shape), minus_inf)
            return v - S.logsumexp(xp, spread, axis=2)

        p_true, log_p = xp.exp(log_softmax(y)), log_softmax(s)
        value = -p_true * log_p
        if not gradient:
            return value, None
        weighted = c * p_true
        return value, -weighted + xp.exp(log_p) * xp.sum(mask * weighted[:, None, :], axis=2)


# ------------------------------------------------------------------ shared by the NDCG-based losses
def _in_query(pairs: Any, mask: Any) -> Any:
    """A (G, n, n) pair matrix restricted to pairs of one query (``mask``: same-query, or None)."""
    return pairs if mask is None else pairs * mask


def _query_sum(xp: Any, x: Any, mask: Any) -> Any:
    """For each item, the sum of x over its query: (G, 1) when each row is one query, else (G, n)."""
    if mask is None:
        return xp.sum(x, axis=1, keepdims=True)
    return xp.sum(mask * x[:, None, :], axis=2)


def _ranks(xp: Any, v: Any, mask: Any) -> Any:
    """1-based rank of each item by v, descending within its query; ties by position.

    Written with pair comparisons rather than a sort, so that it is one array expression on
    every backend and under ``jax.jit``; the pairs are there already (O(n²) per query)."""
    position = xp.arange(v.shape[1], device=device(v))
    earlier = position[None, :] < position[:, None]  # [i, j]: j comes before i
    above = (v[:, None, :] > v[:, :, None]) | ((v[:, None, :] == v[:, :, None]) & earlier)
    return 1.0 + xp.sum(_in_query(xp.astype(above, v.dtype), mask), axis=2)


def _gains(xp: Any, y: Any) -> Any:
    """The NDCG gain 2^y − 1 (expm1 keeps small grades exact)."""
    return xp.expm1(y * S.LOG2)


def _inverse_ideal_dcg(xp: Any, y: Any, gain: Any, mask: Any) -> Any:
    """1/IDCG of each item's query, IDCG = Σ_k gain_(k)/log₂(1 + k) over the labels sorted
    descending; 0 for a query without a relevant item (IDCG = 0: nothing to rank)."""
    ideal = _query_sum(xp, gain * S.LOG2 / xp.log1p(_ranks(xp, y, mask)), mask)
    positive = ideal > 0
    return xp.where(positive, 1.0 / xp.where(positive, ideal, xp.ones_like(ideal)), xp.zeros_like(ideal))


class _GradedQueryLoss(_QueryLoss):
    """A query loss whose labels are graded relevance ≥ 0 (they enter through the gain 2^y − 1)."""

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        super()._check_values(xp, arrays, options)
        V.check_in(xp, arrays[0], "y_true", NONNEGATIVE, what="graded relevance labels",
                   hint="NDCG's gain 2^y − 1 is defined for labels ≥ 0.")


@register
class ApproxNDCG(_GradedQueryLoss):
    r"""ApproxNDCG: one minus NDCG with each rank replaced by a sigmoid-smoothed rank, per query.

    - Formula: within a query, the smoothed rank of item i is
      :math:`\hat\pi_i = 1 + \sum_{j \ne i} \sigma\big((s_j - s_i)/T\big)` (the count of items
      scored above i, each comparison a sigmoid), the gain :math:`G_i = 2^{y_i} - 1`, and
      :math:`\mathrm{ApproxNDCG} = \frac{1}{\mathrm{IDCG}} \sum_i \frac{G_i}{\log_2(1 + \hat\pi_i)}`,
      IDCG the DCG of the labels sorted descending. The query's loss is 1 − ApproxNDCG;
      item i carries :math:`\ell_i = 1/n_q - G_i / (\mathrm{IDCG}\,\log_2(1 + \hat\pi_i))`, so
      Σ over a query's items is the query's loss (reduction="sum" sums over queries, "mean"
      divides by the number of items). A query without a relevant item (IDCG = 0) has loss 0.
    - Domains: y_true graded relevance ≥ 0; y_pred real scores (N,); ``query_ids=``
      optional; temperature T > 0 (as T → 0 the smoothed ranks become the true ranks).
    - Gradient: with :math:`a_i = c_i G_i \ln 2 / (\mathrm{IDCG}\,(1 + \hat\pi_i)\ln^2(1 + \hat\pi_i))`
      and :math:`P_{ik} = \sigma'((s_k - s_i)/T)/T` (symmetric), the gradient of Σᵢ cᵢℓᵢ is
      :math:`\partial/\partial s_k = \sum_i P_{ik}(a_i - a_k)`: exact, everywhere (the loss
      is smooth). No Hessian: the query losses' items are coupled, and the core's Hessian
      path scales rows by each item's own weight.
    - Estimates the order of the items ("other"): it is a smooth surrogate of 1 − NDCG,
      bounded, not convex.
    - Relations: Rax's ``approx_t12n(ndcg_metric, temperature=T)`` is −ApproxNDCG (the
      same smoothed ranks, gains and discounts): one plus it, for a list with a relevant
      item, is this loss with reduction="sum" on one query (the tests check Rax's printed
      numbers). TF-Ranking's ``ApproxNDCGLoss`` is −ApproxNDCG, temperature 0.1 by default.
    - Reference: Qin, Liu & Li (2010), A general approximation framework for direct
      optimization of information retrieval measures, Information Retrieval 13(4).

    >>> import losslab as ll
    >>> print(round(float(ll.approx_ndcg([1.0, 0.0], [0.0, 0.0], reduction="sum")), 6))
    0.243529
    """

    name = "approx_ndcg"
    family = "ranking"
    description = "1 − ApproxNDCG: NDCG with sigmoid-smoothed ranks, per query (Qin et al. 2010)."
    formula = r"1 - \frac{1}{\mathrm{IDCG}}\sum_i \frac{2^{y_i} - 1}{\log_2(1 + \hat\pi_i)},\ \hat\pi_i = 1 + \sum_{j\ne i}\sigma\big(\tfrac{s_j - s_i}{T}\big)"
    parameters = (Param("temperature", 1.0, V.POSITIVE, "T of the sigmoid comparisons σ((s_j − s_i)/T)"),)
    TRAITS = Traits(task="ranking", y_true_domain=NONNEGATIVE, lipschitz=True, bounded=True, estimates="other")

    def _batch_value_and_gradient(self, xp: Any, y: Any, s: Any, c: Any, mask: Any, gradient: bool) -> tuple:
        gain = _gains(xp, y)
        inverse = _inverse_ideal_dcg(xp, y, gain, mask)
        # above[g, i, j] = σ((s_j − s_i)/T), j's soft vote for ranking above i. The diagonal
        # holds σ(0) = ½, so π̂ᵢ = 1 + Σ_{j≠i} above[i, j] = ½ + Σ_j above[i, j].
        above = _in_query(S.sigmoid(xp, (s[:, None, :] - s[:, :, None]) / self.temperature), mask)
        rank = 0.5 + xp.sum(above, axis=2)
        log_rank = xp.log1p(rank)
        share = xp.astype(inverse > 0, s.dtype) / (s.shape[1] if mask is None else xp.sum(mask, axis=2))
        value = share - gain * inverse * S.LOG2 / log_rank
        if not gradient:
            return value, None
        a = c * gain * inverse * S.LOG2 / ((1.0 + rank) * log_rank * log_rank)
        slope = _in_query(above * (1.0 - above), mask) / self.temperature
        return value, xp.sum(slope * a[:, :, None], axis=1) - a * xp.sum(slope, axis=1)


@register
class LambdaLoss(_GradedQueryLoss):
    r"""LambdaLoss (NDCG-Loss2++): RankNet's pair loss weighted by the NDCG at stake, per query.

    - Formula: within a query, with the ranks :math:`r_i` of the items sorted by score
      (descending; ties by position), :math:`D_i = \log_2(1 + r_i)`, the normalised gains
      :math:`G_i = (2^{y_i} - 1)/\mathrm{IDCG}`, and for each pair with :math:`y_i > y_j`
      the weight :math:`w_{ij} = (\rho_{ij} + \mu\,\delta_{ij})\,|G_i - G_j|`,
      :math:`\rho_{ij} = |1/D_i - 1/D_j|` (LambdaRank's |ΔNDCG| of swapping i and j is
      :math:`\rho_{ij}|G_i - G_j|`) and
      :math:`\delta_{ij} = 1/\log_2(1 + |r_i - r_j|) - 1/\log_2(2 + |r_i - r_j|)`, the query's loss
      is :math:`\sum_{y_i > y_j} w_{ij} \log_2\big(1 + e^{-\sigma(s_i - s_j)}\big)`. Each pair's
      loss is shared equally by its two items, as in pairwise_logistic (reduction="sum"
      sums over queries; "mean" divides by the number of items; a weight wᵢ gives i's pairs
      the weight (wᵢ + wⱼ)/2). mu=0 is LambdaRank's weighting; large μ approaches NDCG-Loss2.
    - Domains: y_true graded relevance ≥ 0; y_pred real scores (N,); ``query_ids=``
      optional; mu ≥ 0; sigma > 0.
    - Gradient: the weights depend on the scores only through the ranks, which are constant
      wherever no two scores of a query are equal; there the loss is smooth and its exact
      gradient is :math:`\partial/\partial s_k = \sum` over k's pairs of
      :math:`\mp \tfrac12(c_i + c_j)\,w_{ij}\,\sigma\,\mathrm{sigmoid}(-\sigma(s_i - s_j))/\ln 2`
      (− when k is the more relevant item), which is what is returned (it is also what
      autodiff gives, and the gradient LambdaLoss trains with). Where two scores of a query
      cross, their ranks swap and the other pairs' weights change, so the loss jumps: it is
      neither continuous nor differentiable there (declared not differentiable). No Hessian (coupled items, as the other query losses).
    - Estimates the order of the items ("other"): a smooth-by-pieces surrogate of NDCG; not convex.
    - Relations: allRank's ``lambdaLoss`` with ``weighing_scheme="ndcgLoss2PP_scheme"``
      (its defaults mu=10, sigma=1, reduction="sum", log base 2) on one query is this loss's
      "sum", up to allRank's clamp of each pair's probability at eps = 1e-10; with
      ``"lambdaRank_scheme"`` it is mu=0. pairwise_logistic is the unweighted pair loss (in
      natural log, σ = 1).
    - Reference: Wang, Li, Golbandi, Bendersky & Najork (2018), The LambdaLoss framework for
      ranking metric optimization, CIKM; Burges (2010), From RankNet to LambdaRank to LambdaMART.

    >>> import losslab as ll
    >>> print(round(float(ll.lambda_loss([1.0, 0.0], [0.0, 1.0], reduction="sum")), 6))
    7.691792
    """

    name = "lambda_loss"
    family = "ranking"
    aliases = ("lambdaloss", "ndcg_loss2pp")
    description = "LambdaLoss NDCG-Loss2++: pair losses weighted by the NDCG at stake (μ=0: LambdaRank)."
    formula = r"\sum_{y_i > y_j} (\rho_{ij} + \mu\delta_{ij})\,|G_i - G_j|\,\log_2\big(1 + e^{-\sigma(s_i - s_j)}\big)"
    parameters = (
        Param("mu", 10.0, V.NONNEGATIVE, "weight of NDCG-Loss2's δ against LambdaRank's ρ (0: LambdaRank)"),
        Param("sigma", 1.0, V.POSITIVE, "scale of the score differences in the logistic"),
    )
    TRAITS = Traits(task="ranking", y_true_domain=NONNEGATIVE, differentiable=False,
                    twice_differentiable=False, estimates="other")
    #: About ten pair matrices are alive at once here (ρ, δ, gaps, weights…), against three
    #: or four in pairwise_logistic: a quarter of the batch keeps the same working memory.
    PAIR_BUDGET = _QueryLoss.PAIR_BUDGET // 4

    def _batch_value_and_gradient(self, xp: Any, y: Any, s: Any, c: Any, mask: Any, gradient: bool) -> tuple:
        gain = _gains(xp, y)
        normalised = gain * _inverse_ideal_dcg(xp, y, gain, mask)
        rank = _ranks(xp, s, mask)
        inverse_discount = S.LOG2 / xp.log1p(rank)
        rho = xp.abs(inverse_discount[:, :, None] - inverse_discount[:, None, :])
        gap = xp.abs(rank[:, :, None] - rank[:, None, :])
        # Only pairs of distinct items of one query count, whose ranks differ by ≥ 1; other
        # entries (the diagonal, other queries' items in the traced fallback) get a harmless 1.
        gap = xp.where(gap >= 1.0, gap, xp.ones_like(gap))
        delta = S.LOG2 / xp.log1p(gap) - S.LOG2 / xp.log1p(gap + 1.0)
        preferred = _in_query(xp.astype(y[:, :, None] > y[:, None, :], s.dtype), mask)
        weight = preferred * (rho + self.mu * delta) * xp.abs(normalised[:, :, None] - normalised[:, None, :])
        z = self.sigma * (s[:, :, None] - s[:, None, :])
        pair_loss = weight * S.softplus(xp, -z) / S.LOG2
        value = 0.5 * (xp.sum(pair_loss, axis=2) + xp.sum(pair_loss, axis=1))
        if not gradient:
            return value, None
        g = weight * (0.5 * self.sigma / S.LOG2) * (c[:, :, None] + c[:, None, :]) * S.sigmoid(xp, -z)
        return value, xp.sum(g, axis=1) - xp.sum(g, axis=2)


@register
class PairwiseHinge(_QueryLoss):
    r"""Pairwise hinge: max(0, m − (s_i − s_j)) over every pair of one query with y_i > y_j.

    - Formula: the query's loss is :math:`\sum_{y_i > y_j} \max\big(0,\ m - (s_i - s_j)\big)`;
      each pair's loss is shared equally by its two items, as in pairwise_logistic
      (reduction="sum" is the sum over queries and pairs, "mean" divides by the number of
      items; a weight wᵢ gives each of i's pairs the weight (wᵢ + wⱼ)/2).
    - Domains: y_true graded relevance (real; only its order within a query matters);
      y_pred real scores (N,); ``query_ids=`` optional; margin m ≥ 0.
    - Gradient of Σᵢ cᵢℓᵢ with respect to s_k: Σ over k's pairs whose hinge is active of
      ∓ ½(c_i + c_j), − when k is the more relevant item (0 elsewhere; at a kink
      s_i − s_j = m the inactive side is taken). No Hessian (0 almost everywhere).
    - Estimates the order of the items ("other"): the minimiser ranks more relevant items
      higher by at least the margin.
    - Relations: Rax's and TF-Ranking's ``pairwise_hinge_loss`` (margin 1): Rax's default
      reduce_fn=jnp.sum on one list is this loss's reduction="sum"; RankSVM's pairwise
      hinge; margin_ranking is the same hinge on given pairs.
    - Reference: Herbrich, Graepel & Obermayer (1999), Large margin rank boundaries for
      ordinal regression; Joachims (2002), Optimizing search engines using clickthrough data.

    >>> import losslab as ll
    >>> print(float(ll.pairwise_hinge([1.0, 0.0, 0.0], [2.0, 1.0, 3.0], reduction="sum")))
    2.0
    """

    name = "pairwise_hinge"
    family = "ranking"
    description = "Pairwise hinge max(0, m − (s_i − s_j)) over every ordered pair of a query."
    formula = r"\sum_{y_i > y_j}\max\big(0,\ m - (s_i - s_j)\big)"
    parameters = (Param("margin", 1.0, V.NONNEGATIVE, "required score gap between a better and a worse item"),)
    TRAITS = Traits(task="ranking", convex=True, differentiable=False, twice_differentiable=False,
                    lipschitz=True, estimates="other")

    def _batch_value_and_gradient(self, xp: Any, y: Any, s: Any, c: Any, mask: Any, gradient: bool) -> tuple:
        preferred = _in_query(xp.astype(y[:, :, None] > y[:, None, :], s.dtype), mask)
        slack = self.margin - (s[:, :, None] - s[:, None, :])
        pair_loss = preferred * xp.maximum(slack, 0.0)
        value = 0.5 * (xp.sum(pair_loss, axis=2) + xp.sum(pair_loss, axis=1))
        if not gradient:
            return value, None
        g = preferred * xp.astype(slack > 0, s.dtype) * 0.5 * (c[:, :, None] + c[:, None, :])
        return value, xp.sum(g, axis=1) - xp.sum(g, axis=2)


@register
class RankingSoftmax(Loss):
    r"""Ranking softmax (Optax's ranking_softmax_loss): −Σᵢ yᵢ log softmax(s)ᵢ per list.

    - Formula: for each list (row) of scores s and relevance labels y,
      :math:`\ell = -\sum_i y_i \log \frac{e^{s_i}}{\sum_j e^{s_j}}`, the sums over the items
      ``where`` marks valid (all by default); one loss per list, so "mean" is the mean over
      the lists that have a valid item (a list without one has loss 0 and weight 0).
    - Domains: y_true relevance labels ≥ 0 and y_pred real scores, the same shape
      (n_lists, list_size); ``where=`` optional, that shape, boolean (or 0/1).
    - Gradient :math:`\partial\ell/\partial s_k = p_k \sum_i y_i - y_k`, p = softmax(s) over
      the valid items (0 at the others); Hessian diagonal :math:`(\sum_i y_i)\,p_k(1 - p_k)`.
    - Estimates scores whose softmax is the labels' share y/Σy ("other").
    - Relations: Optax ``ranking_softmax_loss(logits, labels, where=...)`` is
      ``ll.ranking_softmax(labels, logits, where=...)`` (losslab takes y_true first), with the
      same default mean over lists; reduce_fn=jnp.sum is reduction="sum", None is "none";
      Optax's ``weights=`` multiplies the labels: pass y·weights as y_true. Rax's
      ``softmax_loss`` divides the labels by their sum first: pass y/Σy. With one relevant
      item per list it is softmax cross-entropy; listnet (which takes query_ids) uses
      softmax(y) in place of y. Labels < 0, which Optax accepts, are refused: the loss of a
      negative label is unbounded below.
    - Reference: Cao et al. (2007), Learning to rank: from pairwise approach to listwise
      approach; Bruch et al. (2019), An analysis of the softmax cross entropy loss for
      learning-to-rank with binary relevance.

    >>> import losslab as ll
    >>> print(round(float(ll.ranking_softmax([[1.0, 0.0, 0.0]], [[2.0, 1.0, 3.0]])), 6))
    1.407606
    """

    name = "ranking_softmax"
    family = "ranking"
    aliases = ("ranking_softmax_loss",)
    description = "Listwise softmax −Σᵢ yᵢ log softmax(s)ᵢ per list (Optax's ranking_softmax_loss)."
    formula = r"-\sum_i y_i \log \frac{e^{s_i}}{\sum_j e^{s_j}}"
    event_ndim = 1
    call_options = ("where",)
    TRAITS = Traits(task="ranking", y_true_domain=NONNEGATIVE, convex=True, estimates="other")

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        y_true, y_pred = arrays
        if y_pred.ndim != 2:
            raise ValueError(
                f"y_pred must hold one list per row, shape (n_lists, list_size); got shape {tuple(y_pred.shape)}"
                " (one list is y_pred[None, :])"
            )
        V.check_same_shape(y_true, y_pred, "y_true", "y_pred")
        dtype = float_dtype(xp, y_true, y_pred)
        where = options.get("where")
        if where is not None:
            where = as_array(where, "where")
            if not V.same_namespace(xp, where):
                where = xp.asarray(to_numpy(where), device=device(y_pred))
            if tuple(where.shape) != tuple(y_pred.shape):
                raise ValueError(
                    f"where must have y_pred's shape {tuple(y_pred.shape)}, one flag per item; got {tuple(where.shape)}"
                )
            where = xp.astype(where, dtype)
        return (xp.astype(y_true, dtype, copy=False), xp.astype(y_pred, dtype, copy=False)), {"where": where}

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        super()._check_values(xp, arrays, options)
        V.check_in(xp, arrays[0], "y_true", NONNEGATIVE, what="relevance labels",
                   hint="A negative label makes the loss unbounded below.")
        where = options["where"]
        if where is not None:
            bad = (where != 0) & (where != 1)
            message = "where must be boolean (or 0/1): True marks the valid items of a list"
            if is_tracing(where):
                V.traced_invalid(xp, bad, message)
            elif bool(xp.any(bad)):
                raise ValueError(f"{message}; found {int(xp.sum(xp.astype(bad, xp.int32)))} other value(s)")

    def _extra_weights(self, xp: Any, arrays: tuple, options: dict) -> Any:
        # A list without a valid item counts for nothing, in the mean's denominator too (Optax).
        where = options["where"]
        return None if where is None else xp.astype(xp.any(where > 0, axis=1), arrays[1].dtype)

    def _terms(self, xp: Any, y: Any, s: Any, where: Any) -> tuple:
        """(labels of the valid items, log softmax over them (0 elsewhere), softmax)."""
        if where is None:
            log_p, p = S.log_softmax_and_softmax(xp, s, axis=1)
            return y, log_p, p
        valid = where > 0
        # A masked item drops out of the softmax (−inf). A list with no valid item keeps its
        # scores (no −inf − (−inf)); its labels are zeroed, so it adds nothing.
        keep = valid | ~xp.any(valid, axis=1, keepdims=True)
        log_p, p = S.log_softmax_and_softmax(xp, xp.where(keep, s, xp.full_like(s, -float("inf"))), axis=1)
        zero = xp.zeros_like(s)
        return xp.where(valid, y, zero), xp.where(keep, log_p, zero), p

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any, where: Any = None) -> Any:
        y, log_p, _ = self._terms(xp, y_true, y_pred, where)
        return -xp.sum(y * log_p, axis=1)

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any, where: Any = None) -> Any:
        return self._value_and_gradient(xp, y_true, y_pred, where)[1]

    def _value_and_gradient(self, xp: Any, y_true: Any, y_pred: Any, where: Any = None) -> tuple:
        y, log_p, p = self._terms(xp, y_true, y_pred, where)
        return -xp.sum(y * log_p, axis=1), p * xp.sum(y, axis=1, keepdims=True) - y

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any, where: Any = None) -> Any:
        y, _, p = self._terms(xp, y_true, y_pred, where)
        return xp.sum(y, axis=1, keepdims=True) * p * (1.0 - p)
