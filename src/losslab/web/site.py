"""The explorer's pages, rendered from the package's templates (shared by ``serve`` and ``docs``).

A page gets ``base`` (the path to the site's root: "/" on the server, "./" or "../" in the
static site) and ``ext`` ("" on the server, ".html" in the static site), so the same
templates link correctly in both. Formulas are LaTeX in the library; they are rendered to
MathML here (latex2mathml, offline), which browsers draw natively.
"""

from __future__ import annotations

import functools
import html
import inspect
import json
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
from markupsafe import Markup

import losslab as ll

from . import compute

HERE = Path(__file__).parent
STATIC = HERE / "static"
TEMPLATES = HERE / "templates"

PAGES = {
    "catalog": "Catalog", "regression": "Regression playground", "classification": "Classification playground",
    "landscape": "Landscape", "choose": "Choose a loss",
}


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson_safe"] = lambda v: Markup(json.dumps(v, allow_nan=False).replace("</", "<\\/"))
    return env


def mathml(latex: str) -> Markup:
    """MathML for a LaTeX formula; the LaTeX itself, escaped, when it cannot be converted."""
    if not latex:
        return Markup("")
    try:
        from latex2mathml.converter import convert
    except ImportError:
        return Markup(f"<code>{html.escape(latex)}</code>")
    try:
        return Markup(convert(latex, display="block"))
    except Exception:  # noqa: BLE001 - a converter's failure must not take the page down
        return Markup(f"<code>{html.escape(latex)}</code>")


def render(template: str, *, base: str = "/", ext: str = "", static: bool = False, plotly: bool = True,
           **context: Any) -> str:
    return environment().get_template(template).render(base=base, ext=ext, static_site=static, pages=PAGES,
                                                       plotly=plotly, version=ll.__version__, **context)


@functools.lru_cache(maxsize=1)
def catalog_rows() -> tuple[dict[str, Any], ...]:
    return tuple(compute.catalog())


def catalog_page(base: str = "/", ext: str = "", static: bool = False) -> str:
    rows = catalog_rows()
    families = sorted({r["family"] for r in rows})
    traits = ["convex", "differentiable", "robust", "bounded", "lipschitz", "margin_based", "proper",
              "classification_calibrated"]
    return render("catalog.html", base=base, ext=ext, static=static, rows=rows, families=families, traits=traits,
                  plotly=False, title="losslab explorer: the catalog")


@functools.lru_cache(maxsize=64)
def measured(name: str) -> dict[str, Any] | None:
    """``ll.profile``'s measured traits for the default parameters (cached: a loss is profiled once)."""
    try:
        return ll.profile(name).to_dict()
    except Exception:  # noqa: BLE001 - a loss the profiler cannot measure still has its page
        return None


def loss_page(name: str, base: str = "/", ext: str = "", static: bool = False) -> str:
    """The page of one loss. Raises KeyError for a name outside the catalog."""
    rows = {r["name"]: r for r in catalog_rows()}
    if name not in rows:
        raise KeyError(name)
    row = rows[name]
    loss = ll.get(name)
    curve = None
    if row["axis"] is not None:
        curve = compute.curve(loss, n=201)
    prof = measured(name) if row["axis"] is not None else None
    doc = inspect.getdoc(type(loss)) or ""
    peers = [r["name"] for r in catalog_rows() if r["family"] == row["family"] and r["axis"] and r["name"] != name]
    example = _example(row)
    return render("loss.html", base=base, ext=ext, static=static, row=row, formula=mathml(row["formula"]),
                  curve=curve, measured=prof, doc=doc, peers=peers, example=example,
                  title=f"{name}: losslab explorer")


