"""The ``losslab`` command (Typer and Rich).

Every command is a thin layer over the Python API. Wherever a loss is typed, it is a spec
(``huber(delta=1.345)``, see :mod:`losslab.spec`) or a formula; what ``recommend`` prints
pastes into ``fit``, ``search``, ``plot``, ``profile`` and ``show`` unchanged. Errors (bad
files, names, specs, numbers; a diverged fit; a missing optional library) are printed as
one clear line with exit status 2, never as a traceback; an unexpected exception is
reported as an internal error with status 1 (``LOSSLAB_DEBUG=1`` shows its traceback).
Files are written through :func:`losslab._files.write_atomic`.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from typing import Any, Callable

try:
    import click
    import typer
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table
except ImportError as exc:  # pragma: no cover - exercised only without the cli extra
    raise SystemExit(f"the losslab command needs the cli extra: pip install 'losslab[cli]' ({exc})") from None

import losslab as ll
from losslab.datasets import read_csv
from losslab.spec import expand_grid, format_spec, parse_spec, resolve_loss, split_specs

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="losslab: loss functions computed right, measured, and chosen.",
)
# Off a terminal (pipes, CI logs) Rich would wrap tables at 80 columns; give them room.
console = Console() if sys.stdout.isatty() else Console(width=160)
err_console = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=160)

#: Images the plot and profile commands write (matplotlib's vector and raster formats).
IMAGE_SUFFIXES = (".png", ".svg", ".pdf")


def _fail(message: str, code: int = 2) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True, markup=True)
    raise typer.Exit(code=code)


def _message(exc: BaseException) -> str:
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    if isinstance(exc, ModuleNotFoundError) and exc.name and str(exc).startswith("No module named"):
        return f"this needs the {exc.name!r} package, which is not installed: pip install {exc.name}"
    return str(exc) or type(exc).__name__


def friendly_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn every error into one red line: status 2 for what the user can fix (bad input, a
    diverged fit, a missing library), status 1 for an internal error."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, click.exceptions.ClickException):
            raise
        except (ValueError, TypeError, OSError, KeyError, ArithmeticError, ImportError, RuntimeError) as exc:
            err_console.print("[bold red]error:[/] ", end="", highlight=False)
            err_console.print(_message(exc), highlight=False, soft_wrap=True, markup=False)
            raise typer.Exit(code=2) from None
        except Exception as exc:  # noqa: BLE001 - the promise: no traceback reaches the user
            if os.environ.get("LOSSLAB_DEBUG"):
                raise
            err_console.print("[bold red]internal error:[/] ", end="", highlight=False)
            err_console.print(f"{type(exc).__name__}: {exc}. This is a bug in losslab; LOSSLAB_DEBUG=1 shows the"
                              " traceback to report.", highlight=False, soft_wrap=True, markup=False)
            raise typer.Exit(code=1) from None

    return wrapper


def _version(value: bool) -> None:
    if value:
        console.print(f"losslab {ll.__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main_options(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """losslab: loss functions computed right, measured, and chosen."""


def _names_option(text: str, option: str, what: str) -> list[str]:
    """A comma-separated option as a list; an empty selection (``--only ","``) is an error."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ValueError(f"{option} {text!r} selects nothing; give one or more {what} separated by commas")
    return names


def _write(path: Any, data: bytes | str, root: Any = None) -> None:
    from losslab._files import write_atomic

    replaced = write_atomic(path, data, root=root)
    console.print(f"wrote {path}" + (" (replaced the previous file)" if replaced else ""), highlight=False)


def _figure_bytes(figure: Any, path: Any, dpi: int) -> bytes:
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format=path.suffix.lstrip(".").lower(), dpi=dpi)
    return buffer.getvalue()


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
    counts: dict[str, int] = {}
    for k, entry in enumerate(entries):
        counts[entry.family] = counts.get(entry.family, 0) + 1
        last_of_family = k + 1 == len(entries) or entries[k + 1].family != entry.family
        table.add_row(entry.name, entry.family, _params_text(entry), entry.description, end_section=last_of_family)
    console.print(table)
    by_family = ", ".join(f"{name} {n}" for name, n in counts.items())
    console.print(f"{len(entries)} losses ({by_family}). `losslab show NAME` for the formula, traits and estimate.",
                  highlight=False)


