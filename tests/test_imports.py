"""The import graph of losslab: no cycles, and no module imports one from a layer above it.

The graph is read from the source with ``ast`` (nothing is imported): every ``import`` and
``from ... import`` anywhere in a module, function-level imports included, gives an edge
from that module to the losslab module it names (``from .x import y`` points at the
submodule ``x.y`` when there is one, else at ``x``). Importing ``a.b.c`` also runs the
``__init__`` of ``a`` and ``a.b``; those implicit edges are left out, because a package's
``__init__`` only gathers what lies beneath it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "losslab"

#: The layers, lowest first. A module may import modules of its own layer or of lower ones,
#: never of a higher one. Each entry is a module name or a package prefix ("losslab.train"
#: covers losslab.train and everything under it); the longest matching entry decides.
#: Data flows upward: arrays and checks → the Loss contract → the catalog → regularizers →
#: what uses losses (training, user losses, data sets) → what measures them (profiles; the
#: scikit-learn estimators, which train them) → what chooses among them (select, which
#: cross-validates the estimators) → what shows them (experiments, plots, and the `losslab`
#: package itself, which re-exports the layers below) → the interfaces (command line, web).
#: Within a layer, imports go either way but never in a circle (the cycle test).
LAYERS: list[tuple[str, list[str]]] = [
    ("foundation", ["losslab._array", "losslab._stable", "losslab._validate", "losslab.traits", "losslab._json",
                    "losslab._progress", "losslab._files"]),
    # The optional compiled kernels know nothing of losses: the engine calls them.
    ("kernels", ["losslab.kernels"]),
    ("loss core", ["losslab.loss"]),
    ("catalog", ["losslab.losses", "losslab.miners"]),
    ("regularizers", ["losslab.regularizers"]),
    # custom sits below profile: profile turns a typed formula into a loss (custom.from_expression),
    # and custom measures traits through the function profile hands it (custom.base.set_trait_measurer).
    ("users of losses", ["losslab.train", "losslab.datasets", "losslab.custom"]),
    # A resolver of what a user types for a loss (name, spec, formula) sits above the registry and custom.
    ("resolving what users type", ["losslab.spec"]),
    ("measuring and training", ["losslab.profile", "losslab.sklearn"]),
    ("choosing", ["losslab.select"]),
    ("showing", ["losslab.experiments", "losslab.plot", "losslab"]),
    ("interfaces", ["losslab.cli", "losslab.web", "losslab.__main__", "losslab.torch", "losslab.keras"]),
]

#: Imports that break the layering today, by (importer, imported), to be removed one by one;
#: any other violation fails, and so does an entry that no longer happens. Empty: the loss
#: core, the catalog and the trainer import only downward, and the custom ↔ profile ↔ plot
#: circle is gone (profile hands custom its measuring function; the curves and the card's
#: figure live in profile, and plot imports them).
KNOWN_EXCEPTIONS: set[tuple[str, str]] = set()


def _modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        out[".".join(parts)] = (path, is_package)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    edges: dict[str, set[str]] = {}
    for name, (path, is_package) in modules.items():
        package = name if is_package else name.rsplit(".", 1)[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names if a.name.split(".")[0] == "losslab")
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - node.level + 1]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                if module.split(".")[0] != "losslab":
                    continue
                for alias in node.names:
                    sub = f"{module}.{alias.name}"
                    targets.add(sub if sub in modules else module)
        unknown = {t for t in targets if t not in modules}
        assert not unknown, f"{name} imports {sorted(unknown)}, which are not modules of losslab"
        edges[name] = targets - {name}
    return edges


def _layer(module: str) -> int:
    best, level = -1, None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, level = len(prefix), index
    if level is None:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS in tests/test_imports.py")
    return level


def test_the_graph_is_read_from_every_module():
    graph = _graph()
    # A few edges that must be there, one of them a function-level import (plot → spec).
    assert "losslab.loss" in graph["losslab.losses.regression"]
    assert "losslab.spec" in graph["losslab.plot"]
    assert "losslab.profile.curves" in graph["losslab.plot"]
    assert "losslab.sklearn" in graph["losslab.select.folds"]
    assert len(graph) > 60


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path that returns to its start, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def _violations(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    return {(m, t) for m, targets in graph.items() for t in targets if _layer(t) > _layer(m)}


def test_no_import_cycles():
    cycle = _find_cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_module_imports_a_layer_above_its_own():
    violations = _violations(_graph())
    new = sorted(violations - KNOWN_EXCEPTIONS)
    assert not new, "imports that run up the layers: " + "; ".join(
        f"{a} ({LAYERS[_layer(a)][0]}) imports {b} ({LAYERS[_layer(b)][0]})" for a, b in new)
    healed = sorted(KNOWN_EXCEPTIONS - violations)
    assert not healed, f"remove these from KNOWN_EXCEPTIONS, they no longer happen: {healed}"


def test_a_planted_circle_and_upward_import_are_caught():
    """The checks can fail: custom importing profile back (the circle this layout removed) is both."""
    graph = _graph()
    graph["losslab.custom.base"] = graph["losslab.custom.base"] | {"losslab.profile"}
    assert ("losslab.custom.base", "losslab.profile") in _violations(graph)
    cycle = _find_cycle(graph)
    assert cycle is not None and "losslab.profile" in cycle and "losslab.custom.base" in cycle
