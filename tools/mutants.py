"""Planted bugs: does the test suite catch small deliberate mistakes in the code?

Each mutant names a file, an exact snippet of it, a replacement and the few test files
(with an optional ``-k`` filter) that should catch it. The script copies the repository
to a temporary folder (the working tree is never edited), checks that the selected tests
pass on the unchanged copy, then applies one mutant at a time, runs its tests with a
timeout and reports each mutant as:

- caught: a test failed (or the run timed out);
- missed: every selected test passed with the bug in place;
- stale: the snippet is not in the file exactly once (the code moved): the mutant list
  needs updating; stale mutants count neither as caught nor as missed.

Usage (from the repository root)::

    python tools/mutants.py                 # every mutant
    python tools/mutants.py --group optimizers --list
    python tools/mutants.py --only adamw_decay_sign,huber_gradient
    python tools/mutants.py --check         # only report stale snippets (no test runs)

Exit status: 0 when the catch rate is at least ``--threshold`` (default 0.95) and no mutant
is stale; 1 below the threshold; 2 when a mutant is stale or the unchanged tests fail.
See docs/testing.md.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    """One planted bug: in ``file`` (relative to the repository), ``original`` (which must
    occur exactly once) becomes ``replacement``; ``tests`` are pytest command lines (shell
    quoting), run one after the other: the mutant is caught when any of them fails."""

    name: str
    group: str
    file: str
    original: str
    replacement: str
    tests: tuple[str, ...]


def _m(name, group, file, original, replacement, *tests):
    return Mutant(name, group, file, original, replacement, tuple(tests))


def k(file, expression):
    """The pytest command line running the tests of ``file`` that ``expression`` selects."""
    return f"{file} -k {shlex.quote(expression)}"


REG = "src/losslab/losses/regression.py"
BIN = "src/losslab/losses/binary.py"
MC = "src/losslab/losses/multiclass.py"
PROB = "src/losslab/losses/probabilistic.py"
SEQ = "src/losslab/losses/sequence.py"
LINKS = "src/losslab/loss/links.py"
SHAPES = "src/losslab/loss/shapes.py"
WEIGHTS = "src/losslab/loss/weights.py"
ENGINE = "src/losslab/loss/engine.py"
OPT = "src/losslab/train/optimizers.py"
DIAG = "src/losslab/train/diagnosis.py"
EXP = "src/losslab/experiments"
CATALOG = "tests/test_catalog.py"
RULES = "tests/test_experiments_rules.py"

MUTANTS: list[Mutant] = [
    # ------------------------------------------------------------------ loss mathematics
    _m("huber_gradient", "loss math", REG,
       "        return S.clip(xp, r, -self.delta, self.delta)\n",
       "        return S.clip(xp, r, -self.delta, 2 * self.delta)\n",
       k(CATALOG, "huber and (finite_differences or agree_with_numpy)")),
    _m("huber_fused_kernel", "loss math", REG,
       "total = float(np.vdot(clipped, r)) - 0.5 * float(np.vdot(clipped, clipped))",
       "total = float(np.vdot(clipped, r)) - 0.25 * float(np.vdot(clipped, clipped))",
       k(CATALOG, "huber and numpy_kernels")),
    _m("mae_gradient_sign", "loss math", REG,
       "        return xp.sign(r)\n", "        return -xp.sign(r)\n",
       k(CATALOG, "mae and finite_differences")),
    _m("quantile_asymmetry", "loss math", REG,
       "return xp.maximum((1.0 - self.q) * r, -self.q * r)",
       "return xp.maximum(self.q * r, -(1.0 - self.q) * r)",
       k(CATALOG, "quantile and finite_differences"), k("tests/test_regression.py", "quantile")),
    _m("cauchy_scale", "loss math", REG,
       "return self.scale * S.ratio_over_one_plus_square(xp, r / self.scale)",
       "return S.ratio_over_one_plus_square(xp, r / self.scale)",
       k(CATALOG, "cauchy and finite_differences")),
    _m("bce_pos_weight_dropped", "loss math", BIN,
       "        a1, a0 = -w * t, -(1.0 - t)\n",
       "        a1, a0 = -t, -(1.0 - t)\n",
       k("tests/test_classification.py", "pos_weight")),
    _m("bce_logits_fused", "loss math", BIN,
       "        np.divide(e, softplus_e, out=e)  # a = σ(−|z|)\n",
       "        np.divide(e, softplus_e + 1e-3, out=e)  # a = σ(−|z|)\n",
       k(CATALOG, "binary_cross_entropy-logits and (numpy_kernels or separate_calls)")),
    _m("label_smoothing_share", "loss math", MC,
       "        smooth = (1.0 - eps) * t + eps / t.shape[1]\n",
       "        smooth = (1.0 - eps) * t + eps / (t.shape[1] - 1)\n",
       k(CATALOG, "cross_entropy and finite_differences"), k("tests/test_classification.py", "smoothing")),
    _m("label_smoothing_fused_kernel", "loss math", MC,
       "        e -= eps / n_classes\n",
       "        e -= eps / (n_classes - 1)\n",
       k("tests/test_classification.py", "blocked_fused_kernel")),
    _m("focal_exponent", "loss math", MC,
       "return -self._a * xp.exp(self.gamma * S.log1mexp(xp, u)) * u",
       "return -self._a * xp.exp(0.5 * self.gamma * S.log1mexp(xp, u)) * u",
       k(CATALOG, "focal and finite_differences")),
    _m("poisson_gradient", "loss math", PROB,
       "        return 1.0 - y_true / y_pred\n", "        return 1.0 - y_true / (y_pred + 1e-3)\n",
       k(CATALOG, "poisson and finite_differences")),
    _m("kl_gradient", "loss math", PROB,
       "        return -p if self.log_input else -p / clip_probabilities(xp, y_pred)\n",
       "        return -p if self.log_input else -p / clip_probabilities(xp, y_pred) + 1.0\n",
       k(CATALOG, "kl_divergence and finite_differences")),
    # The chain rules of the links (loss/links.py) and the class-separable shape (loss/shapes.py).
    _m("softmax_gradient_without_sum", "loss math", LINKS,
       "        return a - p * xp.sum(a, axis=-1, keepdims=True)\n",
       "        return a - p * a\n",
       k(CATALOG, "finite_differences and (cross_entropy-logits or focal-logits)")),
    _m("softmax_hessian_cross_term", "loss math", LINKS,
       "p * p * (xp.sum(v, axis=-1, keepdims=True) - v)",
       "p * p * xp.sum(v, axis=-1, keepdims=True)",
       k(CATALOG, "hessian_matches and (focal-logits or generalized_cross_entropy-logits)")),
    _m("probabilities_gradient_chain", "loss math", LINKS,
       "        return a / p\n",
       "        return a * p\n",
       k(CATALOG, "finite_differences and (focal or poly1) and not logits")),
    _m("probabilities_hessian_sign", "loss math", LINKS,
       "        return (v - a) / (p * p)\n",
       "        return (v + a) / (p * p)\n",
       k(CATALOG, "hessian_matches and (cross_entropy or poly1) and not logits")),
    _m("class_separable_terms_untargeted", "loss math", SHAPES,
       "        first = t * self._f_prime(xp, u, p)\n",
       "        first = self._f_prime(xp, u, p)\n",
       k(CATALOG, "finite_differences and (cross_entropy or focal)")),
    # ------------------------------------------------------------------ weights
    _m("ignored_tokens_weighted", "weights", SEQ,
       "        return xp.astype(targets != self.ignore_index, logits.dtype)\n",
       "        return xp.ones_like(logits[..., 0])\n",
       k("tests/test_structured.py", "token_cross_entropy"), "tests/test_reductions.py"),
    _m("class_weight_of_indices", "weights", SHAPES,
       "            return xp.take(w, xp.astype(y_true, index_dtype(xp)))\n",
       "            return xp.take(w, xp.astype(y_true, index_dtype(xp))) * 0 + 1\n",
       k("tests/test_classification.py", "weight")),
    _m("sample_weight_rows_dropped", "weights", WEIGHTS,
       "        values = values * broadcast_rows(xp, weights, values.ndim)\n",
       "        values = values\n",
       k(CATALOG, "reductions_and_weights and (mse or huber)")),
    _m("extra_weights_replace_sample_weights", "weights", WEIGHTS,
       "    return broadcast_rows(xp, sample_weight, extra.ndim) * extra\n",
       "    return extra\n",
       "tests/test_reductions.py"),
    _m("weights_not_normalised", "weights", WEIGHTS,
       "    return weights / top\n",
       "    return weights\n",
       k("tests/test_core.py", "any_scale")),
    # ------------------------------------------------------------------ reductions
    _m("mean_denominator_per_weight", "reductions", WEIGHTS,
       "    total = xp.sum(weights) * per_weight\n",
       "    total = xp.sum(weights)\n",
       k(CATALOG, "reductions_and_weights and (mse-2d or binary_cross_entropy-logits-2d)")),
    _m("mean_of_no_weight_is_nan", "reductions", WEIGHTS,
       "    return weights, 1.0 / total if total > 0 else 0.0\n",
       "    return weights, 1.0 / total if total > 0 else math.nan\n",
       k(CATALOG, "all_zero_weights and (mse or cross_entropy)")),
    _m("blocked_none_unweighted", "reductions", ENGINE,
       "                    per_sample_out[lo:hi] = weighted\n",
       "                    per_sample_out[lo:hi] = per_sample\n",
       k("tests/test_reductions.py", "block")),
    _m("blocked_gradient_scale", "reductions", ENGINE,
       "        np.multiply(values, W.broadcast_rows(np, w * scale, values.ndim), out=out)\n",
       "        np.multiply(values, W.broadcast_rows(np, w, values.ndim), out=out)\n",
       k(CATALOG, "blocked and (poisson or cross_entropy-soft)")),
    _m("blocked_kernel_fallback_skipped", "reductions", ENGINE,
       "                    total += partial\n                    continue  # else:",
       "                    total += partial\n                continue  # else:",
       k(CATALOG, "numpy_kernels and (huber or binary_cross_entropy-logits)")),
    _m("traced_mean_denominator", "reductions", WEIGHTS,
       "return weights, xp.where(total > 0, 1.0 / xp.where(total > 0, total, 1.0), 0.0)",
       "return weights, xp.where(total > 0, 1.0 / xp.where(total > 0, xp.sum(weights), 1.0), 0.0)",
       k("tests/test_reductions.py", "jit")),
    # ------------------------------------------------------------------ optimizers
    _m("adamw_decay_sign", "optimizers", OPT,
       "                    p *= 1.0 - lr * self.weight_decay\n",
       "                    p *= 1.0 + lr * self.weight_decay\n",
       k("tests/test_train.py", "adamw or optimizer")),
    _m("adamw_decays_biases", "optimizers", OPT,
       "                if penalized:\n                    p *= 1.0 - lr * self.weight_decay\n",
       "                if True:\n                    p *= 1.0 - lr * self.weight_decay\n",
       k("tests/test_train.py", "adamw")),
    _m("adam_second_moment_bias", "optimizers", OPT,
       "            step = lr / (np.sqrt(v / c2) + self.eps)\n",
       "            step = lr / (np.sqrt(v) + self.eps)\n",
       k("tests/test_train.py", "adam or optimizer")),
    _m("sgd_momentum_accumulates", "optimizers", OPT,
       "                v *= self.momentum\n                v += g\n",
       "                v *= self.momentum\n                v += 0.5 * g\n",
       k("tests/test_train.py", "sgd or momentum")),
    # ------------------------------------------------------------------ diagnosis
    _m("overfit_rise_weakened", "diagnosis", DIAG,
       "OVERFIT_RISE = 0.05\n", "OVERFIT_RISE = 0.1\n",
       k("tests/test_train.py", "diagnose")),
    _m("overfit_needs_training_to_fall", "diagnosis", DIAG,
       "if best < val.size - 1 and rise > OVERFIT_RISE and train[-1] < t_at_best:",
       "if best < val.size - 1 and rise > OVERFIT_RISE:",
       k("tests/test_train.py", "diagnose")),
    _m("gap_ratio_weakened", "diagnosis", DIAG,
       "GAP_RATIO = 2.0\n", "GAP_RATIO = 2.5\n",
       k("tests/test_train.py", "diagnose")),
    _m("gap_share_loosened", "diagnosis", DIAG,
       "GAP_SHARE = 0.1\n", "GAP_SHARE = 0.0\n",
       k("tests/test_train.py", "diagnose")),
    _m("oscillation_share_weakened", "diagnosis", DIAG,
       "OSCILLATION_SHARE = 0.2\n", "OSCILLATION_SHARE = 0.6\n",
       k("tests/test_train.py", "diagnose")),
    # ------------------------------------------------------------------ verdict rules
    # Each rule is fed numbers on both sides of it (tests/test_experiments_rules.py).
    _m("seed_verdict_share_strict", "verdicts", f"{EXP}/_base.py",
       "    return n > 0 and k * 10**6 >= round(min_share * 10**6) * n\n",
       "    return n > 0 and k * 10**6 > round(min_share * 10**6) * n\n",
       k(RULES, "seed_verdict")),
    _m("check_margin_sign", "verdicts", f"{EXP}/_base.py",
       'return value - self.threshold if self.op in (">=", ">") else self.threshold - value',
       'return value - self.threshold if self.op in ("<=", "<") else self.threshold - value',
       k(RULES, "margin")),
    _m("outliers_ratio_loosened", "verdicts", f"{EXP}/outliers.py",
       "MAX_RATIO = 1 / 3  #", "MAX_RATIO = 1 / 2  #",
       k(RULES, "outliers")),
    _m("landscape_kink_ratio_loosened", "verdicts", f"{EXP}/landscape.py",
       "KINK_RATIO = 1000.0  #", "KINK_RATIO = 100.0  #",
       k(RULES, "landscape")),
    _m("convergence_comparison_inverted", "verdicts", f"{EXP}/convergence.py",
       'numbers["mae"]["final_error"], ">=", TOLERANCE',
       'numbers["mae"]["final_error"], "<", TOLERANCE',
       k(RULES, "convergence")),
    # ------------------------------------------------------------------ the report
    _m("report_verdict_inverted", "report", f"{EXP}/report.py",
       "    if result.supported:\n        return f'<span class=\"yes\">{word}</span>'",
       "    if not result.supported:\n        return f'<span class=\"yes\">{word}</span>'",
       k(RULES, "page")),
    _m("report_summary_counts_every_claim", "report", f"{EXP}/report.py",
       "    n_supported = sum(r.supported for r in results)\n",
       "    n_supported = len(results)\n",
       k(RULES, "page")),
]


# ---------------------------------------------------------------------------- running
def _copy_tree(dest: Path) -> None:
    ignore = shutil.ignore_patterns(".git", "__pycache__", "*.pyc", ".pytest_cache", "*.egg-info", "build", "dist")
    for item in ("src", "tests", "pyproject.toml", "README.md", "docs"):
        path = ROOT / item
        if path.is_dir():
            shutil.copytree(path, dest / item, ignore=ignore)
        elif path.exists():
            shutil.copy2(path, dest / item)


def _pytest(tree: Path, selection: str, timeout: float) -> tuple[str, float, str]:
    """('pass' | 'fail' | 'timeout', seconds, last lines of output) of one pytest run in ``tree``."""
    env = dict(os.environ, PYTHONPATH=str(tree / "src"), OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"),
               PYTHONDONTWRITEBYTECODE="1")
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *shlex.split(selection)]
    start = time.monotonic()
    try:
        run = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", time.monotonic() - start, ""
    tail = "\n".join((run.stdout + run.stderr).strip().splitlines()[-3:])
    if run.returncode == 5:  # no test selected: a selection that tests nothing cannot catch anything
        return "empty", time.monotonic() - start, tail
    return ("pass" if run.returncode == 0 else "fail"), time.monotonic() - start, tail


def _run_all(tree: Path, selections: tuple[str, ...], timeout: float) -> tuple[str, float, str]:
    """The first selection that does not pass (its status), else 'pass'; seconds in all."""
    total = 0.0
    for selection in selections:
        status, seconds, tail = _pytest(tree, selection, timeout)
        total += seconds
        if status != "pass":
            return status, total, f"{selection}: {tail}"
    return "pass", total, ""


def _snippet_count(tree: Path, m: Mutant) -> int:
    """How often the mutant's snippet occurs in its file under ``tree`` (−1: no such file)."""
    path = tree / m.file
    return path.read_text(encoding="utf-8").count(m.original) if path.exists() else -1


