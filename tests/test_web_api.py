"""The explorer's JSON API (FastAPI's test client) and its pages, without a browser.

Expected numbers come from closed forms (mse on the residual axis: r², 2r, 2), from NumPy
(least squares by np.polyfit, the mean and median of y), or from the library itself
(finite differences of the curve's own values check its derivatives).
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
pytest.importorskip("jinja2")

import warnings  # noqa: E402

with warnings.catch_warnings():  # Starlette's notice that its test client will move to httpx2
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient  # noqa: E402

import losslab as ll  # noqa: E402
from losslab.web import create_app  # noqa: E402
from losslab.web import schemas  # noqa: E402


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app())


def field_of(response):
    """The field a 4xx answer blames (every error names one)."""
    body = response.json()
    assert "field" in body and body["field"], body
    assert body["detail"] and all("loc" in d for d in body["detail"])
    return body["field"]


# ----------------------------------------------------------------------------- catalog and curves
def test_losses_lists_the_catalog(client):
    rows = client.get("/api/losses").json()
    assert [r["name"] for r in rows] == [e.name for e in ll.catalog()]
    huber = next(r for r in rows if r["name"] == "huber")
    delta = next(c for c in huber["controls"] if c["name"] == "delta")
    # rule "a finite number > 0": a slider starting just above 0 that holds the default
    assert delta["kind"] == "number" and 0 < delta["min"] < delta["value"] == 1.0 < delta["max"]
    assert huber["axis"].startswith("residual") and huber["regression"] and not huber["classification"]


def test_mse_curve_is_r_squared(client):
    c = client.post("/api/curve", json={"loss": "mse", "n": 11, "x_min": -5, "x_max": 5}).json()
    x = np.array(c["x"])
    np.testing.assert_allclose(c["value"], x**2)       # losslab's mse: (y - ŷ)², no ½
    np.testing.assert_allclose(c["gradient"], 2 * x)   # d/dr along the residual axis
    np.testing.assert_allclose(c["hessian"], 2.0)


def curvable():
    return [r["name"] for r in TestClient(create_app()).get("/api/losses").json() if r["axis"]]


def test_curve_derivatives_match_finite_differences(client):
    """Along every natural axis the gradient is the slope of the value and the Hessian the
    slope of the gradient (central differences, away from kinks: 80% of the points)."""
    for name in curvable():
        c = client.post("/api/curve", json={"loss": name, "n": 401}).json()
        x, v, g = np.array(c["x"]), np.array(c["value"], dtype=float), np.array(c["gradient"], dtype=float)
        fd = np.gradient(v, x)[2:-2]
        close = np.isclose(fd, g[2:-2], rtol=2e-2, atol=2e-2 * (1 + np.nanmax(np.abs(g))))
        assert close.mean() > 0.8, (name, close.mean())
        if c["hessian"] is not None and name not in ("zero_one",):
            h = np.array(c["hessian"], dtype=float)
            fd2 = np.gradient(g, x)[2:-2]
            ok = np.isclose(fd2, h[2:-2], rtol=5e-2, atol=5e-2 * (1 + np.nanmax(np.abs(h))))
            assert ok.mean() > 0.8, (name, "hessian", ok.mean())


def test_a_parameter_changes_the_curve(client):
    small = client.post("/api/curve", json={"loss": "huber", "params": {"delta": 0.5}}).json()
    large = client.post("/api/curve", json={"loss": "huber", "params": {"delta": 2.0}}).json()
    # at r = 4: delta·(|r| − delta/2) = 0.5·3.75 and 2·3 (the linear branch)
    assert small["value"][-1] == pytest.approx(1.875) and large["value"][-1] == pytest.approx(6.0)


def test_a_user_formula_goes_through_the_safe_route(client):
    c = client.post("/api/curve", json={"expression": "abs(r)**1.5", "n": 11}).json()
    np.testing.assert_allclose(c["value"], np.abs(np.array(c["x"])) ** 1.5)
    bad = client.post("/api/curve", json={"expression": "__import__('os').getcwd()"})
    assert bad.status_code == 422 and field_of(bad) == "expression"


@pytest.mark.parametrize("body, field", [
    ({"loss": "hubr"}, "loss"),
    ({"loss": "huber", "params": {"delta": -1}}, "params"),
    ({"loss": "huber", "params": {"nope": 1}}, "params"),
    ({"loss": "triplet"}, "loss"),
    ({"loss": "mse", "n": 10**6}, "n"),
    ({"loss": "mse", "x_min": 3, "x_max": 1}, "x_max"),
    ({"loss": "cross_entropy", "x_min": -1, "x_max": 0.5}, "x_min"),
    ({"loss": "mse", "surprise": 1}, "surprise"),
    ({"loss": "mse", "x_min": "NaN"}, "x_min"),
])
def test_curve_errors_name_the_field(client, body, field):
    r = client.post("/api/curve", json=body)
    assert r.status_code == 422
    assert field_of(r) == field


def test_body_limits(client):
    r = client.post("/api/curve", content=b"{" + b" " * (schemas.MAX_CSV_BYTES + 200_000) + b"}",
                    headers={"content-type": "application/json"})
    assert r.status_code == 413 and field_of(r) == "body"
    r = client.post("/api/curve", content=b"not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and field_of(r)
    chunked = client.post("/api/curve", content=iter([b'{"loss": "mse"}']), headers={"content-type": "application/json"})
    assert chunked.status_code == 411 and field_of(chunked) == "body"


# ----------------------------------------------------------------------------- regression fits
def line_with_outlier(seed=0, n=40):
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 10, n)
    y = 1.0 + 0.8 * x + 0.3 * rng.standard_normal(n)
    return x, y


def test_mse_fit_is_least_squares_and_estimates_the_mean(client):
    x, y = line_with_outlier()
    r = client.post("/api/fit", json={"loss": "mse", "x": x.tolist(), "y": y.tolist()}).json()
    slope, intercept = np.polyfit(x, y, 1)
    assert r["coefficients"]["slope"] == pytest.approx(slope, abs=1e-4)
    assert r["coefficients"]["intercept"] == pytest.approx(intercept, abs=1e-3)
    assert r["estimates"] == "mean"
    assert r["constant"] == pytest.approx(np.mean(y), abs=(y.max() - y.min()) * 1e-4)
    assert len(r["predictions"]) == len(x) and r["history"]


def test_an_outlier_moves_mse_not_mae(client):
    x, y = line_with_outlier()
    moved = y.copy()
    moved[-1] += 30.0
    slopes = {}
    for loss in ("mse", "mae"):
        before = client.post("/api/fit", json={"loss": loss, "x": x.tolist(), "y": y.tolist()}).json()
        after = client.post("/api/fit", json={"loss": loss, "x": x.tolist(), "y": moved.tolist()}).json()
        slopes[loss] = abs(after["coefficients"]["slope"] - before["coefficients"]["slope"])
    # least squares moves by 30·(x_n − x̄)/Σ(x − x̄)² ≈ 0.3; the median line by far less
    assert slopes["mse"] > 0.2 and slopes["mae"] < 0.05


@pytest.mark.parametrize("loss", ["mse", "mae", "huber"])
def test_a_warm_start_reaches_the_same_line(client, loss):
    """The playground refits from the previous line after a drag: same optimum, fewer iterations."""
    x, y = line_with_outlier(n=200)
    first = client.post("/api/fit", json={"loss": loss, "x": x.tolist(), "y": y.tolist()}).json()
    y[7] += 2.0  # one point dragged
    cold = client.post("/api/fit", json={"loss": loss, "x": x.tolist(), "y": y.tolist()}).json()
    warm = client.post("/api/fit", json={"loss": loss, "x": x.tolist(), "y": y.tolist(),
                                         "start": first["coefficients"]}).json()
    for key in ("slope", "intercept"):
        assert warm["coefficients"][key] == pytest.approx(cold["coefficients"][key], abs=1e-3)
    assert warm["history"][-1] <= cold["history"][-1] * (1 + 1e-6) + 1e-9
    assert warm["epochs"] < cold["epochs"]


def test_declared_statistics_match_the_searched_constant():
    """The constant shown is the declared statistic (mean, median, quantile) where the loss
    declares one; the numerical argmin over c agrees with it on skewed data."""
    from losslab.web.compute import _searched_constant, best_constant

    y = np.random.default_rng(1).lognormal(size=301)  # odd n: a unique median and 0.9-quantile
    checked = 0
    for entry in ll.catalog():
        loss = ll.get(entry.name)
        if loss.traits.task != "regression" or str(loss.traits.estimates) == "other":
            continue
        declared = best_constant(loss, y)
        assert _searched_constant(loss, y) == pytest.approx(declared, abs=1e-4 * np.ptp(y)), entry.name
        checked += 1
    q = ll.get("quantile", q=0.9)
    assert best_constant(q, y) == pytest.approx(np.quantile(y, 0.9))
    assert _searched_constant(q, y) == pytest.approx(np.quantile(y, 0.9), abs=1e-4 * np.ptp(y))
    assert checked >= 4  # mse, mae, quantile, poisson at least


def test_mae_estimates_a_median(client):
    y = np.array([0.0, 1.0, 2.0, 3.0, 100.0])
    r = client.post("/api/fit", json={"loss": "mae", "x": [0, 1, 2, 3, 4], "y": y.tolist()}).json()
    assert r["estimates"] == "median" and r["constant"] == pytest.approx(2.0, abs=1e-3)


def test_mlp_fit_answers_a_curve(client):
    x = np.linspace(-2, 2, 50)
    r = client.post("/api/fit", json={"loss": "mse", "x": x.tolist(), "y": (x**2).tolist(), "model": "mlp",
                                      "epochs": 300}).json()
    assert "coefficients" not in r and len(r["line"]["x"]) == len(r["line"]["y"])
    assert r["history"][-1] < r["history"][0]


@pytest.mark.parametrize("body, field", [
    ({"loss": "hinge", "x": [1, 2, 3], "y": [1, 2, 3]}, "loss"),
    ({"loss": "mse", "x": [1, 2, 3], "y": [1, 2]}, "y"),
    ({"loss": "mse", "x": list(range(schemas.MAX_POINTS + 1)), "y": [0] * (schemas.MAX_POINTS + 1)}, "x"),
    ({"loss": "mse", "x": [1, 2], "y": [1, 2], "epochs": 10**6}, "epochs"),
    ({"loss": "mse", "x": [1, 2], "y": [1, 2], "model": "forest"}, "model"),
    ({"loss": "poisson", "x": [1, 2, 3], "y": [-1, 2, 3]}, "y"),
])
def test_fit_errors_name_the_field(client, body, field):
    r = client.post("/api/fit", json=body)
    assert r.status_code == 422 and field_of(r) == field


# ----------------------------------------------------------------------------- classification
@pytest.mark.parametrize("loss, model", [("cross_entropy", "linear"), ("hinge", "linear"),
                                         ("multiclass_hinge", "mlp"), ("focal", "mlp")])
def test_training_lowers_the_loss_chunk_by_chunk(client, loss, model):
    classes = 2 if loss == "hinge" else 3
    data = client.post("/api/dataset", json={"name": "blobs", "n": 150, "classes": classes, "seed": 1}).json()
    assert sorted(set(data["y"])) == list(range(classes))
    weights, history, losses = None, {}, []
    for _ in range(3):
        r = client.post("/api/train", json={"loss": loss, "x": data["x"], "y": data["y"], "model": model,
                                            "hidden": [8], "lr": 0.05, "steps": 4, "weights": weights,
                                            "history": history, "grid": 20}).json()
        weights = r["weights"]
        for k, v in r["chunk"].items():
            history[k] = history.get(k, []) + v
        history["initial_loss"] = [r["initial_loss"]]
        losses.append(r["chunk"]["train_loss"][-1])
    assert losses[-1] < losses[0] < r["initial_loss"]
    assert r["epochs"] == 12 and r["diagnosis"]["kind"] in ("healthy", "lr_too_low", "underfitting", "overfitting")
    assert len(r["grid"]["z"]) == 20 and {v for row in r["grid"]["z"] for v in row} <= set(range(classes))
    assert r["accuracy"] > 0.8


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop"])
def test_adam_and_rmsprop_continue_their_moments_across_chunks(client, optimizer):
    """Three chunks of 4 full-batch epochs, each sending back the previous answer's weights
    and optimizer_state, end at the weights of one call of 12 epochs (as ll.train.fit with
    the state carried over gives, tests/test_train.py); without the state they do not."""
    data = client.post("/api/dataset", json={"name": "blobs", "n": 80, "classes": 3, "seed": 1}).json()
    base = {"loss": "cross_entropy", "x": data["x"], "y": data["y"], "model": "linear", "optimizer": optimizer,
            "lr": 0.05, "batch_size": None, "grid": 10}

    def chunks(carry):
        weights, state = None, None
        for _ in range(3):
            r = client.post("/api/train", json={**base, "steps": 4, "weights": weights,
                                                "optimizer_state": state if carry else None}).json()
            weights, state = r["weights"], r["optimizer_state"]
        return np.concatenate([np.ravel(w) for w in weights]), state

    one = client.post("/api/train", json={**base, "steps": 12}).json()
    whole = np.concatenate([np.ravel(w) for w in one["weights"]])
    carried, state = chunks(True)
    restarted, _ = chunks(False)
    np.testing.assert_allclose(carried, whole, rtol=1e-9, atol=1e-12)
    assert np.max(np.abs(restarted - whole)) > 1e-4 and state["t"] == 12 and state["optimizer"] == optimizer
    bad = client.post("/api/train", json={**base, "steps": 1, "weights": one["weights"],
                                          "optimizer_state": {**state, "state": state["state"][:1]}})
    assert bad.status_code == 422 and field_of(bad) == "optimizer_state"


def test_every_loss_trains_in_its_playground(client):
    """Each loss the catalog marks for a playground fits there: every regression loss on
    the real line refits a line; every classification loss trains a few epochs on 2 classes
    (binary) or 3 (multiclass) and lowers its loss."""
    rows = client.get("/api/losses").json()
    x, y = line_with_outlier(n=60)
    regression = [r["name"] for r in rows if r["regression"]]
    assert {"mse", "mae", "huber", "quantile", "tukey"} <= set(regression)
    for name in regression:
        r = client.post("/api/fit", json={"loss": name, "x": x.tolist(), "y": y.tolist(), "predictions": False})
        assert r.status_code == 200, (name, r.json())
        assert 0.5 < r.json()["coefficients"]["slope"] < 1.1, name  # the line's slope is 0.8
    data = {k: client.post("/api/dataset", json={"name": "blobs", "n": 120, "classes": k, "seed": 2}).json()
            for k in (2, 3)}
    classification = [r for r in rows if r["classification"]]
    assert len(classification) >= 15
    for row in classification:
        d = data[2 if row["family"] == "binary" else 3]
        r = client.post("/api/train", json={"loss": row["name"], "x": d["x"], "y": d["y"], "steps": 10, "lr": 0.1,
                                            "grid": 10})
        assert r.status_code == 200, (row["name"], r.json())
        curve = r.json()["chunk"]["train_loss"]
        assert curve[-1] < curve[0] or curve[0] == 0, (row["name"], curve)


@pytest.mark.parametrize("body, field", [
    ({"loss": "hinge", "dataset_classes": 3}, "loss"),
    ({"loss": "cross_entropy", "weights": [[1.0]]}, "weights"),
    ({"loss": "cross_entropy", "batch_size": 10**4}, "batch_size"),
    ({"loss": "mse"}, "loss"),
    ({"loss": "cross_entropy", "lr": 0}, "lr"),
    ({"loss": "cross_entropy", "bad_y": True}, "y"),
])
def test_train_errors_name_the_field(client, body, field):
    data = client.post("/api/dataset", json={"name": "blobs", "n": 60, "classes": 3 if body.pop("dataset_classes", 0)
                                             else 2}).json()
    if body.pop("bad_y", False):
        data["y"] = [0] * (len(data["y"]) - 1) + [5]
    r = client.post("/api/train", json={"x": data["x"], "y": data["y"], "steps": 1, **body})
    assert r.status_code == 422 and field_of(r) == field


@pytest.mark.parametrize("name", ["blobs", "moons", "circles", "spirals", "xor", "imbalanced", "noisy"])
def test_datasets(client, name):
    classes = 3 if name in ("blobs", "spirals", "noisy") else 2
    d = client.post("/api/dataset", json={"name": name, "n": 100, "classes": classes}).json()
    assert np.array(d["x"]).shape == (100, 2) and set(d["y"]) == set(range(classes))
    if name == "moons":
        r = client.post("/api/dataset", json={"name": name, "classes": 3})
        assert r.status_code == 422 and field_of(r) == "classes"


# ----------------------------------------------------------------------------- landscape
def test_landscape_grid_and_path(client):
    r = client.post("/api/landscape", json={"loss": "mse", "steps": 60, "lr": 0.1, "size": 41}).json()
    z = np.array(r["z"], dtype=float)
    assert z.shape == (41, 41) and len(r["path"]) == 61
    assert r["path_values"][-1] < 0.2 * r["path_values"][0]
    # the grid's lowest cell sits next to where gradient descent ends (spacing 0.2)
    b, w = np.unravel_index(np.argmin(z), z.shape)
    assert abs(r["w"][w] - r["path"][-1][0]) < 0.3 and abs(r["b"][b] - r["path"][-1][1]) < 0.3
    binary = client.post("/api/landscape", json={"loss": "hinge", "task": "binary", "steps": 30}).json()
    assert binary["path_values"][-1] < binary["path_values"][0]
    wrong = client.post("/api/landscape", json={"loss": "hinge", "task": "regression"})
    assert wrong.status_code == 422 and field_of(wrong) == "loss"


def test_mlp_landscape_is_a_slice_through_the_final_weights(client):
    """The plane's origin is the final weights, so the grid's centre cell holds the path's
    last loss; the path starts higher; the directions explain most of the path (SVD)."""
    from losslab.web.compute import mlp_forward

    r = client.post("/api/landscape", json={"loss": "mse", "model": "mlp", "steps": 40, "lr": 0.1, "size": 41}).json()
    z = np.array(r["z"], dtype=float)
    assert r["path"][-1] == pytest.approx([0.0, 0.0], abs=1e-9)
    assert z[20, 20] == pytest.approx(r["path_values"][-1], rel=1e-9)
    assert r["path_values"][-1] < r["path_values"][0] and sum(r["explained"]) <= 1 + 1e-12
    net = ll.train.MLP([1, 8, 1], "tanh", seed=5)  # the batched forward is the model's
    x = np.linspace(-2, 2, 9)[:, None]
    theta = np.concatenate([p.ravel() for p in net.parameters])
    np.testing.assert_allclose(mlp_forward(theta, x, 8)[0], net.forward(x).ravel(), atol=1e-12)
    short = client.post("/api/landscape", json={"loss": "mse", "model": "mlp", "steps": 2})
    assert short.status_code == 422 and field_of(short) == "steps"


# ----------------------------------------------------------------------------- recommend, search
def csv_text(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2))
    y = X @ [1.0, -2.0] + rng.standard_t(1.5, n)
    return "a,b,target\n" + "\n".join(f"{a:.5f},{b:.5f},{t:.5f}" for (a, b), t in zip(X, y))


def test_recommend_and_search(client):
    text = csv_text()
    advice = client.post("/api/recommend", json={"csv": text, "target": "target"}).json()
    assert advice["task"] == "regression" and advice["ranking"]
    assert advice["best"] == str(ll.recommend(np.loadtxt(text.splitlines()[1:], delimiter=",")[:, 2],
                                              X=np.loadtxt(text.splitlines()[1:], delimiter=",")[:, :2]).ranking[0].label)
    result = client.post("/api/search", json={"csv": text, "target": "target", "cv": 2, "max_epochs": 30,
                                              "losses": [{"name": "mse"}, {"name": "huber", "params": {"delta": 2.0}}]})
    body = result.json()
    assert result.status_code == 200, body
    assert {row["label"] for row in body["table"]} == {"mse", "huber(delta=2)"} and body["cv"] == 2


def test_search_stream_reports_each_fit_then_the_same_result(client):
    """/api/search/stream: one {done, total} line per fit (2 losses × 2 folds = 4), counting up,
    then the answer /api/search gives for the same request (every fold is seeded)."""
    request = {"csv": csv_text(), "target": "target", "cv": 2, "max_epochs": 30,
               "losses": [{"name": "mse"}, {"name": "huber", "params": {"delta": 2.0}}]}
    with client.stream("POST", "/api/search/stream", json=request) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
        events = [json.loads(line) for line in r.iter_lines() if line]
    progress, last = events[:-1], events[-1]
    assert [(e["done"], e["total"]) for e in progress] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    plain = client.post("/api/search", json=request).json()
    assert [row["label"] for row in last["result"]["table"]] == [row["label"] for row in plain["table"]]
    assert [row["mean"] for row in last["result"]["table"]] == pytest.approx([row["mean"] for row in plain["table"]])


@pytest.mark.parametrize("body, field", [
    ({"csv": "a,b\n1,2\n3,4\n", "target": "b", "cv": 9}, "cv"),
    ({"csv": "a,b\n1,2\n3,4\n5,6\n", "target": "c"}, "target"),
    ({"csv": "a,b\n1,2\n3,4\n5,6\n", "target": "b", "losses": [{"name": "nope"}]}, "loss"),
])
def test_search_stream_errors_before_any_fit_are_plain_4xx(client, body, field):
    r = client.post("/api/search/stream", json=body)
    assert 400 <= r.status_code < 500 and field_of(r) == field


@pytest.mark.parametrize("path, body, field", [
    ("/api/recommend", {"csv": "a,b\n1,2\n3,4\n", "target": "c"}, "target"),
    ("/api/recommend", {"csv": "a,b\n1,x\n3,4\n", "target": "a"}, "csv"),
    ("/api/recommend", {"csv": "a\n", "target": "a"}, "csv"),
    ("/api/recommend", {"csv": "x" * (schemas.MAX_CSV_BYTES + 1), "target": "a"}, "csv"),
    ("/api/search", {"csv": "a,b\n1,2\n3,4\n", "target": "b", "cv": 9}, "cv"),
    ("/api/search", {"csv": "a,b\n" + "1,2\n" * (schemas.MAX_SEARCH_ROWS + 1), "target": "b"}, "csv"),
    ("/api/search", {"csv": "a,b\n1,2\n3,4\n5,6\n", "target": "b", "losses": [{"name": "nope"}]}, "loss"),
])
def test_csv_errors_name_the_field(client, path, body, field):
    r = client.post(path, json=body)
    assert 400 <= r.status_code < 500 and field_of(r) == field


# ----------------------------------------------------------------------------- pages
def test_every_page_renders(client):
    for path in ("/", "/playground/regression", "/playground/classification", "/landscape", "/choose"):
        r = client.get(path)
        assert r.status_code == 200 and "<main>" in r.text, path
    for entry in ll.catalog():
        r = client.get(f"/loss/{entry.name}")
        assert r.status_code == 200 and entry.name in r.text, entry.name
    assert "<math" in client.get("/loss/huber").text  # the formula as MathML, rendered on the server


def test_no_page_reaches_outside(client):
    """Every script and stylesheet is the app's own; unknown paths are 404, never a file."""
    for path in ("/", "/loss/huber", "/playground/regression", "/playground/classification", "/landscape",
                 "/choose"):
        text = client.get(path).text
        for ref in re.findall(r'(?:src|href)="([^"]+)"', text):
            assert not re.match(r"^(https?:)?//", ref), (path, ref)
    for path in ("/static/../app.py", "/static/%2e%2e/app.py", "/loss/..%2fapp.py", "/etc/passwd"):
        assert client.get(path).status_code == 404, path
    assert client.get("/static/plotly-cartesian.min.js").status_code == 200
    assert client.get("/static/PLOTLY-LICENSE.txt").text.startswith("MIT License")


