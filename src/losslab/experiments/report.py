"""The report: every experiment run, written as one self-contained HTML file and a JSON.

``write_report(out_dir)`` writes ``report.html`` (contents, a summary of claims and verdicts
with k/n, a section per experiment with its rule, checks table, figures, notes and the
command that reproduces it, then the catalog with a small plot, the formula as MathML and
the traits of each loss; every image embedded as a data URI, nothing loaded from the
network), ``results.json`` (``{"losslab_version", "quick", "seed", "seconds", "experiments":
[{"name", "claim", "kind", "verdict_rule", "k", "n", "supported", "checks", "per_seed",
"numbers", "figures", ...}]}``) and the figures as PNG files.
"""

from __future__ import annotations

import html
import json
import multiprocessing
import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from .._files import write_atomic
from .._progress import Progress
from . import get_experiment, names
from ._base import Figure, Result, TrialResult, seeds_for
from ._fit import pyplot


def run_experiments(
    only: Iterable[str] | None = None,
    *,
    quick: bool = False,
    seed: int = 0,
    n_seeds: int | None = None,
    jobs: int = 1,
    on_trial: Callable[[str, TrialResult], None] | None = None,
    on_done: Callable[[Result], None] | None = None,
) -> list[Result]:
    """Run the experiments (all, or ``only``) in report order, each over its seeds.

    ``jobs`` > 1 runs the trials (one experiment at one seed) in processes, then each
    experiment's summary (its figures) once its trials are in; the numbers are the same as
    with ``jobs = 1``: every trial is seeded.
    """
    selected = _check_selection(only, jobs)
    seeds = {name: seeds_for(seed, get_experiment(name).default_seeds(n_seeds)) for name in selected}
    results: dict[str, Result] = {}
    if jobs == 1:
        for name in selected:
            results[name] = get_experiment(name).run(quick, seed, len(seeds[name]), on_trial)
            if on_done:
                on_done(results[name])
        return [results[name] for name in selected]
    trials: dict[str, dict[int, TrialResult]] = {name: {} for name in selected}
    # "spawn": a forked child of a process that has started threads (JAX, BLAS, the
    # row-block pool) can deadlock; fresh interpreters cannot.
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        # the slowest experiments first, so that no long trial starts last
        tasks = [(name, s) for name in sorted(selected, key=_cost, reverse=True) for s in seeds[name]]
        pending = {pool.submit(_trial, name, quick, s): name for name, s in tasks}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                name = pending.pop(future)
                outcome = future.result()
                if isinstance(outcome, Result):
                    results[name] = outcome
                    if on_done:
                        on_done(outcome)
                    continue
                trials[name][outcome.seed] = outcome
                if on_trial:
                    on_trial(name, outcome)
                if len(trials[name]) == len(seeds[name]):
                    ordered = [trials[name][s] for s in seeds[name]]
                    pending[pool.submit(_finish, name, ordered, quick, seed)] = name
    return [results[name] for name in selected]


#: Relative CPU time of one trial (the full run's shares, measured): the scheduler starts the slow ones first.
_COSTS = {"imbalance": 7, "label_noise": 5, "embedding_geometry": 4, "combined_objective": 4, "calibration": 4,
          "diagnosis": 3, "ce_vs_hinge": 3, "outliers": 2, "convergence": 2, "l1_vs_l2": 2}


def _cost(name: str) -> float:
    return _COSTS.get(name, 1)


def _trial(name: str, quick: bool, seed: int) -> TrialResult:
    return get_experiment(name).run_trial(quick, seed)


def _finish(name: str, trials: list[TrialResult], quick: bool, base_seed: int) -> Result:
    return get_experiment(name).finish(trials, quick, base_seed)


def _check_selection(only: Iterable[str] | None, jobs: Any) -> list[str]:
    """The experiments to run; unknown names and bad ``jobs`` fail before anything runs."""
    selected = list(only) if only else names()
    for name in selected:
        get_experiment(name)
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1; got {jobs!r}")
    return selected


