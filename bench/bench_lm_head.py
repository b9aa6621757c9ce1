"""Benchmark: the language-model head loss, chunked (linear_cross_entropy) against naive logits.

Value and gradients (hidden, weight, bias) of the softmax cross-entropy of
``hidden @ weight.T + bias``, N tokens, width d, vocabulary V, float32. Four variants, each
in its own subprocess so that one's memory does not count against another's:

- ``numpy-naive``: the N x V logits written plainly; ``numpy-naive-inplace``: the same
  with every step in place (the least memory the naive method can use);
- ``numpy-chunked``: ``LinearCrossEntropy().value_and_gradient``;
- ``torch-naive``: ``cross_entropy(hidden @ weight.T + bias, targets)`` and ``backward()``;
- ``torch-chunked``: ``linear_cross_entropy(...)`` and ``backward()`` (autograd.Function);
- ``torch-F.linear`` and ``torch-F.linear-options``: PyTorch's own
  ``F.linear_cross_entropy(hidden, weight, targets, linear_bias=bias)``, without and with
  ``options=torch.nn.LinearCrossEntropyOptions()`` (its chunked implementation; PyTorch
  2.13 and later, reported as absent otherwise);
- ``numpy-filtered``: ``LinearCrossEntropy(filter_eps=--filter-eps)`` (Cut Cross-Entropy's
  gradient filtering); after its timing and memory are taken, the exact gradients are
  computed in the same process and the relative errors of the filtered ones printed, with
  the fraction of vocabulary blocks skipped and the loss's own report.

``--logit-std`` scales the output matrix so that the logits have that standard deviation:
1 (the default) gives a nearly uniform softmax, where nothing can be filtered; a trained LM
head is much more peaked (try 4).

Time: the best of ``--repeat`` runs of value + gradients. Peak extra memory: the process's
peak resident set (ru_maxrss) minus its resident set once the inputs exist, so it counts
every temporary and the gradients themselves, and also what the libraries keep for
themselves (BLAS's per-thread buffers, SciPy's import). For the NumPy variants, "arrays" is
the peak of the arrays alone (tracemalloc, on one more call) and "beyond grads" that peak less
the gradients: the working memory the computation itself needs.

    python bench/bench_lm_head.py                      # N=4096, d=1024, V=65536 (minutes, up to 5 GB)
    python bench/bench_lm_head.py --n 512 --vocab 8192 # a quick check
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

VARIANTS = ("numpy-naive", "numpy-naive-inplace", "numpy-chunked", "numpy-filtered", "torch-naive", "torch-chunked",
            "torch-F.linear", "torch-F.linear-options")


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _inputs(n: int, d: int, vocab: int, logit_std: float = 1.0):
    import numpy as np

    rng = np.random.default_rng(0)
    # scaled in place: a temporary copy of the weight would raise the process's peak resident
    # set before the measurement starts, and ru_maxrss would count it against every variant
    hidden = rng.standard_normal((n, d), dtype=np.float32)
    hidden /= np.float32(np.sqrt(d))
    weight = rng.standard_normal((vocab, d), dtype=np.float32)
    weight *= np.float32(logit_std)
    bias = rng.standard_normal(vocab, dtype=np.float32) * 0.1
    targets = rng.integers(0, vocab, size=n)
    return hidden, weight, bias, targets


def numpy_naive(hidden, weight, bias, targets):
    """The N x V logits, written plainly (as DESIGN §6 asks of the NumPy baseline)."""
    import numpy as np

    n, rows = hidden.shape[0], np.arange(hidden.shape[0])
    logits = hidden @ weight.T + bias
    logits = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    loss = float(-np.mean(np.log(p[rows, targets])))
    g = p.copy()
    g[rows, targets] -= 1.0
    g /= n
    return loss, (g @ weight, g.T @ hidden, g.sum(axis=0))


def numpy_naive_inplace(hidden, weight, bias, targets):
    """The N x V logits, but every step in place: the least memory the naive method can use."""
    import numpy as np

    n, rows = hidden.shape[0], np.arange(hidden.shape[0])
    logits = hidden @ weight.T
    logits += bias
    logits -= logits.max(axis=1, keepdims=True)
    target = logits[rows, targets].copy()
    np.exp(logits, out=logits)
    sums = logits.sum(axis=1)
    loss = float(np.mean(np.log(sums) - target))
    logits /= sums[:, None] * n  # (softmax − onehot) / N
    logits[rows, targets] -= 1.0 / n
    return loss, (logits @ weight, logits.T @ hidden, logits.sum(axis=0))


def run_variant(variant: str, n: int, d: int, vocab: int, repeat: int, chunk: int | None,
                logit_std: float = 1.0, filter_eps: float = 2.0**-12) -> dict:
    import numpy as np

    hidden, weight, bias, targets = _inputs(n, d, vocab, logit_std)
    if variant.startswith("torch"):
        import torch
        import torch.nn.functional as F

        torch.set_num_threads(os.cpu_count() or 1)
        hidden, weight, bias = (torch.from_numpy(x).requires_grad_() for x in (hidden, weight, bias))
        targets = torch.from_numpy(targets)
        if variant.startswith("torch-F.linear") and not hasattr(F, "linear_cross_entropy"):
            return {"variant": variant, "absent": f"torch {torch.__version__} has no F.linear_cross_entropy"}
    import losslab as ll

    L = ll.LinearCrossEntropy(chunk_size=chunk, filter_eps=filter_eps if variant == "numpy-filtered" else None)
    grads = {}

    def once():
        if variant == "numpy-naive":
            return numpy_naive(hidden, weight, bias, targets)[0]
        if variant == "numpy-naive-inplace":
            return numpy_naive_inplace(hidden, weight, bias, targets)[0]
        if variant in ("numpy-chunked", "numpy-filtered"):
            value, grads["last"] = L.value_and_gradient(hidden, weight, targets, bias=bias)
            return float(value)
        for t in (hidden, weight, bias):
            t.grad = None
        if variant == "torch-naive":
            loss = F.cross_entropy(hidden @ weight.T + bias, targets)
        elif variant.startswith("torch-F.linear"):
            options = torch.nn.LinearCrossEntropyOptions() if variant.endswith("options") else None
            loss = F.linear_cross_entropy(hidden, weight, targets, linear_bias=bias, options=options)
        else:
            loss = L(hidden, weight, targets, bias=bias)
        loss.backward()
        return loss.item()

    base = _rss_mib()
    times, loss = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        loss = once()
        times.append(time.perf_counter() - start)
    result = {"variant": variant, "time_s": min(times), "peak_extra_mib": _peak_mib() - base, "loss": loss}
    if variant.startswith("numpy"):
        # NumPy reports its array allocations to tracemalloc; BLAS's own thread buffers and the
        # interpreter's imports are not arrays, so this peak is the computation's memory alone
        # (the gradients included), measured on one more call after the timed ones.
        import tracemalloc

        grads.clear()
        tracemalloc.start()
        once()
        result["traced_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    if variant == "numpy-filtered":
        exact = ll.LinearCrossEntropy(chunk_size=chunk).value_and_gradient(hidden, weight, targets, bias=bias)[1]
        result["relative_errors"] = [float(np.linalg.norm(g - e) / np.linalg.norm(e)) for g, e in zip(grads["last"], exact)]
        result["report"] = L.last_filter_report
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=4096)
    parser.add_argument("--d", type=int, default=1024)
    parser.add_argument("--vocab", type=int, default=65536)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=None, help="chunk_size (default: the loss's own)")
    parser.add_argument("--logit-std", type=float, default=1.0, help="standard deviation of the logits")
    parser.add_argument("--filter-eps", type=float, default=2.0**-12, help="numpy-filtered's filter_eps")
    parser.add_argument("--variant", choices=VARIANTS, help="run one variant in this process (internal)")
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.n, args.d, args.vocab, args.repeat, args.chunk,
                                     args.logit_std, args.filter_eps)))
        return
    print(f"linear_cross_entropy value + gradients, N={args.n}, d={args.d}, V={args.vocab}, float32,"
          f" {os.cpu_count()} cores; best of {args.repeat}; logit std {args.logit_std};"
          f" gradients {(args.n * args.d + args.vocab * args.d + args.vocab) * 4 / 2**20:.0f} MiB")
    results = {}
    for variant in VARIANTS:
        command = [sys.executable, __file__, "--variant", variant, "--n", str(args.n), "--d", str(args.d),
                   "--vocab", str(args.vocab), "--repeat", str(args.repeat), "--logit-std", str(args.logit_std),
                   "--filter-eps", str(args.filter_eps)]
        if args.chunk:
            command += ["--chunk", str(args.chunk)]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        results[variant] = json.loads(out.strip().splitlines()[-1])
    gradients_mib = (args.n * args.d + args.vocab * args.d + args.vocab) * 4 / 2**20
    print(f"{'variant':<24} {'time (s)':>9} {'peak extra (MiB)':>17} {'arrays (MiB)':>13} {'beyond grads':>13}"
          f" {'loss':>12}")
    for r in results.values():
        if "absent" in r:
            print(f"{r['variant']:<24} ({r['absent']})")
            continue
        traced = r.get("traced_peak_mib")
        arrays = "" if traced is None else f"{traced:.0f}"
        beyond = "" if traced is None else f"{traced - gradients_mib:.0f}"
        print(f"{r['variant']:<24} {r['time_s']:>9.2f} {r['peak_extra_mib']:>17.0f} {arrays:>13} {beyond:>13}"
              f" {r['loss']:>12.6f}")
    for kind in ("numpy", "torch"):
        naive, chunked = results[f"{kind}-naive"], results[f"{kind}-chunked"]
        print(f"{kind}: chunked/naive time {chunked['time_s'] / naive['time_s']:.2f}x,"
              f" memory {chunked['peak_extra_mib'] / naive['peak_extra_mib']:.2f}x")
    filtered = results["numpy-filtered"]
    report = filtered["report"]
    print(f"numpy-filtered (filter_eps={args.filter_eps:g}): {report['skipped_fraction']:.1%} of blocks skipped;"
          " relative error of d_hidden, d_weight, d_bias vs exact: "
          + ", ".join(f"{e:.2e}" for e in filtered["relative_errors"])
          + f"; dropped/whole logit-gradient norm {report['dropped_logit_gradient_norm'] / max(report['logit_gradient_norm'], 1e-300):.2e}")
    tn = results["torch-naive"]
    for variant in ("numpy-chunked", "torch-chunked"):
        print(f"{variant} time / torch-naive time: {results[variant]['time_s'] / tn['time_s']:.2f}x"
              f" (goal <= 0.9); memory / torch-naive: {results[variant]['peak_extra_mib'] / tn['peak_extra_mib']:.2f}x"
              " (goal <= 0.2)")
    ours = results["torch-chunked"]
    for variant in ("torch-F.linear", "torch-F.linear-options"):
        theirs = results[variant]
        if "absent" not in theirs:
            print(f"torch-chunked against {variant}: time {ours['time_s'] / theirs['time_s']:.2f}x,"
                  f" memory {ours['peak_extra_mib'] / theirs['peak_extra_mib']:.2f}x (goal < 1 for both)")


if __name__ == "__main__":
    main()
