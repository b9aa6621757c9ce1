"""Shared fixtures: the array backends, the seeded ``rng``, and the rule that no test draws
unseeded random numbers (a test that can pass or fail by chance fails CI at random)."""

from __future__ import annotations

import os
import sys
import zlib

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

os.environ.setdefault("JAX_ENABLE_X64", "1")  # float64 tests on JAX too; float32 is tested explicitly

try:  # property tests draw the same examples on every run (the seed comes from the test's code)
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("losslab", derandomize=True, print_blob=True)
    _hypothesis_settings.load_profile("losslab")
except ImportError:
    pass


def _backend_params():
    return [
        pytest.param("numpy", id="numpy"),
        pytest.param("array_api_strict", id="array_api_strict"),
        pytest.param("torch", id="torch"),
        pytest.param("jax", id="jax"),
    ]


class Backend:
    """One array library: converts NumPy arrays in and results out."""

    def __init__(self, name: str):
        self.name = name
        if name == "numpy":
            self.mod = np
        else:
            self.mod = pytest.importorskip(name if name != "jax" else "jax.numpy")
        if name == "torch":
            import torch

            torch.set_num_threads(2)

    def asarray(self, x, dtype=None):
        x = np.asarray(x)
        if dtype is not None:
            x = x.astype(dtype)
        if self.name == "numpy":
            return x
        if self.name == "torch":
            import torch

            return torch.from_numpy(np.ascontiguousarray(x))
        if self.name == "jax":
            import jax.numpy as jnp

            return jnp.asarray(x)
        import array_api_strict as xs

        return xs.asarray(x)

    def to_numpy(self, x):
        if isinstance(x, tuple):
            return tuple(self.to_numpy(a) for a in x)
        if self.name == "torch":
            return x.detach().cpu().numpy()
        if self.name == "array_api_strict":
            return np.asarray(x._array) if hasattr(x, "_array") else np.asarray(x)
        return np.asarray(x)


@pytest.fixture(params=_backend_params())
def backend(request):
    return Backend(request.param)


@pytest.fixture
def rng():
    return np.random.default_rng(20261121)


@pytest.fixture(autouse=True)
def _catalog_left_as_found():
    """A user loss a test registers (a named custom_loss registers itself) leaves the catalog after the test."""
    import losslab as ll
    from losslab.loss import unregister

    before = {entry.name for entry in ll.catalog()}
    yield
    for name in {entry.name for entry in ll.catalog()} - before:
        unregister(name)


# ------------------------------------------------------------------ no unseeded randomness
class _Unseeded:
    """Stands for ``default_rng()`` called without a seed inside a test: any draw from it
    fails the test, naming the caller, instead of drawing numbers that differ on every run."""

    def __init__(self, caller: str):
        self._caller = caller

    def __getattr__(self, name: str):
        raise AssertionError(
            f"unseeded randomness: {self._caller} drew from np.random.default_rng() without a seed"
            f" (.{name}); pass a seed (seed=..., random_state=...) in the test"
        )


def _caller_is_ours() -> bool:
    name = sys._getframe(2).f_globals.get("__name__", "")
    return name.startswith("losslab") or name.startswith("test_") or name in ("conftest", "oracles", "domains")


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "unseeded_defaults(reason): the test runs code it may not change (the README's and docs'"
        " examples, an experiment's helper) that leaves seeds at their defaults; seed 0 stands"
        " in for every unseeded default, so the run is still the same on every run",
    )


@pytest.fixture(autouse=True)
def _no_unseeded_randomness(monkeypatch, request):
    """``np.random.default_rng(None)`` from losslab or the tests, and an estimator fitted with
    ``random_state=None`` (scikit-learn's global RandomState), are errors in a test.
    Libraries' own unseeded calls (scikit-learn's checks, SciPy) are left alone. Tests marked
    ``unseeded_defaults`` get seed 0 in place of every unseeded default instead."""
    real = np.random.default_rng
    substitute = request.node.get_closest_marker("unseeded_defaults") is not None

    def guarded(seed=None, *args, **kwargs):
        if isinstance(seed, _Unseeded):
            return seed
        if seed is None and _caller_is_ours():
            if substitute:
                return real(0)
            return _Unseeded(sys._getframe(1).f_globals.get("__name__", "?"))
        return real(seed, *args, **kwargs)

    monkeypatch.setattr(np.random, "default_rng", guarded)
    # A module-level generator would hand each test the draws left by the tests run before
    # it (another order, `-k`, or a new test changes them): each test gets one seeded by its id.
    module = getattr(request, "module", None)
    for name in ("RNG", "rng"):
        if isinstance(getattr(module, name, None), np.random.Generator):
            monkeypatch.setattr(module, name, real(zlib.crc32(request.node.nodeid.encode())))
    estimators = sys.modules.get("losslab.sklearn")
    if estimators is None:
        try:
            import sklearn  # noqa: F401
        except ImportError:
            return
        import losslab.sklearn as estimators
    real_check = estimators.check_random_state

    def check_random_state(seed):
        if seed is None and substitute:
            return real_check(0)
        if seed is None:
            raise AssertionError(
                "unseeded randomness: an estimator was fitted with random_state=None (scikit-learn's"
                " global RandomState, which depends on the tests run before); pass random_state=..."
            )
        return real_check(seed)

    monkeypatch.setattr(estimators, "check_random_state", check_random_state)
