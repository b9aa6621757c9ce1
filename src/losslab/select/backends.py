"""Where the fits of a search run: joblib's loky, threading or sequential backends, a
dask.distributed cluster, or Ray; one fit is ``folds._fit_and_score``, seeded, so the
table does not depend on the backend.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

import numpy as np

from .._progress import track
from .folds import _fit_and_score

BACKENDS = ("loky", "threading", "sequential", "dask", "ray")


def run_fits(jobs: list[tuple[int, int]], specs: list[tuple[str, dict]], folds: list, task: str, est_params: dict,
             X: np.ndarray, y: np.ndarray, metric_name: str, n_jobs: int | None, backend: str, scheduler: Any,
             progress: bool | Callable[[int, int], Any] | None) -> np.ndarray:
    """Scores of every (candidate, fold) job, shape (candidates, folds). A callable
    ``progress`` is called as ``progress(done, total)`` in this thread as each fit ends."""
    import joblib

    calls = [joblib.delayed(_fit_and_score)(task, specs[i][0], specs[i][1], est_params, X, y, folds[j][0], folds[j][1],
                                            metric_name) for i, j in jobs]
    report = progress if callable(progress) else None
    show = (False if report is not None else progress if progress is not None
            else (len(calls) > 20 and sys.stderr.isatty()))
    config: dict[str, Any] = {"backend": backend}
    client, own_client = None, False
    if backend == "dask":
        client, own_client = _dask_client(scheduler)
        config["client"] = client
    elif backend == "ray":
        try:
            from ray.util.joblib import register_ray
        except ImportError:
            raise ImportError("backend='ray' needs Ray: pip install 'losslab[ray]' (or pip install ray), or use "
                              "backend='loky' or 'dask'") from None
        register_ray()
    elif scheduler is not None:
        raise ValueError(f"scheduler is for backend='dask'; got scheduler={scheduler!r} with backend={backend!r}")
    if n_jobs is None:
        n_jobs = -1 if backend in ("dask", "ray") else 1
    try:
        with joblib.parallel_config(**config):
            results = joblib.Parallel(n_jobs=n_jobs, return_as="generator")(calls)
            values = []
            for value in track(results, len(calls), "cross-validating losses", enabled=show):
                values.append(value)
                if report is not None:
                    report(len(values), len(calls))
    finally:
        if own_client:
            client.close()
    scores = np.full((len(specs), len(folds)), np.nan)
    for (i, j), v in zip(jobs, values):
        scores[i, j] = v
    return scores


def _dask_client(scheduler: Any) -> tuple[Any, bool]:
    try:
        from distributed import Client, get_client
    except ImportError:
        raise ImportError("backend='dask' needs dask.distributed: pip install 'losslab[dask]'") from None
    if isinstance(scheduler, Client):
        return scheduler, False
    address = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if address:
        if not isinstance(address, str):
            raise TypeError(f"scheduler must be an address such as 'tcp://10.0.0.5:8786' or a distributed Client; "
                            f"got {address!r}")
        try:
            return Client(address, set_as_default=False, timeout=30), True
        except OSError as exc:
            raise OSError(f"cannot reach the dask scheduler at {address!r}: {exc}") from None
    try:
        return get_client(), False
    except ValueError:
        raise ValueError("backend='dask' needs a cluster: pass scheduler='tcp://HOST:8786', set DASK_SCHEDULER_ADDRESS,"
                         " or create a distributed.Client first") from None
