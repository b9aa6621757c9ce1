"""Seeded data sets for experiments, tests and teaching.

Every generator takes ``seed`` and returns a ``Dataset`` (X, y, task and metadata); the
same seed gives the same data. ``train_test_split`` splits one into two.

- ``houses``: price against size at 2.1 per m², with noise and optional gross outliers;
- ``heavy_tailed``: linear regression with Student-t noise;
- ``counts``: Poisson or Tweedie counts with a log-linear mean;
- ``imbalanced``: binary classes at any ratio (99:1);
- ``circle``, ``xor``, ``gaussians``, ``spiral`` (``playground(name)``): TensorFlow
  Playground's two-dimensional sets;
- ``hierarchical``: classes grouped in superclasses whose members share features
  (cat and dog against car and truck), for embeddings;
- ``sparse_linear``: k of p features informative (the true coefficients in metadata);
- ``add_label_noise``: flip a share of the labels;
- ``load``: scikit-learn's bundled real data sets (diabetes, breast_cancer, digits, wine, iris);
- ``read_csv``: a CSV file with a header row (what the command line reads).

>>> d = houses(n=5, seed=0)
>>> d.X.shape, d.y.shape, d.task
((5, 1), (5,), 'regression')
"""

from __future__ import annotations

import math
import csv
import os
from pathlib import Path
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ._validate import suggest

__all__ = [
    "Dataset", "train_test_split", "houses", "heavy_tailed", "counts", "imbalanced", "circle", "xor", "gaussians",
    "spiral", "playground", "hierarchical", "sparse_linear", "add_label_noise", "load", "REAL_DATASETS",
    "read_csv",
]

PRICE_PER_M2 = 2.1


@dataclass(frozen=True)
class Dataset:
    """Features ``X`` (n, p), targets ``y`` (n,), the ``task`` ("regression", "binary",
    "multiclass", "counts") and what else is known (true coefficients, outlier indices,
    class names) in ``metadata``."""

    X: np.ndarray
    y: np.ndarray
    task: str
    name: str = ""
    feature_names: tuple[str, ...] = ()
    target_names: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.y)

    def __iter__(self):  # X, y = dataset
        return iter((self.X, self.y))

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}, task={self.task!r}, X{self.X.shape}, y{self.y.shape})"


def _rng(seed: Any) -> np.random.Generator:
    return np.random.default_rng(seed)


