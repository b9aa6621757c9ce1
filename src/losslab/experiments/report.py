"""The report: every experiment run, written as one self-contained HTML file and a JSON.

``write_report(out_dir)`` writes ``report.html`` (a summary of claims and verdicts, a
section per experiment with its numbers and figures, then the catalog with a small plot
and the traits of each loss; every image embedded as a data URI, nothing loaded from the
network), ``results.json`` (``{"losslab_version", "experiments": [{"name", "claim",
"supported", "numbers", "figures"}]}``) and the figures as PNG files.
"""

from __future__ import annotations

import html
import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from .._progress import Progress
from . import get_experiment, names
from ._base import Figure, Result
from ._fit import pyplot


def run_experiments(
    only: Iterable[str] | None = None,
    *,
    quick: bool = False,
    seed: int = 0,
    jobs: int = 1,
    on_done: Callable[[Result], None] | None = None,
) -> list[Result]:
    """Run the experiments (all, or ``only``) in report order; ``jobs`` > 1 uses processes."""
    selected = _check_selection(only, jobs)
    results: dict[str, Result] = {}
    if jobs == 1:
        for name in selected:
            results[name] = _run_one(name, quick, seed)
            if on_done:
                on_done(results[name])
    else:
        # "spawn": a forked child of a process that has started threads (JAX, BLAS, the
        # row-block pool) can deadlock; fresh interpreters cannot.
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(_run_one, name, quick, seed): name for name in selected}
            for future in _as_completed(futures):
                result = future.result()
                results[result.name] = result
                if on_done:
                    on_done(result)
    return [results[name] for name in selected]


def _check_selection(only: Iterable[str] | None, jobs: Any) -> list[str]:
    """The experiments to run; unknown names and bad ``jobs`` fail before anything runs."""
    selected = list(only) if only else names()
    for name in selected:
        get_experiment(name)
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1; got {jobs!r}")
    return selected


def _as_completed(futures: dict) -> Iterable[Any]:
    from concurrent.futures import as_completed

    return as_completed(futures)


def _run_one(name: str, quick: bool, seed: int) -> Result:
    return get_experiment(name).run(quick=quick, seed=seed)


def write_report(
    out_dir: str | os.PathLike = "report",
    *,
    quick: bool = False,
    only: Iterable[str] | None = None,
    jobs: int = 1,
    seed: int = 0,
    progress: bool = True,
    catalog: bool = True,
) -> tuple[Path, Path]:
    """Run the experiments and write report.html, results.json and figures/ under ``out_dir``."""
    import losslab

    selected = _check_selection(only, jobs)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(exist_ok=True)
    start = time.perf_counter()
    with Progress(len(selected), "experiments", enabled=progress) as bar:
        def done(result: Result) -> None:
            verdict = "supported" if result.supported else "NOT supported"
            bar.advance(f"{result.name}: {verdict} ({result.seconds:.1f} s)")

        results = run_experiments(selected, quick=quick, seed=seed, jobs=jobs, on_done=done)
    figure_paths: dict[str, dict[str, str]] = {}
    for result in results:
        figure_paths[result.name] = {}
        for figure in result.figures:
            path = Path("figures") / f"{result.name}-{figure.name}.png"
            (out / path).write_bytes(figure.png)
            figure_paths[result.name][figure.name] = path.as_posix()
    payload = {
        "losslab_version": losslab.__version__,
        "quick": quick,
        "seed": seed,
        "seconds": round(time.perf_counter() - start, 2),
        "experiments": [r.to_dict(figure_paths[r.name]) for r in results],
    }
    json_path = out / "results.json"
    json_path.write_text(json.dumps(payload, indent=2, allow_nan=False))
    html_path = out / "report.html"
    html_path.write_text(render_html(results, payload, catalog=catalog), encoding="utf-8")
    return html_path, json_path


# ------------------------------------------------------------------------------- HTML
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#1d1d1f;line-height:1.45}
h1{margin-bottom:.2em} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0} td,th{border:1px solid #ddd;padding:.3em .6em;vertical-align:top;text-align:left}
th{background:#f5f5f7} .yes{color:#0a7d32;font-weight:600} .no{color:#b3261e;font-weight:600}
pre{background:#f5f5f7;padding:.8em;overflow-x:auto;font-size:.85em} img{max-width:100%}
.claim{font-size:1.05em} .rule{color:#555;font-size:.92em} .loss{display:inline-block;width:330px;margin:.4em;
vertical-align:top;border:1px solid #e3e3e3;border-radius:6px;padding:.5em;font-size:.85em}
.loss img{width:300px} .muted{color:#777}
"""


def _verdict(supported: bool) -> str:
    return '<span class="yes">supported</span>' if supported else '<span class="no">not supported</span>'


def render_html(results: list[Result], payload: dict[str, Any], *, catalog: bool = True) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>losslab report</title>',
        f"<style>{_CSS}</style></head><body>",
        "<h1>losslab report</h1>",
        f'<p class="muted">losslab {esc(str(payload["losslab_version"]))} · seed {payload["seed"]} · '
        f'{"quick mode · " if payload["quick"] else ""}{payload["seconds"]} s · each verdict is computed from the'
        " numbers against the rule shown, never written by hand.</p>",
        "<h2>Claims and verdicts</h2><table><tr><th>#</th><th>experiment</th><th>claim</th><th>verdict</th></tr>",
    ]
    for k, r in enumerate(results, 1):
        parts.append(
            f'<tr><td>{k}</td><td><a href="#{esc(r.name)}">{esc(r.name)}</a></td><td>{esc(r.claim)}</td>'
            f"<td>{_verdict(r.supported)}</td></tr>"
        )
    parts.append("</table>")
    for k, r in enumerate(results, 1):
        parts += [
            f'<h2 id="{esc(r.name)}">{k}. {esc(r.title)}</h2>',
            f'<p class="claim"><b>Claim.</b> {esc(r.claim)}</p>',
            f'<p class="rule"><b>Verdict rule.</b> {esc(r.verdict_rule)}. <b>Verdict:</b> {_verdict(r.supported)}'
            f" ({r.seconds:.1f} s)</p>",
        ]
        if r.notes:
            parts.append(f"<p><b>Notes.</b> {esc(r.notes)}</p>")
        for figure in r.figures:
            parts.append(f'<figure><img alt="{esc(figure.caption)}" src="{figure.data_uri()}">'
                         f"<figcaption>{esc(figure.caption)}</figcaption></figure>")
        numbers = json.dumps(payload["experiments"][k - 1]["numbers"], indent=2)
        parts.append(f"<details open><summary>numbers</summary><pre>{esc(numbers)}</pre></details>")
    if catalog:
        parts.append(_catalog_html())
    parts.append("</body></html>")
    return "\n".join(parts)


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
            f"{esc(entry.description)}<br><code>{esc(entry.cls.formula)}</code>{image}"
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
    ax.set_xlabel(xlabel, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, frameon=False)
    return Figure.from_matplotlib(fig, type(loss).name, type(loss).name, dpi=70)