def write_report(
    out_dir: str | os.PathLike = "report",
    *,
    quick: bool = False,
    only: Iterable[str] | None = None,
    jobs: int = 1,
    seed: int = 0,
    n_seeds: int | None = None,
    progress: bool = True,
    catalog: bool = True,
    replaced: list | None = None,
) -> tuple[Path, Path]:
    """Run the experiments and write report.html, results.json and figures/ under ``out_dir``.

    Files are written whole and never through a symbolic link out of ``out_dir``; the paths
    of files that existed and were replaced are appended to ``replaced`` when it is a list."""
    import losslab

    selected = _check_selection(only, jobs)
    if n_seeds is not None:
        seeds_for(seed, n_seeds)  # a bad count or seed fails before anything runs
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(exist_ok=True)

    def _write(path: Path, data: bytes | str) -> None:
        # Each file whole (a temporary file renamed in place: an interrupted run leaves the
        # previous report readable), and never through a link out of the report folder.
        if write_atomic(path, data, root=out) and replaced is not None:
            replaced.append(path)

    start = time.perf_counter()
    total = sum(get_experiment(name).default_seeds(n_seeds) for name in selected)
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as side:
        # the catalog's thumbnails (a few seconds) are drawn in a process of their own meanwhile
        pending_catalog = side.submit(_catalog_html) if catalog and jobs > 1 else None
        with Progress(total, "experiments", enabled=progress) as bar:
            results = run_experiments(selected, quick=quick, seed=seed, n_seeds=n_seeds, jobs=jobs,
                                      on_trial=lambda name, trial: bar.advance(_trial_line(name, trial)),
                                      on_done=lambda result: bar.note(_result_line(result)))
        catalog_part = pending_catalog.result() if pending_catalog else (_catalog_html() if catalog else "")
    figure_paths: dict[str, dict[str, str]] = {}
    for result in results:
        figure_paths[result.name] = {}
        for figure in result.figures:
            path = Path("figures") / f"{result.name}-{figure.name}.png"
            _write(out / path, figure.png)
            figure_paths[result.name][figure.name] = path.as_posix()
    payload = {
        "losslab_version": losslab.__version__,
        "quick": quick,
        "seed": seed,
        "seconds": round(time.perf_counter() - start, 2),
        "experiments": [r.to_dict(figure_paths[r.name]) for r in results],
    }
    json_path = out / "results.json"
    _write(json_path, json.dumps(payload, indent=2, allow_nan=False))
    html_path = out / "report.html"
    _write(html_path, render_html(results, payload, catalog_part=catalog_part))
    return html_path, json_path


def _trial_line(name: str, trial: TrialResult) -> str:
    return f"{name} seed {trial.seed}: {'pass' if trial.passed else 'FAIL'} ({trial.seconds:.1f} s)"


def _result_line(result: Result) -> str:
    if result.kind == "check":
        return f"{result.name}: check {'passes' if result.supported else 'FAILS'}"
    verdict = "supported" if result.supported else "NOT supported"
    return f"{result.name}: {result.k}/{result.n} seeds pass, {verdict}"
