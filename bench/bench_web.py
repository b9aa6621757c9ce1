"""The explorer's live refit: server time of POST /api/fit on 2,000 points (issue 15).

Dragging a point in the regression playground refits every chosen loss; the goal is a
median of at most 50 ms server time for the linear model under one loss. Measured here
through FastAPI's test client: the server time is the app's Server-Timing header (from the
request's arrival to the answer: JSON parsing, validation, the fit with ``ll.fit``, the
constant the loss estimates, the JSON answer; no network), and, separately, the ``time_ms``
the endpoint reports for the fit and the constant alone. Two cases: a cold fit (from the model's
initial weights) and the playground's case, a drag: one point moved and the fit started
from the previous answer's line (``start``). Each loss runs ``--repeats`` times after one
warm-up, interleaved so that a burst of load on a shared machine hits all of them.

Run: ``python bench/bench_web.py`` (prints a markdown table). Needs the web extra.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import warnings  # noqa: E402

import numpy as np  # noqa: E402

with warnings.catch_warnings():  # Starlette's notice that its test client will move to httpx2
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient  # noqa: E402

from losslab.web import create_app  # noqa: E402

LOSSES = ("mse", "huber", "mae", "quantile", "log_cosh", "cauchy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="points per refit")
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, args.n)
    y = 1.0 + 0.8 * x + rng.standard_normal(args.n)
    y[: args.n // 20] += 15.0  # 5% outliers, as a user drags them in
    client = TestClient(create_app())
    dragged = y.copy()
    dragged[-1] += 3.0
    bodies = {}
    for loss in LOSSES:  # warm-up (imports, first allocations) and the line a drag starts from
        first = client.post("/api/fit", json={"loss": loss, "x": x.tolist(), "y": y.tolist()})
        assert first.status_code == 200, first.text
        # as the playground asks: the line, not the 2,000 predictions
        bodies[(loss, "cold")] = {"loss": loss, "x": x.tolist(), "y": dragged.tolist(), "predictions": False}
        bodies[(loss, "drag")] = {**bodies[(loss, "cold")], "start": first.json()["coefficients"]}
    request_ms: dict = {key: [] for key in bodies}
    fit_ms: dict = {key: [] for key in bodies}
    epochs: dict = {}
    for _ in range(args.repeats):
        for key, body in bodies.items():
            r = client.post("/api/fit", json=body)
            request_ms[key].append(float(r.headers["server-timing"].split("dur=")[1]))
            answer = r.json()
            fit_ms[key].append(answer["time_ms"])
            epochs[key] = answer["epochs"]
    print(f"# POST /api/fit, linear model, n = {args.n:,} points, median of {args.repeats}, "
          f"{os.cpu_count()} cores, {platform.machine()}, load average {os.getloadavg()[0]:.1f}")
    print()
    print("| loss | fit | server time (ms) | fit + constant (ms) | L-BFGS iterations | goal ≤ 50 ms |")
    print("|---|---|---:|---:|---:|---|")
    for (loss, kind), times in request_ms.items():
        med = statistics.median(times)
        print(f"| {loss} | {'cold' if kind == 'cold' else 'drag (warm start)'} | {med:.1f} | "
              f"{statistics.median(fit_ms[(loss, kind)]):.1f} | {epochs[(loss, kind)]} | {'yes' if med <= 50 else 'no'} |")


if __name__ == "__main__":
    main()
