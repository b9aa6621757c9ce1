"""User losses: decorated functions (custom_loss) and safe formulas (from_expression).

Oracles: the analytic derivatives written in each test, the built-in twin of each formula
(its own gradient and Hessian are checked against finite differences in test_catalog.py),
and, for the injection corpus, a sentinel file and recorded calls to eval/exec/compile/
__import__ that a successful injection would leave behind.
"""

from __future__ import annotations

import importlib.util

import ast
import builtins
import math
import sys

import numpy as np
import pytest

import losslab as ll
from losslab.loss import unregister
from losslab.custom import MAX_LENGTH, custom_loss, from_expression, parse_expression


def _pseudo_huber(y_true, y_pred, xp):
    r = y_pred - y_true
    return xp.sqrt(1 + r * r) - 1


def _pseudo_huber_derivatives(r):
    # d/dr √(1 + r²) = r/√(1 + r²); d²/dr² = (1 + r²)^(−3/2).
    return r / np.sqrt(1 + r * r), (1 + r * r) ** -1.5


#: "auto" derivatives use PyTorch or JAX autodiff when one is installed, else finite differences.
AUTODIFF = any(importlib.util.find_spec(m) is not None for m in ("torch", "jax"))

@pytest.fixture
def data(rng):
    y_true = rng.normal(0, 2, size=40)
    return y_true, y_true + rng.normal(0, 2, size=40)


# ----------------------------------------------------------------------------- decorated functions
@pytest.mark.parametrize("derivatives, rtol", [("auto", 1e-12), ("torch", 1e-12), ("jax", 1e-12),
                                               ("finite_differences", 1e-8), ("complex_step", 1e-9)])
def test_decorated_function_equals_its_analytic_gradient_and_hessian(data, derivatives, rtol):
    if derivatives in ("torch", "jax"):
        pytest.importorskip(derivatives)
    if derivatives == "auto" and not AUTODIFF:
        rtol = 1e-8  # "auto" falls back to finite differences without an autodiff library
    if derivatives == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
    loss = custom_loss(_pseudo_huber, task="regression", name="pseudo_huber", derivatives=derivatives)
    y_true, y_pred = data
    grad, hess = _pseudo_huber_derivatives(y_pred - y_true)
    np.testing.assert_allclose(loss.gradient(y_true, y_pred, reduction="sum"), grad, rtol=rtol, atol=1e-12)
    # Hessians by differences of gradients lose a few digits more (documented accuracy ~1e-8).
    np.testing.assert_allclose(loss.hessian(y_true, y_pred, reduction="sum"), hess, rtol=max(rtol, 1e-7), atol=1e-9)
    # The reductions are the catalog's: the mean's gradient is divided by n.
    np.testing.assert_allclose(loss.gradient(y_true, y_pred), grad / len(y_true), rtol=max(rtol, 1e-9))
    assert loss(y_true, y_pred) == pytest.approx(np.mean(np.sqrt(1 + (y_pred - y_true) ** 2) - 1), rel=1e-14)


@pytest.mark.parametrize("backend_name", ["numpy", "torch", "jax", "array_api_strict"])
def test_decorated_function_runs_and_differentiates_on_every_backend(data, backend_name):
    from conftest import Backend

    backend = Backend(backend_name)
    loss = custom_loss(_pseudo_huber, task="regression")
    y_true, y_pred = data
    t, p = backend.asarray(y_true), backend.asarray(y_pred)
    grad, hess = _pseudo_huber_derivatives(y_pred - y_true)
    # Autodiff when PyTorch or JAX is installed; else finite differences (documented ~1e-9, ~1e-7).
    np.testing.assert_allclose(backend.to_numpy(loss.gradient(t, p, reduction="sum")), grad,
                               rtol=1e-12 if AUTODIFF else 1e-8)
    np.testing.assert_allclose(backend.to_numpy(loss.hessian(t, p, reduction="sum")), hess,
                               rtol=1e-10 if AUTODIFF else 1e-6, atol=0 if AUTODIFF else 1e-9)
    f32 = loss.gradient(backend.asarray(y_true, np.float32), backend.asarray(y_pred, np.float32))
    assert str(f32.dtype).endswith("float32")