@app.command()
@friendly_errors
def show(
    name: str = typer.Argument(..., help="A loss name, alias or spec, e.g. huber, mean_squared_error or"
                                         " 'huber(delta=2)'."),
) -> None:
    """Formula, parameters, traits and the statistic a loss estimates."""
    loss = resolve_loss(name)
    cls = type(loss)
    console.print(f"[bold]{cls.name}[/]  ({cls.family})  {cls.description}", highlight=False)
    presets = [f"{a} ({', '.join(f'{k}={v!r}' for k, v in p.items())})" for a, p in cls.preset_aliases.items()]
    if cls.aliases or presets:
        console.print(f"aliases: {', '.join([*cls.aliases, *presets])}", highlight=False)
    console.print(f"formula: {cls.formula}", highlight=False, markup=False)
    console.print(f"inputs: ({', '.join(cls.inputs)}); gradient with respect to {', '.join(cls.differentiable_inputs)}")
    table = Table(title="parameters")
    for column in ("name", "value", "default", "allowed", "meaning"):
        table.add_column(column)
    for p in cls.parameters:
        table.add_row(p.name, repr(loss.params.get(p.name, p.default)), repr(p.default), p.rule.text, p.help)
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
def _losses_argument(text: str) -> list[Any]:
    """The Loss of each spec or formula in a comma-separated argument."""
    return [resolve_loss(item) for item in split_specs(text)]


@app.command()
@friendly_errors
def plot(
    names: str = typer.Argument(..., help="Comma-separated loss specs or formulas, e.g. \"mse,mae,huber(delta=2)\"."),
    gradient: bool = typer.Option(False, "--gradient", help="Draw the gradient instead of the loss."),
    out: str = typer.Option("losses.png", "--out",
                            help="Image file to write (.png, .svg or .pdf), or an existing folder to write"
                                 " losses.png in."),
) -> None:
    """Draw losses (or their gradients) over the variable of their task, one panel per variable."""
    from losslab._files import output_file
    from losslab.plot import plot_losses

    path = output_file(out, "gradients.png" if gradient else "losses.png", IMAGE_SUFFIXES)
    losses = _losses_argument(names)
    _write(path, _figure_bytes(plot_losses(losses, gradient=gradient), path, 120))


@app.command()
@friendly_errors
def profile(
    name: str = typer.Argument(..., help="A loss spec such as \"huber(delta=1.345)\", or a formula in r, m or p such"
                                         " as 'log(cosh(r))'."),
    out: str = typer.Option(None, "--out", help="Also write the profile figure to this image file (or folder)."),
    as_json: bool = typer.Option(False, "--json", help="Print the profile as JSON instead of a table."),
) -> None:
    """Measure what a loss does: the statistic it estimates, robustness, convexity, kinks, efficiency."""
    import json

    from rich.markdown import Markdown

    from losslab._files import output_file

    path = None if out is None else output_file(out, "profile.png", IMAGE_SUFFIXES)
    loss = resolve_loss(name)
    card = ll.profile(loss)
    if as_json:
        console.print_json(json.dumps(card.to_dict()))
    else:
        # The title is what the user typed, as a spec (a formula as written), not name() + params.
        try:
            title = format_spec(loss)
            parse_spec(name)
        except (TypeError, ValueError):
            title = name.strip()
        body = "\n".join(line for line in card.to_markdown().splitlines() if not line.startswith("### Profile of"))
        console.print(f"[bold]Profile of {escape(title)}[/]", highlight=False)
        console.print(Markdown(body))
    if path is not None:
        _write(path, _figure_bytes(card.figure(), path, 110))


# ------------------------------------------------------------------------ experiments and report
@app.command("experiments")
@friendly_errors
def list_experiments() -> None:
    """The experiments: name, kind (seeded experiment or deterministic check) and the claim each one measures."""
    from losslab import experiments

    table = Table(title="losslab experiments")
    table.add_column("#")
    table.add_column("name")
    table.add_column("kind")
    table.add_column("claim", overflow="fold")
    for k, name in enumerate(experiments.names(), 1):
        experiment = experiments.get_experiment(name)
        table.add_row(str(k), name, experiment.kind, experiment.claim)
    console.print(table)


