"""Cases for losses/preference.py. Hand-written: per-example log-probabilities of chosen
and rejected responses (and a reference model's) are four arrays related by the example
they share, a structure the declarations (one y_true, one y_pred) do not describe; and
KTO's reference point is a per-call number."""

from __future__ import annotations

import losslab as ll

from . import Case


def _paired(rng, n):
    """Summed sequence log-probabilities of a policy and a reference model (≤ 0): the
    policy-minus-reference margins h spread over about ±6, both signs."""
    reference_chosen = -rng.uniform(5.0, 30.0, size=n)
    reference_rejected = -rng.uniform(5.0, 30.0, size=n)
    policy_chosen = reference_chosen + rng.normal(0.0, 2.0, size=n)
    policy_rejected = reference_rejected + rng.normal(0.0, 2.0, size=n)
    return (-abs(policy_chosen), -abs(policy_rejected), reference_chosen, reference_rejected), {}


def _averaged(rng, n):
    """Per-token average log-probabilities, strictly < 0 (ORPO's odds need p < 1)."""
    return (-rng.uniform(0.05, 3.0, size=n), -rng.uniform(0.05, 3.0, size=n)), {}


def _unpaired(rng, n):
    desirable = rng.integers(0, 2, size=n).astype(float)
    reference = -rng.uniform(5.0, 30.0, size=n)
    policy = -abs(reference + rng.normal(0.0, 3.0, size=n))
    return (desirable, policy, reference), {"reference_point": float(rng.uniform(0.0, 1.0))}


CASES = [
    Case("dpo", ll.DPO(), _paired),
    Case("dpo-beta0.5-cdpo0.2", ll.DPO(beta=0.5, label_smoothing=0.2), _paired),
    Case("ipo-0.5", ll.IPO(beta=0.5), _paired),
    Case("simpo", ll.SimPO(), _averaged),
    Case("simpo-2.5-0.3", ll.SimPO(beta=2.5, gamma=0.3), _averaged),
    Case("orpo-0.2", ll.ORPO(lam=0.2), _averaged),
    Case("kto-0.5-weights", ll.KTO(beta=0.5, desirable_weight=1.0, undesirable_weight=1.5), _unpaired),
]
