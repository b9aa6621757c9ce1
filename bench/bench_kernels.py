"""The compiled kernels (losslab.kernels) against losslab's NumPy path, scikit-learn and PyTorch (issue 17).

One run measures, side by side, value + gradient of:
- mse, huber (delta 1), log_cosh and BCE on logits, 10^7 float64 values;
- softmax cross-entropy on 65536 x 1000 logits with class-index targets, float32 and float64;
as multiples of a copy of the same bytes (reading the inputs, writing the gradient: the
memory-bandwidth bound; the faster of one and two threads).

Implementations, each writing into a reused gradient buffer where it can:
- kernels: ``losslab.kernels.distance`` / ``bce_logits`` / ``softmax_cross_entropy``
  (2 threads), "mean" reduction (scale 1/N);
- NumPy path: ``ll.get(...).value_and_gradient(..., out=)`` with ``LOSSLAB_KERNELS=0``;
- scikit-learn: ``sklearn._loss`` ``loss_gradient(..., n_threads=2)`` into preallocated
  outputs (per-sample values, no 1/N; HalfSquaredError is ½r²; no log-cosh);
- PyTorch: ``F.mse_loss`` / ``F.huber_loss`` / ``log(cosh(r)).mean()`` /
  ``binary_cross_entropy_with_logits`` / ``cross_entropy`` and ``backward()``, 2 threads.

Every implementation runs ``--repeats`` times interleaved with the others (a burst of load
on a shared machine then hits all of them), after a warm-up call (which also loads or
compiles the kernels); the table shows the best time. Also printed: ``import losslab``
time, and the kernels' first-call time in a fresh process with an empty numba cache
(compilation) and with the cache filled (loading). Run: ``python bench/bench_kernels.py``.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import losslab as ll  # noqa: E402
from losslab import kernels as K  # noqa: E402

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = None
try:
    from sklearn._loss.loss import HalfBinomialLoss, HalfMultinomialLoss, HalfSquaredError, HuberLoss
except ImportError:
    HalfSquaredError = None

THREADS = 2
_pool = ThreadPoolExecutor(THREADS)


def _split_copy(fn, *arrays):
    """fn over the arrays in two halves on two threads (the two-thread copy)."""
    half = len(arrays[0]) // 2
    futures = [_pool.submit(fn, *(a[:half] for a in arrays)), _pool.submit(fn, *(a[half:] for a in arrays))]
    for f in futures:
        f.result()


def numpy_path(loss, *arrays, out):
    """The NumPy reference path, whatever the engine does with kernels."""
    os.environ["LOSSLAB_KERNELS"] = "0"
    try:
        return loss.value_and_gradient(*arrays, out=out)
    finally:
        del os.environ["LOSSLAB_KERNELS"]


def elementwise_impls(name, y, p, out, out2):
    n = p.size
    impls = {
        "copy (1 thread)": lambda: np.add(y, p, out=out),
        "copy (2 threads)": lambda: _split_copy(lambda a, b, o: np.add(a, b, out=o), y, p, out),
    }
    if name == "bce":
        impls["kernels"] = lambda: K.bce_logits(y, p, 1.0 / n, out)
        loss = ll.get("binary_cross_entropy", from_logits=True)
    else:
        params = {"delta": 1.0} if name == "huber" else {}
        impls["kernels"] = lambda: K.distance(name, params, y, p, 1.0 / n, out)
        loss = ll.get(name, **params)
    impls["losslab NumPy path"] = lambda: numpy_path(loss, y, p, out=out)
    if HalfSquaredError is not None and name != "log_cosh":
        sk = {"mse": HalfSquaredError, "bce": HalfBinomialLoss}.get(name)
        sk = sk() if sk is not None else HuberLoss(quantile=0.5, delta=1.0)
        impls["scikit-learn _loss"] = lambda: sk.loss_gradient(y, p, loss_out=out2, gradient_out=out, n_threads=2)
    if torch is not None:
        ty, tp = torch.from_numpy(y), torch.from_numpy(p)

        def run():
            q = tp.detach().requires_grad_(True)
            if name == "mse":
                value = F.mse_loss(q, ty)
            elif name == "huber":
                value = F.huber_loss(q, ty, delta=1.0)
            elif name == "log_cosh":
                value = torch.log(torch.cosh(q - ty)).mean()
            else:
                value = F.binary_cross_entropy_with_logits(q, ty)
            value.backward()
            return value.item(), q.grad

        impls["PyTorch autograd"] = run
    return impls


def softmax_impls(z, y, out):
    n, c = z.shape
    loss = ll.get("cross_entropy", from_logits=True)
    impls = {
        "copy (1 thread)": lambda: np.copyto(out, z),
        "copy (2 threads)": lambda: _split_copy(lambda a, o: np.copyto(o, a), z, out),
        "kernels": lambda: K.softmax_cross_entropy(z, y, 1.0 / n, out),
        "losslab NumPy path": lambda: numpy_path(loss, y, z, out=out),
    }
    if HalfSquaredError is not None:
        sk = HalfMultinomialLoss(n_classes=c)
        y_float = y.astype(z.dtype)
        loss_out = np.empty(n, dtype=z.dtype)
        impls["scikit-learn _loss"] = lambda: sk.loss_gradient(y_float, z, loss_out=loss_out, gradient_out=out,
                                                               n_threads=2)
    if torch is not None:
        zt, yt = torch.from_numpy(z), torch.from_numpy(y)

        def run():
            q = zt.detach().requires_grad_(True)
            value = F.cross_entropy(q, yt)
            value.backward()
            return value.item(), q.grad

        impls["PyTorch autograd"] = run
    return impls


def time_all(impls, repeats):
    """{name: (best wall time, best CPU time of the process)}: on a loaded machine the CPU
    time (all threads) still measures the work each implementation does."""
    for f in impls.values():
        f()
    times = {name: [] for name in impls}
    cpu = {name: [] for name in impls}
    for _ in range(repeats):
        for name, f in impls.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            f()
            times[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return {name: (min(times[name]), min(cpu[name])) for name in impls}


def check(case, kernel_total, scale, reference):
    """The kernels compute the NumPy path's numbers (a guard on the benchmark, not a test)."""
    ref_value = float(reference[0])
    kernel_value = None if kernel_total is None else kernel_total * scale
    assert kernel_value is not None and abs(kernel_value - ref_value) <= 1e-5 * max(1.0, abs(ref_value)), (
        case, kernel_value, ref_value)


