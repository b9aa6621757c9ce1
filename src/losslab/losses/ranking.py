"""Ranking losses: pairwise (margin ranking, RankNet) and listwise (ListNet).

``margin_ranking`` compares two given scores per sample and is separable. The query-level
losses take one relevance label (y_true) and one score (y_pred) per item, shape (N,), and
optional ``query_ids=`` given per call (items with the same id form one query; without
them the whole batch is one query). Their items interact within a query, so they are not
separable: the gradient is that of Σᵢ cᵢℓᵢ, exact for any sample weights, and
reduction="none" has no gradient. They are evaluated query by query, in O(Σ n_q²) memory
(``_QueryLoss``).
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
from ..traits import Traits
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
