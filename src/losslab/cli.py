"""The ``losslab`` command (Typer and Rich).

Every command is a thin layer over the Python API; errors from it (unknown names, bad
files) are printed as one clear line and exit with status 2, never as a traceback.
"""

from __future__ import annotations

import functools
import sys
from typing import Any, Callable

try:
    import typer
    from rich.console import Console
    from rich.table import Table
except ImportError as exc:  # pragma: no cover - exercised only without the cli extra
    raise SystemExit(f"the losslab command needs the cli extra: pip install 'losslab[cli]' ({exc})") from None

import losslab as ll

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="losslab: loss functions computed right, measured, and chosen.",
)
# Off a terminal (pipes, CI logs) Rich would wrap tables at 80 columns; give them room.
console = Console() if sys.stdout.isatty() else Console(width=160)
err_console = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=160)


def friendly_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the library's ValueError/TypeError/OSError into one red line and exit status 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ValueError, TypeError, OSError, KeyError) as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None

    return wrapper


def _params_text(entry: ll.CatalogEntry) -> str:
    return ", ".join(f"{p.name}={p.default!r}" for p in entry.parameters)


@app.command("list")
@friendly_errors
def list_losses(family: str = typer.Option(None, "--family", "-f", help="Only this family.")) -> None:
    """A table of every loss: name, family, parameters, description."""
    table = Table(title="losslab catalog", show_lines=False)
    for column in ("name", "family", "parameters", "description"):
        table.add_column(column, overflow="fold")
    entries = ll.catalog(family)
    for entry in entries:
        table.add_row(entry.name, entry.family, _params_text(entry), entry.description)
    console.print(table)
    console.print(f"{len(entries)} losses. `losslab show NAME` for the formula, traits and estimate.")


@app.command()
@friendly_errors
def show(name: str = typer.Argument(..., help="A loss name or alias, e.g. huber or mean_squared_error.")) -> None:
    """Formula, parameters, traits and the statistic a loss estimates."""
    loss = ll.get(name)
    cls = type(loss)
    console.print(f"[bold]{cls.name}[/]  ({cls.family})  {cls.description}", highlight=False)
    presets = [f"{a} ({', '.join(f'{k}={v!r}' for k, v in p.items())})" for a, p in cls.preset_aliases.items()]
    if cls.aliases or presets:
        console.print(f"aliases: {', '.join([*cls.aliases, *presets])}", highlight=False)
    console.print(f"formula: {cls.formula}", highlight=False, markup=False)
    console.print(f"inputs: ({', '.join(cls.inputs)}); gradient with respect to {', '.join(cls.differentiable_inputs)}")
    table = Table(title="parameters")
    for column in ("name", "default", "allowed", "meaning"):
        table.add_column(column)
    for p in cls.parameters:
        table.add_row(p.name, repr(p.default), p.rule.text, p.help)
    if cls.parameters:
        console.print(table)
    traits = loss.traits
    t = Table(title="traits (declared)")
    t.add_column("trait")
    t.add_column("value")
    t.add_row("task", traits.task)
    t.add_row("estimates", traits.estimates)
    t.add_row("y_true domain", str(traits.y_true_domain))
    t.add_row("y_pred domain", str(traits.y_pred_domain))
    for prop in ll.Traits.PROPERTIES:
        value = getattr(traits, prop)
        t.add_row(prop, "—" if value is None else ("yes" if value else "no"))
    console.print(t)
    doc = (cls.__doc__ or "").strip().splitlines()
    if doc:
        console.print(doc[0], highlight=False, markup=False)


# ------------------------------------------------------------------------ pictures and profiles
@app.command()
@friendly_errors
def plot(
    names: str = typer.Argument(..., help="Comma-separated loss names or formulas, e.g. mse,mae,huber."),
    gradient: bool = typer.Option(False, "--gradient", help="Draw the gradient instead of the loss."),
    out: str = typer.Option("losses.png", "--out", help="Image file to write (PNG, SVG or PDF)."),
) -> None:
    """Draw losses (or their gradients) over the variable of their task, into an image file."""
    from losslab.plot import plot_losses

    items = [n.strip() for n in names.split(",") if n.strip()]
    if not items:
        raise ValueError("NAMES must hold at least one loss name or formula, e.g. mse,mae")
    plot_losses(items, gradient=gradient).savefig(out, dpi=120)
    console.print(f"wrote {out}", highlight=False)