def rows(case, times):
    one, two = times.pop("copy (1 thread)"), times.pop("copy (2 threads)")
    copy, copy_cpu = min(one[0], two[0]), one[1]
    ours, ours_cpu = times["kernels"]
    lines = [f"| {case} | copy | {copy * 1e3:.1f} | 1.00 | | {copy_cpu * 1e3:.0f} | |"]
    for name, (t, c) in times.items():
        faster = "" if name == "kernels" else f"{t / ours:.1f}x"
        faster_cpu = "" if name == "kernels" else f"{c / ours_cpu:.1f}x"
        lines.append(f"| {case} | {name} | {t * 1e3:.1f} | {t / copy:.2f} | {faster} | {c * 1e3:.0f} | {faster_cpu} |")
    return lines


def startup_times():
    """(import losslab, first kernel call with an empty cache, first call with it filled), seconds."""
    code_import = "import time; t = time.perf_counter(); import losslab; print(time.perf_counter() - t)"
    code_first = (
        "import time, numpy as np; from losslab import kernels as K; y = np.zeros(10); g = np.empty(10);"
        " t = time.perf_counter(); K.distance('huber', {}, y, y, 1.0, g); print(time.perf_counter() - t)"
    )
    imports = [float(subprocess.run([sys.executable, "-c", code_import], capture_output=True, text=True,
                                    check=True).stdout) for _ in range(5)]
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)  # numba then caches there, not in __pycache__
        first = [float(subprocess.run([sys.executable, "-c", code_first], capture_output=True, text=True,
                                      check=True, env=env).stdout) for _ in range(2)]
    return min(imports), first[0], first[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10**7)
    parser.add_argument("--rows", type=int, default=65536)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--all", action="store_true", help="also time every distance and margin kernel")
    args = parser.parse_args()
    if torch is not None:
        torch.set_num_threads(THREADS)
    K.set_num_threads(THREADS)
    rng = np.random.default_rng(0)
    lines = ["| case | implementation | best ms | x copy | kernels faster by | CPU ms | by CPU |",
             "|---|---|---:|---:|---:|---:|---:|"]

    y = rng.normal(size=args.n)
    p = y + rng.normal(size=args.n)
    out, out2 = np.empty_like(p), np.empty_like(p)
    for name in ("mse", "huber", "log_cosh"):
        impls = elementwise_impls(name, y, p, out, out2)
        check(name, impls["kernels"](), 1.0 / args.n, numpy_path(ll.get(name), y, p, out=out2))
        lines += rows(f"{name}, {args.n:.0e} float64", time_all(impls, args.repeats))
    z = rng.normal(0.0, 3.0, size=args.n)
    t = rng.integers(0, 2, size=args.n).astype(np.float64)
    impls = elementwise_impls("bce", t, z, out, out2)
    check("bce", impls["kernels"](), 1.0 / args.n, numpy_path(ll.get("bce", from_logits=True), t, z, out=out2))
    lines += rows(f"BCE on logits, {args.n:.0e} float64", time_all(impls, args.repeats))
    del y, p, z, t, out, out2, impls

    for dtype in (np.float32, np.float64):
        logits = rng.normal(0.0, 2.0, size=(args.rows, args.classes)).astype(dtype)
        labels = rng.integers(0, args.classes, size=args.rows)
        out = np.empty_like(logits)
        impls = softmax_impls(logits, labels, out)
        check("softmax", impls["kernels"](), 1.0 / args.rows,
              numpy_path(ll.get("cross_entropy", from_logits=True), labels, logits, out=np.empty_like(logits)))
        lines += rows(f"softmax CE {args.rows}x{args.classes} {np.dtype(dtype).name}", time_all(impls, args.repeats))
        del logits, out, impls

    if args.all:
        lines += ["", "| every elementwise kernel, 1e7 float64 | best ms | x copy | CPU ms | x copy (CPU) |",
                  "|---|---:|---:|---:|---:|"]
        y = rng.normal(size=args.n)
        p = y + rng.normal(size=args.n)
        labels = np.where(rng.random(args.n) < 0.5, -1.0, 1.0)
        out = np.empty_like(p)
        impls = {"copy (1 thread)": lambda: np.add(y, p, out=out),
                 "copy (2 threads)": lambda: _split_copy(lambda a, b, o: np.add(a, b, out=o), y, p, out)}
        for name in K.DISTANCE_LOSSES:
            impls[name] = lambda name=name: K.distance(name, {}, y, p, 1.0 / args.n, out)
        for name in K.MARGIN_LOSSES:
            impls[name] = lambda name=name: K.margin(name, {}, labels, p, 1.0 / args.n, out)
        times = time_all(impls, args.repeats)
        one, two = times.pop("copy (1 thread)"), times.pop("copy (2 threads)")
        copy, copy_cpu = min(one[0], two[0]), one[1]
        for name, (t, c) in times.items():
            lines.append(f"| {name} | {t * 1e3:.1f} | {t / copy:.2f} | {c * 1e3:.0f} | {c / copy_cpu:.2f} |")
        del y, p, labels, out, impls

    import numba

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, load average {load:.1f} at the end; NumPy"
        f" {np.__version__}, numba {numba.__version__}, PyTorch {getattr(torch, '__version__', 'absent')};"
        f" best of {args.repeats}.\n"
    )
    print("\n".join(lines))
    imported, compiled, cached = startup_times()
    print(f"\nimport losslab: {imported * 1e3:.0f} ms (best of 5, fresh processes; numba not imported)")
    print(f"first kernel call, empty numba cache (import numba + compile one loop): {compiled:.2f} s")
    print(f"first kernel call, cache filled (import numba + load from disk): {cached:.2f} s")


if __name__ == "__main__":
    main()