@app.command("experiment")
@friendly_errors
def run_experiment(
    name: str = typer.Argument(..., help="An experiment name (`losslab experiments` lists them)."),
    quick: bool = typer.Option(False, "--quick", help="Smaller, faster run (as the tests use)."),
    seed: int = typer.Option(0, "--seed", help="Base seed: the seeds run are 1000·seed, 1000·seed + 1, …"),
    seeds: int = typer.Option(None, "--seeds", help="Number of seeds (default 5; a check runs once)."),
    out: str = typer.Option(None, "--out", help="Also write the figures (PNG) and result.json into this folder."),
) -> None:
    """Run one experiment over its seeds and print its claim, rule, verdict (k/n) and checks."""
    import json
    from pathlib import Path

    from losslab.experiments import get_experiment

    def progress(experiment: str, trial: Any) -> None:
        console.print(f"  seed {trial.seed}: {'pass' if trial.passed else 'FAIL'} ({trial.seconds:.1f} s)",
                      highlight=False)

    result = get_experiment(name).run(quick=quick, seed=seed, n_seeds=seeds, on_trial=progress)
    verdict = "[green]supported[/]" if result.supported else "[red]not supported[/]"
    if result.kind == "check":
        verdict = "[green]passes[/]" if result.supported else "[red]fails[/]"
    console.print(f"[bold]{result.title}[/]", highlight=False)
    console.print(f"claim: {result.claim}", highlight=False, markup=False)
    console.print(f"rule: {result.verdict_rule}", highlight=False, markup=False)
    console.print(f"verdict: {verdict} ({result.k}/{result.n} seeds pass; {result.seconds:.1f} s)")
    table = Table(show_header=True)
    for column in ("check", "seeds passing", "mean value", "margin: mean [95% interval]"):
        table.add_column(column, overflow="fold")
    for row in result.check_summary():
        interval = "" if row["margin_ci95"] is None else " [{:.3g}, {:.3g}]".format(*row["margin_ci95"])
        table.add_row(f"{row['check']} {row['op']} {row['threshold']:g}", f"{row['passed']}/{row['n']}",
                      f"{row['mean_value']:.3g}", f"{row['margin_mean']:.3g}{interval}")
    console.print(table)
    if result.notes:
        console.print(f"notes: {result.notes}", highlight=False, markup=False)
    if out:
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        for figure in result.figures:
            path = folder / f"{result.name}-{figure.name}.png"
            _write(path, figure.png, root=folder)
        _write(folder / f"{result.name}.json", json.dumps(result.to_dict(), indent=2, allow_nan=False), root=folder)


@app.command()
@friendly_errors
def report(
    out: str = typer.Option("report", "--out", help="Folder for report.html, results.json and figures/."),
    quick: bool = typer.Option(False, "--quick", help="Quick mode (about 30 s on two cores)."),
    only: str = typer.Option(None, "--only", help="Comma-separated experiment names."),
    jobs: int = typer.Option(2, "--jobs", help="Processes running the experiments' seeds in parallel."),
    seed: int = typer.Option(0, "--seed", help="Base seed: each experiment runs seeds 1000·seed, 1000·seed + 1, …"),
    seeds: int = typer.Option(None, "--seeds", help="Seeds per experiment (default 5)."),
) -> None:
    """Run the experiments and write one self-contained HTML report and a JSON of every number."""
    from losslab.experiments.report import write_report

    selected = None if only is None else _names_option(only, "--only", "experiment names")
    replaced: list = []
    html_path, json_path = write_report(out, quick=quick, only=selected, jobs=jobs, seed=seed, n_seeds=seeds,
                                        replaced=replaced)
    if replaced:
        console.print(f"replaced {len(replaced)} existing file(s) in {escape(out)}", highlight=False)
    import json

    results = json.loads(json_path.read_text())["experiments"]
    supported = sum(r["supported"] for r in results)
    console.print(f"{supported}/{len(results)} claims supported. Report: {html_path}  Numbers: {json_path}",
                  highlight=False)


# ------------------------------------------------------------------------ reading a CSV
def _positive(y: Any, pos_label: str | None, task: str) -> tuple[Any, list[Any] | None]:
    """For a binary target: ``y`` as 0/1 with 1 the positive class, and [negative, positive]
    labels; the positive class is ``pos_label`` or, without it, the label that sorts last
    (as scikit-learn). Other targets: ``(y, None)``; ``pos_label`` is then an error."""
    import numpy as np

    classes = np.unique(y)
    if task == "regression" or len(classes) != 2:
        if pos_label is not None:
            what = "a regression target" if task == "regression" else f"{len(classes)} classes"
            raise ValueError(f"--pos-label {pos_label!r} is for binary targets; this one has {what}")
        return y, None
    if pos_label is None:
        positive = classes[-1]
    else:
        match = [c for c in classes if str(c) == pos_label]
        if not match:
            raise ValueError(f"--pos-label {pos_label!r} is not a label of the target; labels: "
                             f"{', '.join(map(str, classes))}")
        positive = match[0]
    negative = classes[0] if classes[1] == positive else classes[1]
    return (np.asarray(y) == positive).astype(np.int64), [negative, positive]


