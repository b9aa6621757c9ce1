"""The softmax cross-entropy kernel's arithmetic alone: ns per logit on one thread, in cache and
out of it, beside a one-thread copy (issue 17).

128 rows x 1000 classes (0.5 MB in float32, in L2) timed 512 times over measures the kernel
with memory playing no part; 65536 rows (262 MB) once, as bench_kernels.py does. The copy is
``np.copyto`` of the 65536-row logits. Best CPU time of 5. Run: ``python bench/softmax_in_cache.py``.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from losslab import kernels as K  # noqa: E402


def ns_per_logit(fn, repeats: int, logits: int) -> float:
    fn()
    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        for _ in range(repeats):
            fn()
        best = min(best, time.process_time() - start)
    return best / (repeats * logits) * 1e9


def main() -> None:
    K.set_num_threads(1)
    rng = np.random.default_rng(0)
    print("| dtype | kernel in cache (128 rows) | kernel out of cache (65536 rows) | copy (65536 rows) |")
    print("|---|---:|---:|---:|")
    for dtype in (np.float32, np.float64):
        cells = []
        for rows in (128, 65536):
            z = rng.normal(size=(rows, 1000)).astype(dtype)
            t = rng.integers(0, 1000, rows)
            out = np.empty_like(z)
            cells.append(ns_per_logit(lambda: K.softmax_cross_entropy(z, t, 1.0 / rows, out), 65536 // rows, z.size))
        copy = ns_per_logit(lambda: np.copyto(out, z), 1, z.size)
        print(f"| {np.dtype(dtype).name} | {cells[0]:.3f} ns | {cells[1]:.3f} ns | {copy:.3f} ns |")


if __name__ == "__main__":
    main()
