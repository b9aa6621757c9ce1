"""Preference losses for aligning language models: DPO and its successors.

**The input shape.** A preference loss does not see logits: it sees, per example, the
*sequence log-probability* of a response, log π(y | x), the sum (or, where a loss says so,
the per-token average) of the response tokens' log-probabilities, one number per example.
Every input is an array of shape (N,), one entry per example, and every loss here is
elementwise and separable: ℓᵢ depends on entry i of each input only, so ``sample_weight``,
``reduction="none"`` (with a per-example gradient), row blocks and the catalog-wide tests
apply as for any elementwise loss. The inputs, by loss:

- paired, with a reference model (``dpo``, with ``label_smoothing`` for conservative DPO,
  and ``ipo``): ``(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps,
  reference_rejected_logps)``; the gradient is of the two policy arrays (the reference
  model is frozen: its log-probabilities are constants);
- paired, reference-free (``simpo``, ``orpo``): ``(policy_chosen_logps,
  policy_rejected_logps)``, the per-token *average* log-probabilities (length-normalised,
  as both papers define them);
- unpaired (``kto``): ``(desirable, policy_logps, reference_logps)``, a 0/1 flag per
  example and its two log-probabilities, with the reference point z_ref given per call.

The shape is declared once, in ``PreferenceLoss`` (shapes, dtypes, the log-probability
domain); the paired losses whose value is a function of one linear combination z of the
inputs (DPO, cDPO, IPO, SimPO) are written as f(z) in ``_PairedPreference``. The Hessian is
the diagonal with respect to the first differentiable input (policy_chosen_logps, or
policy_logps), as for every loss of the catalog.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _stable as S
from .. import _validate as V
from .._array import as_array, float_dtype, is_tracing, to_numpy
from ..loss import Loss, Param, register
from ..traits import Interval, Traits

#: Log-probabilities: ≤ 0 (a log-probability of exactly 0 is a certain response).
LOGPROB = Interval(-math.inf, 0.0, False, True)
#: ORPO's odds p/(1 − p) need p < 1: average log-probabilities strictly below 0.
OPEN_LOGPROB = Interval(-math.inf, 0.0, False, False)

_PREFERENCE = dict(task="preference", y_true_domain=LOGPROB, y_pred_domain=LOGPROB)


class PreferenceLoss(Loss):
    """The input shape of the preference losses: per-example log-probabilities, each (N,).

    Subclasses declare ``inputs`` and ``differentiable_inputs``; inputs named in
    ``LABEL_INPUTS`` are flags, the others log-probabilities in ``DOMAIN``.
    """

    family = "preference"
    event_ndim = 0
    inputs = ("policy_chosen_logps", "policy_rejected_logps", "reference_chosen_logps", "reference_rejected_logps")
    differentiable_inputs = ("policy_chosen_logps", "policy_rejected_logps")
    LABEL_INPUTS: tuple[str, ...] = ()
    DOMAIN = LOGPROB

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        first = self.inputs[0]
        for name, a in zip(self.inputs, arrays):
            if a.ndim != 1:
                raise ValueError(
                    f"{name} must have shape (N,), one sequence log-probability per example; got shape {tuple(a.shape)}"
                )
            if a.shape != arrays[0].shape:
                raise ValueError(
                    f"{name} must have the shape of {first}, one entry per example; got {tuple(a.shape)} and"
                    f" {tuple(arrays[0].shape)}"
                )
        logps = [a for n, a in zip(self.inputs, arrays) if n not in self.LABEL_INPUTS]
        dtype = float_dtype(xp, *logps)
        return tuple(xp.astype(a, dtype, copy=False) for a in arrays), options

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        super()._check_values(xp, arrays, options)
        for name, a in zip(self.inputs, arrays):
            if name not in self.LABEL_INPUTS:
                V.check_in(xp, a, name, self.DOMAIN, what="log-probabilities",
                           hint="A sequence log-probability is a sum of log p ≤ 0 over the response's tokens.")


class _PairedPreference(PreferenceLoss):
    """ℓ = f(z), with z linear in the inputs and ∂z/∂π_chosen = c = −∂z/∂π_rejected."""

    def _z(self, xp: Any, arrays: tuple) -> tuple[Any, float]:
        raise NotImplementedError

    def _f(self, xp: Any, z: Any, order: int) -> Any:
        raise NotImplementedError

    def _per_sample(self, xp: Any, *arrays: Any) -> Any:
        return self._f(xp, self._z(xp, arrays)[0], 0)

    def _gradient(self, xp: Any, *arrays: Any) -> Any:
        z, c = self._z(xp, arrays)
        g = c * self._f(xp, z, 1)
        return g, -g

    def _hessian(self, xp: Any, *arrays: Any) -> Any:
        z, c = self._z(xp, arrays)
        return (c * c) * self._f(xp, z, 2)


def _log_ratio_margin(arrays: tuple) -> Any:
    """h = (π_c − π_ref,c) − (π_r − π_ref,r): how much more the policy than the reference prefers the chosen."""
    pc, pr, rc, rr = arrays
    return (pc - rc) - (pr - rr)


@register
class DPO(_PairedPreference):
    r"""Direct preference optimisation (Rafailov et al. 2023), and conservative DPO with label smoothing.

    - Formula: with :math:`h = (\log\pi_\theta(y_w|x) - \log\pi_\mathrm{ref}(y_w|x)) -
      (\log\pi_\theta(y_l|x) - \log\pi_\mathrm{ref}(y_l|x))` and z = βh,
      :math:`\ell = -(1-\varepsilon)\log\sigma(z) - \varepsilon\log\sigma(-z)`;
      ε = label_smoothing = 0 is DPO (the paper's eq. 7), ε > 0 conservative DPO (cDPO,
      Mitchell 2023: the DPO loss of a preference label flipped with probability ε).
    - Domains: the four inputs are sequence log-probabilities (≤ 0), each (N,);
      beta > 0; label_smoothing in [0, 0.5].
    - Gradient: ∂ℓ/∂π_c = β(σ(z) − (1 − ε)) = −∂ℓ/∂π_r; the references get none (frozen).
      Hessian (with respect to policy_chosen_logps): β²σ(z)σ(−z).
    - Estimates: under the Bradley–Terry model, σ(βh) estimates the probability that the
      chosen response is preferred ("probability"); with ε > 0, σ(z*) = (1−ε)q + ε(1−q) for
      preference probability q, so the implicit reward margin stays bounded.
    - Relations: TRL's ``DPOTrainer`` (loss_type="sigmoid", beta=0.1, label_smoothing) and
      OpenRLHF's ``DPOLoss`` compute the same per-example loss from summed log-probabilities;
      ``ipo`` replaces −log σ by a square; ``simpo`` drops the reference and length-normalises.
    - Reference: Rafailov et al. (2023), Direct preference optimization: your language model
      is secretly a reward model (eq. 7); Mitchell (2023), A note on DPO with noisy
      preferences and relationship to IPO (cDPO).

    >>> import losslab as ll
    >>> print(round(float(ll.dpo([-10.0], [-12.0], [-11.0], [-11.0], beta=0.5)), 6))
    0.313262
    """

    name = "dpo"
    aliases = ("direct_preference_optimization",)
    description = "DPO: −log σ(β·(policy − reference log-ratio margin)); cDPO with label smoothing."
    formula = r"-(1-\varepsilon)\log\sigma(\beta h) - \varepsilon\log\sigma(-\beta h)"
    parameters = (
        Param("beta", 0.1, V.POSITIVE, "β: strength of the implicit KL penalty to the reference"),
        Param("label_smoothing", 0.0, V.interval_rule(0.0, 0.5), "ε: probability that a preference label is flipped (cDPO)"),
    )

    def _traits(self) -> Traits:
        # With ε > 0, σ(z*) is the label-noise-mixed probability, not the preference probability.
        estimates = "probability" if self.label_smoothing == 0.0 else "other"
        return Traits(convex=True, lipschitz=True, estimates=estimates, **_PREFERENCE)

    def _z(self, xp: Any, arrays: tuple) -> tuple[Any, float]:
        return self.beta * _log_ratio_margin(arrays), self.beta

    def _f(self, xp: Any, z: Any, order: int) -> Any:
        eps = self.label_smoothing
        if order == 0:
            value = S.softplus(xp, -z)
            return value if eps == 0.0 else (1.0 - eps) * value + eps * S.softplus(xp, z)
        p = S.sigmoid(xp, z)
        if order == 1:
            return p - (1.0 - eps)
        return p * S.sigmoid(xp, -z)


@register
class IPO(_PairedPreference):
    r"""Identity preference optimisation (Azar et al. 2023): DPO's margin regressed onto 1/(2β).

    - Formula: :math:`\ell = \left(h - \frac{1}{2\beta}\right)^2`, h the policy-minus-reference
      log-ratio margin of ``dpo``.
    - Domains: the four inputs are log-probabilities (≤ 0), each (N,); beta > 0 (the paper's τ).
    - Gradient: ∂ℓ/∂π_c = 2(h − 1/(2β)) = −∂ℓ/∂π_r. Hessian (policy_chosen_logps): 2.
    - Estimates: the margin h* = 1/(2β) on examples whose preference is certain; with a
      label flipped at rate q, the expected loss is minimised at h* = (1 − 2q)/(2β)
      ("other"): unlike DPO, the margin does not grow without bound.
    - Relations: TRL's ``DPOTrainer(loss_type="ipo")`` computes this loss from per-token
      *average* log-probabilities (it divides by the response length first), as Azar et al.
      suggest for sequences; pass averages to get its number. IPO's paper writes the
      optimum's square as (h − τ⁻¹/2)² with τ ↔ β.
    - Reference: Azar et al. (2023), A general theoretical paradigm to understand learning
      from human preferences (eq. 17).

    >>> import losslab as ll
    >>> print(round(float(ll.ipo([-10.0], [-12.0], [-11.0], [-11.0], beta=0.5)), 6))
    1.0
    """

    name = "ipo"
    aliases = ("identity_preference_optimization",)
    description = "IPO: (policy − reference log-ratio margin − 1/(2β))²."
    formula = r"\left(h - \tfrac{1}{2\beta}\right)^2"
    parameters = (Param("beta", 0.1, V.POSITIVE, "β (the paper's τ): the target margin is 1/(2β)"),)
    TRAITS = Traits(convex=True, estimates="other", **_PREFERENCE)

    def _z(self, xp: Any, arrays: tuple) -> tuple[Any, float]:
        return _log_ratio_margin(arrays), 1.0

    def _f(self, xp: Any, z: Any, order: int) -> Any:
        d = z - 0.5 / self.beta
        if order == 0:
            return d * d
        if order == 1:
            return 2.0 * d
        return xp.full_like(z, 2.0)


@register
class SimPO(_PairedPreference):
    r"""Simple preference optimisation (Meng et al. 2024): reference-free, length-normalised, with a margin.

    - Formula: :math:`\ell = -\log\sigma\big(\beta(\bar\pi_c - \bar\pi_r) - \gamma\big)`, with
      :math:`\bar\pi = \frac{1}{|y|}\log\pi_\theta(y|x)` the per-token average log-probability.
    - Domains: policy_chosen_logps, policy_rejected_logps: per-token *average* log-probabilities
      (≤ 0), each (N,) (no reference model: SimPO has none); beta > 0; gamma >= 0.
    - Gradient: with z = β(π̄_c − π̄_r) − γ, ∂ℓ/∂π̄_c = −βσ(−z) = −∂ℓ/∂π̄_r.
      Hessian (policy_chosen_logps): β²σ(z)σ(−z).
    - Estimates: a policy whose average log-likelihood of the chosen response exceeds the
      rejected one's by at least γ/β ("other").
    - Relations: TRL's ``CPOTrainer(loss_type="simpo")`` writes it as
      −log σ(β((π̄_c − π̄_r) − γ/β)) with ``simpo_gamma`` = γ (the same number); the SimPO
      code's ``gamma_beta_ratio`` is γ/β. Defaults here are the SimPO repository's
      (β = 2, γ/β = 0.5); TRL's CPO defaults are β = 0.1, γ = 0.5.
    - Reference: Meng, Xia & Chen (2024), SimPO: simple preference optimization with a
      reference-free reward (eq. 6).

    >>> import losslab as ll
    >>> print(round(float(ll.simpo([-1.0], [-2.0], beta=2.0, gamma=1.0)), 6))
    0.313262
    """

    name = "simpo"
    aliases = ("simple_preference_optimization",)
    description = "SimPO: −log σ(β(avg log p_chosen − avg log p_rejected) − γ), no reference model."
    formula = r"-\log\sigma\big(\beta(\bar\pi_c - \bar\pi_r) - \gamma\big)"
    inputs = ("policy_chosen_logps", "policy_rejected_logps")
    parameters = (
        Param("beta", 2.0, V.POSITIVE, "β: scale of the length-normalised reward"),
        Param("gamma", 1.0, V.NONNEGATIVE, "γ: target reward margin"),
    )
    TRAITS = Traits(convex=True, lipschitz=True, estimates="other", **_PREFERENCE)

    def _z(self, xp: Any, arrays: tuple) -> tuple[Any, float]:
        pc, pr = arrays
        return self.beta * (pc - pr) - self.gamma, self.beta

    def _f(self, xp: Any, z: Any, order: int) -> Any:
        if order == 0:
            return S.softplus(xp, -z)
        if order == 1:
            return -S.sigmoid(xp, -z)
        return S.sigmoid(xp, z) * S.sigmoid(xp, -z)


@register
class ORPO(PreferenceLoss):
    r"""Odds-ratio preference optimisation (Hong et al. 2024): supervised NLL plus an odds-ratio penalty.

    - Formula: with π̄ the per-token average log-probability of a response and
      :math:`\log\mathrm{odds}(\bar\pi) = \bar\pi - \log(1 - e^{\bar\pi})`,
      :math:`\ell = -\bar\pi_c - \lambda\log\sigma\big(\log\mathrm{odds}(\bar\pi_c) - \log\mathrm{odds}(\bar\pi_r)\big)`.
    - Domains: policy_chosen_logps, policy_rejected_logps: per-token average log-probabilities,
      strictly < 0 (odds need p < 1), each (N,); no reference model; lam >= 0.
    - Gradient: with L the log odds ratio, ∂L/∂π̄_c = 1/(1 − e^{π̄_c}), ∂L/∂π̄_r = −1/(1 − e^{π̄_r});
      ∂ℓ/∂π̄_c = −1 − λσ(−L)∂L/∂π̄_c, ∂ℓ/∂π̄_r = −λσ(−L)∂L/∂π̄_r. Hessian (policy_chosen_logps):
      λ[σ(L)σ(−L)(∂L/∂π̄_c)² − σ(−L)e^{π̄_c}/(1 − e^{π̄_c})²], negative where the rejected
      response is about as likely as the chosen one (−0.07 at π̄_c = −0.1, π̄_r = −0.5, λ = 0.1):
      not convex; neither bounded nor Lipschitz as π̄ → 0 (the odds blow up).
    - Estimates: the chosen response's likelihood (the NLL term) with the rejected one's odds
      pushed below it ("other").
    - Relations: TRL's ``ORPOTrainer`` calls λ ``beta`` (default 0.1) and takes the NLL term
      as the cross-entropy over all chosen tokens of the batch, which equals the mean of −π̄_c
      here when the chosen responses have equal lengths (it weights longer responses more
      otherwise). Its odds are formed from the same average log-probabilities.
    - Reference: Hong, Lee & Thorne (2024), ORPO: monolithic preference optimization without
      reference model (eqs. 6-7).

    >>> import losslab as ll
    >>> print(round(float(ll.orpo([-0.5], [-1.5], lam=0.1)), 6))
    0.517086
    """

    name = "orpo"
    aliases = ("odds_ratio_preference_optimization",)
    description = "ORPO: NLL of the chosen response + λ·(−log σ(log odds ratio)), no reference model."
    formula = r"-\bar\pi_c - \lambda\log\sigma\big(\log\mathrm{odds}(\bar\pi_c) - \log\mathrm{odds}(\bar\pi_r)\big)"
    inputs = ("policy_chosen_logps", "policy_rejected_logps")
    parameters = (Param("lam", 0.1, V.NONNEGATIVE, "λ: weight of the odds-ratio term (TRL's beta)"),)
    DOMAIN = OPEN_LOGPROB
    TRAITS = Traits(task="preference", y_true_domain=OPEN_LOGPROB, y_pred_domain=OPEN_LOGPROB, convex=False,
                    estimates="other")

    def _parts(self, xp: Any, pc: Any, pr: Any) -> tuple:
        log_odds = (pc - S.log1mexp(xp, pc)) - (pr - S.log1mexp(xp, pr))
        # 1/(1 − e^{π}) = −1/expm1(π): exact near π = 0, where 1 − e^{π} cancels.
        dc, dr = -1.0 / xp.expm1(pc), 1.0 / xp.expm1(pr)
        return log_odds, dc, dr

    def _per_sample(self, xp: Any, pc: Any, pr: Any) -> Any:
        log_odds = self._parts(xp, pc, pr)[0]
        return -pc + self.lam * S.softplus(xp, -log_odds)

    def _gradient(self, xp: Any, pc: Any, pr: Any) -> Any:
        log_odds, dc, dr = self._parts(xp, pc, pr)
        s = self.lam * S.sigmoid(xp, -log_odds)
        return -1.0 - s * dc, -s * dr

    def _hessian(self, xp: Any, pc: Any, pr: Any) -> Any:
        log_odds, dc, _ = self._parts(xp, pc, pr)
        q = S.sigmoid(xp, -log_odds)
        # ∂²L/∂π̄_c² = e^{π}/(1 − e^{π})² = e^{π}·dc².
        return self.lam * (S.sigmoid(xp, log_odds) * q * dc * dc - q * xp.exp(pc) * dc * dc)


def kto_reference_point(policy_logps: Any, reference_logps: Any) -> float:
    """KTO's reference point z_ref = max(0, mean(policy_logps − reference_logps)), a float.

    Ethayarajh et al. estimate the KL divergence KL(π_θ ‖ π_ref) on *mismatched* pairs
    (each prompt with another example's response, so that no gradient flows through it) and
    clip it at 0; pass those log-probabilities here and the result to ``kto`` as
    ``reference_point=``.
    """
    diff = np.asarray(to_numpy(as_array(policy_logps, "policy_logps")), dtype=float) - np.asarray(
        to_numpy(as_array(reference_logps, "reference_logps")), dtype=float)
    if diff.size == 0:
        raise ValueError("policy_logps and reference_logps must hold at least one example")
    if not np.all(np.isfinite(diff)):
        raise ValueError("policy_logps and reference_logps must be finite")
    return max(0.0, float(np.mean(diff)))


@register
class KTO(PreferenceLoss):
    r"""Kahneman–Tversky optimisation (Ethayarajh et al. 2024): unpaired desirable/undesirable examples.

    - Formula: with r = log π_θ(y|x) − log π_ref(y|x) and the reference point z_ref,
      :math:`\ell = \lambda_D\big(1 - \sigma(\beta(r - z_\mathrm{ref}))\big)` for a desirable
      example, :math:`\ell = \lambda_U\big(1 - \sigma(\beta(z_\mathrm{ref} - r))\big)` for an
      undesirable one (the paper's λ_y − v(x, y)).
    - Domains: desirable in {0, 1} (1 = desirable) per example; policy_logps,
      reference_logps log-probabilities (≤ 0), each (N,); ``reference_point`` z_ref a real
      number given per call (default 0), held constant (no gradient flows through it, as in
      the paper); beta > 0; desirable_weight, undesirable_weight >= 0.
    - Gradient: with u = −sβ(r − z_ref), s = +1 (desirable) or −1, ℓ = λσ(u) and
      ∂ℓ/∂π_θ = −sβλσ(u)σ(−u). Hessian: β²λσ(u)σ(−u)(1 − 2σ(u)).
    - Estimates: a policy whose implicit reward r exceeds z_ref on desirable and falls below
      it on undesirable examples ("other"); bounded by max(λ_D, λ_U).
    - Relations: TRL's ``KTOTrainer`` (beta=0.1, desirable_weight=1, undesirable_weight=1)
      computes z_ref per batch as max(0, mean(policy_KL_logps − reference_KL_logps)) on
      mismatched pairs, detached: ``kto_reference_point`` here; its mean over the
      concatenated desirable and undesirable losses is this loss's mean. Ethayarajh et al.
      suggest λ_D·n_D / (λ_U·n_U) in [1, 4/3].
    - Reference: Ethayarajh, Xu, Muennighoff, Jurafsky & Kiela (2024), KTO: model alignment
      as prospect theoretic optimization (eq. 8).

    >>> import losslab as ll
    >>> print(round(float(ll.kto([1], [-10.0], [-12.0], beta=0.5, reference_point=1.0)), 6))
    0.377541
    """

    name = "kto"
    aliases = ("kahneman_tversky_optimization",)
    description = "KTO: 1 − σ(±β(log-ratio − z_ref)) for unpaired desirable/undesirable examples."
    formula = r"\lambda_y\big(1 - \sigma(s_y\beta(r - z_\mathrm{ref}))\big)"
    inputs = ("desirable", "policy_logps", "reference_logps")
    differentiable_inputs = ("policy_logps",)
    call_options = ("reference_point",)
    LABEL_INPUTS = ("desirable",)
    parameters = (
        Param("beta", 0.1, V.POSITIVE, "β: scale of the implicit reward"),
        Param("desirable_weight", 1.0, V.NONNEGATIVE, "λ_D: weight of desirable examples"),
        Param("undesirable_weight", 1.0, V.NONNEGATIVE, "λ_U: weight of undesirable examples"),
    )
    TRAITS = Traits(task="preference", y_true_domain=Interval(0.0, 1.0), y_pred_domain=LOGPROB, convex=False,
                    lipschitz=True, bounded=True, estimates="other")

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        arrays, options = super()._prepare(xp, arrays, options)
        dtype = arrays[1].dtype
        z = options.get("reference_point", 0.0)
        z = as_array(z, "reference_point")
        if not V.same_namespace(xp, z):
            z = xp.asarray(to_numpy(z))
        if math.prod(z.shape) != 1:
            raise ValueError(f"reference_point must be one number per call (KTO's z_ref); got shape {tuple(z.shape)}")
        return arrays, {"reference_point": xp.reshape(xp.astype(z, dtype), ())}

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        super()._check_values(xp, arrays, options)
        V.check_finite(xp, options["reference_point"], "reference_point")
        desirable = arrays[0]
        bad = (desirable != 0) & (desirable != 1)
        if is_tracing(desirable):
            V.traced_invalid(xp, bad, "desirable must hold 0 or 1")
        elif V.concrete(xp.any(bad)):
            value = float(to_numpy(desirable)[np.flatnonzero(to_numpy(bad))[0]])
            raise ValueError(f"desirable must hold 0 (undesirable) or 1 (desirable) per example; got {value:g}")

    def _parts(self, xp: Any, desirable: Any, policy_logps: Any, reference_logps: Any, reference_point: Any) -> tuple:
        good = desirable == 1
        sign = xp.where(good, xp.ones_like(policy_logps), -xp.ones_like(policy_logps))
        weight = xp.where(good, xp.full_like(policy_logps, self.desirable_weight),
                          xp.full_like(policy_logps, self.undesirable_weight))
        u = -sign * self.beta * ((policy_logps - reference_logps) - reference_point)
        return sign, weight, u

    def _per_sample(self, xp: Any, *arrays: Any, reference_point: Any) -> Any:
        _, weight, u = self._parts(xp, *arrays, reference_point)
        return weight * S.sigmoid(xp, u)

    def _gradient(self, xp: Any, *arrays: Any, reference_point: Any) -> Any:
        sign, weight, u = self._parts(xp, *arrays, reference_point)
        return -sign * self.beta * weight * S.sigmoid(xp, u) * S.sigmoid(xp, -u)

    def _hessian(self, xp: Any, *arrays: Any, reference_point: Any) -> Any:
        _, weight, u = self._parts(xp, *arrays, reference_point)
        p = S.sigmoid(xp, u)
        return (self.beta * self.beta) * weight * p * S.sigmoid(xp, -u) * (1.0 - 2.0 * p)