# ------------------------------------------------------------------------ training on a CSV
def _split(n: int, test_size: float, seed: int, y: Any, classification: bool) -> tuple[Any, Any]:
    import numpy as np

    if not (isinstance(test_size, float) and 0.0 <= test_size < 1.0):
        raise ValueError(f"--test-size must be a fraction in [0, 1); got {test_size!r}")
    n_test = int(round(test_size * n))
    if n - n_test < 2:
        raise ValueError(f"--test-size {test_size:g} leaves {n - n_test} training row(s) of {n}; at least 2 are needed")
    rng = np.random.default_rng(seed)
    if not classification or n_test == 0:
        order = rng.permutation(n)
        return np.sort(order[n_test:]), np.sort(order[:n_test])
    # Stratified: each class keeps its share in the test rows (rounded), as train_test_split(stratify=y).
    test = []
    for label in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == label))
        test.extend(rows[: int(round(test_size * len(rows)))])
    test = np.sort(np.asarray(test, dtype=int))
    return np.setdiff1d(np.arange(n), test), test


def _fit_with_progress(estimator: Any, X: Any, y: Any, what: str) -> None:
    """Fit with the trainer's per-epoch progress bar on a terminal (long fits are not silent)."""
    if sys.stderr.isatty():
        err_console.print(what, highlight=False)
    estimator.set_params(progress=True)
    estimator.fit(X, y)


def _classification_rows(table: Any, y: dict, pred: dict) -> None:
    import numpy as np
    from sklearn.metrics import balanced_accuracy_score

    for metric, fn in (("accuracy", lambda a, b: np.mean(a == b)), ("balanced accuracy", balanced_accuracy_score)):
        table.add_row(metric, *(f"{fn(y[p], pred[p]):.3f}" if len(y[p]) else "—" for p in ("train", "test")))


def _per_class(y: dict, pred: dict, names: list[Any]) -> Any:
    """Precision, recall and F1 of each class on the test rows (the training rows without them)."""
    import numpy as np
    from sklearn.metrics import precision_recall_fscore_support

    part = "test" if len(y["test"]) else "train"
    table = Table(title=f"per class ({part} rows)")
    for column in ("class", "precision", "recall", "F1", "rows"):
        table.add_column(column)
    precision, recall, f1, support = precision_recall_fscore_support(
        y[part], pred[part], labels=np.arange(len(names)), zero_division=0)
    for k, name in enumerate(names):
        table.add_row(str(name), f"{precision[k]:.3f}", f"{recall[k]:.3f}", f"{f1[k]:.3f}", str(int(support[k])))
    return table


def _coefficients(estimator: Any, features: list[str], names: list[Any] | None, binary: bool) -> Any:
    """The linear model's weights: one row per output, labelled (binary: toward the positive class)."""
    import numpy as np

    coef = getattr(estimator, "coef_", None)
    if coef is None:
        return None
    coef = np.atleast_2d(np.asarray(coef, dtype=float))
    intercept = np.atleast_1d(np.asarray(estimator.intercept_, dtype=float))
    table = Table(title="coefficients")
    table.add_column("output")
    for f in [*features, "intercept"]:
        table.add_column(f)
    if names is None:
        rows = ["y"]
    elif binary:
        rows = [f"toward {names[1]}"]
    else:
        rows = [f"class {n}" for n in names]
    for label, w, b in zip(rows, coef, intercept):
        table.add_row(label, *(f"{v:.4g}" for v in w), f"{b:.4g}")
    return table


def _save_folder(folder: str) -> Any:
    """The ``--save`` folder, checked before training (created if missing; its parent must exist)."""
    from pathlib import Path

    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise ValueError(f"--save {folder!r} is a file; give a folder (created if missing)")
    if not path.parent.is_dir():
        raise ValueError(f"--save {folder!r}: its parent folder {str(path.parent)!r} does not exist")
    return path


