"""losslab.keras: losses for Keras 3 (torch backend here; jax in a subprocess where installed)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("torch")
os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is imported
keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":
    pytest.skip(f"keras was imported with the {keras.backend.backend()} backend", allow_module_level=True)

import losslab as ll  # noqa: E402
import losslab.keras as llk  # noqa: E402


def _regression(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(128, 1)).astype("float32")
    y = (3.0 * X[:, 0] - 1.0 + 0.1 * rng.normal(size=128)).astype("float32")
    y[:6] += 40.0  # gross outliers
    return X, y[:, None]


def test_values_match_keras_and_the_reduction_is_sum_over_batch_size():
    y = np.zeros((4, 1), dtype="float32")
    p = np.array([[0.5], [1.0], [2.0], [3.0]], dtype="float32")
    w = np.array([1.0, 1.0, 2.0, 4.0], dtype="float32")
    ours, theirs = llk.get("huber", delta=1.0), keras.losses.Huber(delta=1.0)
    assert float(ours(y, p)) == pytest.approx(float(theirs(y, p)), rel=1e-6)
    assert float(ours(y, p, sample_weight=w)) == pytest.approx(float(theirs(y, p, sample_weight=w)), rel=1e-6)
    # Σwℓ/N (Keras) against Σwℓ/Σw (losslab's mean); ℓ = 0.125, 0.5, 1.5, 2.5 by hand
    assert float(ours(y, p, sample_weight=w)) == pytest.approx((0.125 + 0.5 + 3.0 + 10.0) / 4, rel=1e-6)
    assert float(ll.huber(y, p, delta=1.0, sample_weight=w)) == pytest.approx((0.125 + 0.5 + 3.0 + 10.0) / 8)
    mse = llk.get("mse")
    assert float(mse(y, p)) == pytest.approx(float(keras.losses.MeanSquaredError()(y, p)), rel=1e-6)
    assert float(llk.get("huber", reduction="sum")(y, p)) == pytest.approx(0.125 + 0.5 + 1.5 + 2.5, rel=1e-6)


def test_a_keras_model_trains_with_it_as_with_keras_own_huber():
    X, y = _regression()

    def train(loss):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss)
        history = model.fit(X, y, epochs=20, batch_size=32, shuffle=False, verbose=0)
        return [w.copy() for w in model.layers[0].get_weights()], history.history["loss"]

    (w_ours, b_ours), loss_ours = train(llk.get("huber(delta=1.0)"))
    (w_keras, b_keras), loss_keras = train(keras.losses.Huber(delta=1.0))
    np.testing.assert_allclose(loss_ours, loss_keras, rtol=1e-5)
    np.testing.assert_allclose(w_ours, w_keras, rtol=1e-5)
    np.testing.assert_allclose(b_ours, b_keras, rtol=1e-5, atol=1e-6)
    assert w_ours[0, 0] == pytest.approx(3.0, abs=0.15)  # robust to the outliers


def test_config_round_trips_and_errors_are_clear():
    L = llk.get("quantile(q=0.9)", name="pinball")
    again = llk.Loss.from_config(L.get_config())
    assert again.name == "pinball" and again.losslab_loss.params["q"] == 0.9
    with pytest.raises(ValueError, match="Did you mean 'huber'"):
        llk.get("hubr")
    with pytest.raises(ValueError, match="Keras losses take"):
        llk.get("triplet")


def test_jax_backend_trains_too():
    pytest.importorskip("jax")
    script = textwrap.dedent("""
        import numpy as np, keras, losslab.keras as llk
        assert keras.backend.backend() == "jax"
        keras.utils.set_random_seed(0)
        rng = np.random.default_rng(0)
        X = rng.normal(size=(128, 1)).astype("float32")
        y = (3 * X[:, 0] - 1).astype("float32")[:, None]
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss=llk.get("huber(delta=1.0)"))
        model.fit(X, y, epochs=30, batch_size=32, verbose=0)
        w, b = model.layers[0].get_weights()
        print(float(w[0, 0]), float(b[0]))
    """)
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    w, b = map(float, result.stdout.split())
    assert w == pytest.approx(3.0, abs=0.01) and b == pytest.approx(-1.0, abs=0.01)  # noise-free line
