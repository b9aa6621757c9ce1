"""Classification losses, value + gradient, side by side in one process (issue 3).

Cases:
- softmax cross-entropy on N = 65536 x C = 1000 logits with class-index targets, float32
  and float64, "mean" reduction;
- binary cross-entropy with logits on n = 10^7 float64.

Implementations: losslab (``value_and_gradient``, with ``out=`` reusing the gradient buffer,
and without it), plain NumPy as it is usually written, PyTorch CPU autograd
(torch.set_num_threads(2)), and scikit-learn's private ``sklearn._loss`` (HalfMultinomialLoss
/ HalfBinomialLoss, ``loss_gradient`` with n_threads=2 and preallocated outputs; it returns
per-sample gradients, so it skips the 1/N scaling the others do). Each time is also given as
a multiple of a copy of the same bytes: reading the inputs and writing the gradient
(``np.copyto`` of the logits for cross-entropy, ``np.add(y, z, out=)`` for BCE), the
memory-bandwidth bound.

Every implementation runs ``--repeats`` times, interleaved with the others (so that a burst
of load on a shared machine hits all of them), after one warm-up; the table shows the best
time. Run: ``python bench/bench_classification.py`` (prints a markdown table).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # BLAS pinned: no oversubscription in threads
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import losslab as ll  # noqa: E402


def _maybe(name):
    try:
        return __import__(name)
    except ImportError:
        return None


torch = _maybe("torch")
try:
    from sklearn._loss.loss import HalfBinomialLoss, HalfMultinomialLoss
except ImportError:  # scikit-learn absent or its private module moved
    HalfBinomialLoss = HalfMultinomialLoss = None


# ----------------------------------------------------------------------------- cross-entropy
def cross_entropy_impls(z: np.ndarray, y: np.ndarray) -> dict:
    n, c = z.shape
    out = np.empty_like(z)
    loss = ll.CrossEntropy(from_logits=True)
    rows = np.arange(n)
    impls = {
        "copy": lambda: np.copyto(out, z),
        "losslab (out=)": lambda: loss.value_and_gradient(y, z, out=out),
        "losslab": lambda: loss.value_and_gradient(y, z),
    }

    def numpy_plain():
        m = z.max(axis=1, keepdims=True)
        e = np.exp(z - m)
        s = e.sum(axis=1, keepdims=True)
        value = np.mean(np.log(s[:, 0]) + m[:, 0] - z[rows, y])
        grad = e / s
        grad[rows, y] -= 1.0
        grad /= n
        return value, grad

    impls["NumPy (plain)"] = numpy_plain
    if torch is not None:
        zt = torch.from_numpy(z).requires_grad_(True)
        yt = torch.from_numpy(y)

        def torch_autograd():
            zt.grad = None
            value = torch.nn.functional.cross_entropy(zt, yt)
            value.backward()
            return float(value.detach()), zt.grad

        impls["PyTorch autograd"] = torch_autograd
    if HalfMultinomialLoss is not None:
        sk = HalfMultinomialLoss(n_classes=c)
        y_float = y.astype(z.dtype)
        loss_out = np.empty(n, dtype=z.dtype)
        grad_out = np.empty_like(z)

        def sklearn_loss():
            sk.loss_gradient(y_float, z, loss_out=loss_out, gradient_out=grad_out, n_threads=2)
            return float(loss_out.mean()), grad_out

        impls["scikit-learn _loss"] = sklearn_loss
    return impls


# ----------------------------------------------------------------------------- binary CE
def binary_impls(z: np.ndarray, y: np.ndarray) -> dict:
    n = z.size
    out = np.empty_like(z)
    loss = ll.BinaryCrossEntropy(from_logits=True)
    impls = {
        "copy": lambda: np.add(y, z, out=out),
        "losslab (out=)": lambda: loss.value_and_gradient(y, z, out=out),
        "losslab": lambda: loss.value_and_gradient(y, z),
    }

    def numpy_plain():
        value = np.mean(np.maximum(z, 0.0) - z * y + np.log1p(np.exp(-np.abs(z))))
        grad = (1.0 / (1.0 + np.exp(-z)) - y) / n
        return value, grad

    impls["NumPy (plain)"] = numpy_plain
    if torch is not None:
        zt = torch.from_numpy(z).requires_grad_(True)
        yt = torch.from_numpy(y)

        def torch_autograd():
            zt.grad = None
            value = torch.nn.functional.binary_cross_entropy_with_logits(zt, yt)
            value.backward()
            return float(value.detach()), zt.grad

        impls["PyTorch autograd"] = torch_autograd
    if HalfBinomialLoss is not None:
        sk = HalfBinomialLoss()
        loss_out = np.empty_like(z)
        grad_out = np.empty_like(z)

        def sklearn_loss():
            sk.loss_gradient(y, z, loss_out=loss_out, gradient_out=grad_out, n_threads=2)
            return float(loss_out.mean()), grad_out

        impls["scikit-learn _loss"] = sklearn_loss
    return impls


# ----------------------------------------------------------------------------- timing
def time_all(impls: dict, repeats: int) -> dict:
    for f in impls.values():  # warm-up: first-touch of buffers, thread pools, JIT-free paths
        f()
    times = {name: [] for name in impls}
    for _ in range(repeats):
        for name, f in impls.items():
            start = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - start)
    return {name: min(ts) for name, ts in times.items()}


def check_agreement(impls: dict) -> None:
    """The implementations compute the same numbers (guards the benchmark itself)."""
    ours = impls["losslab"]()
    ref = impls["NumPy (plain)"]()
    assert abs(float(ours[0]) - float(ref[0])) <= 1e-4 * abs(float(ref[0])), (ours[0], ref[0])
    scale = float(np.max(np.abs(ref[1])))
    assert float(np.max(np.abs(np.asarray(ours[1]) - ref[1]))) <= 1e-4 * scale


def rows_for(case: str, times: dict) -> list[str]:
    copy = times["copy"]
    ours = times["losslab (out=)"]
    out = []
    for name, t in times.items():
        ratio = "" if name.startswith("losslab") or name == "copy" else f"{t / ours:.1f}x"
        out.append(f"| {case} | {name} | {t * 1e3:.0f} | {t / copy:.2f} | {ratio} |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=65536)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--binary", type=int, default=10**7)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    if torch is not None:
        torch.set_num_threads(2)
    rng = np.random.default_rng(0)

    lines = [
        "| case | implementation | best ms | x copy | losslab (out=) faster by |",
        "|---|---|---:|---:|---:|",
    ]
    for dtype in (np.float32, np.float64):
        z = rng.normal(0.0, 2.0, size=(args.rows, args.classes)).astype(dtype)
        y = rng.integers(0, args.classes, size=args.rows)
        impls = cross_entropy_impls(z, y)
        check_agreement(impls)
        case = f"softmax CE {args.rows}x{args.classes} {np.dtype(dtype).name}"
        lines += rows_for(case, time_all(impls, args.repeats))
        del z, impls
    z = rng.normal(0.0, 3.0, size=args.binary)
    y = rng.integers(0, 2, size=args.binary).astype(np.float64)
    impls = binary_impls(z, y)
    check_agreement(impls)
    lines += rows_for(f"BCE with logits {args.binary:.0e} float64", time_all(impls, args.repeats))

    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average"
        f" {load[0]:.1f} at the end; NumPy {np.__version__}, PyTorch {getattr(torch, '__version__', 'absent')},"
        f" losslab {ll.__version__}; best of {args.repeats}.\n"
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