def _save(path: Any, estimator: Any, meta: dict, rows: Any, y_true: Any, y_pred: Any, split: Any,
          proba: Any) -> None:
    """The fitted estimator (pickle) and every data row's prediction (CSV; ``row`` counts from 0)."""
    import csv
    import io
    import pickle

    path.mkdir(exist_ok=True)
    _write(path / "model.pkl", pickle.dumps({"estimator": estimator, **meta}), root=path)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    header = ["row", "split", "y_true", "y_pred"] + ([f"p({meta['classes'][-1]})"] if proba is not None else [])
    writer.writerow(header)
    for i in range(len(rows)):
        extra = [f"{proba[i]:.6g}"] if proba is not None else []
        writer.writerow([int(rows[i]), split[i], y_true[i], y_pred[i], *extra])
    _write(path / "predictions.csv", text.getvalue(), root=path)


@app.command()
@friendly_errors
def fit(
    data: str = typer.Argument(..., help="A CSV file with a header row; numeric features, the target may hold labels."),
    target: str = typer.Option(..., "--target", help="The column to predict."),
    loss: str = typer.Option("mse", "--loss", help="A loss spec, e.g. mse, \"huber(delta=110)\", logistic."),
    penalty: str = typer.Option(None, "--penalty", help="l1, l2 or elastic_net."),
    alpha: float = typer.Option(0.0, "--alpha", help="Penalty strength."),
    model: str = typer.Option("linear", "--model", help="linear or mlp."),
    epochs: int = typer.Option(200, "--epochs", help="Maximum epochs."),
    learning_rate: float = typer.Option(0.01, "--learning-rate", help="Start of the learning rate (Adam, SGD)."),
    test_size: float = typer.Option(0.2, "--test-size", help="Share of the rows held out for testing, in [0, 1)."),
    pos_label: str = typer.Option(None, "--pos-label", help="The positive class of a binary target (default: the"
                                                            " label that sorts last)."),
    save: str = typer.Option(None, "--save", help="Folder to write model.pkl and predictions.csv into."),
    seed: int = typer.Option(0, "--seed", help="Random seed (split and model)."),
) -> None:
    """Train a model on a CSV with a loss; print the metrics on a held-out split and a diagnosis."""
    import numpy as np

    from losslab.sklearn import LossClassifier, LossRegressor
    from losslab.train import diagnose

    L = resolve_loss(loss)
    trainable = ("regression", "binary", "multiclass", "classification")
    if tuple(L.inputs) != ("y_true", "y_pred") or L.traits.task not in trainable:
        raise ValueError(f"fit trains regression and classification losses of (y_true, y_pred); {L.name} is a"
                         f" {L.traits.task} loss of ({', '.join(L.inputs)})")
    save_to = None if save is None else _save_folder(save)
    try:  # a spec goes to the estimator by name, which builds it on raw scores (from_logits=True)
        spec_name, spec_params = parse_spec(loss)
        estimator_loss: dict[str, Any] = {"loss": spec_name, "loss_params": spec_params or None}
    except ValueError:  # a formula
        estimator_loss = {"loss": L}
    X, y, features = read_csv(data, target)
    task = L.traits.task
    classification = task != "regression"
    if not classification and y.dtype.kind not in "iuf":
        example = next(iter(np.unique(y)))
        raise ValueError(f"the target {target!r} holds class labels (e.g. {example!r}); {L.name} is a {task} loss:"
                         " use a classification loss such as logistic or cross_entropy")
    if classification and y.dtype.kind == "f":
        raise ValueError(f"the target {target!r} holds continuous values; {L.name} is a {task} loss: use a"
                         " regression loss such as mse, or give class labels")
    names = None
    if classification:
        binary_target = len(np.unique(y)) == 2
        y, names = _positive(y, pos_label, "binary" if binary_target else "multiclass")
        if names is None:  # multiclass: the classes in sorted order, encoded 0..K-1
            names_arr, y = np.unique(y, return_inverse=True)
            names = list(names_arr)
    elif pos_label is not None:
        raise ValueError(f"--pos-label {pos_label!r} is for binary targets; {target!r} is a regression target")
    train, test = _split(len(y), test_size, seed, y, classification)
    cls = LossClassifier if classification else LossRegressor
    estimator = cls(**estimator_loss, penalty=penalty, alpha=alpha, model=model, max_epochs=epochs,
                    learning_rate=learning_rate, random_state=seed, early_stopping=False)
    # A diverged fit raises TrainingDiverged (a RuntimeError): one line, naming the epoch.
    _fit_with_progress(estimator, X[train], y[train], f"training {model} on {len(train)} rows with {loss}")
    parts = {"train": train, "test": test}
    truth = {k: y[v] for k, v in parts.items()}
    pred = {k: (estimator.predict(X[v]) if len(v) else y[:0]) for k, v in parts.items()}
    console.print(f"[bold]{escape(loss)}[/] on {escape(data)}: {len(train)} training rows, {len(test)} test rows",
                  highlight=False)
    table = Table()
    table.add_column("metric")
    table.add_column("train")
    table.add_column("test")
    per_class = None
    if not classification:
        for name, fn in (("MSE", lambda a, b: np.mean((a - b) ** 2)), ("MAE", lambda a, b: np.mean(np.abs(a - b)))):
            table.add_row(name, f"{fn(truth['train'], pred['train']):.4g}",
                          f"{fn(truth['test'], pred['test']):.4g}" if len(test) else "—")
    else:
        _classification_rows(table, truth, pred)
        per_class = _per_class(truth, pred, names)
    console.print(table)
    if per_class is not None:
        console.print(per_class)
    binary = classification and len(names) == 2
    if binary:
        console.print(f"positive class: '{names[1]}'" + ("" if pos_label else " (the label that sorts last;"
                      " --pos-label chooses)"), highlight=False)
    coefficients = _coefficients(estimator, features, names, binary)
    if coefficients is not None:
        console.print(coefficients)
    residuals = None if classification else pred["train"] - truth["train"]
    diagnosis = diagnose(estimator.history_, residuals=residuals)
    console.print(f"diagnosis: [bold]{diagnosis.kind}[/] — {escape(diagnosis.evidence)}", highlight=False)
    if diagnosis.advice:
        console.print(f"advice: {escape(diagnosis.advice)}", highlight=False)
    if save_to is not None:
        rows = np.arange(len(y))
        split = np.where(np.isin(rows, test), "test", "train")
        y_pred = estimator.predict(X)
        if classification:
            y_true, y_shown = [names[int(i)] for i in y], [names[int(i)] for i in y_pred]
        else:
            y_true, y_shown = [f"{v:.6g}" for v in y], [f"{v:.6g}" for v in y_pred]
        proba = estimator.predict_proba(X)[:, 1] if binary and hasattr(estimator, "predict_proba") else None
        meta = {"loss": loss, "target": target, "features": features, "classes": names,
                "note": "the classifier predicts indices into 'classes'" if classification else ""}
        _save(save_to, estimator, meta, rows, y_true, y_shown, split, proba)
