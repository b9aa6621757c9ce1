"""The explorer's live refit: server time of POST /api/fit on 2,000 points (issue 15).

Dragging a point in the regression playground refits every chosen loss; the goal is a
median of at most 50 ms server time for the linear model under one loss. Measured here
through FastAPI's test client (the whole request: JSON parsing, validation, the fit with
``ll.fit``, the constant the loss estimates, the JSON answer), and, separately, the
``time_ms`` the endpoint reports for its own work. Each loss runs ``--repeats`` times after
one warm-up, interleaved so that a burst of load on a shared machine hits all of them.

Run: ``python bench/bench_web.py`` (prints a markdown table). Needs the web extra.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
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
    bodies = {loss: {"loss": loss, "x": x.tolist(), "y": y.tolist()} for loss in LOSSES}
    request_ms: dict[str, list[float]] = {loss: [] for loss in LOSSES}
    fit_ms: dict[str, list[float]] = {loss: [] for loss in LOSSES}
    epochs: dict[str, int] = {}
    for loss in LOSSES:  # warm-up: imports, first allocations
        assert client.post("/api/fit", json=bodies[loss]).status_code == 200
    for _ in range(args.repeats):
        for loss in LOSSES:
            t = time.perf_counter()
            r = client.post("/api/fit", json=bodies[loss])
            request_ms[loss].append(1000 * (time.perf_counter() - t))
            body = r.json()
            fit_ms[loss].append(body["time_ms"])
            epochs[loss] = body["epochs"]
    print(f"# POST /api/fit, linear model, n = {args.n:,} points, median of {args.repeats}, "
          f"{os.cpu_count()} cores, {platform.machine()}")
    print()
    print("| loss | request (ms) | fit + constant (ms) | L-BFGS iterations | goal ≤ 50 ms |")
    print("|---|---:|---:|---:|---|")
    for loss in LOSSES:
        med = statistics.median(request_ms[loss])
        print(f"| {loss} | {med:.1f} | {statistics.median(fit_ms[loss]):.1f} | {epochs[loss]} | "
              f"{'yes' if med <= 50 else 'no'} |")


if __name__ == "__main__":
    main()