# ------------------------------------------------------------------------------- HTML
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1160px;margin:2em auto;
padding:0 1em;color:#1d1d1f;line-height:1.45}
h1{margin-bottom:.2em} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0} td,th{border:1px solid #ddd;padding:.3em .6em;vertical-align:top;text-align:left}
th{background:#f5f5f7} .yes{color:#0a7d32;font-weight:600} .no{color:#b3261e;font-weight:600}
pre{background:#f5f5f7;padding:.8em;overflow-x:auto;font-size:.85em} img{max-width:100%}
.claim{font-size:1.05em} .rule{color:#555;font-size:.92em} .loss{display:inline-block;width:330px;margin:.4em;
vertical-align:top;border:1px solid #e3e3e3;border-radius:6px;padding:.5em;font-size:.85em}
.loss img{width:300px} .muted{color:#777} td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1em 0} figcaption{font-size:.92em;color:#333} nav ol{columns:2;column-gap:3em;font-size:.95em} nav li{break-inside:avoid}
math{font-size:1.05em}
"""


def _verdict(result: Result) -> str:
    word = "supported" if result.kind == "experiment" else "passes"
    if result.supported:
        return f'<span class="yes">{word}</span>'
    return f'<span class="no">not {word}</span>' if result.kind == "experiment" else '<span class="no">fails</span>'


def _kn(result: Result) -> str:
    return "check" if result.kind == "check" else f"{result.k}/{result.n} seeds"


def _number(value: Any) -> str:
    """A number as the page shows it: three significant digits."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    return f"{float(value):.3g}"


def reproduce_command(result: Result) -> str:
    """The command that reruns one experiment with the same seeds."""
    return f"losslab experiment {result.name} --seed {result.base_seed}" + (" --quick" if result.quick else "")


def render_html(results: list[Result], payload: dict[str, Any], *, catalog_part: str = "") -> str:
    """The page; ``catalog_part`` is the catalog's HTML (``_catalog_html()``) or "" for none."""
    esc = html.escape
    catalog = bool(catalog_part)
    n_supported = sum(r.supported for r in results)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>losslab report</title>',
        f"<style>{_CSS}</style></head><body>",
        "<h1>losslab report</h1>",
        f'<p class="muted">losslab {esc(str(payload["losslab_version"]))} · base seed {payload["seed"]} · '
        f'{"quick mode · " if payload["quick"] else ""}{payload["seconds"]} s. Each experiment is repeated over'
        " several seeds; a seed passes when every check of its rule holds, and a claim is supported only when"
        " enough seeds pass, under a rule fixed in the code before the run. Deterministic computations are"
        " labelled checks and run once. Every verdict is computed, never written by hand; every number is in"
        " results.json.</p>",
        '<nav><h2 id="contents">Contents</h2><ol>',
    ]
    for r in results:
        parts.append(f'<li><a href="#{esc(r.name)}">{esc(r.title)}</a> · {_kn(r)} · {_verdict(r)}</li>')
    if catalog:
        parts.append('<li><a href="#catalog">The catalog of losses</a></li>')
    parts.append("</ol></nav>")
    parts += [
        f'<h2 id="summary">Claims and verdicts ({n_supported} of {len(results)} hold)</h2>',
        '<table><tr><th>#</th><th>experiment</th><th>claim</th><th>seeds passing</th><th>verdict</th></tr>',
    ]
    for k, r in enumerate(results, 1):
        parts.append(
            f'<tr><td>{k}</td><td><a href="#{esc(r.name)}">{esc(r.name)}</a></td><td>{esc(r.claim)}</td>'
            f'<td class="num">{_kn(r)}</td><td class="verdict" data-name="{esc(r.name)}">{_verdict(r)}</td></tr>'
        )
    parts.append("</table>")
    for k, r in enumerate(results, 1):
        parts += [
            f'<section id="{esc(r.name)}"><h2>{k}. {esc(r.title)}</h2>',
            f'<p class="claim"><b>Claim.</b> {esc(r.claim)}</p>',
            f'<p class="rule"><b>Rule.</b> {esc(r.verdict_rule)}</p>',
            f'<p><b>Verdict:</b> {_verdict(r)} ({_kn(r) if r.kind == "check" else f"{r.k} of {r.n} seeds pass"};'
            f" {r.seconds:.1f} s of computing)</p>",
            _checks_table(r),
        ]
        if r.table:
            parts.append('<table class="numbers"><tr><th>number</th><th>value</th></tr>'
                         + "".join(f"<tr><td>{esc(a)}</td><td>{esc(b)}</td></tr>" for a, b in r.table)
                         + "</table>")
        for figure in r.figures:
            parts.append(f'<figure><img alt="{esc(figure.caption)}" src="{figure.data_uri()}">'
                         f"<figcaption>{esc(figure.caption)}</figcaption></figure>")
        if r.notes:
            parts.append(f"<p><b>Notes.</b> {esc(r.notes)}</p>")
        parts.append(f'<p class="rule">Reproduce: <code>{esc(reproduce_command(r))}</code> · '
                     '<a href="#contents">contents</a></p></section>')
    parts.append(catalog_part)
    parts.append("</body></html>")
    return "\n".join(parts)


def _checks_table(result: Result) -> str:
    """The checks of the rule: threshold, seeds passing, value and margin (mean with its 95% interval)."""
    esc = html.escape
    single = result.n == 1
    head = ("<tr><th>check</th><th>value</th><th>margin to the threshold</th></tr>" if single else
            "<tr><th>check</th><th>seeds passing</th><th>mean value</th>"
            "<th>margin to the threshold: mean [95% interval]</th></tr>")
    rows = []
    for row in result.check_summary():
        rule = esc(f"{row['check']} {row['op']} {_number(row['threshold'])}")
        margin = _number(row["margin_mean"])
        if row["margin_ci95"] is not None:
            lo, hi = row["margin_ci95"]
            margin += f" [{_number(lo)}, {_number(hi)}]"
        if single:
            rows.append(f"<tr><td>{rule}</td><td class=\"num\">{_number(row['mean_value'])}</td>"
                        f"<td class=\"num\">{margin}</td></tr>")
        else:
            rows.append(f"<tr><td>{rule}</td><td class=\"num\">{row['passed']}/{row['n']}</td>"
                        f"<td class=\"num\">{_number(row['mean_value'])}</td><td class=\"num\">{margin}</td></tr>")
    return '<table class="checks">' + head + "".join(rows) + "</table>"


def formula_html(tex: str) -> str:
    """A LaTeX formula as MathML (rendered by the browser, offline), or as plain text if latex2mathml is absent."""
    try:
        from latex2mathml.converter import convert
    except ImportError:
        return f"<code>{html.escape(_tex_to_text(tex))}</code>"
    try:
        return convert(tex)
    except Exception:  # a construct latex2mathml does not know: fall back to readable text
        return f"<code>{html.escape(_tex_to_text(tex))}</code>"


_TEX_WORDS = {
    r"\alpha": "α", r"\beta": "β", r"\gamma": "γ", r"\delta": "δ", r"\epsilon": "ε", r"\lambda": "λ",
    r"\sigma": "σ", r"\tau": "τ", r"\mu": "μ", r"\pi": "π", r"\le": "≤", r"\ge": "≥", r"\cdot": "·",
    r"\sum": "Σ", r"\log": "log", r"\max": "max", r"\min": "min", r"\exp": "exp", r"\infty": "∞",
    r"\tfrac12": "½", r"\frac12": "½", r"\big": "", r"\Big": "", r"\left": "", r"\right": "",
    r"\\": "; ", "&": " if ", r"\begin{cases}": "{ ", r"\end{cases}": " }", "{": "", "}": "",
}


def _tex_to_text(tex: str) -> str:
    for key in sorted(_TEX_WORDS, key=len, reverse=True):
        tex = tex.replace(key, _TEX_WORDS[key])
    return tex.replace("\\", "")


def _catalog_html() -> str:
    import losslab as ll

    esc = html.escape
    entries = ll.catalog()
    parts = [f"<h2 id=\"catalog\">The catalog ({len(entries)} losses)</h2>",
             "<p>Each loss with its formula, a curve of the loss and its gradient, and its declared traits.</p>"]
    for entry in entries:
        loss = entry.build()
        traits = loss.traits
        flags = [p.replace("_", " ") for p in ll.Traits.PROPERTIES if getattr(traits, p)]
        figure = loss_thumbnail(loss)
        image = (f'<img alt="{esc(entry.name)} curve" src="{figure.data_uri()}">' if figure
                 else '<p class="muted">(no one-dimensional curve: its inputs are not a single prediction)</p>')
        parts.append(
            f'<div class="loss"><b>{esc(entry.name)}</b> <span class="muted">{esc(entry.family)}</span><br>'
            f"{esc(entry.description)}<br>{formula_html(entry.cls.formula)}{image}"
            f"<br>task: {esc(traits.task)} · estimates: {esc(traits.estimates)}<br>"
            f"{esc(', '.join(flags) or 'no listed properties')}</div>"
        )
    return "\n".join(parts)


def loss_thumbnail(loss: Any) -> Figure | None:
    """A small figure of the loss and its gradient along its natural axis, or None."""
    from ..profile.curves import loss_curve

    try:
        x, value, xlabel = loss_curve(loss)
        _, grad, _ = loss_curve(loss, gradient=True)
    except ValueError:  # structured inputs (pairs, sets, hidden states): no curve of one variable
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(3.2, 1.9))
    ax.plot(x, value, label="loss")
    ax.plot(x, grad, label="gradient", ls="--")
    ax.axhline(0, color="gray", lw=0.5)
    # A gradient like −1/p runs off to −200 at the edge and would flatten the loss curve:
    # frame the middle 94% of the values instead.
    both = np.concatenate([np.ravel(value), np.ravel(grad)])
    both = both[np.isfinite(both)]
    if both.size:
        lo, hi = np.percentile(both, [3, 97])
        pad = 0.08 * (hi - lo or 1.0)
        ax.set_ylim(min(lo, 0.0) - pad, max(hi, 0.0) + pad)
    # shown at about 1.3x its size (300 px for 224 px): 9 pt here reads as about 11 pt
    ax.set_xlabel(xlabel, fontsize=9)
    ax.tick_params(labelsize=9)
    ax.legend(fontsize=9, frameon=False)
    return Figure.from_matplotlib(fig, type(loss).name, type(loss).name, dpi=70)
