"""Value + gradient of mse, huber and log_cosh on 10^7 float64 values, side by side.

Run: python bench/bench_regression.py [--n 10000000] [--repeat 7]

Compares, in one process and on the same arrays: losslab (fresh gradient array, and a
reused ``out=`` buffer), NumPy written plainly, PyTorch CPU autograd (2 threads) and
scikit-learn's private ``sklearn._loss`` (n_threads=2, reused output buffers). Each time
is the best of ``--repeat`` runs, also shown as a multiple of copying the same bytes
(read y_true and y_pred, write one array: the memory-bandwidth bound; the faster of one
thread and two threads).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np

import losslab as ll


def best_time(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def copy_time(y_true, y_pred, out, repeat):
    one = best_time(lambda: np.add(y_true, y_pred, out=out), repeat)
    half = len(out) // 2
    pool = ThreadPoolExecutor(2)

    def two():
        a = pool.submit(np.add, y_true[:half], y_pred[:half], out=out[:half])
        b = pool.submit(np.add, y_true[half:], y_pred[half:], out=out[half:])
        a.result(), b.result()

    return min(one, best_time(two, repeat))


def plain_numpy(name):
    def mse(y, p):
        r = p - y
        return np.mean(r * r), 2.0 * r / r.size

    def huber(y, p, delta=1.0):
        r = p - y
        a = np.abs(r)
        value = np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta)).mean()
        return value, np.clip(r, -delta, delta) / r.size

    def log_cosh(y, p):
        r = p - y
        return np.mean(np.log(np.cosh(r))), np.tanh(r) / r.size

    return {"mse": mse, "huber": huber, "log_cosh": log_cosh}[name]


def torch_autograd(name):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(2)

    def run(ty, tp):
        p = tp.detach().requires_grad_(True)
        if name == "mse":
            loss = F.mse_loss(p, ty)
        elif name == "huber":
            loss = F.huber_loss(p, ty, delta=1.0)
        else:
            loss = torch.log(torch.cosh(p - ty)).mean()
        loss.backward()
        return loss.item(), p.grad

    return run


def sklearn_loss(name):
    try:
        from sklearn._loss.loss import HalfSquaredError, HuberLoss
    except ImportError:
        return None
    if name == "mse":
        loss = HalfSquaredError()
    elif name == "huber":
        loss = HuberLoss(quantile=0.5, delta=1.0)  # a fixed delta; sklearn names it so
    else:
        return None  # scikit-learn has no log-cosh

    def run(y, p, loss_out, grad_out):
        loss.loss_gradient(y, p, loss_out=loss_out, gradient_out=grad_out, n_threads=2)
        return loss_out.mean(), grad_out

    return run


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10**7)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    y_true = rng.normal(size=args.n)
    y_pred = y_true + rng.normal(size=args.n)
    out = np.empty_like(y_true)
    out2 = np.empty_like(y_true)
    copy = copy_time(y_true, y_pred, out, args.repeat)
    print(f"# value + gradient, n = {args.n:,} float64, {os.cpu_count()} cores, {platform.processor() or platform.machine()}")
    print(f"copy (read 2 arrays, write 1): {copy * 1e3:.1f} ms\n")
    print("| loss | implementation | time (ms) | x copy | losslab (out=) faster by |")
    print("|---|---|---:|---:|---:|")
    torch = None
    try:
        import torch
    except ImportError:
        pass
    for name in ("mse", "huber", "log_cosh"):
        loss = ll.get(name)
        rows = []
        ours_out = best_time(lambda: loss.value_and_gradient(y_true, y_pred, out=out), args.repeat)
        rows.append(("losslab, out= buffer", ours_out))
        rows.append(("losslab, fresh array", best_time(lambda: loss.value_and_gradient(y_true, y_pred), args.repeat)))
        fn = plain_numpy(name)
        rows.append(("NumPy, plain", best_time(lambda: fn(y_true, y_pred), args.repeat)))
        if torch is not None:
            run = torch_autograd(name)
            ty, tp = torch.from_numpy(y_true), torch.from_numpy(y_pred)
            rows.append(("PyTorch autograd (2 threads)", best_time(lambda: run(ty, tp), args.repeat)))
        sk = sklearn_loss(name)
        if sk is not None:
            rows.append(("scikit-learn _loss (2 threads, out buffers)",
                         best_time(lambda: sk(y_true, y_pred, out, out2), args.repeat)))
        for label, t in rows:
            speedup = "" if label.startswith("losslab") else f"{t / ours_out:.1f}x"
            print(f"| {name} | {label} | {t * 1e3:.1f} | {t / copy:.2f} | {speedup} |")
    # Check that the numbers agree while we are here (not a test: a sanity line).
    v, g = ll.huber.__wrapped_loss__().value_and_gradient(y_true, y_pred)
    pv, pg = plain_numpy("huber")(y_true, y_pred)
    assert abs(v - pv) <= 1e-12 * abs(pv) and np.allclose(g, pg, rtol=1e-12, atol=0)


if __name__ == "__main__":
    main()