# ------------------------------------------------------------------------ choosing a loss (select.py)
_PINBALL = re.compile(r"^(?:neg_mean_)?pinball(?:_loss)?_(\d*\.?\d+)$")


def _binary_target(y: Any, pos_label: str | None, task: str | None) -> tuple[Any, str | None]:
    """``y`` with the positive class of a binary target as 1 (and a note naming both labels)."""
    if pos_label is None:
        return y, None
    continuous = task == "regression" or (task is None and getattr(y, "dtype", None) is not None
                                          and y.dtype.kind == "f")
    encoded, names = _positive(y, pos_label, "regression" if continuous else "binary")
    return encoded, f"classes: 1 = '{names[1]}' (positive, --pos-label), 0 = '{names[0]}'"


def _search_candidates(text: str, metric: str | None) -> tuple[list[Any], dict[str, Any], list[str]]:
    """``(losses, param_grid, notes)`` for ``search`` from ``--losses``: lists in a spec are grids;
    a plain ``quantile`` under ``--metric pinball_<q>`` trains at that level (a note says so).

    A grid goes to search's ``param_grid`` when its loss appears once in the list, so that
    each candidate's label shows the grid's value (``huber(delta=1)``, not ``huber``)."""
    match = _PINBALL.match(metric.strip().lower()) if metric else None
    level = float(match.group(1)) if match else None
    parsed = []
    for item in split_specs(text):
        try:
            name, given = parse_spec(item)
            ll.get(name)
        except ValueError:
            resolve_loss(item)  # the clearer error for a bad spec or an unknown name
            raise ValueError(f"--losses {item!r} is a formula; search trains catalog losses, by name, in worker"
                             " processes. Compare a formula with `losslab fit --loss` instead.") from None
        parsed.append((item, given, expand_grid(item)))
    counts: dict[str, int] = {}
    for _, _, expanded in parsed:
        counts[expanded[0].name] = counts.get(expanded[0].name, 0) + 1
    losses: list[Any] = []
    grid: dict[str, Any] = {}
    notes: list[str] = []
    for item, given, expanded in parsed:
        name, fill = expanded[0].name, {}
        if name == "quantile" and "q" not in given and metric and "pinball" in metric.lower():
            if level is None:
                raise ValueError(f"--metric {metric!r} is not a pinball level such as pinball_0.9")
            fill = {"q": level}
            notes.append(f"{item} trains q={level:g}, the level of --metric {metric}")
            expanded = [ll.get(name, **{**L.params, **fill}) for L in expanded]
        varying = [k for k in given if len({repr(L.params[k]) for L in expanded}) > 1]
        if varying and counts[name] == 1:
            fixed = {k: expanded[0].params[k] for k in given if k not in varying}
            losses.append(ll.get(name, **fixed, **fill))
            grid[name] = {k: given[k] for k in varying}
        else:
            losses.extend(expanded)
    return losses, grid, notes


