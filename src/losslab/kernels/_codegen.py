"""One loop per loss, generated from one template and each loss's scalar ρ, ρ′, ρ″.

scikit-learn writes its compiled losses the same way (``sklearn/_loss/_loss.pyx.tp``: one
Tempita template, one closed-form scalar per loss, expanded at build time). Here the
template is a numba loop and the expansion is committed as ``_elementwise.py``, so that
numba's on-disk cache (``cache=True``) can key each kernel to a real file and a real name;
``python src/losslab/kernels/_codegen.py`` rewrites it, and a test checks that it is current.

Each scalar body sees the residual ``r`` (distance losses, r = y_pred − y_true) or the
margin ``m`` (margin losses, m = y·f), the loss's constants ``p0, p1, p2`` (floats the
Python side derives from the parameters, so one compiled loop serves every parameter
value), and ``M``, the vectorisable elementary functions of ``_vmath``. It sets ``v`` (the
loss) and ``d`` (its derivative); the Hessian body sets ``h``. The bodies follow the NumPy
code of ``losses/regression.py`` and ``losses/binary.py`` and use the same stable forms
(``_stable.py``), computed in float64 whatever the input dtype.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

LOG2 = math.log(2.0)


@dataclass(frozen=True)
class Spec:
    """A loss's scalar code and how its parameters become the constants p0, p1, p2."""

    body: str
    hessian: str
    constants: Callable[[dict], tuple[float, float, float]] = lambda params: (0.0, 0.0, 0.0)


def _one(name: str, default: float) -> Callable[[dict], tuple[float, float, float]]:
    return lambda params: (float(params.get(name, default)), 0.0, 0.0)


