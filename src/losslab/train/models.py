"""NumPy models with hand-written backpropagation (DESIGN §4).

Every model has the same small surface:

- ``forward(X)`` returns the outputs, shape (N, n_outputs), and remembers what the
  backward pass needs;
- ``backward(grad_output)`` takes ∂J/∂outputs, fills ``gradients`` (one array per entry of
  ``parameters``, same order and shapes) and returns ∂J/∂X;
- ``parameters`` are the arrays the optimizer updates in place; ``penalized[i]`` says
  whether the weight penalty applies to ``parameters[i]`` (weights yes, biases no, as in
  scikit-learn and PyTorch's common practice).

Outputs are raw scores (no final activation): classification losses take them with
``from_logits=True``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["Model", "Linear", "MLP", "EmbeddingNet"]

ACTIVATIONS = ("relu", "tanh", "sigmoid")


class Model:
    """The shared surface: ``parameters``, ``gradients``, ``penalized``, copies of the weights."""

    parameters: list[np.ndarray]
    gradients: list[np.ndarray]
    penalized: list[bool]

    def forward(self, X: Any) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad_output: Any) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, X: Any) -> np.ndarray:
        return self.forward(X)

    def get_weights(self) -> list[np.ndarray]:
        """Copies of every parameter (early stopping keeps the best ones)."""
        return [p.copy() for p in self.parameters]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        """Write ``weights`` into the parameters in place (the optimizer's references stay valid)."""
        if len(weights) != len(self.parameters):
            raise ValueError(f"weights must hold {len(self.parameters)} arrays; got {len(weights)}")
        for p, w in zip(self.parameters, weights):
            p[...] = w

    @property
    def n_parameters(self) -> int:
        return int(sum(p.size for p in self.parameters))


def _rng(seed: Any) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _training_seed(seed: Any) -> Any:
    """The seed ``fit`` shuffles with when it is given none: derived from the model's own
    integer seed (a seeded model trains the same way on every run), else None."""
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.SeedSequence([int(seed), 0x5EED])
    return None


def _check_width(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
    return int(value)


def _as_input(X: Any, n_features: int) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != n_features:
        raise ValueError(f"X must have shape (n_samples, {n_features}); got shape {X.shape}")
    return X


class Linear(Model):
    """f(X) = X·W + b: linear regression, logistic regression, a linear SVM, softmax regression.

    W starts at zero-mean noise of scale 0.01 (a convex problem does not care; a tiny
    non-zero start keeps symmetric models from staying symmetric), b at 0.

    >>> m = Linear(3, 1, seed=0)
    >>> m.forward(np.ones((2, 3))).shape
    (2, 1)
    """

    def __init__(self, n_features: int, n_outputs: int = 1, seed: Any = None) -> None:
        self.n_features = _check_width("n_features", n_features)
        self.n_outputs = _check_width("n_outputs", n_outputs)
        self.W = 0.01 * _rng(seed).standard_normal((self.n_features, self.n_outputs))
        self.training_seed = _training_seed(seed)
        self.b = np.zeros(self.n_outputs)
        self.parameters = [self.W, self.b]
        self.gradients = [np.zeros_like(self.W), np.zeros_like(self.b)]
        self.penalized = [True, False]

    def forward(self, X: Any) -> np.ndarray:
        self._X = _as_input(X, self.n_features)
        return self._X @ self.W + self.b

    def backward(self, grad_output: Any) -> np.ndarray:
        g = np.asarray(grad_output, dtype=np.float64).reshape(-1, self.n_outputs)
        self.gradients[0][...] = self._X.T @ g
        self.gradients[1][...] = g.sum(axis=0)
        return g @ self.W.T

    def __repr__(self) -> str:
        return f"Linear(n_features={self.n_features}, n_outputs={self.n_outputs})"


def _activate(name: str, z: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "tanh":
        return np.tanh(z)
    # sigmoid in the form that never overflows: exp of a non-positive number only
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _activation_derivative(name: str, z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """d activation / dz, from the pre-activation z and the activation a."""
    if name == "relu":
        return (z > 0).astype(z.dtype)
    if name == "tanh":
        return 1.0 - a * a
    return a * (1.0 - a)


class MLP(Model):
    """A multilayer perceptron: Linear → activation → … → Linear (raw outputs).

    ``sizes`` includes the input and output widths: ``MLP([2, 16, 1])`` has one hidden
    layer of 16 units. Weights start at He scale √(2/fan_in) for relu and Glorot scale
    √(1/fan_in) for tanh and sigmoid, biases at 0.

    >>> m = MLP([2, 8, 3], activation="tanh", seed=0)
    >>> m.forward(np.zeros((5, 2))).shape, m.n_parameters
    ((5, 3), 51)
    """

    def __init__(self, sizes: Any, activation: str = "relu", seed: Any = None) -> None:
        sizes = [_check_width("sizes[i]", s) for s in sizes]
        if len(sizes) < 2:
            raise ValueError(f"sizes must list at least the input and output widths; got {sizes!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(map(repr, ACTIVATIONS))}; got {activation!r}")
        self.sizes, self.activation = sizes, activation
        rng = _rng(seed)
        self.training_seed = _training_seed(seed)
        gain = 2.0 if activation == "relu" else 1.0
        self.weights = [rng.standard_normal((a, b)) * np.sqrt(gain / a) for a, b in zip(sizes[:-1], sizes[1:])]
        self.biases = [np.zeros(b) for b in sizes[1:]]
        self.parameters = [p for pair in zip(self.weights, self.biases) for p in pair]
        self.gradients = [np.zeros_like(p) for p in self.parameters]
        self.penalized = [True, False] * len(self.weights)

    def forward(self, X: Any) -> np.ndarray:
        a = _as_input(X, self.sizes[0])
        self._inputs, self._pre = [], []  # each layer's input and pre-activation
        for i, (W, b) in enumerate(zip(self.weights, self.biases)):
            self._inputs.append(a)
            z = a @ W + b
            self._pre.append(z)
            a = z if i == len(self.weights) - 1 else _activate(self.activation, z)
        return a

    def backward(self, grad_output: Any) -> np.ndarray:
        g = np.asarray(grad_output, dtype=np.float64).reshape(-1, self.sizes[-1])
        for i in reversed(range(len(self.weights))):
            if i < len(self.weights) - 1:  # through this layer's activation
                z = self._pre[i]
                g = g * _activation_derivative(self.activation, z, self._inputs[i + 1])
            self.gradients[2 * i][...] = self._inputs[i].T @ g
            self.gradients[2 * i + 1][...] = g.sum(axis=0)
            g = g @ self.weights[i].T
        return g

    def __repr__(self) -> str:
        return f"MLP(sizes={self.sizes}, activation={self.activation!r})"


class EmbeddingNet(Model):
    """An MLP whose output rows are embeddings, optionally scaled to unit length.

    f(X) = h / ‖h‖ with h = MLP(X) (``normalize=True``, the usual setting for contrastive,
    triplet and InfoNCE losses on cosine similarity); the backward pass of the
    normalisation is ∂J/∂h = (g − f·(f·g)) / ‖h‖ per row.

    >>> net = EmbeddingNet(4, 2, hidden=(8,), seed=0)
    >>> print(np.round(np.linalg.norm(net.forward(np.ones((3, 4))), axis=1), 6))
    [1. 1. 1.]
    """

    def __init__(
        self,
        n_features: int,
        embedding_dim: int = 2,
        hidden: Any = (32,),
        activation: str = "relu",
        normalize: bool = True,
        seed: Any = None,
    ) -> None:
        self.mlp = MLP([n_features, *hidden, embedding_dim], activation=activation, seed=seed)
        self.normalize = bool(normalize)
        self.training_seed = self.mlp.training_seed
        self.parameters, self.gradients, self.penalized = self.mlp.parameters, self.mlp.gradients, self.mlp.penalized

    def forward(self, X: Any) -> np.ndarray:
        h = self.mlp.forward(X)
        if not self.normalize:
            return h
        # a row of zeros has no direction: keep it finite rather than divide by 0
        self._norm = np.maximum(np.linalg.norm(h, axis=1, keepdims=True), 1e-12)
        self._out = h / self._norm
        return self._out

    def backward(self, grad_output: Any) -> np.ndarray:
        g = np.asarray(grad_output, dtype=np.float64)
        if self.normalize:
            f = self._out
            g = (g - f * np.sum(f * g, axis=1, keepdims=True)) / self._norm
        return self.mlp.backward(g)

    def __repr__(self) -> str:
        return f"EmbeddingNet(sizes={self.mlp.sizes}, normalize={self.normalize})"