def _example(row: dict[str, Any]) -> str:
    params = ", ".join(f"{p['name']}={p['default']!r}" for p in row["controls"] if p["kind"] in ("number", "bool")
                       and p["default"] is not None)
    lines = ["import numpy as np", "import losslab as ll", "",
             f"L = ll.get({row['name']!r}{', ' + params if params else ''})"]
    axis = row["axis"] or ""
    if axis.startswith("residual") or axis.startswith("prediction"):
        lines += ["y_true = np.array([1.0, 2.0, 3.0])", "y_pred = np.array([1.5, 1.0, 3.2])"]
    elif "3 classes" in axis:
        pred = ([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]] if "probability" in axis else [[2.0, 0.5, -1.0], [0.1, 0.3, 1.2]])
        target: Any = [0, 2]
        try:
            ll.get(row["name"]).per_sample(np.array(target), np.array(pred))
        except ValueError:  # divergences compare two distributions, not a class and a distribution
            target = [[1.0, 0.0, 0.0], [0.2, 0.3, 0.5]]
        lines += [f"y_true = np.array({target})", f"y_pred = np.array({pred})"]
    elif axis.startswith("probability"):
        lines += ["y_true = np.array([1, 0, 1])", "y_pred = np.array([0.9, 0.2, 0.4])"]
    elif axis.startswith("margin"):
        lines += ["y_true = np.array([1, -1, 1])", "y_pred = np.array([2.0, -0.5, 0.3])"]
    else:
        # A loss of structured inputs (embeddings and labels, maps, sequences, point clouds):
        # its docstring's example, which the doctests check, shows the arrays it takes.
        session = _doctest_session(inspect.getdoc(type(ll.get(row["name"]))) or "")
        if session:
            return session
        return "\n".join(lines[:4] + ["print(L.inputs)  # the arrays it takes, in order", "print(L.traits)"])
    # a loss with call options (gaussian_nll's variance) takes them with each call
    extra = "".join(f", {k}=1.0" for k in getattr(ll.get(row["name"]), "call_options", ()))
    lines += [f"print(L(y_true, y_pred{extra}))               # mean loss",
              f"print(L.per_sample(y_true, y_pred{extra}))    # one value per sample",
              f"print(L.gradient(y_true, y_pred{extra}))      # d(mean loss)/d y_pred",
              "print(L.traits)"]
    return "\n".join(lines)


def _doctest_session(doc: str) -> str:
    """The ``>>>`` example of a docstring as a script: its statements, each printed result
    as a comment (``# → 0.35``) under the line that prints it; '' when there is none."""
    lines: list[str] = []
    in_example = False  # a result belongs to the statement above it, up to the next blank line
    for raw in doc.splitlines():
        line = raw.strip()
        if line.startswith((">>> ", "... ")) or line in (">>>", "..."):
            lines.append(line[4:])
            in_example = True
        elif line and in_example:
            lines.append(f"# → {line}")
        else:
            in_example = False
            if lines and lines[-1]:
                lines.append("")
    return "\n".join(lines).strip()


def playground_page(kind: str, base: str = "/", ext: str = "", static: bool = False) -> str:
    rows = catalog_rows()
    if kind == "regression":
        losses = [r["name"] for r in rows if r["regression"]]
    elif kind == "classification":
        losses = [r["name"] for r in rows if r["classification"]]
    elif kind == "landscape":
        losses = [r["name"] for r in rows if r["regression"] or (r["classification"] and r["family"] == "binary")]
    else:
        losses = []
    return render(f"{kind}.html", base=base, ext=ext, static=static, losses=losses,
                  rows={r["name"]: r for r in rows}, datasets=compute.DATASETS, title=f"{PAGES[kind]}: losslab explorer")


def build_static_site(out: str | Path) -> list[Path]:
    """Write the catalog (index.html), a page per loss (loss/NAME.html) and the static assets.

    The pages are the server's templates with relative links; curves show the default
    parameters (moving them needs ``losslab serve``). Returns the files written.
    """
    out = Path(out)
    (out / "loss").mkdir(parents=True, exist_ok=True)
    written = []
    index = out / "index.html"
    index.write_text(catalog_page(base="./", ext=".html", static=True), encoding="utf-8")
    written.append(index)
    for row in catalog_rows():
        page = out / "loss" / f"{row['name']}.html"
        page.write_text(loss_page(row["name"], base="../", ext=".html", static=True), encoding="utf-8")
        written.append(page)
    static_out = out / "static"
    static_out.mkdir(exist_ok=True)
    for f in sorted(STATIC.iterdir()):
        if f.is_file():
            target = static_out / f.name
            target.write_bytes(f.read_bytes())
            written.append(target)
    return written