def _check_imports_the_copy(tree: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(tree / "src"))
    out = subprocess.run([sys.executable, "-c", "import losslab; print(losslab.__file__)"], cwd=tree, env=env,
                         capture_output=True, text=True, check=True).stdout.strip()
    if not out.startswith(str(tree)):
        raise SystemExit(f"the copy's tests would import losslab from {out}, not from the copy {tree}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated mutant names")
    parser.add_argument("--group", help="run one group (loss math, weights, reductions, optimizers, diagnosis, ...)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--check", action="store_true",
                        help="only report stale mutants (snippet missing or not unique), without running tests")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per test run (default 300)")
    parser.add_argument("--threshold", type=float, default=0.95, help="lowest acceptable catch rate (default 0.95)")
    args = parser.parse_args(argv)

    mutants = MUTANTS
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {m.name for m in MUTANTS}
        if unknown:
            parser.error(f"unknown mutants: {sorted(unknown)}")
        mutants = [m for m in mutants if m.name in wanted]
    if args.group:
        mutants = [m for m in mutants if m.group == args.group]
    if not mutants:
        parser.error("no mutant selected")
    if args.list:
        for m in mutants:
            print(f"{m.name:38} {m.group:11} {m.file}  tests: {' ; '.join(m.tests)}")
        return 0

    if args.check:
        stale = [m for m in mutants if _snippet_count(ROOT, m) != 1]
        for m in stale:
            count = _snippet_count(ROOT, m)
            where = "does not exist" if count < 0 else f"snippet found {count} times"
            print(f"STALE   {m.name:38} {m.file} {where}")
        print(f"{len(stale)} stale of {len(mutants)} mutants")
        return 2 if stale else 0

    results: dict[str, list[str]] = {"caught": [], "missed": [], "stale": []}
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="losslab-mutants-") as tmp:
        tree = Path(tmp)
        _copy_tree(tree)
        _check_imports_the_copy(tree)
        # The unchanged code must pass every selection, or a "caught" would mean nothing.
        selections = list(dict.fromkeys(t for m in mutants for t in m.tests))
        for selection in selections:
            status, seconds, tail = _pytest(tree, selection, args.timeout)
            if status != "pass":
                print(f"unchanged code: {status} on {selection} ({seconds:.0f} s)\n{tail}")
                return 2
        print(f"unchanged code passes the {len(selections)} test selections", flush=True)
        for m in mutants:
            path = tree / m.file
            if not path.exists():
                results["stale"].append(m.name)
                print(f"STALE   {m.name:38} {m.file} does not exist")
                continue
            text = path.read_text(encoding="utf-8")
            count = text.count(m.original)
            if count != 1:
                results["stale"].append(m.name)
                print(f"STALE   {m.name:38} snippet found {count} times in {m.file}")
                continue
            path.write_text(text.replace(m.original, m.replacement), encoding="utf-8")
            try:
                status, seconds, tail = _run_all(tree, m.tests, args.timeout)
            finally:
                path.write_text(text, encoding="utf-8")
            if status == "empty":
                results["stale"].append(m.name)
                print(f"STALE   {m.name:38} its test selection selects no test")
                continue
            outcome = "caught" if status in ("fail", "timeout") else "missed"
            results[outcome].append(m.name)
            note = " (timeout)" if status == "timeout" else ""
            print(f"{outcome.upper():7} {m.name:38} {m.group:11} {seconds:5.0f} s{note}", flush=True)

    caught, missed, stale = (len(results[k]) for k in ("caught", "missed", "stale"))
    judged = caught + missed
    rate = caught / judged if judged else 0.0
    print(f"\n{caught} caught, {missed} missed, {stale} stale of {len(mutants)} mutants:"
          f" catch rate {rate:.1%} (threshold {args.threshold:.0%}); {time.monotonic() - start:.0f} s")
    for group in dict.fromkeys(m.group for m in mutants):
        names = {m.name for m in mutants if m.group == group}
        counts = ", ".join(f"{len(names & set(results[o]))} {o}" for o in ("caught", "missed", "stale"))
        print(f"  {group:12} {counts}")
    if missed:
        print("missed: " + ", ".join(results["missed"]))
    if stale:
        print("stale (update their snippets in tools/mutants.py): " + ", ".join(results["stale"]))
        return 2
    return 0 if rate >= args.threshold else 1


if __name__ == "__main__":
    sys.exit(main())
