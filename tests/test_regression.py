"""Regression and probabilistic losses: reference values, numerics, estimates, errors.

Where each expected number comes from is said next to it: worked by hand in the comment,
the peers' own tests (Keras's and Optax's loss tests, named at each number), PyTorch or
scikit-learn evaluated in the test, or mpmath at 50 digits.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

import losslab as ll

# --------------------------------------------------------------------- worked numbers
def test_worked_numbers():
    # House prices: true [100, 160, 250], predicted [100, 160, 240]: one error of 10.
    assert ll.mse([100, 160, 250], [100, 160, 240]) == pytest.approx(100 / 3)  # 33.33
    assert ll.mae([100, 160, 250], [100, 160, 240]) == pytest.approx(10 / 3)  # 3.33
    # True 100 against predictions 120 and 150.
    np.testing.assert_allclose(ll.mse([100, 100], [120, 150], reduction="none"), [400, 2500])
    np.testing.assert_allclose(ll.mae([100, 100], [120, 150], reduction="none"), [20, 50])


def _best_constant(loss, sample, bounds=None):
    sample = np.asarray(sample, dtype=float)
    lo, hi = bounds or (sample.min(), sample.max())
    result = minimize_scalar(
        lambda c: float(loss(sample, np.full_like(sample, c))), bounds=(lo, hi), method="bounded",
        options={"xatol": 1e-10},
    )
    return result.x


def test_best_constant_on_a_skewed_sample():
    # mean(1, 2, 3, 4, 100) = 110/5 = 22; median = 3.
    sample = [1, 2, 3, 4, 100]
    assert _best_constant(ll.MSE(), sample) == pytest.approx(22.0, abs=1e-6)  # the mean
    assert _best_constant(ll.MAE(), sample) == pytest.approx(3.0, abs=1e-6)  # the median


@pytest.mark.parametrize(
    "loss, statistic",
    [
        (ll.MSE(), np.mean),
        (ll.MAE(), np.median),
        (ll.Quantile(q=0.9), lambda s: np.quantile(s, 0.9, method="inverted_cdf")),
        (ll.Quantile(q=0.25), lambda s: np.quantile(s, 0.25, method="inverted_cdf")),
        (ll.Poisson(), np.mean),
        (ll.GammaDeviance(), np.mean),
        (ll.Tweedie(power=1.5), np.mean),
        (ll.Tweedie(power=3.0), np.mean),
        (ll.Barron(alpha=2.0), np.mean),
    ],
    ids=lambda v: repr(v) if isinstance(v, ll.Loss) else "",
)
def test_the_fitted_constant_is_the_declared_statistic(loss, statistic):
    """Fit a constant to a skewed sample: it lands on the statistic the trait declares."""
    sample = np.random.default_rng(7).lognormal(0.0, 1.0, size=401)
    fitted = _best_constant(loss, sample)
    assert fitted == pytest.approx(statistic(sample), rel=1e-5)
    declared = loss.traits.estimates
    assert declared in {"mean", "median"} or declared.startswith("quantile(")
    if statistic is np.mean:
        assert declared == "mean"
    if statistic is np.median:
        assert declared == "median"


def test_gaussian_nll_constant_is_the_mean():
    sample = np.random.default_rng(8).lognormal(size=101)
    loss = ll.GaussianNLL()
    fit = minimize_scalar(lambda c: float(loss(sample, np.full_like(sample, c), var=2.0)), bounds=(0, 20),
                          method="bounded", options={"xatol": 1e-10}).x
    assert fit == pytest.approx(sample.mean(), rel=1e-6)


# --------------------------------------------------------------------- peers' published numbers
def test_keras_published_regression_numbers():
    # Keras's own tests: y_true [[1,9,2],[-5,-2,6]], y_pred [[4,8,12],[8,1,3]].
    y_true = np.array([[1, 9, 2], [-5, -2, 6]], dtype=float)
    y_pred = np.array([[4, 8, 12], [8, 1, 3]], dtype=float)
    assert ll.mse(y_true, y_pred) == pytest.approx(49.5)
    assert ll.mae(y_true, y_pred) == pytest.approx(5.5)
    assert ll.mape(y_true, y_pred) == pytest.approx(211.85, abs=5e-3)
    # Keras clips negative values to 0 before log1p; losslab rejects them (see the msle
    # docstring), so compare on the clipped inputs.
    with pytest.raises(ValueError, match="y_true"):
        ll.msle(y_true, y_pred)
    assert ll.msle(np.maximum(y_true, 0), y_pred) == pytest.approx(1.4370, abs=5e-5)


def test_optax_published_huber_and_log_cosh_numbers():
    # Optax's tests (float32 there, so 1e-6 relative here).
    huber = ll.huber([0, -0.5, 0, 1, 1, 2, 0.3], [-2, 0.5, 0, 0.5, 2, 4, 132], delta=1.0, reduction="none")
    np.testing.assert_allclose(huber, [1.5, 0.5, 0, 0.125, 0.5, 1.5, 131.2], rtol=1e-6)
    log_cosh = ll.log_cosh([-200, -1.5, 0, -1, 1], [500, -2, -1, 0.5, 1], reduction="none")
    np.testing.assert_allclose(log_cosh, [699.3068, 0.12011445, 0.4337809, 0.85544014, 0], rtol=1e-6)


# --------------------------------------------------------------------- PyTorch references


@pytest.fixture
def tf():
    torch = pytest.importorskip("torch")
    return torch, torch.nn.functional


def test_against_pytorch_regression(tf):
    torch, F = tf
    rng = np.random.default_rng(1)
    y, p = rng.normal(size=50) * 3, rng.normal(size=50) * 3
    ty, tp = torch.tensor(y), torch.tensor(p)
    # PyTorch's argument order is (input, target): (y_pred, y_true).
    assert ll.mse(y, p) == pytest.approx(F.mse_loss(tp, ty).item(), rel=1e-13)
    assert ll.mae(y, p) == pytest.approx(F.l1_loss(tp, ty).item(), rel=1e-13)
    for delta in (0.3, 1.0, 2.5):
        assert ll.huber(y, p, delta=delta) == pytest.approx(F.huber_loss(tp, ty, delta=delta).item(), rel=1e-13)
        assert ll.smooth_l1(y, p, beta=delta) == pytest.approx(F.smooth_l1_loss(tp, ty, beta=delta).item(), rel=1e-13)


def test_smooth_l1_is_huber_over_beta():
    rng = np.random.default_rng(2)
    y, p = rng.normal(size=100), rng.normal(size=100) * 4
    for beta in (0.1, 1.0, 3.0):
        np.testing.assert_allclose(
            ll.smooth_l1(y, p, beta=beta, reduction="none"), ll.huber(y, p, delta=beta, reduction="none") / beta,
            rtol=1e-14,
        )


def test_against_pytorch_probabilistic(tf):
    torch, F = tf
    rng = np.random.default_rng(3)
    counts = rng.poisson(3.0, size=40).astype(float)
    rate = rng.lognormal(size=40)
    assert ll.poisson(counts, rate) == pytest.approx(
        F.poisson_nll_loss(torch.tensor(rate), torch.tensor(counts), log_input=False, eps=0.0).item(), rel=1e-12
    )
    log_rate = rng.normal(size=40)
    assert ll.poisson(counts, log_rate, log_input=True) == pytest.approx(
        F.poisson_nll_loss(torch.tensor(log_rate), torch.tensor(counts), log_input=True).item(), rel=1e-12
    )
    y, mu, var = rng.normal(size=30), rng.normal(size=30), rng.lognormal(size=30)
    for full in (False, True):
        expected = F.gaussian_nll_loss(torch.tensor(mu), torch.tensor(y), torch.tensor(var), full=full).item()
        assert ll.gaussian_nll(y, mu, var=var, full=full) == pytest.approx(expected, rel=1e-12)
    p = rng.dirichlet(np.ones(5), size=20)
    q = rng.dirichlet(np.ones(5), size=20)
    # PyTorch's kl_div takes log q; 'batchmean' is the KL per sample (its 'mean' divides by N·C).
    expected = F.kl_div(torch.tensor(np.log(q)), torch.tensor(p), reduction="batchmean").item()
    assert ll.kl_divergence(p, q) == pytest.approx(expected, rel=1e-12)


def test_against_scikit_learn_deviances():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(4)
    y, mu = rng.lognormal(size=60), rng.lognormal(size=60)
    assert ll.gamma_deviance(y, mu) == pytest.approx(metrics.mean_gamma_deviance(y, mu), rel=1e-12)
    for power in (0.0, 1.0, 1.5, 2.0, 3.0, -1.0):
        assert ll.tweedie(y, mu, power=power) == pytest.approx(
            metrics.mean_tweedie_deviance(y, mu, power=power), rel=1e-12
        ), power
    labels = rng.integers(0, 2, size=60)
    assert ll.brier(labels, mu / (1 + mu)) == pytest.approx(metrics.brier_score_loss(labels, mu / (1 + mu)), rel=1e-12)
    assert ll.quantile(y, mu, q=0.8) == pytest.approx(metrics.mean_pinball_loss(y, mu, alpha=0.8), rel=1e-12)
    assert ll.msle(y, mu) == pytest.approx(metrics.mean_squared_log_error(y, mu), rel=1e-12)
    assert ll.mape(y, mu) == pytest.approx(100 * metrics.mean_absolute_percentage_error(y, mu), rel=1e-12)


def test_js_divergence_against_scipy():
    from scipy.spatial.distance import jensenshannon

    rng = np.random.default_rng(5)
    p = rng.dirichlet(np.ones(4), size=10)
    q = rng.dirichlet(np.ones(4), size=10)
    expected = np.mean([jensenshannon(a, b) ** 2 for a, b in zip(p, q)])  # scipy returns the square root
    assert ll.js_divergence(p, q) == pytest.approx(expected, rel=1e-10)


# --------------------------------------------------------------------- numerics
def _log_cosh_mp(x):
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    return float(mpmath.log(mpmath.cosh(mpmath.mpf(x))))


@pytest.mark.parametrize("x", [1e-300, 1e-12, 1e-8, 3e-5, 1e-3, 0.1, 0.5, 0.999, 1.0, 1.001, 2.0, 20.0, 709.0, 800.0, 1e6, 1e300])
def test_log_cosh_is_accurate_to_a_few_ulp(x):
    for sign in (1.0, -1.0):
        got = ll.log_cosh([0.0], [sign * x])
        expected = _log_cosh_mp(x)
        assert abs(got - expected) <= 4 * np.spacing(expected), (x, got, expected)


def test_log_cosh_float32_is_accurate_and_stays_float32():
    xs = np.array([1e-8, 1e-4, 0.5, 1.0, 3.0, 100.0, 1e6], dtype=np.float32)
    got = ll.log_cosh(np.zeros_like(xs), xs, reduction="none")
    assert got.dtype == np.float32
    expected = np.array([_log_cosh_mp(float(x)) for x in xs])
    np.testing.assert_allclose(got, expected, rtol=4 * np.finfo(np.float32).eps)


def test_the_common_stable_form_fails_where_ours_does_not():
    # The reason for the two-branch form: |r| + log1p(exp(-2|r|)) - log 2 at 1e-8.
    x = 1e-8
    common = x + math.log1p(math.exp(-2 * x)) - math.log(2)
    assert abs(common - 5e-17) / 5e-17 > 0.5
    assert ll.log_cosh([0.0], [x]) == pytest.approx(5e-17, rel=1e-15)


@pytest.mark.parametrize(
    "alpha, closed_form",
    [
        (2.0, lambda z: 0.5 * z),
        (0.0, lambda z: np.log(0.5 * z + 1)),
        (-math.inf, lambda z: 1 - np.exp(-0.5 * z)),
        (1.0, lambda z: np.sqrt(z + 1) - 1),  # pseudo-Huber
        (-2.0, lambda z: 2 * z / (z + 4)),  # Geman-McClure
    ],
)
def test_barron_special_cases(alpha, closed_form):
    # Barron (2019), eq. 1 and its listed special cases, with z = (x/c)^2.
    x = np.linspace(-6, 6, 41)
    c = 1.7
    got = ll.barron(np.zeros_like(x), x, alpha=alpha, scale=c, reduction="none")
    np.testing.assert_allclose(got, closed_form((x / c) ** 2), rtol=1e-13, atol=1e-16)


def test_barron_is_continuous_at_its_limits():
    x = np.linspace(-5, 5, 21)
    for limit in (2.0, 0.0):
        at = ll.barron(np.zeros_like(x), x, alpha=limit, reduction="none")
        for step in (1e-6, -1e-6):
            near = ll.barron(np.zeros_like(x), x, alpha=limit + step, reduction="none")
            np.testing.assert_allclose(near, at, rtol=1e-5, atol=1e-12)
    welsch = ll.barron(np.zeros_like(x), x, alpha=-math.inf, reduction="none")
    np.testing.assert_allclose(ll.barron(np.zeros_like(x), x, alpha=-1e8, reduction="none"), welsch, rtol=1e-6)


def test_barron_alpha0_is_a_rescaled_cauchy():
    # log(½(x/c)² + 1) = cauchy(scale=√2·c) / c²: the conversion stated in Cauchy's docstring.
    x = np.linspace(-4, 4, 17)
    np.testing.assert_allclose(
        ll.barron(np.zeros_like(x), x, alpha=0.0, scale=2.0, reduction="none"),
        ll.cauchy(np.zeros_like(x), x, scale=2.0 * math.sqrt(2.0), reduction="none") / 4.0,
        rtol=1e-13,
    )


@pytest.mark.parametrize("entry", ll.catalog("regression"), ids=lambda e: e.name)
def test_extreme_finite_inputs_give_finite_values_and_gradients(entry):
    loss = entry.build()
    if entry.name in {"msle"}:
        y_true = np.array([0.0, 1e-8, 1e6, 1e15])
        y_pred = np.array([1e15, 0.0, 1e-8, 1e6])
    elif entry.name == "mape":
        y_true = np.array([1e-8, -1e6, 1e15, 3.0])
        y_pred = np.array([1e6, 1e-8, -1e15, 3.0])
    else:
        y_true = np.array([0.0, 1e-8, -1e6, 1e15, 0.0])
        y_pred = np.array([1e-8, 0.0, 1e6, -1e15, 0.0])
    if loss.event_ndim:  # a column per level (multi_quantile): the same predictions at each level
        y_pred = np.repeat(y_pred[:, None], len(loss.params["quantiles"]), axis=1)
    value, grad = loss.value_and_gradient(y_true, y_pred)
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    assert np.all(np.isfinite(loss.hessian(y_true, y_pred)))
    if loss.traits.lipschitz and entry.name != "mape" and loss.traits.y_pred_domain.low == -math.inf \
            and not loss.event_ndim:
        value, grad = loss.value_and_gradient([0.0, 0.0], [1e300, -1e300])
        assert np.isfinite(value) and np.all(np.isfinite(grad))


# --------------------------------------------------------------------- errors
def test_shape_mismatch_names_both_and_warns_about_broadcasting():
    with pytest.raises(ValueError, match=r"y_true and y_pred must have the same shape; got \(3,\) and \(3, 1\).*broadcast"):
        ll.mse(np.zeros(3), np.zeros((3, 1)))
    with pytest.raises(ValueError, match=r"same shape; got \(3,\) and \(4,\)"):
        ll.mae(np.zeros(3), np.zeros(4))


def test_nan_and_inf_are_errors_naming_the_argument_and_index():
    with pytest.raises(ValueError, match=r"y_pred must not contain NaN; found 1 NaN value\(s\), the first at index \(1,\)"):
        ll.mse([1.0, 2.0], [1.0, np.nan])
    with pytest.raises(ValueError, match=r"y_true must be finite; found 1 ±inf"):
        ll.huber([np.inf, 2.0], [1.0, 2.0])


def test_sample_weight_errors():
    with pytest.raises(ValueError, match=r"sample_weight must be non-negative; got min -1"):
        ll.mse([1.0, 2.0], [1.0, 3.0], sample_weight=[1.0, -1.0])
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(2,\).*got shape \(3,\)"):
        ll.mse([1.0, 2.0], [1.0, 3.0], sample_weight=[1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="sample_weight must not contain NaN"):
        ll.mse([1.0, 2.0], [1.0, 3.0], sample_weight=[1.0, np.nan])


def test_an_overflowing_loss_is_an_error_not_inf():
    # (1e20)² exceeds float32's largest number (3.4e38); e^1000 exceeds float64's (1.8e308).
    with np.errstate(over="ignore"):
        with pytest.raises(ValueError, match="mse: the loss of these \\(finite\\) inputs overflows float32"):
            ll.mse(np.zeros(2, np.float32), np.array([1e20, 0.0], np.float32))
        with pytest.raises(ValueError, match="exponential: .* overflows float64"):
            ll.exponential([1, -1], [-1e3, 1e3])


def test_empty_input_mean_is_an_error_sum_is_zero():
    with pytest.raises(ValueError, match="empty"):
        ll.mse(np.zeros(0), np.zeros(0))
    assert ll.mse(np.zeros(0), np.zeros(0), reduction="sum") == 0.0


def test_unknown_reduction_and_non_numeric_input():
    with pytest.raises(ValueError, match=r"reduction must be one of 'mean', 'sum', 'none', 'sum_over_batch_size'; got 'avg'"):
        ll.mse([1.0], [2.0], reduction="avg")
    with pytest.raises(TypeError, match="y_true must be a numeric array"):
        ll.mse(["a", "b"], [1.0, 2.0])
    with pytest.raises(TypeError, match="y_pred must be a numeric array"):
        ll.mse([1.0, 2.0], [[1.0], [2.0, 3.0]])


@pytest.mark.parametrize(
    "name, params, message",
    [
        ("huber", {"delta": -1}, r"huber: delta must be a finite number > 0; got -1"),
        ("huber", {"delta": math.nan}, r"delta must be a finite number > 0; got nan"),
        ("quantile", {"q": 1.0}, r"q must be a number in \(0, 1\); got 1.0"),
        ("tukey", {"c": 0}, r"c must be a number in \[1e-150, 1e150\]"),
        ("tweedie", {"power": 0.5}, r"power must be .*0 < power < 1"),
        ("barron", {"alpha": math.inf}, r"alpha must be a real number or -inf"),
        ("poisson", {"log_input": "yes"}, r"log_input must be True or False"),
        ("epsilon_insensitive", {"epsilon": -0.1}, r"epsilon must be a finite number >= 0"),
    ],
)
def test_invalid_parameters_fail_at_construction(name, params, message):
    with pytest.raises(ValueError, match=message):
        ll.get(name, **params)


def test_unknown_names_and_parameters_get_suggestions():
    with pytest.raises(ValueError, match=r"unknown loss 'hubber'. Did you mean 'huber'"):
        ll.get("hubber")
    with pytest.raises(TypeError, match=r"huber\(\) got an unexpected parameter 'delt'.*Did you mean 'delta'"):
        ll.get("huber", delt=1.0)
    with pytest.raises(TypeError, match=r"per-call keywords are: sample_weight, reduction"):
        ll.Huber()([1.0], [2.0], delta=2.0)


def test_preset_aliases_carry_the_peers_defaults():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    # PyTorch's class names mean its defaults: logits for BCEWithLogitsLoss / CrossEntropyLoss,
    # log-rates for PoissonNLLLoss. Expected values: PyTorch itself.
    logits, target = np.array([0.3, 0.8]), np.array([1.0, 0.0])
    assert ll.get("BCEWithLogitsLoss")(target, logits) == pytest.approx(
        F.binary_cross_entropy_with_logits(torch.tensor(logits), torch.tensor(target)).item(), rel=1e-12)
    counts, log_rate = np.array([1.0, 3.0, 0.0]), np.array([0.2, 1.5, 0.1])
    assert ll.get("PoissonNLLLoss")(counts, log_rate) == pytest.approx(
        F.poisson_nll_loss(torch.tensor(log_rate), torch.tensor(counts)).item(), rel=1e-12)
    z = np.array([[2.0, -1.0, 0.5]])
    assert ll.get("CrossEntropyLoss")([0], z) == pytest.approx(
        F.cross_entropy(torch.tensor(z), torch.tensor([0])).item(), rel=1e-12)
    assert ll.get("categorical_hinge").params["variant"] == "crammer_singer"  # Keras's CategoricalHinge
    assert ll.get("BCEWithLogitsLoss", from_logits=False).params["from_logits"] is False  # the user wins
    # Optax's l2_loss is ½r²: a documented difference (PEER_DIFFERENCES), not an alias of mse.
    with pytest.raises(ValueError, match="differs"):
        ll.get("l2_loss")
    # PyTorch's MultiMarginLoss divides the Weston–Watkins sum by C: multi_margin, not multiclass_hinge.
    assert type(ll.get("MultiMarginLoss")) is ll.MultiMargin


def test_keras_aliases_resolve_to_the_same_loss():
    assert ll.get("mean_squared_error") == ll.MSE()
    assert ll.get("MeanAbsoluteError") == ll.MAE()
    assert ll.get("kl_divergence") == ll.get("kld")
    assert ll.get("mean_squared_logarithmic_error") == ll.MSLE()


def test_domain_errors_say_what_is_allowed():
    with pytest.raises(ValueError, match=r"y_pred must hold rates in \(0, inf\); got min -1.*log_input=True"):
        ll.poisson([1.0], [-1.0])
    with pytest.raises(ValueError, match=r"y_true must be non-zero for mape"):
        ll.mape([0.0, 1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match=r"var must hold variances in \(0, inf\); got min 0"):
        ll.gaussian_nll([0.0], [1.0], var=[0.0])
    with pytest.raises(TypeError, match="pass var="):
        ll.gaussian_nll([0.0], [1.0])
    with pytest.raises(ValueError, match=r"y_pred rows must sum to 1"):
        ll.kl_divergence([[0.5, 0.5]], [[0.5, 0.6]])


# --------------------------------------------------------------------- regularizers
def test_l1_prox_is_the_argmin_and_gives_exact_zeros():
    w = np.array([0.3, -2.0, 0.05, 1.2])
    step = 0.5
    prox = ll.L1().prox(w, step)
    for wi, pi in zip(w, prox):
        argmin = minimize_scalar(lambda v: 0.5 * (v - wi) ** 2 + step * abs(v), bounds=(-5, 5), method="bounded",
                                 options={"xatol": 1e-12}).x
        assert pi == pytest.approx(argmin, abs=1e-7)
    assert np.sum(prox == 0.0) == 2  # exact zeros, not small numbers
    assert ll.L1().gradient(np.array([0.0, -3.0]))[0] == 0.0  # subgradient 0 at 0


def test_l2_and_elastic_net_prox_are_the_argmin():
    w = np.array([0.3, -2.0, 0.05])
    for reg in (ll.L2(), ll.ElasticNet(l1_ratio=0.3)):
        prox = reg.prox(w, 0.4)
        for wi, pi in zip(w, prox):
            argmin = minimize_scalar(lambda v: 0.5 * (v - wi) ** 2 + 0.4 * reg.value(np.array([v])),
                                     bounds=(-5, 5), method="bounded", options={"xatol": 1e-12}).x
            assert pi == pytest.approx(argmin, abs=1e-7)


def test_regularizer_values_and_gradients():
    w = [np.array([3.0, -4.0]), np.array([[1.0]])]
    assert ll.l1(w) == 8.0 and ll.l2(w) == 26.0  # Σ|w| and Σw² (no ½)
    assert ll.elastic_net(w, l1_ratio=0.25) == pytest.approx(0.25 * 8 + 0.75 * 26)
    np.testing.assert_allclose(ll.L2().gradient(w)[0], [6.0, -8.0])
    with pytest.raises(ValueError, match=r"l1_ratio must be a number in \[0, 1\]"):
        ll.ElasticNet(l1_ratio=1.5)
    with pytest.raises(ValueError, match="regularizer must be one of"):
        ll.get_regularizer("l3")
    with pytest.raises(ValueError, match="step must be finite and >= 0"):
        ll.L1().prox(np.ones(2), -0.1)


def test_objective_adds_the_penalty():
    J = ll.Objective("mse", "l1", lam=0.5)
    assert J.value([0.0, 0.0], [1.0, 3.0], weights=[np.array([2.0, -1.0])]) == pytest.approx(5.0 + 1.5)
    with pytest.raises(ValueError, match="needs a regularizer"):
        ll.Objective("mse", None, lam=0.1)


# --------------------------------------------------------------------- properties (hypothesis)
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra.numpy import arrays  # noqa: E402

_DISTANCE = [e.build() for e in ll.catalog() if e.build().traits.distance_based and e.cls.event_ndim == 0
             and not e.cls.call_options]


def test_the_property_tests_cover_every_distance_loss():
    # The list above is read from the traits: a loss renamed or re-declared must not drop out
    # of the property test silently.
    names = {L.name for L in _DISTANCE}
    assert names >= {"mse", "mae", "huber", "smooth_l1", "log_cosh", "quantile", "epsilon_insensitive",
                     "squared_epsilon_insensitive", "cauchy", "tukey", "barron"}, names


@pytest.mark.parametrize("loss", _DISTANCE, ids=repr)
@settings(max_examples=60, deadline=None)
@given(residual=arrays(np.float64, st.integers(1, 40), elements=st.floats(-1e6, 1e6)),
       target=st.floats(-1e3, 1e3))
def test_distance_losses_never_reward_moving_away(loss, residual, target):
    """ρ ≥ 0, ρ(0) = 0 and r·ρ′(r) ≥ 0: the gradient never points away from the target."""
    y_true = np.full_like(residual, target)
    y_pred = y_true + residual
    r = y_pred - y_true  # the residual as the loss sees it (after rounding)
    values = loss(y_true, y_pred, reduction="none")
    grads = loss.gradient(y_true, y_pred, reduction="none")
    assert np.all(np.isfinite(values)) and np.all(values >= 0)
    assert np.all(r * grads >= 0)
    assert loss(y_true, y_true, reduction="sum") == 0.0


def test_out_buffer_receives_the_gradient_and_is_checked(monkeypatch):
    from losslab.loss import engine as core

    rng = np.random.default_rng(9)
    y, p = rng.normal(size=2000), rng.normal(size=2000)
    expected = ll.Huber().gradient(y, p)
    for threshold in (10**12, 64):  # the direct path and the row-block path
        monkeypatch.setattr(core, "BLOCK_THRESHOLD", threshold)
        buffer = np.empty_like(p)
        value, grad = ll.Huber().value_and_gradient(y, p, out=buffer)
        assert grad is buffer
        np.testing.assert_allclose(buffer, expected, rtol=1e-15)
    with pytest.raises(ValueError, match=r"out must be a NumPy array of shape \(2000,\) and dtype float64"):
        ll.Huber().gradient(y, p, out=np.empty(3))


@pytest.mark.parametrize("name", ["mse", "huber", "log_cosh"])
def test_bad_values_in_large_inputs_are_named_by_their_index(name):
    # Large inputs run in row blocks (mse and huber through fused kernels that check a block
    # through its sum): the error still names the caller's index, not a block's.
    y = np.zeros(600_000)
    p = np.ones(600_000)
    p[456_789] = np.nan
    with pytest.raises(ValueError, match=r"y_pred must not contain NaN; found 1 NaN value\(s\), the first at index \(456789,\)"):
        ll.get(name).value_and_gradient(y, p)
    y[123_456] = np.inf
    p[456_789] = 0.0
    with pytest.raises(ValueError, match=r"y_true must be finite; found 1 ±inf value\(s\), the first at index \(123456,\)"):
        ll.get(name).value_and_gradient(y, p)