def test_torch_autograd_and_jax_jit_go_through_a_custom_loss(data):
    torch = pytest.importorskip("torch")
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    loss = custom_loss(_pseudo_huber, task="regression")
    y_true, y_pred = data
    x = torch.tensor(y_pred, requires_grad=True)
    loss(torch.tensor(y_true), x).backward()
    np.testing.assert_allclose(x.grad.numpy(), loss.gradient(y_true, y_pred), rtol=1e-12)
    grad = jax.jit(jax.grad(lambda a: loss(jax.numpy.asarray(y_true), a)))(jax.numpy.asarray(y_pred))
    np.testing.assert_allclose(np.asarray(grad), loss.gradient(y_true, y_pred), rtol=1e-12)
    jitted_gradient = jax.jit(lambda a: loss.gradient(jax.numpy.asarray(y_true), a))(jax.numpy.asarray(y_pred))
    np.testing.assert_allclose(np.asarray(jitted_gradient), loss.gradient(y_true, y_pred), rtol=1e-12)


@pytest.mark.parametrize("derivatives", ["auto", "finite_differences"])
def test_multiclass_function_gradient_and_hessian_diagonal(rng, derivatives):
    @custom_loss(task="multiclass", name="my_softmax_ce", derivatives=derivatives)
    def softmax_ce(y_true, y_pred, xp):
        z = y_pred - xp.max(y_pred, axis=-1, keepdims=True)
        return -xp.sum(y_true * (z - xp.log(xp.sum(xp.exp(z), axis=-1, keepdims=True))), axis=-1)

    logits = rng.normal(size=(6, 4))
    onehot = np.eye(4)[rng.integers(0, 4, size=6)]
    s = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    # Softmax cross-entropy: gradient s − y, Hessian diagonal s(1 − s) (a formula, independent of losslab).
    tol = 1e-12 if derivatives == "auto" else 1e-7
    np.testing.assert_allclose(softmax_ce.gradient(onehot, logits, reduction="sum"), s - onehot, rtol=tol, atol=tol)
    np.testing.assert_allclose(softmax_ce.hessian(onehot, logits, reduction="sum"), s * (1 - s), rtol=1e-6, atol=1e-8)
    assert softmax_ce(onehot, logits, reduction="none").shape == (6,)


def test_function_without_xp_gets_the_callers_arrays(data):
    @custom_loss
    def squared(y_true, y_pred):
        return (y_pred - y_true) ** 2

    y_true, y_pred = data
    np.testing.assert_allclose(squared.gradient(y_true, y_pred, reduction="sum"), 2 * (y_pred - y_true), rtol=1e-9)
    torch = pytest.importorskip("torch")
    got = squared.gradient(torch.tensor(y_true), torch.tensor(y_pred), reduction="sum")
    np.testing.assert_allclose(got.numpy(), 2 * (y_pred - y_true), rtol=1e-14)


def test_custom_loss_is_a_full_loss_registry_traits_profile(data):
    loss = custom_loss(_pseudo_huber, task="regression", name="pseudo_huber_registered", register=True)
    try:
        assert isinstance(ll.get("pseudo_huber_registered"), ll.Loss)
        y_true, y_pred = data
        w = np.linspace(0.5, 2, len(y_true))
        values = np.sqrt(1 + (y_pred - y_true) ** 2) - 1
        assert loss(y_true, y_pred, sample_weight=w) == pytest.approx(np.sum(w * values) / np.sum(w), rel=1e-13)
        traits = loss.traits  # measured: pseudo-Huber is Barron's α = 1
        assert traits.convex and traits.strictly_convex and traits.robust and traits.lipschitz
        assert "measured by losslab.profile" in traits.notes
        assert ll.profile("pseudo_huber_registered").efficiency == pytest.approx(
            ll.profile(ll.Barron(alpha=1.0, scale=1.0)).efficiency, rel=1e-10)
    finally:
        unregister("pseudo_huber_registered")
    with pytest.raises(ValueError, match="unknown loss"):
        ll.get("pseudo_huber_registered")