def test_every_loss_page_example_runs():
    """The code example on each loss page runs as printed (values, gradients, traits)."""
    import contextlib
    import io

    from losslab.web import site

    for row in site.catalog_rows():
        code = site._example(row)
        with contextlib.redirect_stdout(io.StringIO()) as out:
            exec(compile(code, f"<example {row['name']}>", "exec"), {})  # our own generated code
        assert out.getvalue().strip(), row["name"]


def test_structured_loss_pages_show_their_docstring_example_with_its_printed_results():
    """Losses with no 1-D curve (embeddings, maps, sequences...) show their docstring's
    example, which exercises their real inputs; each '# → value' comment is what the line
    above it prints (the page once showed only print(L.inputs) for these)."""
    import contextlib
    import io

    from losslab.web import site

    structured = [row for row in site.catalog_rows() if row["axis"] is None]
    assert len(structured) > 30
    for row in structured:
        code = site._example(row)
        assert f"ll.{row['name']}(" in code or f"ll.get({row['name']!r}" in code, row["name"]
        expected = [line[4:] for line in code.splitlines() if line.startswith("# → ")]
        with contextlib.redirect_stdout(io.StringIO()) as out:
            exec(compile(code, f"<example {row['name']}>", "exec"), {})  # our own generated code
        printed = out.getvalue().split("\n")[:-1]
        assert len(printed) == len(expected), row["name"]
        for got, want in zip(printed, expected):  # "..." elides digits, as doctest's ELLIPSIS does
            assert re.fullmatch(re.escape(want).replace(re.escape("..."), ".*"), got), (row["name"], got, want)