def _count(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def _nonneg(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
    return float(value)


def train_test_split(
    data: Dataset, test_size: float = 0.25, seed: Any = None, stratify: bool | None = None
) -> tuple[Dataset, Dataset]:
    """Shuffle and split into (train, test); classification sets keep their class shares.

    >>> train, test = train_test_split(circle(n=100, seed=0), test_size=0.2, seed=0)
    >>> len(train), len(test)
    (80, 20)
    """
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be a fraction in (0, 1); got {test_size!r}")
    n = len(data)
    rng = _rng(seed)
    stratify = data.task in ("binary", "multiclass") if stratify is None else stratify
    if stratify:
        test_idx = []
        for label in np.unique(data.y):
            members = rng.permutation(np.flatnonzero(data.y == label))
            test_idx.extend(members[: int(round(test_size * len(members)))])
        test_mask = np.zeros(n, dtype=bool)
        test_mask[np.asarray(test_idx, dtype=int)] = True
        order = rng.permutation(n)
        train_idx, test_idx = order[~test_mask[order]], order[test_mask[order]]
    else:
        order = rng.permutation(n)
        n_test = int(round(test_size * n))
        test_idx, train_idx = order[:n_test], order[n_test:]
    if len(train_idx) == 0 or len(test_idx) == 0:
        raise ValueError(f"test_size={test_size} leaves an empty part of {n} samples")

    def part(idx: np.ndarray, suffix: str) -> Dataset:
        meta = dict(data.metadata, indices=idx)
        return replace(data, X=data.X[idx], y=data.y[idx], name=f"{data.name}[{suffix}]", metadata=meta)

    return part(train_idx, "train"), part(test_idx, "test")


# ----------------------------------------------------------------------------- regression
def houses(n: int = 100, noise: float = 15.0, outliers: int = 0, seed: Any = None) -> Dataset:
    """House prices (thousands) against size (m², 40-250) at 2.1 per m², as in the articles.

    y = 2.1·size + N(0, noise²). ``outliers`` gross errors multiply the price of as many
    random houses by 5-10 (a typo, a mansion); their indices are in ``metadata["outliers"]``.

    >>> d = houses(n=200, noise=0.0, seed=1)
    >>> print(round(float(np.polyfit(d.X[:, 0], d.y, 1)[0]), 6))
    2.1
    """
    n, noise = _count("n", n), _nonneg("noise", noise)
    outliers = _count("outliers", outliers, 0)
    if outliers > n:
        raise ValueError(f"outliers must be at most n={n}; got {outliers}")
    rng = _rng(seed)
    size = rng.uniform(40.0, 250.0, n)
    price = PRICE_PER_M2 * size + noise * rng.standard_normal(n)
    idx = np.sort(rng.choice(n, outliers, replace=False)) if outliers else np.array([], dtype=int)
    price[idx] *= rng.uniform(5.0, 10.0, outliers)
    return Dataset(size[:, None], price, "regression", "houses", ("size_m2",), ("price",),
                   {"price_per_m2": PRICE_PER_M2, "outliers": idx, "noise": noise})


def heavy_tailed(n: int = 200, n_features: int = 3, df: float = 1.5, scale: float = 1.0, seed: Any = None) -> Dataset:
    """y = X·w + 1 + scale·t_df noise (Student t: df ≤ 2 has infinite variance, so least
    squares suffers and robust losses shine). True ``coef`` and ``intercept`` in metadata."""
    n, p = _count("n", n), _count("n_features", n_features)
    if not df > 0:
        raise ValueError(f"df must be > 0; got {df!r}")
    rng = _rng(seed)
    X = rng.standard_normal((n, p))
    coef = rng.uniform(-3.0, 3.0, p)
    y = X @ coef + 1.0 + _nonneg("scale", scale) * rng.standard_t(df, n)
    return Dataset(X, y, "regression", "heavy_tailed", tuple(f"x{i}" for i in range(p)), ("y",),
                   {"coef": coef, "intercept": 1.0, "df": df})


def counts(n: int = 500, n_features: int = 3, kind: str = "poisson", power: float = 1.5, dispersion: float = 1.0,
           seed: Any = None) -> Dataset:
    """Counts with mean μ = exp(X·w + b): Poisson, or Tweedie (compound Poisson-gamma,
    1 < power < 2: exact zeros plus positive amounts, as insurance claims).

    Tweedie(μ, φ, p) is a Poisson(λ) number of Gamma(α, γ) amounts with
    λ = μ^(2−p)/(φ(2−p)), α = (2−p)/(p−1), γ = φ(p−1)μ^(p−1).
    """
    n, p = _count("n", n), _count("n_features", n_features)
    if kind not in ("poisson", "tweedie"):
        raise ValueError(f"kind must be 'poisson' or 'tweedie'; got {kind!r}")
    rng = _rng(seed)
    X = rng.standard_normal((n, p))
    coef = rng.uniform(-0.5, 0.5, p)
    mu = np.exp(X @ coef + 0.5)
    if kind == "poisson":
        y = rng.poisson(mu).astype(float)
    else:
        if not 1 < power < 2:
            raise ValueError(f"power must lie in (1, 2) for compound Poisson-gamma counts; got {power!r}")
        phi = _nonneg("dispersion", dispersion)
        lam = mu ** (2 - power) / (phi * (2 - power))
        alpha, gamma = (2 - power) / (power - 1), phi * (power - 1) * mu ** (power - 1)
        k = rng.poisson(lam)
        # a sum of k Gamma(α, γ) is Gamma(kα, γ); k = 0 gives an exact 0
        y = np.where(k > 0, rng.gamma(np.maximum(k * alpha, 1e-300), gamma), 0.0)
    return Dataset(X, y, "counts", kind, tuple(f"x{i}" for i in range(p)), ("count",),
                   {"coef": coef, "intercept": 0.5, "mean": mu, "power": power if kind == "tweedie" else 1.0})


def sparse_linear(n: int = 100, n_features: int = 20, k: int = 5, noise: float = 0.1, seed: Any = None) -> Dataset:
    """y = X·w + noise with only ``k`` of ``n_features`` coefficients non-zero (magnitudes
    1-3, random signs); ``metadata["coef"]`` and ``metadata["support"]`` hold the truth."""
    n, p, k = _count("n", n), _count("n_features", n_features), _count("k", k, 0)
    if k > p:
        raise ValueError(f"k must be at most n_features={p}; got {k}")
    rng = _rng(seed)
    X = rng.standard_normal((n, p))
    support = np.sort(rng.choice(p, k, replace=False))
    coef = np.zeros(p)
    coef[support] = rng.uniform(1.0, 3.0, k) * rng.choice([-1.0, 1.0], k)
    y = X @ coef + _nonneg("noise", noise) * rng.standard_normal(n)
    return Dataset(X, y, "regression", "sparse_linear", tuple(f"x{i}" for i in range(p)), ("y",),
                   {"coef": coef, "support": support})


# ----------------------------------------------------------------------------- classification
def imbalanced(
    n: int = 1000, ratio: float = 99.0, n_features: int = 2, separation: float = 2.0, seed: Any = None
) -> Dataset:
    """Two Gaussian classes, majority 0 and minority 1 at ``ratio``:1 (99 gives 1% positives).

    >>> d = imbalanced(n=1000, ratio=99, seed=0)
    >>> int(d.y.sum())
    10
    """
    n, p = _count("n", n, 2), _count("n_features", n_features)
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not ratio >= 1:
        raise ValueError(f"ratio must be a number >= 1 (majority per minority sample); got {ratio!r}")
    rng = _rng(seed)
    n_pos = max(1, int(round(n / (ratio + 1.0))))
    y = np.zeros(n, dtype=int)
    y[rng.choice(n, n_pos, replace=False)] = 1
    X = rng.standard_normal((n, p))
    X[y == 1] += separation / math.sqrt(p)
    return Dataset(X, y, "binary", "imbalanced", tuple(f"x{i}" for i in range(p)), ("majority", "minority"),
                   {"ratio": ratio, "n_positive": n_pos})


def _two_d(name: str, X: np.ndarray, y: np.ndarray, noise: float, rng: np.random.Generator) -> Dataset:
    X = X + noise * rng.standard_normal(X.shape)
    return Dataset(X, y.astype(int), "binary", name, ("x1", "x2"), ("0", "1"), {"noise": noise})


def circle(n: int = 500, noise: float = 0.0, seed: Any = None) -> Dataset:
    """Class 1 inside radius 2, class 0 on a ring of radius 3-5 (Playground "circle")."""
    n, noise = _count("n", n, 2), _nonneg("noise", noise)
    rng = _rng(seed)
    y = np.arange(n) % 2
    radius = np.where(y == 1, rng.uniform(0.0, 2.0, n), rng.uniform(3.0, 5.0, n))
    angle = rng.uniform(0.0, 2 * np.pi, n)
    return _two_d("circle", np.c_[radius * np.cos(angle), radius * np.sin(angle)], y, noise, rng)


def xor(n: int = 500, noise: float = 0.0, seed: Any = None) -> Dataset:
    """Points in [−5, 5]² kept 0.3 away from the axes; class 1 where x1·x2 > 0 (Playground "xor")."""
    n, noise = _count("n", n, 2), _nonneg("noise", noise)
    rng = _rng(seed)
    X = rng.uniform(0.3, 5.0, (n, 2)) * rng.choice([-1.0, 1.0], (n, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    return _two_d("xor", X, y, noise, rng)


def gaussians(n: int = 500, noise: float = 0.0, seed: Any = None) -> Dataset:
    """Two Gaussian blobs of std 1 around (2, 2) (class 1) and (−2, −2) (Playground "gauss")."""
    n, noise = _count("n", n, 2), _nonneg("noise", noise)
    rng = _rng(seed)
    y = np.arange(n) % 2
    centers = np.where(y[:, None] == 1, 2.0, -2.0)
    return _two_d("gaussians", centers + rng.standard_normal((n, 2)), y, noise, rng)


def spiral(n: int = 500, noise: float = 0.0, seed: Any = None) -> Dataset:
    """Two interleaved spirals, 1.75 turns each, radius up to 5 (Playground "spiral")."""
    n, noise = _count("n", n, 2), _nonneg("noise", noise)
    rng = _rng(seed)
    y = np.arange(n) % 2
    t = rng.uniform(0.0, 1.0, n)
    radius, angle = 5.0 * t, 1.75 * 2 * np.pi * t + np.pi * y
    return _two_d("spiral", np.c_[radius * np.cos(angle), radius * np.sin(angle)], y, noise, rng)


_PLAYGROUND = {"circle": circle, "xor": xor, "gaussians": gaussians, "gauss": gaussians, "spiral": spiral}


def playground(name: str, n: int = 500, noise: float = 0.0, seed: Any = None) -> Dataset:
    """One of TensorFlow Playground's sets by name: "circle", "xor", "gaussians", "spiral"."""
    if name not in _PLAYGROUND:
        raise ValueError(f"name must be one of 'circle', 'xor', 'gaussians', 'spiral'; got {name!r}")
    return _PLAYGROUND[name](n=n, noise=noise, seed=seed)


DEFAULT_HIERARCHY = {"animal": ("cat", "dog"), "vehicle": ("car", "truck")}


def hierarchical(
    n_per_class: int = 50,
    hierarchy: dict[str, tuple[str, ...]] | None = None,
    n_features: int = 8,
    superclass_scale: float = 4.0,
    class_scale: float = 1.5,
    noise: float = 1.0,
    seed: Any = None,
) -> Dataset:
    """Classes grouped in superclasses whose members share features: a sample is its
    superclass's centre + its class's offset + noise, so cat and dog lie closer to each
    other than to car and truck. ``y`` holds class indices; ``metadata["superclass"]``
    maps each class index to its superclass index.

    >>> d = hierarchical(n_per_class=10, seed=0)
    >>> d.target_names, d.metadata["superclass"].tolist()
    (('cat', 'dog', 'car', 'truck'), [0, 0, 1, 1])
    """
    hierarchy = DEFAULT_HIERARCHY if hierarchy is None else hierarchy
    m, p = _count("n_per_class", n_per_class), _count("n_features", n_features)
    rng = _rng(seed)
    names, parent, X, y = [], [], [], []
    for s, (sup, members) in enumerate(hierarchy.items()):
        center = superclass_scale * rng.standard_normal(p)
        for member in members:
            offset = class_scale * rng.standard_normal(p)
            X.append(center + offset + noise * rng.standard_normal((m, p)))
            y.append(np.full(m, len(names)))
            names.append(member)
            parent.append(s)
    order = rng.permutation(m * len(names))
    return Dataset(np.concatenate(X)[order], np.concatenate(y)[order], "multiclass", "hierarchical",
                   tuple(f"x{i}" for i in range(p)), tuple(names),
                   {"superclass": np.asarray(parent), "superclass_names": tuple(hierarchy)})


def add_label_noise(data: Any, rate: float, n_classes: int | None = None, seed: Any = None) -> Any:
    """Replace a share ``rate`` of the labels by a different class, chosen uniformly.

    Takes a label array or a Dataset (then returns a Dataset whose ``metadata["noisy"]``
    lists the flipped indices and ``metadata["clean_y"]`` the original labels).

    >>> y = np.zeros(100, dtype=int); y[50:] = 1
    >>> int((add_label_noise(y, 0.2, seed=0) != y).sum())
    20
    """
    if not (isinstance(rate, (int, float)) and 0 <= rate <= 1):
        raise ValueError(f"rate must be a fraction in [0, 1]; got {rate!r}")
    y = data.y if isinstance(data, Dataset) else np.asarray(data)
    if y.ndim != 1 or not np.all(y == np.round(y)):
        raise ValueError(f"labels must be a 1-D array of class indices; got shape {y.shape}")
    k = int(n_classes) if n_classes is not None else int(y.max()) + 1
    if k < 2:
        raise ValueError(f"label noise needs at least 2 classes; got {k}")
    rng = _rng(seed)
    flip = np.sort(rng.choice(len(y), int(round(rate * len(y))), replace=False))
    noisy = y.copy()
    # adding 1..k-1 modulo k always lands on a different class, uniformly
    noisy[flip] = (y[flip] + rng.integers(1, k, len(flip))) % k
    if not isinstance(data, Dataset):
        return noisy
    return replace(data, y=noisy, metadata=dict(data.metadata, noisy=flip, clean_y=y))


# ----------------------------------------------------------------------------- real data
REAL_DATASETS = {
    "diabetes": ("load_diabetes", "regression"),
    "breast_cancer": ("load_breast_cancer", "binary"),
    "digits": ("load_digits", "multiclass"),
    "wine": ("load_wine", "multiclass"),
    "iris": ("load_iris", "multiclass"),
}


def load(name: str) -> Dataset:
    """A real data set scikit-learn ships with itself (no download): "diabetes",
    "breast_cancer", "digits", "wine", "iris". Needs scikit-learn (``pip install losslab[sklearn]``)."""
    if name not in REAL_DATASETS:
        raise ValueError(f"name must be one of {', '.join(map(repr, REAL_DATASETS))}; got {name!r}")
    try:
        import sklearn.datasets as skd
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("losslab.datasets.load needs scikit-learn: pip install 'losslab[sklearn]'") from exc
    loader, task = REAL_DATASETS[name]
    bunch = getattr(skd, loader)()
    target_names = tuple(str(t) for t in getattr(bunch, "target_names", ("target",)))
    y = bunch.target.astype(float) if task == "regression" else bunch.target.astype(int)
    return Dataset(np.asarray(bunch.data, dtype=float), y, task, name, tuple(map(str, bunch.feature_names)),
                   target_names, {"source": f"sklearn.datasets.{loader}"})


# ------------------------------------------------------------------------------- files
# ------------------------------------------------------------------------------ CSV files
#: Cells read as missing values (an error: losslab does not guess values).
MISSING = ("", "na", "nan", "null", "none")
#: Integers beyond this are not exact in float64; such a target stays float.
EXACT_INTEGER = 2.0**53


def read_csv(path: str | os.PathLike, target: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(X, y, feature_names)`` of a comma-separated file with a header row.

    Every column but ``target`` is a numeric feature; the target holds numbers (integers
    are returned as int64 when they are exact, |y| < 2**53) or class labels (strings). A
    UTF-8 byte-order mark is skipped. A file that looks ``;``- or tab-separated gets a hint.
    """
    text = os.fspath(path)
    file = Path(text)
    if file.is_dir():
        raise ValueError(f"DATA {text!r} is a folder; give a CSV file")
    if not file.is_file():
        raise ValueError(f"DATA file {text!r} does not exist")
    try:
        with file.open(newline="", encoding="utf-8-sig") as handle:
            rows = [row for row in csv.reader(handle) if row and any(cell.strip() for cell in row)]
    except UnicodeDecodeError:
        raise ValueError(f"{text!r} is not UTF-8 text; save it as a UTF-8 CSV") from None
    except csv.Error as exc:
        raise ValueError(f"{text!r} is not a readable CSV: {exc}") from None
    try:
        return _columns(text, rows, target)
    except ValueError as exc:
        raise ValueError(f"{exc}{_separator_hint(rows)}") from None


def _columns(path: str, rows: list[list[str]], target: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    if len(rows) < 2:
        raise ValueError(f"{path!r} needs a header row and at least one data row; it has {len(rows)} row(s)")
    header = [h.strip() for h in rows[0]]
    if target not in header:
        raise ValueError(f"--target {target!r} is not a column of {path!r}.{suggest(target, header)} Columns:"
                         f" {', '.join(header)}")
    if len(set(header)) != len(header):
        twice = sorted({h for h in header if header.count(h) > 1})
        raise ValueError(f"{path!r} has the column name {twice[0]!r} more than once; column names must differ")
    data = rows[1:]
    for line, row in enumerate(data, 2):
        if len(row) != len(header):
            raise ValueError(f"{path!r} line {line} has {len(row)} fields; the header has {len(header)}")
    columns: dict[str, np.ndarray] = {}
    for j, name in enumerate(header):
        cells = [row[j].strip() for row in data]
        missing = [i for i, c in enumerate(cells) if c.lower() in MISSING]
        if missing:
            raise ValueError(f"column {name!r} has a missing value on line {missing[0] + 2} ({len(missing)} in all);"
                             " fill or drop those rows first")
        numbers = _numbers(cells)
        if numbers is not None:
            columns[name] = numbers
        elif name == target:
            columns[name] = np.array(cells)  # class labels
        else:
            bad = next(i for i, c in enumerate(cells) if _number(c) is None)
            raise ValueError(f"column {name!r} is not numeric ({cells[bad]!r} on line {bad + 2}); features must be"
                             " numbers: encode or drop that column")
    features = [h for h in header if h != target]
    if not features:
        raise ValueError(f"{path!r} has no feature columns besides the target {target!r}")
    bad_features = [h for h in features if not np.all(np.isfinite(columns[h]))]
    if bad_features:
        raise ValueError(f"column {bad_features[0]!r} holds inf or a number too large for float64; features must be"
                         " finite")
    y = columns[target]
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)):
            raise ValueError(f"the target {target!r} holds inf or a number too large for float64")
        if np.all(y == np.round(y)) and np.max(np.abs(y), initial=0.0) < EXACT_INTEGER:
            y = y.astype(np.int64)
    return np.column_stack([columns[h] for h in features]), y, features


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _numbers(cells: list[str]) -> np.ndarray | None:
    values = [_number(c) for c in cells]
    if any(v is None for v in values):
        return None
    return np.array(values, dtype=float)


def _separator_hint(rows: list[list[str]]) -> str:
    first = ",".join(rows[0]) if rows else ""
    if first.count(";") > first.count(","):
        return (" (The file looks separated by semicolons; losslab reads comma-separated files. Convert it, e.g. with"
                " python -c \"import pandas as pd; pd.read_csv('in.csv', sep=';').to_csv('out.csv', index=False)\".)")
    if first.count("\t") > first.count(","):
        return " (The file looks tab-separated; losslab reads comma-separated files.)"
    return ""