def test_custom_loss_errors_name_the_problem(data):
    with pytest.raises(ValueError, match="task must be one of"):
        custom_loss(_pseudo_huber, task="clustering")
    with pytest.raises(ValueError, match="derivatives must be one of"):
        custom_loss(_pseudo_huber, derivatives="magic")
    with pytest.raises(TypeError, match="decorates a function"):
        custom_loss(3)
    bad = custom_loss(lambda y_true, y_pred: np.sum(y_pred - y_true), name="reduces_itself")
    with pytest.raises(ValueError, match="one value per sample"):
        bad(*data)
    unit = custom_loss(lambda y_true, y_pred: -y_true * np.log(y_pred), name="log_loss", y_pred_domain=ll.traits.UNIT)
    with pytest.raises(ValueError, match="y_pred must hold values in"):
        unit([1.0], [1.5])


def test_training_with_a_custom_loss_matches_the_builtin(rng):
    from losslab.train import Linear, fit

    X = rng.normal(size=(80, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3 + rng.normal(0, 0.1, size=80)
    weights = []
    for loss in (ll.MSE(), from_expression("r**2")):
        model = Linear(3, seed=0)
        fit(model, loss, X, y, epochs=200, progress=False, seed=0)
        weights.append(np.concatenate([np.ravel(w) for w in model.get_weights()]))
    np.testing.assert_allclose(weights[0], weights[1], rtol=1e-6, atol=1e-8)


# ----------------------------------------------------------------------------- expressions vs twins
def _real_inputs(rng, kinks=()):
    y_true = rng.normal(0, 2, size=30)
    r = rng.normal(0, 2.5, size=30)
    for k in kinks:
        close = np.abs(r - k) < 1e-2
        r[close] += 2e-2
    return y_true, y_true + r


def _labels_and_scores(rng, kinks=()):
    y = rng.choice([0.0, 1.0], size=30)
    f = rng.normal(0, 2, size=30)
    for k in kinks:  # kinks in the margin y·f
        s = np.where(y > 0, 1.0, -1.0)
        close = np.abs(s * f - k) < 1e-2
        f[close] += 3e-2 * s[close]
    return y, f


def _labels_and_probabilities(rng, kinks=()):
    return rng.choice([0.0, 1.0], size=30), rng.uniform(0.02, 0.98, size=30)


TWINS = [
    # (id, formula, params, built-in name, built-in params, inputs)
    ("mse", "r**2", {}, "mse", {}, _real_inputs),
    ("mae", "abs(r)", {}, "mae", {}, lambda rng: _real_inputs(rng, [0.0])),
    ("huber", "where(abs(r) <= delta, r**2/2, delta*(abs(r) - delta/2))", {"delta": 1.345}, "huber",
     {"delta": 1.345}, lambda rng: _real_inputs(rng, [-1.345, 1.345])),
    ("log_cosh", "log(cosh(r))", {}, "log_cosh", {}, _real_inputs),
    ("quantile", "max((1 - q)*r, -q*r)", {"q": 0.9}, "quantile", {"q": 0.9}, lambda rng: _real_inputs(rng, [0.0])),
    ("cauchy", "c**2/2*log1p((r/c)**2)", {"c": 2.0}, "cauchy", {"scale": 2.0}, _real_inputs),
    ("epsilon_insensitive", "max(0, abs(r) - eps)", {"eps": 0.5}, "epsilon_insensitive", {"epsilon": 0.5},
     lambda rng: _real_inputs(rng, [-0.5, 0.5])),
    ("pseudo_huber", "sqrt(1 + (r/c)**2) - 1", {"c": 1.5}, "barron", {"alpha": 1.0, "scale": 1.5}, _real_inputs),
    ("hinge", "max(0, margin - m)", {"margin": 1.0}, "hinge", {}, lambda rng: _labels_and_scores(rng, [1.0])),
    ("logistic", "softplus(-m)", {}, "logistic", {}, _labels_and_scores),
    ("logistic-written-out", "log(1 + exp(-m))", {}, "logistic", {}, _labels_and_scores),
    ("exponential", "exp(-m)", {}, "exponential", {}, _labels_and_scores),
    ("bce", "-log(p)", {}, "binary_cross_entropy", {}, _labels_and_probabilities),
    ("bce-logits", "-log(p)", {"from_logits": True}, "binary_cross_entropy", {"from_logits": True}, _labels_and_scores),
]

#: Profile fields compared between a formula and its built-in twin.
_VERDICTS = ("estimates", "gradient_tail", "kinks", "vanishing_gradient_when_wrong", "zero_gradient_beyond",
             *ll.Traits.PROPERTIES)


@pytest.mark.parametrize("twin", TWINS, ids=[t[0] for t in TWINS])
def test_expression_equals_its_builtin_twin(twin, rng):
    _, text, params, name, builtin_params, inputs = twin
    expr, builtin = from_expression(text, **params), ll.get(name, **builtin_params)
    y_true, y_pred = inputs(rng)
    for method in ("per_sample", "gradient", "hessian"):
        kw = {} if method == "per_sample" else {"reduction": "sum"}
        np.testing.assert_allclose(getattr(expr, method)(y_true, y_pred, **kw),
                                   getattr(builtin, method)(y_true, y_pred, **kw), rtol=1e-10, atol=1e-12,
                                   err_msg=method)
    a, b = ll.profile(expr), ll.profile(builtin)
    for field in _VERDICTS:
        if field == "margin_based" and b.margin_based is None:
            continue  # the built-in takes soft labels (no margin form); the formula hard labels only
        assert getattr(a, field) == getattr(b, field), field
    if b.efficiency is not None:
        assert a.efficiency == pytest.approx(b.efficiency, rel=1e-8)


def test_expressions_are_stable_where_the_textbook_form_overflows():
    L = from_expression("log(cosh(r))")
    np.testing.assert_allclose(L.per_sample([0.0, 0.0], [1e-8, 1e6]), ll.log_cosh([0.0, 0.0], [1e-8, 1e6], reduction="none"),
                               rtol=1e-12)
    bce = from_expression("-log(p)", from_logits=True)
    values = bce.per_sample([1.0, 0.0], [-800.0, 800.0])  # log σ(−800) underflows if written naively
    np.testing.assert_allclose(values, [800.0, 800.0], rtol=1e-15)
    assert np.all(np.isfinite(bce.gradient([1.0, 0.0], [-800.0, 800.0])))


def test_expression_loss_on_other_backends_and_with_autograd(rng):
    torch = pytest.importorskip("torch")
    L = from_expression("where(abs(r) <= delta, r**2/2, delta*(abs(r) - delta/2))", delta=1.0)
    y_true, y_pred = _real_inputs(rng, [-1.0, 1.0])
    x = torch.tensor(y_pred, requires_grad=True)
    L(torch.tensor(y_true), x).backward()
    np.testing.assert_allclose(x.grad.numpy(), L.gradient(y_true, y_pred), rtol=1e-12)
    xs = pytest.importorskip("array_api_strict")
    got = L.gradient(xs.asarray(y_true), xs.asarray(y_pred))
    np.testing.assert_allclose(np.asarray(got._array), L.gradient(y_true, y_pred), rtol=1e-14)


def test_expression_parameters_formula_and_registry():
    L = from_expression("where(abs(r) <= delta, r**2/2, delta*(abs(r) - delta/2))", delta=1.0, name="my_huber",
                        register=True)
    try:
        assert ll.get("my_huber", delta=2.0).params == {"delta": 2.0}
        assert ll.get("my_huber", delta=2.0)([0.0], [3.0]) == pytest.approx(ll.huber([0.0], [3.0], delta=2.0))
        assert "\\delta" in L.formula and L.traits.robust and L.traits.convex
        with pytest.raises(ValueError, match="delta must be a finite real number"):
            ll.get("my_huber", delta=float("nan"))
    finally:
        unregister("my_huber")


@pytest.mark.parametrize("text, params, message", [
    ("r**2", {"task": "binary"}, "does not match the variable 'r'"),
    ("r + m", {}, "mixes the variables"),
    ("3 + 4", {}, "uses no variable"),
    ("r * delta", {}, "unknown name 'delta'"),
    ("r**2", {"delta": 1.0}, "not used in the expression"),
    ("r * r", {"r": 1.0}, "parameter name 'r' is not allowed"),
    ("r * a", {"a": "1"}, "a must be a finite real number"),
    ("m**2", {"from_logits": True}, "from_logits applies to formulas in p"),
    ("where(r, 1, 2)", {}, "must be a comparison"),
    ("where(0 < r < 1, r, 0)", {}, "chained comparisons"),
    ("r < 1", {}, "only allowed as the first argument of where"),
    ("exp(r, r)", {}, "exp\\(\\) takes 1 arguments; got 2"),
    ("r / 0", {}, "division by the constant 0"),
    ("r**5000", {}, "exponent 5000 is too large"),
    ("1e300 * r", {}, "out of range"),
])
def test_expression_errors_name_the_problem(text, params, message):
    with pytest.raises(ValueError, match=message):
        from_expression(text, **params)


# ----------------------------------------------------------------------------- injection
def _corpus(sentinel: str) -> list[str]:
    s = sentinel.replace("\\", "/")
    return [
        f"__import__('os').system('touch {s}')",
        f"open('{s}', 'w').write('x')",
        f"r + __import__('pathlib').Path('{s}').touch()",
        "r.__class__.__bases__[0].__subclasses__()",
        "().__class__.__base__.__subclasses__()",
        "exec('import os')",
        "eval('1 + 1')",
        "compile('1', '', 'eval')",
        "globals()",
        "locals()",
        "vars()",
        "getattr(r, '__class__')",
        "[x for x in ().__class__.__base__.__subclasses__()]",
        "lambda: 0",
        "(lambda: __import__('os'))()",
        "import os",
        f"r; open('{s}', 'w')",
        "r if __import__('os') else r",
        f"f'{{__import__(\"os\").system(\"touch {s}\")}}'",
        "'abc' * 3",
        "b'abc'",
        "r.real",
        "r[0]",
        "sys.modules",
        "os.system('ls')",
        "abs.__self__",
        "exp(r).__globals__",
        "max(r, key=print)",
        "log(*[r])",
        "{r: 1}",
        "{r}",
        "(r, r)",
        "[r]",
        "(y := 3)",
        "r and r",
        "not r",
        "~r",
        "r // 2",
        "r % 2",
        "r @ r",
        "r << 1",
        "r | r",
        "9**9**9**9**9",
        "(" * 250 + "r" + ")" * 250,
        "r" + " + r" * (MAX_LENGTH // 4),
        "-" * 60 + "r",
        "1j * r",
        "True + r",
        "None",
        "...",
        "breakpoint()",
        "print(r)",
        "input()",
        "__builtins__",
        "exp(r)(1)",
        "type(r)",
        "r\x00",
        "yield r",
        "await r",
        "[*r]",
        "sigmoid.__call__(r)",
        "where(r < 1, __import__('os'), r)",
    ]


def test_injection_corpus_is_rejected_and_nothing_runs(tmp_path, monkeypatch):
    sentinel = tmp_path / "pwned"
    corpus = _corpus(str(sentinel))
    assert len(corpus) >= 30
    from_expression("r**2")  # load SymPy before recording (its own imports are not the user's)
    calls: list[tuple[str, str]] = []
    real = {k: getattr(builtins, k) for k in ("__import__", "eval", "exec", "compile")}

    def recorder(kind):
        def record(*args, **kwargs):
            if kind == "compile":  # record whether only a syntax tree was asked for
                flags = args[3] if len(args) > 3 else kwargs.get("flags", 0)
                calls.append((kind, "ast-only" if flags & ast.PyCF_ONLY_AST else str(args[0])[:60]))
            else:
                calls.append((kind, str(args[0])[:60]))
            if kind in ("eval", "exec") and len(args) == 1:
                frame = sys._getframe(1)
                return real[kind](args[0], frame.f_globals, frame.f_locals)
            return real[kind](*args, **kwargs)

        return record

    for kind in real:
        monkeypatch.setattr(builtins, kind, recorder(kind))
    messages = {}
    try:
        for text in corpus:
            with pytest.raises(ValueError) as info:
                from_expression(text)
            messages[text] = str(info.value)
    finally:
        for kind, fn in real.items():
            setattr(builtins, kind, fn)
    assert not sentinel.exists()
    assert not [c for c in calls if c[0] in ("eval", "exec")], calls
    # ast.parse is compile(..., flags=PyCF_ONLY_AST): parsing only. Any other compile would be a breach.
    assert all(c[1] == "ast-only" for c in calls if c[0] == "compile"), calls
    imported = {c[1].split(".")[0] for c in calls if c[0] == "__import__"}
    assert not imported & {"os", "subprocess", "shutil", "pathlib", "socket", "ctypes", "pty", "posix", "builtins"}
    # Each rejection says what was wrong.
    assert "whitelisted functions may be called, by name" in messages[corpus[0]]
    assert "'__import__' is not allowed" in messages["where(r < 1, __import__('os'), r)"]
    assert "attribute access" in messages["r.real"]
    assert "subscripts" in messages["r[0]"]
    assert "lambda" in messages["lambda: 0"]
    assert "f-strings" in messages[corpus[18]]
    assert "strings are not allowed" in messages["'abc' * 3"]
    assert "bytes are not allowed" in messages["b'abc'"]
    assert "comprehensions" in messages[corpus[12]]
    assert "statements" in messages["import os"]
    assert "too long" in messages[corpus[44]]
    assert "nested too deeply" in messages[corpus[45]] or "too deeply nested" in messages[corpus[45]]
    assert "unknown name 'sys'" in messages["sys.modules"] or "attribute access" in messages["sys.modules"]
    assert "too large" in messages["9**9**9**9**9"]


def test_compile_is_only_ever_asked_for_a_syntax_tree(monkeypatch):
    flags_seen = []
    real_compile = builtins.compile

    def checking_compile(source, filename, mode, flags=0, *args, **kwargs):
        flags_seen.append((mode, flags & ast.PyCF_ONLY_AST))
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    monkeypatch.setattr(builtins, "compile", checking_compile)
    parse_expression("where(abs(r) <= 1, r**2/2, abs(r) - 1/2)")
    monkeypatch.setattr(builtins, "compile", real_compile)
    assert flags_seen and all(mode == "eval" and only_ast for mode, only_ast in flags_seen)


def test_profile_of_an_expression_names_its_problem():
    with pytest.raises(ValueError, match="is neither a loss spec nor a valid expression"):
        ll.profile("__import__('os')")
    assert math.isclose(ll.profile("abs(r)").efficiency, 2 / math.pi, rel_tol=1e-3)


# ----------------------------------------------------------------------------- denial of service
#: Formulas that hung the process before the complexity budget (issue 12): a constant power whose
#: base lies below 1 (the old size estimate was negative), the same with a negative exponent, and a
#: sum whose rewriting expanded (1+r)**1000*(2+r)**1000 into a million terms.
HOSTILE = ["(1/3)**(10**15) * r", "(2/3)**(-(10**15)) * r", "log(exp(r) + (1+r)**1000*(2+r)**1000)"]

_PROBE_SCRIPT = """
import sys, losslab as ll
from losslab.custom import from_expression
text, how = sys.argv[1], sys.argv[2]
try:
    if how == "profile":
        ll.profile(text)
    else:
        from_expression(text)([0.0, 0.0], [0.5, -0.5])
except ValueError as exc:
    print("REFUSED", exc)
else:
    print("ACCEPTED")
"""


def _bounded(args: list[str], timeout: float = 20.0):
    """Run a fresh interpreter under a generous wall-clock limit: a hang fails with TimeoutExpired."""
    import subprocess

    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("how", ["from_expression", "profile"])
@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_formulas_are_accepted_or_refused_within_bounded_time(text, how):
    pytest.importorskip("sympy")
    out = _bounded(["-c", _PROBE_SCRIPT, text, how])
    assert out.returncode == 0, out.stderr
    if text.startswith("("):
        assert out.stdout.startswith("REFUSED") and "the constant power" in out.stdout and "too large or too small" in out.stdout
    else:  # accepted: it overflows at r = ±0.5 (2.5**1000 > 1e308), which is an honest answer
        assert "ACCEPTED" in out.stdout or "REFUSED" in out.stdout, out.stdout


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_formulas_through_the_command_line_end_without_a_traceback(text):
    pytest.importorskip("sympy")
    pytest.importorskip("typer")
    out = _bounded(["-m", "losslab.cli", "profile", text])
    assert out.returncode in (0, 2) and "Traceback" not in out.stderr, out.stderr


@pytest.mark.parametrize("text, message", [
    ("9**9**9", "too large or too small"),
    ("(0.5)**5000 * r", "too large or too small"),
    ("(r**1000)**1000", "polynomial of degree 1e\\+06"),
    ("exp(1000) * r", "undefined or out of range"),
    ("1e-200 * 1e-200 * r", "underflows"),
    ("(-8)**(1/3) * r", "not a real number"),
    ("r / (1 - 1)", "division by the constant 0"),
])
def test_the_budget_refuses_before_sympy_computes(text, message, monkeypatch):
    pytest.importorskip("sympy")
    import losslab.custom.symbolic as symbolic

    def no_sympy(*args, **kwargs):
        raise AssertionError("SymPy was asked to build a formula the budget should have refused")

    monkeypatch.setattr(symbolic, "build", no_sympy)
    monkeypatch.setattr(sys.modules["losslab.custom.expression"], "build", no_sympy)
    with pytest.raises(ValueError, match=message):
        from_expression(text)


def test_the_symbolic_work_stops_at_its_time_limit(monkeypatch):
    pytest.importorskip("sympy")
    import signal
    import threading

    import losslab.custom.symbolic as symbolic

    text = "log(cosh(r)) + where(r < 1, r**2, sqrt(abs(r)))"
    monkeypatch.setattr(symbolic, "MAX_SECONDS", 0.0)  # every formula is now past its deadline
    previous_profile = sys.getprofile()
    previous_handler = signal.getsignal(signal.SIGALRM) if hasattr(signal, "SIGALRM") else None
    with pytest.raises(ValueError, match="too complex: its symbolic derivatives took more than 0 s"):
        from_expression(text)  # the main thread: a timer signal
    assert sys.getprofile() is previous_profile  # whatever happened inside, nothing is left behind
    if previous_handler is not None:
        assert signal.getsignal(signal.SIGALRM) is previous_handler
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    errors: list[BaseException] = []

    def in_a_thread() -> None:  # off the main thread: the profile hook
        try:
            from_expression(text)
        except ValueError as exc:
            errors.append(exc)

    worker = threading.Thread(target=in_a_thread)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive() and len(errors) == 1 and "took more than 0 s" in str(errors[0])
    monkeypatch.setattr(symbolic, "MAX_SECONDS", 5.0)
    assert from_expression("log(cosh(r))")([0.0], [1.0]) == pytest.approx(math.log(math.cosh(1.0)))


def test_derivative_trees_past_the_node_cap_are_refused(monkeypatch):
    pytest.importorskip("sympy")
    import losslab.custom.symbolic as symbolic

    monkeypatch.setattr(symbolic, "MAX_TREE", 10)
    with pytest.raises(ValueError, match="derivatives hold more than 10 nodes"):
        from_expression("log(cosh(r)) * exp(-r**2)")


# ----------------------------------------------------------------------------- valid formulas accepted
def test_a_formula_longer_than_a_name_gets_a_shortened_name():
    text = "where(abs(r) <= delta, r**2/2, delta*(abs(r) - delta/2))" + " + 0*r" * 10  # 116 characters
    assert len(text) > 100
    L = from_expression(text, delta=1.0)
    assert len(L.name) == 100 and L.name.endswith("…")
    assert L([0.0], [3.0]) == pytest.approx(ll.huber([0.0], [3.0], delta=1.0))


def test_a_parameter_called_self_is_a_parameter():
    L = from_expression("self * r**2", self=2.0)
    assert L.params == {"self": 2.0} and L([0.0], [3.0]) == pytest.approx(18.0)
    assert type(L)(self=3.0)([0.0], [1.0]) == pytest.approx(3.0)


@pytest.mark.parametrize("value", ["no", 1, 0.0])
def test_from_logits_must_be_a_boolean(value):
    with pytest.raises(ValueError, match="from_logits must be True or False"):
        from_expression("-log(p)", from_logits=value)


def test_nan_from_the_formulas_domain_is_named_as_such():
    with pytest.raises(ValueError, match=r"undefined \(NaN\) at r = -1 \(element 1\).*outside the formula's domain"):
        from_expression("r**0.5")([0.0, 0.0], [1.0, -1.0])
    with pytest.raises(ll.LossOverflow):  # a true overflow keeps its own error
        from_expression("exp(r)")([0.0], [1000.0])


# ----------------------------------------------------------------------------- issue 16: custom losses
def test_a_named_custom_loss_is_registered_and_its_keywords_are_parameters():
    @ll.custom_loss(task="regression", name="my_cauchy_16")
    def my_cauchy(y_true, y_pred, xp, c=1.0):
        r = (y_pred - y_true) / c
        return c * c / 2 * xp.log1p(r * r)

    try:
        # Cauchy's loss with scale c is c²/2·log(1 + (r/c)²): the built-in cauchy is the oracle.
        for c in (1.0, 2.5):
            got = ll.get("my_cauchy_16", c=c)
            assert got.params == {"c": c}
            assert got([0.0, 1.0], [2.0, -3.0]) == pytest.approx(ll.cauchy([0.0, 1.0], [2.0, -3.0], scale=c))
        with pytest.raises(ValueError, match="c must be a finite real number"):
            ll.get("my_cauchy_16", c=float("inf"))

        @ll.custom_loss(task="regression", name="my_cauchy_16")  # re-running a notebook cell replaces it
        def my_cauchy_again(y_true, y_pred, c=1.0):
            return abs(y_pred - y_true) * c

        assert ll.get("my_cauchy_16", c=2.0)([0.0], [3.0]) == pytest.approx(6.0)
    finally:
        unregister("my_cauchy_16")
    unnamed = custom_loss(_pseudo_huber)  # no name: not registered
    with pytest.raises(ValueError, match="unknown loss"):
        ll.get(unnamed.name)
    kept = custom_loss(_pseudo_huber, name="not_registered_16", register=False)
    with pytest.raises(ValueError, match="unknown loss"):
        ll.get(kept.name)


def test_a_built_in_name_stays_the_built_in_unless_register_is_asked_for():
    mine = custom_loss(lambda y_true, y_pred: abs(y_pred - y_true), name="huber")
    assert type(ll.get("huber")) is ll.Huber and mine([0.0], [3.0]) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="already registered"):
        custom_loss(lambda y_true, y_pred: abs(y_pred - y_true), name="huber", register=True)


def test_function_parameters_must_be_numbers_or_bools_with_free_names():
    with pytest.raises(TypeError, match="must default to a number or a bool"):
        custom_loss(lambda y_true, y_pred, mode="a": y_pred - y_true)
    with pytest.raises(ValueError, match="'params' is taken by the Loss object"):
        custom_loss(lambda y_true, y_pred, params=1.0: y_pred - y_true)


def test_printing_a_profile_shows_a_readable_card():
    card = ll.profile(custom_loss(_pseudo_huber, task="regression"))
    text = str(card)
    lines = text.splitlines()
    assert lines[0].startswith("profile of _pseudo_huber") and "regression" in lines[0]
    assert any(line.split()[:2] == ["convex", "True"] for line in lines)
    assert max(len(line) for line in lines) < 250 and "measurements" not in text
    assert len(repr(card)) < 300 and repr(card).startswith("Profile(")