DISTANCE: dict[str, Spec] = {
    "mse": Spec("v = r * r\nd = r + r", "h = 2.0"),
    "mae": Spec("v = abs(r)\nd = M.sign(r)", "h = 0.0"),
    # c = clip(r, −δ, δ): ρ = c·(r − c/2) covers both branches and ρ′ = c.
    "huber": Spec(
        "c = M.clip(r, -p0, p0)\nv = c * (r - 0.5 * c)\nd = c",
        "h = 1.0 if abs(r) < p0 else 0.0",
        _one("delta", 1.0),
    ),
    "smooth_l1": Spec(
        "c = M.clip(r / p0, -1.0, 1.0)\nv = c * (r - 0.5 * p0 * c)\nd = c",
        "h = 1.0 / p0 if abs(r) < p0 else 0.0",
        _one("beta", 1.0),
    ),
    # expectile: |τ − 1[y − ŷ < 0]|·r², r = ŷ − y: weight τ below 0, 1 − τ from 0 up (as the NumPy code).
    "expectile": Spec(
        "a = p0 if r < 0.0 else 1.0 - p0\nv = a * r * r\nd = 2.0 * a * r",
        "h = 2.0 * p0 if r < 0.0 else 2.0 * (1.0 - p0)",
        _one("tau", 0.5),
    ),
    # pseudo_huber: ρ = r·r/(h + 1) with h = √(1 + t²), t = r/δ (no cancellation, no δ²) up to
    # |t| = 1, and ρ = δ²(h − 1) beyond, where h − 1 ≥ √2 − 1 cancels nothing and no r² can
    # overflow (r can be 1e154 with a large δ). h is |t| to rounding once |t| ≥ 1e150, where t²
    # would overflow. Three divisions per element.
    "pseudo_huber": Spec(
        "t = r / p0\na = abs(t)\nh = math.sqrt(1.0 + t * t) if a < 1e150 else a\n"
        "v = p0 * p0 * (h - 1.0) if a > 1.0 else r * r / (h + 1.0)\nd = p0 * t / h",
        "t = r / p0\na = abs(t)\ns = 1.0 / a if a > 1.0 else a\nh = (a if a > 1.0 else 1.0) * math.sqrt(1.0 + s * s)\n"
        "h = 1.0 / (h * h * h)",
        _one("delta", 1.0),
    ),
    # _stable.log_cosh_and_tanh: m = expm1(min(|r|, 30)) shared by log cosh and tanh.
    "log_cosh": Spec(
        # log cosh a = log1p(m²/(2(m + 1))) below a = 1 (an argument ≤ cosh 1 − 1 < 1), and
        # a − log 2 + log1p(e^{−2a}) from 1 on (no cancellation there; e^{−2a} = 1/(m + 1)²;
        # at the cap a = 30 the log1p term is below 1e-26, so beyond it v = a − log 2).
        "a = abs(r)\nem = M.expm1(min(a, 30.0))\ninv = 1.0 / (em + 1.0)\nnear = a < 1.0\n"
        f"v = M.log1p_unit(0.5 * em * em * inv if near else inv * inv) + (0.0 if near else a - {LOG2!r})\n"
        "q = em * (em + 2.0)\nd = math.copysign(q / (q + 2.0), r)",
        "a = abs(r)\nem = M.expm1(min(a, 30.0))\nq = em * (em + 2.0)\nt = q / (q + 2.0)\nh = 1.0 - t * t",
    ),
    "quantile": Spec(
        "v = max((1.0 - p0) * r, -p0 * r)\nd = (1.0 - p0) if r > 0.0 else (-p0 if r < 0.0 else 0.0)",
        "h = 0.0",
        _one("q", 0.5),
    ),
    "epsilon_insensitive": Spec(
        "v = max(abs(r) - p0, 0.0)\nd = M.sign(r) if abs(r) > p0 else 0.0",
        "h = 0.0",
        _one("epsilon", 0.1),
    ),
    "squared_epsilon_insensitive": Spec(
        "e = max(abs(r) - p0, 0.0)\nv = e * e\nd = 2.0 * M.sign(r) * e",
        "h = 2.0 if abs(r) > p0 else 0.0",
        _one("epsilon", 0.1),
    ),
    # u = r/c; ρ = ½c²·log(1 + u²), ρ′ = c·u/(1 + u²), both without squaring a large u.
    "cauchy": Spec(
        "u = r / p0\nL, ratio = M.log1p_square_and_ratio(u)\nv = 0.5 * p0 * p0 * L\nd = p0 * ratio",
        "u = abs(r / p0)\nw = u * u if u <= 1.0 else 1.0 / (u * u)\n"
        "h = (1.0 - w) / ((1.0 + w) * (1.0 + w)) if u <= 1.0 else w * (w - 1.0) / ((w + 1.0) * (w + 1.0))",
        _one("scale", 1.0),
    ),
    # u = clip(r/c, −1, 1): flat outside, so r² never overflows.
    "tukey": Spec(
        "u = M.clip(r / p0, -1.0, 1.0)\nw = 1.0 - u * u\nv = p0 * p0 / 6.0 * (1.0 - w * w * w)\nd = p0 * u * w * w",
        "u = M.clip(r / p0, -1.0, 1.0)\nu2 = u * u\nh = (1.0 - u2) * (1.0 - 5.0 * u2)",
        _one("c", 4.685),
    ),
    # Barron's family: its limits α = 2, 0, −∞ have their own closed forms (the general
    # expression is 0/0 there); p0 = α, p1 = c, p2 = |α − 2|.
    "barron_l2": Spec(
        "v = 0.5 * (r / p1) * (r / p1)\nd = r / (p1 * p1)",
        "h = 1.0 / (p1 * p1)",
    ),
    "barron_cauchy": Spec(
        f"t = r / (p1 * {math.sqrt(2.0)!r})\nv, ratio = M.log1p_square_and_ratio(t)\n"
        f"d = {math.sqrt(2.0)!r} / p1 * ratio",
        # the general Hessian below with α = 0, b = 2
        f"L = M.log1p_square(r / (p1 * {math.sqrt(2.0)!r}))\nfr = -M.expm1(-L)\n"
        "h = M.exp(-L) * (1.0 - 2.0 * fr) / (p1 * p1)",
    ),
    "barron_welsch": Spec(
        "u = M.clip(r / p1, -40.0, 40.0)\nz = 0.5 * u * u\nv = -M.expm1(-z)\nd = u / p1 * M.exp(-z)",
        "u = M.clip(r / p1, -40.0, 40.0)\nh = M.exp(-0.5 * u * u) * (1.0 - u * u) / (p1 * p1)",
    ),
    "barron": Spec(
        "L = M.log1p_square(r / (p1 * math.sqrt(p2)))\nv = (p2 / p0) * M.expm1(0.5 * p0 * L)\n"
        "d = r / (p1 * p1) * M.exp((0.5 * p0 - 1.0) * L)",
        "L = M.log1p_square(r / (p1 * math.sqrt(p2)))\nfr = -M.expm1(-L)\n"
        "h = M.exp((0.5 * p0 - 1.0) * L) * (1.0 + (p0 - 2.0) * fr) / (p1 * p1)",
    ),
}

MARGIN: dict[str, Spec] = {
    "hinge": Spec("v = max(p0 - m, 0.0)\nd = -1.0 if m < p0 else 0.0", "h = 0.0", _one("margin", 1.0)),
    "squared_hinge": Spec(
        "e = max(p0 - m, 0.0)\nv = e * e\nd = -2.0 * e", "h = 2.0 if m < p0 else 0.0", _one("margin", 1.0)
    ),
    "smoothed_hinge": Spec(
        "c = M.clip(m, 0.0, 1.0)\nv = 0.5 * (1.0 - c) * (1.0 - c) - min(m, 0.0)\nd = c - 1.0",
        "h = 1.0 if (m > 0.0 and m < 1.0) else 0.0",
    ),
    "modified_huber": Spec(
        "c = M.clip(m, -1.0, 1.0)\nv = (1.0 - c) * (1.0 - c) - 4.0 * min(m + 1.0, 0.0)\n"
        "d = -2.0 * (1.0 - c) if m < 1.0 else 0.0",
        "h = 2.0 if (m > -1.0 and m < 1.0) else 0.0",
    ),
    # one e = e^{−|m|} for softplus(−m) = max(−m, 0) + log1p(e) and σ(−m), and σ(m)σ(−m) = e/(1 + e)²
    "logistic": Spec(
        "e = M.exp(-abs(m))\ninv = 1.0 / (1.0 + e)\nv = max(-m, 0.0) + M.log1p_unit(e)\nd = -(e * inv if m >= 0.0 else inv)",
        "e = M.exp(-abs(m))\ninv = 1.0 / (1.0 + e)\nh = e * inv * inv",
    ),
    "exponential": Spec("v = M.exp(-m)\nd = -v", "h = M.exp(-m)"),
    "perceptron": Spec("v = max(-m, 0.0)\nd = -1.0 if m < 0.0 else 0.0", "h = 0.0"),
    "zero_one": Spec("v = 1.0 if m <= 0.0 else 0.0\nd = 0.0", "h = 0.0"),
}


