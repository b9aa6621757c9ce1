"""The catalog: ``register``, ``get``, ``catalog`` and the functional forms, generated.

A family module decorates each loss class with ``@register``; that one line puts the class
in the catalog, under its name and aliases, and generates its functional form
(``ll.huber(y_true, y_pred, delta=1.0)``). ``losslab/__init__.py`` exports every
registered loss and functional form from here, so exporting a loss is no extra line.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

from .. import _validate as V
from .contract import Loss, Param

__all__ = ["register", "unregister", "resolve", "get", "catalog", "CatalogEntry", "functional", "exports",
           "PEER_DIFFERENCES"]

_REGISTRY: dict[str, type[Loss]] = {}
_ALIASES: dict[str, str] = {}
_PRESETS: dict[str, dict[str, Any]] = {}
#: Functional forms of the built-in losses, by canonical name (``exports``).
_FUNCTIONS: dict[str, Callable[..., Any]] = {}


#: Peer loss names (PyTorch, Keras, Optax) that are NOT aliases, because the peer's meaning,
#: inputs or defaults differ from the nearest losslab loss: ``get`` raises a ValueError with
#: the explanation, which says what differs and how to get the peer's number. A name is an
#: alias (``Loss.aliases``, ``preset_aliases``) only when meaning and defaults match;
#: tests/test_parity.py checks that every peer name is one or the other.
PEER_DIFFERENCES: dict[str, str] = {
    "KLDivLoss": (
        "PyTorch's KLDivLoss takes the input as log-probabilities (and the target as probabilities, or"
        " log-probabilities with log_target=True), and its default reduction='mean' divides the summed KL by"
        " N*C, which is not a KL. Use ll.get('kl_divergence', log_input=True)(target, input): its 'mean' is"
        " PyTorch's reduction='batchmean' (KL per sample)."
    ),
    "kl_div": (
        "PyTorch's kl_div takes the input as log-probabilities and its default reduction='mean' divides the"
        " summed KL by N*C, which is not a KL. Use ll.get('kl_divergence', log_input=True)(target, input): its"
        " 'mean' is PyTorch's reduction='batchmean'."
    ),
    "AdaptiveLogSoftmaxWithLoss": (
        "PyTorch's AdaptiveLogSoftmaxWithLoss is a layer with its own weights (clustered output projections),"
        " not a loss of (y_true, y_pred). Compute its log-probabilities (module.log_prob(input)) and use"
        " ll.get('nll'), or use ll.get('CrossEntropyLoss') on full logits."
    ),
    "TripletMarginWithDistanceLoss": (
        "PyTorch's TripletMarginWithDistanceLoss takes any Python distance function. losslab's triplet loss has"
        " the built-in distances: ll.get('triplet', distance='euclidean' or 'cosine', squared=...)."
    ),
    "LinearCrossEntropyLoss": (
        "PyTorch's LinearCrossEntropyLoss is a module that owns the linear layer (built from in_features and"
        " num_classes). losslab's linear_cross_entropy computes the same loss from the hidden states, the"
        " weight matrix and the targets given as inputs: ll.get('linear_cross_entropy')(hidden, weight, targets)."
    ),
    "sparsemax_loss": (
        "Optax's sparsemax_loss is the BINARY sparsemax loss of a logit and a label in {0, 1}: it equals"
        " ll.get('modified_huber') / 4. The multiclass one is Optax's multiclass_sparsemax_loss, which is"
        " ll.get('sparsemax')."
    ),
    "l2_loss": (
        "Optax's l2_loss is (y_pred - y_true)^2 / 2, half of losslab's mse (its gradient is the residual):"
        " use ll.get('mse') and halve the value and the gradient. Optax's squared_error is mse."
    ),
    "CosineSimilarity": (
        "Keras's CosineSimilarity loss is -cos(y_pred, y_true) per row, in [-1, 1]: ll.get('cosine_distance')"
        " minus 1 (the same gradient)."
    ),
    "cosine_similarity": (
        "Keras's cosine_similarity loss is -cos(y_pred, y_true), ll.get('cosine_distance') minus 1 (the same"
        " gradient); Optax's cosine_similarity is +cos, a similarity to maximise: 1 - ll.get('cosine_distance')."
    ),
    "dice_loss": (
        "Optax's dice_loss takes logits (apply_softmax=True) with the class axis last, and its formula is the"
        " Tversky index (I + s)/(I + alpha*FP + beta*FN + s), whose smooth=1 at alpha = beta = 0.5 is losslab's"
        " Dice with smooth=2. Its number (one value per sample) is ll.get('tversky', alpha=alpha, beta=beta,"
        " smooth=smooth)(t, softmax(logits)) with the class axis moved to 1, reduction='none'."
    ),
    "binary_dice_loss": (
        "Optax's binary_dice_loss takes logits (it applies a sigmoid) of shape (N, ...) with no class axis, and"
        " its smooth=1 enters the Tversky form (I + s)/((P + T)/2 + s), which is losslab's Dice with smooth=2."
        " Its number (one value per sample) is ll.get('dice', smooth=2.0)(targets[:, None], sigmoid(logits)[:,"
        " None], reduction='none')."
    ),
    "multiclass_generalized_dice_loss": (
        "Optax's multiclass_generalized_dice_loss is not Sudre et al.'s generalised Dice ratio"
        " (ll.get('generalized_dice')): it is the mean over samples and classes of w_c times each class's Dice"
        " loss (Tversky form with smooth=1, losslab's smooth=2), with w_c = 1/(T_c^2 + 1e-7) counted over the"
        " whole batch and normalised to mean 1, on softmax(logits) with the class axis last. Its number is"
        " mean_c(w_c * ll.get('dice', smooth=2.0)(t[:, c:c+1], p[:, c:c+1])) with t, p moved to (N, C, ...)."
    ),
    "ctc_loss": (
        "ctc_loss names two peers' CTC with different inputs: Optax's ctc_loss(logits, logit_paddings, labels,"
        " label_paddings) takes paddings (1 = padded) instead of lengths and a finite log 0 (log_epsilon=-1e5,"
        " so an impossible alignment gives about 1e5, not inf); PyTorch's functional ctc_loss takes (T, N, C)"
        " log-probabilities and its 'mean' divides by the target lengths. Optax's per-sequence number is"
        " ll.get('ctc')(labels, logits, input_lengths=T - logit_paddings.sum(1), target_lengths=S -"
        " label_paddings.sum(1), reduction='none'); PyTorch's is ll.get('CTCLoss')."
    ),
    "ctc_loss_with_forward_probs": (
        "Optax's ctc_loss_with_forward_probs returns the per-sequence loss together with the forward (alpha)"
        " log-probabilities of the blank and non-blank states, and takes paddings instead of lengths. The loss"
        " is ll.get('ctc')(labels, logits, input_lengths=T - logit_paddings.sum(1), target_lengths=S -"
        " label_paddings.sum(1), reduction='none')."
    ),
    "make_fenchel_young_loss": (
        "Optax's make_fenchel_young_loss builds a loss from a regularised max function and differentiates it"
        " by autodiff. losslab's builder is ll.fenchel_young(max_fun, predict): it takes the gradient"
        " (predict, the regularised prediction) too, and arguments in losslab's order (targets, scores)."
        " Optax's sparsemax instance is ll.get('sparsemax') (= ll.fenchel_young('sparsemax')); its softmax"
        " instance is ll.get('cross_entropy', from_logits=True) minus the target's entropy."
    ),
}


def _normalise(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(" ", "_")


_DIFFERENCE_KEYS = {_normalise(name): name for name in PEER_DIFFERENCES}


def register(cls: type[Loss]) -> type[Loss]:
    """Class decorator: add a loss (and its aliases) to the catalog, with its functional form."""
    key = _normalise(cls.name)
    if key in _REGISTRY or key in _ALIASES:
        raise ValueError(f"a loss named {cls.name!r} is already registered")
    for alias in (cls.name, *cls.aliases, *cls.preset_aliases):
        if _normalise(alias) in _DIFFERENCE_KEYS:
            raise ValueError(f"{cls.name}: {alias!r} is a peer name documented as different (PEER_DIFFERENCES)")
    for alias in (*cls.aliases, *cls.preset_aliases):
        taken = _ALIASES.get(_normalise(alias)) or (_normalise(alias) if _normalise(alias) in _REGISTRY else None)
        if taken is not None:
            raise ValueError(f"{cls.name}: the alias {alias!r} already names {taken!r}")
    _REGISTRY[key] = cls
    for alias in (*cls.aliases, *cls.preset_aliases):
        _ALIASES[_normalise(alias)] = key
    for alias, preset in cls.preset_aliases.items():
        _PRESETS[_normalise(alias)] = dict(preset)
    cls.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(p.name, inspect.Parameter.KEYWORD_ONLY, default=p.default) for p in cls.parameters]
    )
    _FUNCTIONS[key] = functional(cls)
    return cls


def unregister(name: str) -> None:
    """Remove a loss (and its aliases) from the catalog (for user losses)."""
    key = _normalise(name)
    _REGISTRY.pop(key, None)
    _FUNCTIONS.pop(key, None)
    for alias in [a for a, k in _ALIASES.items() if k == key]:
        del _ALIASES[alias]
        _PRESETS.pop(alias, None)


def resolve(name: str) -> type[Loss]:
    """The Loss class registered under ``name`` or one of its aliases."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a string or a Loss; got {type(name).__name__}")
    key = _normalise(name)
    key = _ALIASES.get(key, key)
    if key not in _REGISTRY:
        difference = _DIFFERENCE_KEYS.get(key)
        if difference is not None:
            raise ValueError(f"{name!r} is not a losslab alias, because it differs: {PEER_DIFFERENCES[difference]}")
        raise ValueError(
            f"unknown loss {name!r}.{V.suggest(key, list(_REGISTRY) + list(_ALIASES))}"
            " `losslab list` (or losslab.catalog()) shows every loss."
        )
    return _REGISTRY[key]


