"""Shared fixtures: the array backends, and the catalog's test cases."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

os.environ.setdefault("JAX_ENABLE_X64", "1")  # float64 tests on JAX too; float32 is tested explicitly


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