def resolve_distance(name: str, params: dict) -> tuple[str, tuple[float, float, float]] | None:
    """(kernel key, constants) for a distance loss and its parameters, or None."""
    if name == "barron":
        alpha, c = float(params.get("alpha", 1.0)), float(params.get("scale", 1.0))
        key = {2.0: "barron_l2", 0.0: "barron_cauchy", -math.inf: "barron_welsch"}.get(alpha, "barron")
        return key, (alpha, c, abs(alpha - 2.0))
    spec = DISTANCE.get(name)
    return None if spec is None else (name, spec.constants(params))


def resolve_margin(name: str, params: dict) -> tuple[str, tuple[float, float, float]] | None:
    """(kernel key, constants) for a margin loss and its parameters, or None."""
    spec = MARGIN.get(name)
    return None if spec is None else (name, spec.constants(params))


# ----------------------------------------------------------------------------- templates
_HEADER = '''"""Generated by ``python src/losslab/kernels/_codegen.py`` from the specs in ``_codegen.py``: do not edit.

For each loss four loops: value and gradient, unweighted and weighted (one weight per
element), and the Hessian diagonal, unweighted and weighted. They are plain functions here:
``losslab.kernels`` compiles each on its first use (``numba.njit(**OPTIONS)``), so that
importing this module defines no dispatchers (76 of them took 0.9 s). Value loops return
(Σ w·ℓ, check) where check is NaN or ±inf exactly when an input is (it sums x·0), and margin
loops also count the labels: (−1s, 0s, values outside {−1, 0, +1}).
"""

import math

import numpy as np
from numba import prange

from . import _vmath as M

# reassoc lets LLVM vectorise the sums (the lanes are added at the end); the elementary
# functions in _vmath are compiled without it, so their error-free transformations stay.
OPTIONS = dict(parallel=True, nogil=True, cache=True, fastmath={"reassoc", "contract"}, error_model="numpy")
'''

_DISTANCE_LOOP = '''

def {fname}(y_true, y_pred, {wparam}scale, out, p0, p1, p2):
    total = 0.0
    check = 0.0
    for i in prange(y_pred.shape[0]):
        r = np.float64(y_pred[i]) - np.float64(y_true[i])
{body}
        check += r * 0.0
{accumulate}
    return total, check
'''

_MARGIN_LOOP = '''

def {fname}(y_true, y_pred, {wparam}scale, out, p0, p1, p2):
    total = 0.0
    check = 0.0
    n_neg = 0
    n_zero = 0
    n_bad = 0
    for i in prange(y_pred.shape[0]):
        f = np.float64(y_pred[i])
        y = np.float64(y_true[i])
        n_neg += 1 if y == -1.0 else 0
        n_zero += 1 if y == 0.0 else 0
        n_bad += 0 if (y == 1.0 or y == -1.0 or y == 0.0) else 1
        s = 1.0 if y == 1.0 else -1.0
        m = s * f
{body}
        check += f * 0.0
{accumulate}
    return total, check, n_neg, n_zero, n_bad
'''


def _indent(code: str, spaces: int = 8) -> str:
    return "\n".join(" " * spaces + line for line in code.splitlines())


def _accumulate(kind: str, what: str, weighted: bool) -> str:
    factor = "scale * w" if weighted else "scale"
    lines = ["w = np.float64(weights[i])"] if weighted else []
    sign = "s * " if kind == "margin" else ""
    if what == "value":
        lines += ["total += w * v" if weighted else "total += v", f"out[i] = {factor} * {sign}d"]
    else:
        lines += [f"out[i] = {factor} * h"]
    return _indent("\n".join(lines))


def render() -> str:
    """The source of ``_elementwise.py``."""
    parts = [_HEADER]
    for kind, specs, template in (("distance", DISTANCE, _DISTANCE_LOOP), ("margin", MARGIN, _MARGIN_LOOP)):
        for key, spec in specs.items():
            for what, body in (("value", spec.body), ("hessian", spec.hessian)):
                for weighted in (False, True):
                    fname = f"{kind}_{key}_{'vg' if what == 'value' else 'hess'}{'_w' if weighted else ''}"
                    parts.append(template.format(
                        fname=fname,
                        wparam="weights, " if weighted else "",
                        body=_indent(body),
                        accumulate=_accumulate(kind, what, weighted),
                    ))
    return "".join(parts)


TARGET = Path(__file__).with_name("_elementwise.py")


def main() -> None:
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
