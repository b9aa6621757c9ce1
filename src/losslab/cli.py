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
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
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
    if cls.aliases:
        console.print(f"aliases: {', '.join(cls.aliases)}", highlight=False)
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


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``losslab`` script."""
    app(args=argv if argv is not None else sys.argv[1:], prog_name="losslab")


if __name__ == "__main__":  # pragma: no cover
    main()