def get(name: str | Loss, **params: Any) -> Loss:
    """The Loss registered under ``name`` (or an alias such as Keras's "mse"), built with ``params``.

    >>> get("mean_squared_error")
    MSE()
    >>> get("huber", delta=2.0)
    Huber(delta=2.0)
    >>> get("BCEWithLogitsLoss")       # a preset alias: PyTorch's defaults
    BinaryCrossEntropy(from_logits=True, label_smoothing=0.0, pos_weight=None)
    """
    if isinstance(name, Loss):
        if params:
            raise TypeError(f"params {sorted(params)} cannot be applied to an already built {name!r}")
        return name
    cls = resolve(name)
    preset = _PRESETS.get(_normalise(name), {})
    return cls(**{**preset, **params})


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    family: str
    description: str
    parameters: tuple[Param, ...]
    aliases: tuple[str, ...]
    cls: type[Loss] = field(repr=False)

    def build(self, **params: Any) -> Loss:
        return self.cls(**params)


def catalog(family: str | None = None) -> list[CatalogEntry]:
    """Every registered loss, by family then name."""
    entries = [
        CatalogEntry(cls.name, cls.family, cls.description, cls.parameters, cls.aliases, cls)
        for cls in _REGISTRY.values()
        if family is None or cls.family == family
    ]
    if family is not None and not entries:
        families = sorted({c.family for c in _REGISTRY.values()})
        raise ValueError(f"unknown family {family!r}; families are: {', '.join(families)}")
    return sorted(entries, key=lambda e: (e.family, e.name))


def functional(cls: type[Loss]) -> Callable[..., Any]:
    """The functional form of a loss: ``f(*arrays, sample_weight=None, reduction="mean", **params)``."""
    param_names = {p.name for p in cls.parameters}

    def loss_function(*arrays: Any, sample_weight: Any = None, reduction: str = "mean", **kwargs: Any) -> Any:
        params = {k: kwargs.pop(k) for k in list(kwargs) if k in param_names}
        return cls(**params)(*arrays, sample_weight=sample_weight, reduction=reduction, **kwargs)

    loss_function.__name__ = loss_function.__qualname__ = cls.name
    loss_function.__module__ = cls.__module__
    loss_function.__doc__ = cls.__doc__
    loss_function.__wrapped_loss__ = cls  # type: ignore[attr-defined]
    return loss_function


def exports(module_name: str) -> dict[str, Any]:
    """The classes and functional forms registered by one module: what ``losslab`` exports.

    ``losslab/__init__.py`` imports each family module, then adds these to its namespace,
    so a loss is exported by being registered (no import line to add).
    """
    found: dict[str, Any] = {}
    for key, cls in _REGISTRY.items():
        if cls.__module__ == module_name:
            found[cls.__name__] = cls
            found[key] = _FUNCTIONS[key]
    return found