@app.command()
@friendly_errors
def profile(
    name: str = typer.Argument(..., help="A loss name, or a formula in r, m or p such as 'log(cosh(r))'."),
    out: str = typer.Option(None, "--out", help="Also write the profile figure to this image file."),
    as_json: bool = typer.Option(False, "--json", help="Print the profile as JSON instead of a table."),
) -> None:
    """Measure what a loss does: the statistic it estimates, robustness, convexity, kinks, efficiency."""
    import json

    card = ll.profile(name)
    if as_json:
        console.print_json(json.dumps(card.to_dict()))
    else:
        console.print(card.to_markdown(), highlight=False, markup=False)
    if out:
        card.figure().savefig(out, dpi=110)
        console.print(f"wrote {out}", highlight=False)


# ------------------------------------------------------------------------ experiments and report
@app.command("experiments")
@friendly_errors
def list_experiments() -> None:
    """The experiments: name and the claim each one measures."""
    from losslab import experiments

    table = Table(title="losslab experiments")
    table.add_column("#")
    table.add_column("name")
    table.add_column("claim", overflow="fold")
    for k, name in enumerate(experiments.names(), 1):
        table.add_row(str(k), name, experiments.get_experiment(name).claim)
    console.print(table)


@app.command("experiment")
@friendly_errors
def run_experiment(
    name: str = typer.Argument(..., help="An experiment name (`losslab experiments` lists them)."),
    quick: bool = typer.Option(False, "--quick", help="Smaller, faster run (as the tests use)."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    out: str = typer.Option(None, "--out", help="Also write the figures (PNG) into this folder."),
) -> None:
    """Run one experiment and print its claim, verdict and numbers."""
    import json
    from pathlib import Path

    from losslab.experiments import get_experiment

    result = get_experiment(name).run(quick=quick, seed=seed)
    verdict = "[green]supported[/]" if result.supported else "[red]not supported[/]"
    console.print(f"[bold]{result.title}[/]", highlight=False)
    console.print(f"claim: {result.claim}", highlight=False, markup=False)
    console.print(f"rule: {result.verdict_rule}", highlight=False, markup=False)
    console.print(f"verdict: {verdict} ({result.seconds:.1f} s)")
    if result.notes:
        console.print(f"notes: {result.notes}", highlight=False, markup=False)
    console.print_json(json.dumps(result.to_dict()["numbers"]))
    if out:
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        for figure in result.figures:
            path = folder / f"{result.name}-{figure.name}.png"
            path.write_bytes(figure.png)
            console.print(f"figure: {path}", highlight=False)


@app.command()
@friendly_errors
def report(
    out: str = typer.Option("report", "--out", help="Folder for report.html, results.json and figures/."),
    quick: bool = typer.Option(False, "--quick", help="Quick mode (well under a minute)."),
    only: str = typer.Option(None, "--only", help="Comma-separated experiment names."),
    jobs: int = typer.Option(1, "--jobs", help="Experiments run in parallel processes."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
) -> None:
    """Run the experiments and write one self-contained HTML report and a JSON of every number."""
    from losslab.experiments.report import write_report

    selected = [n.strip() for n in only.split(",") if n.strip()] if only else None
    html_path, json_path = write_report(out, quick=quick, only=selected, jobs=jobs, seed=seed)
    import json

    results = json.loads(json_path.read_text())["experiments"]
    supported = sum(r["supported"] for r in results)
    console.print(f"{supported}/{len(results)} claims supported. Report: {html_path}  Numbers: {json_path}",
                  highlight=False)


# ------------------------------------------------------------------------ training on a CSV
def read_csv(path: str, target: str) -> tuple[Any, Any, list[str]]:
    """Numeric columns of a CSV with a header: (X, y, feature names). Clear errors for bad files."""
    import csv
    from pathlib import Path

    import numpy as np

    from losslab._validate import suggest

    file = Path(path)
    if not file.is_file():
        raise ValueError(f"DATA file {path!r} does not exist")
    with file.open(newline="") as handle:
        rows = list(csv.reader(handle))
    if len(rows) < 2:
        raise ValueError(f"{path!r} needs a header row and at least one data row; got {len(rows)} row(s)")
    header, body = [h.strip() for h in rows[0]], rows[1:]
    if target not in header:
        raise ValueError(f"--target {target!r} is not a column of {path!r}; columns: {', '.join(header)}."
                         f"{suggest(target, header)}")
    try:
        data = np.array([[float(v) for v in row] for row in body if row], dtype=float)
    except ValueError as exc:
        raise ValueError(f"{path!r} must hold numbers only (a header, then numeric rows): {exc}") from None
    if data.ndim != 2 or data.shape[1] != len(header):
        raise ValueError(f"{path!r}: every row must have {len(header)} values, one per column")
    k = header.index(target)
    features = [h for i, h in enumerate(header) if i != k]
    return np.delete(data, k, axis=1), data[:, k], features


@app.command()
@friendly_errors
def fit(
    data: str = typer.Argument(..., help="A CSV file with a header row and numeric columns."),
    target: str = typer.Option(..., "--target", help="The column to predict."),
    loss: str = typer.Option("mse", "--loss", help="A loss name from `losslab list`."),
    penalty: str = typer.Option(None, "--penalty", help="l1, l2 or elastic_net."),
    alpha: float = typer.Option(0.0, "--alpha", help="Penalty strength."),
    model: str = typer.Option("linear", "--model", help="linear or mlp."),
    epochs: int = typer.Option(200, "--epochs", help="Maximum epochs."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
) -> None:
    """Train a model on a CSV with a loss; print the metrics on a held-out split and a diagnosis."""
    import numpy as np

    from losslab.sklearn import LossClassifier, LossRegressor
    from losslab.train import diagnose

    X, y, features = read_csv(data, target)
    task = ll.get(loss).traits.task
    estimator_cls = LossRegressor if task == "regression" else LossClassifier
    estimator = estimator_cls(loss=loss, penalty=penalty, alpha=alpha, model=model, max_epochs=epochs,
                              random_state=seed, early_stopping=False)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    cut = max(1, int(0.8 * len(y)))
    train, test = order[:cut], order[cut:]
    estimator.fit(X[train], y[train])
    table = Table(title=f"{loss} on {data} ({len(train)} train / {len(test)} test rows)")
    table.add_column("metric")
    table.add_column("train")
    table.add_column("test")
    predictions = {"train": estimator.predict(X[train]), "test": estimator.predict(X[test]) if len(test) else None}
    if task == "regression":
        for name, fn in (("MSE", lambda a, b: np.mean((a - b) ** 2)), ("MAE", lambda a, b: np.mean(np.abs(a - b)))):
            table.add_row(name, f"{fn(y[train], predictions['train']):.4g}",
                          f"{fn(y[test], predictions['test']):.4g}" if len(test) else "—")
    else:
        table.add_row("accuracy", f"{np.mean(predictions['train'] == y[train]):.3f}",
                      f"{np.mean(predictions['test'] == y[test]):.3f}" if len(test) else "—")
    console.print(table)
    coef = getattr(estimator, "coef_", None)
    if coef is not None:
        console.print("coefficients: " + ", ".join(f"{f}={c:.4g}" for f, c in zip(features, np.ravel(coef))),
                      highlight=False)
    diagnosis = diagnose(estimator.history_)
    console.print(f"diagnosis: [bold]{diagnosis.kind}[/] — {diagnosis.evidence}", highlight=False)
    if diagnosis.advice:
        console.print(f"advice: {diagnosis.advice}", highlight=False)


# ------------------------------------------------------------------------ choosing a loss (select.py)
@app.command()
@friendly_errors
def recommend(
    data: str = typer.Argument(..., help="A CSV file with a header row; numeric features, the target may hold labels."),
    target: str = typer.Option(..., "--target", help="The column to predict."),
    metric: str = typer.Option(None, "--metric", help="The metric you are judged on, e.g. mae, pinball_0.9, f1."),
    task: str = typer.Option(None, "--task", help="regression, binary or multiclass (default: inferred)."),
) -> None:
    """Describe the target and rank losses for it, with the reasons."""
    from losslab.select import read_csv as read_table
    from losslab.select import recommend as advise

    X, y, _ = read_table(data, target)
    console.print(str(advise(y, task=task, X=X, metric=metric)), highlight=False, markup=False)


@app.command()
@friendly_errors
def search(
    data: str = typer.Argument(..., help="A CSV file with a header row; numeric features, the target may hold labels."),
    target: str = typer.Option(..., "--target", help="The column to predict."),
    losses: str = typer.Option(None, "--losses", help="Comma-separated loss names (default: recommend's top 3)."),
    metric: str = typer.Option(None, "--metric", help="Default: mse (regression), balanced_accuracy (classes)."),
    cv: int = typer.Option(5, "--cv", help="Number of folds."),
    n_jobs: int = typer.Option(None, "--n-jobs", help="Parallel fits (default 1 locally, every worker on dask)."),
    backend: str = typer.Option("loky", "--backend", help="loky, dask or ray."),
    scheduler: str = typer.Option(None, "--scheduler", help="Dask scheduler address (or DASK_SCHEDULER_ADDRESS)."),
    max_epochs: int = typer.Option(None, "--max-epochs", help="Epochs per fit (the estimators' default: 200)."),
    learning_rate: float = typer.Option(None, "--learning-rate", help="Start of the learning rate (default 0.01)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the folds and the models."),
) -> None:
    """Cross-validate losses on a CSV: mean score, 95% interval, best and runner-up."""
    from losslab.select import read_csv as read_table
    from losslab.select import search as cross_validate

    X, y, _ = read_table(data, target)
    names = None if losses is None else [name.strip() for name in losses.split(",") if name.strip()]
    extra = {k: v for k, v in (("max_epochs", max_epochs), ("learning_rate", learning_rate)) if v is not None}
    result = cross_validate(X, y, losses=names, metric=metric, cv=cv, n_jobs=n_jobs, backend=backend,
                            scheduler=scheduler, estimator_params=extra, random_state=seed,
                            progress=sys.stderr.isatty())
    console.print(str(result), highlight=False, markup=False)


# ------------------------------------------------------------------------ the explorer (web/)
def _web_missing(exc: ImportError) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] the explorer needs the web extra: pip install 'losslab[web]' ({exc})",
                      highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


@app.command()
@friendly_errors
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (default: this machine only)."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    open_browser: bool = typer.Option(False, "--open", help="Open the explorer in a browser."),
) -> None:
    """Run the explorer: the catalog, loss pages and playgrounds, at http://HOST:PORT/."""
    if not 0 <= port <= 65535:
        raise ValueError(f"--port must be in 0..65535; got {port}")
    try:  # fail here, naming the extra, rather than half-way through starting
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401

        from losslab.web import serve as run_server
    except ImportError as exc:
        raise _web_missing(exc) from None
    run_server(host=host, port=port, open_browser=open_browser)


@app.command()
@friendly_errors
def docs(out: str = typer.Option("site", "--out", help="Folder to write the static site into.")) -> None:
    """Write the catalog and a page per loss as a static site (the explorer's templates, no server)."""
    try:
        import jinja2  # noqa: F401

        from losslab.web import build_static_site
    except ImportError as exc:
        raise _web_missing(exc) from None
    files = build_static_site(out)
    pages = sum(f.suffix == ".html" for f in files)
    console.print(f"wrote {pages} pages ({len(files)} files) to {out}/; open {out}/index.html", highlight=False)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``losslab`` script."""
    app(args=argv if argv is not None else sys.argv[1:], prog_name="losslab")


if __name__ == "__main__":  # pragma: no cover
    main()