def test_openapi_documents_the_api(client):
    schema = client.get("/openapi.json").json()
    for path in ("/api/losses", "/api/curve", "/api/fit", "/api/train", "/api/recommend", "/api/search"):
        assert path in schema["paths"], path
    fit = schema["components"]["schemas"]["FitRequest"]["properties"]["x"]
    assert fit["maxItems"] == schemas.MAX_POINTS


def test_static_site(tmp_path):
    from losslab.web import build_static_site

    files = build_static_site(tmp_path / "site")
    pages = {p.relative_to(tmp_path / "site").as_posix() for p in files if p.suffix == ".html"}
    assert pages == {"index.html"} | {f"loss/{e.name}.html" for e in ll.catalog()}
    index = (tmp_path / "site" / "index.html").read_text()
    assert 'href="./loss/huber.html"' in index
    huber = (tmp_path / "site" / "loss" / "huber.html").read_text()
    assert 'src="../static/plotly-cartesian.min.js"' in huber and "/api/" not in huber.split("<script src")[0]
    curve = json.loads(re.search(r'<script id="curve-data" type="application/json">(.*?)</script>', huber).group(1))
    assert curve["loss"] == "huber" and len(curve["x"]) == 201


def test_the_serve_command_starts_and_stops(tmp_path):
    """`losslab serve --port P` prints its address, answers there, and stops on SIGTERM."""
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    src = str(Path(ll.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "losslab.cli", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in line
        deadline = time.monotonic() + 60
        while True:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read().decode()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "the server did not answer within 60 s"
                time.sleep(0.2)
        assert "The catalog" in page
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_the_docs_command(tmp_path):
    typer_testing = pytest.importorskip("typer.testing")
    from losslab.cli import app

    result = typer_testing.CliRunner().invoke(app, ["docs", "--out", str(tmp_path / "site")])
    assert result.exit_code == 0, result.output
    assert f"wrote {len(ll.catalog()) + 1} pages" in result.output
    assert (tmp_path / "site" / "loss" / "mse.html").is_file()
    bad = typer_testing.CliRunner().invoke(app, ["serve", "--port", "70000"])
    assert bad.exit_code == 2 and "--port" in bad.output