@app.command()
@friendly_errors
def recommend(
    data: str = typer.Argument(..., help="A CSV file with a header row; numeric features, the target may hold labels."),
    target: str = typer.Option(..., "--target", help="The column to predict."),
    metric: str = typer.Option(None, "--metric", help="The metric you are judged on, e.g. mae, pinball_0.9, f1."),
    task: str = typer.Option(None, "--task", help="regression, binary or multiclass (default: inferred)."),
    pos_label: str = typer.Option(None, "--pos-label", help="The positive class of a binary target (default: the"
                                                            " label that sorts last)."),
) -> None:
    """Describe the target and rank losses for it; each is a spec that pastes into the other commands."""
    from losslab.select import recommend as advise

    X, y, _ = read_csv(data, target)
    y, note = _binary_target(y, pos_label, task)
    if note:
        console.print(note, highlight=False, markup=False)
    console.print(str(advise(y, task=task, X=X, metric=metric)), highlight=False, markup=False)


@app.command()
@friendly_errors
def search(
    data: str = typer.Argument(..., help="A CSV file with a header row; numeric features, the target may hold labels."),
    target: str = typer.Option(..., "--target", help="The column to predict."),
    losses: str = typer.Option(None, "--losses", help="Comma-separated loss specs; a list is a grid, e.g."
                                                      " \"mse,huber(delta=[0.5,1,1.345,2])\" (default: recommend's"
                                                      " top 3)."),
    metric: str = typer.Option(None, "--metric", help="Default: mse (regression), balanced_accuracy (classes)."),
    cv: int = typer.Option(5, "--cv", help="Number of folds."),
    n_jobs: int = typer.Option(None, "--n-jobs", help="Parallel fits (default 1 locally, every worker on dask)."),
    backend: str = typer.Option("loky", "--backend", help="loky, dask or ray."),
    scheduler: str = typer.Option(None, "--scheduler", help="Dask scheduler address (or DASK_SCHEDULER_ADDRESS)."),
    max_epochs: int = typer.Option(None, "--max-epochs", help="Epochs per fit (the estimators' default: 200)."),
    learning_rate: float = typer.Option(None, "--learning-rate", help="Start of the learning rate (default 0.01)."),
    pos_label: str = typer.Option(None, "--pos-label", help="The positive class of a binary target (default: the"
                                                            " label that sorts last)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the folds and the models."),
) -> None:
    """Cross-validate losses on a CSV: mean score, 95% interval, best and runner-up."""
    from losslab.select import search as cross_validate

    candidates, grid, notes = (None, None, []) if losses is None else _search_candidates(losses, metric)
    X, y, _ = read_csv(data, target)
    y, note = _binary_target(y, pos_label, None)
    for line in ([note] if note else []) + notes:
        console.print(f"note: {line}", highlight=False, markup=False)
    extra = {k: v for k, v in (("max_epochs", max_epochs), ("learning_rate", learning_rate)) if v is not None}
    result = cross_validate(X, y, losses=candidates, param_grid=grid or None, metric=metric, cv=cv, n_jobs=n_jobs,
                            backend=backend, scheduler=scheduler, estimator_params=extra, random_state=seed,
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
    """Entry point of the ``losslab`` script (and of ``python -m losslab``)."""
    app(args=argv if argv is not None else sys.argv[1:], prog_name="losslab")


if __name__ == "__main__":  # pragma: no cover
    main()
