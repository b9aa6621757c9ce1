"""Name parity with the peers: every torch.nn loss class, every Keras 3 loss name and every
Optax loss function resolves with ``ll.get`` or raises the documented difference.

Sources of the names: ``torch.nn`` itself (every nn.Module class whose name ends in "Loss"),
``keras.losses`` itself (its public names, minus the four that are API, not losses), and
Optax's ``optax.losses`` exports, written out here because Optax is not installed (the list
of optax/losses/__init__.py, optax 0.2.5: every function but ``smooth_labels``, which
transforms labels). A peer name either is an alias (same meaning and defaults; a preset
alias carries the peer's defaults) or is in ``losslab.loss.registry.PEER_DIFFERENCES``,
whose message ``ll.get`` raises. ``NOT_YET`` lists the names of losses the catalog still
lacks (issue 13), as strict expected failures: adding the loss makes the entry fail
(XPASS), which asks for it to be removed here.
"""

from __future__ import annotations

import inspect
import os

import pytest

import losslab as ll
from losslab.loss.registry import PEER_DIFFERENCES

OPTAX_LOSSES = [
    "convex_kl_divergence", "ctc_loss", "ctc_loss_with_forward_probs", "generalized_kl_divergence", "hinge_loss",
    "kl_divergence", "kl_divergence_with_log_targets", "multiclass_hinge_loss", "multiclass_perceptron_loss",
    "multiclass_sparsemax_loss", "perceptron_loss", "poly_loss_cross_entropy", "safe_softmax_cross_entropy",
    "sigmoid_binary_cross_entropy", "sigmoid_focal_loss", "softmax_cross_entropy",
    "softmax_cross_entropy_with_integer_labels", "sparsemax_loss", "make_fenchel_young_loss",
    "ranking_softmax_loss", "cosine_distance", "cosine_similarity", "huber_loss", "l2_loss", "log_cosh",
    "squared_error", "binary_dice_loss", "dice_loss", "multiclass_generalized_dice_loss", "ntxent",
    "triplet_margin_loss",
]

#: keras.losses names that are the module's API, not losses.
KERAS_API = {"Loss", "deserialize", "get", "serialize"}

#: Peer names of losses the catalog does not have yet, by name: strict xfail. Empty since
#: issue 13's second wave: every peer name resolves or raises its documented difference.
NOT_YET: dict[str, str] = {}


def _torch_names() -> list[str]:
    nn = pytest.importorskip("torch.nn")
    return sorted(n for n, o in vars(nn).items()
                  if inspect.isclass(o) and n.endswith("Loss") and issubclass(o, nn.Module))


def _keras_names() -> list[str]:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    return sorted(n for n in dir(keras.losses) if not n.startswith("_") and n not in KERAS_API)


def _check(name: str, request) -> None:
    if name in NOT_YET:
        request.applymarker(pytest.mark.xfail(strict=True, reason=f"not in the catalog yet: {NOT_YET[name]}"))
    if name in PEER_DIFFERENCES:
        with pytest.raises(ValueError) as err:
            ll.get(name)
        assert PEER_DIFFERENCES[name] in str(err.value) and "differs" in str(err.value)
        return
    assert isinstance(ll.get(name), ll.Loss), name


@pytest.mark.parametrize("name", OPTAX_LOSSES)
def test_optax_name_resolves_or_raises_its_difference(name, request):
    _check(name, request)


def test_torch_and_keras_names():
    """The lists come from the installed libraries: each name, checked in one test per library
    below; here, that the lists are not empty and hold the classes the issue names."""
    torch_names, keras_names = _torch_names(), _keras_names()
    assert {"CrossEntropyLoss", "KLDivLoss", "MultiMarginLoss", "CTCLoss"} <= set(torch_names)
    assert {"CategoricalCrossentropy", "categorical_crossentropy", "CosineSimilarity"} <= set(keras_names)




def _params(names_fn):
    try:
        return names_fn()
    except pytest.skip.Exception:
        return []


@pytest.mark.parametrize("name", _params(_torch_names))
def test_torch_name_resolves_or_raises_its_difference(name, request):
    _check(name, request)


@pytest.mark.parametrize("name", _params(_keras_names))
def test_keras_name_resolves_or_raises_its_difference(name, request):
    _check(name, request)


#: PyTorch's functional loss names that users type as they type the classes.
TORCH_FUNCTIONAL = {"kl_div"}


def test_every_documented_difference_is_a_peer_name_and_no_alias():
    peers = set(OPTAX_LOSSES) | set(_params(_torch_names)) | set(_params(_keras_names)) | TORCH_FUNCTIONAL
    for name, why in PEER_DIFFERENCES.items():
        assert name in peers, f"{name} is documented as a difference but is no peer's loss name"
        assert "ll.get(" in why, f"{name}: the explanation must say how to get the peer's number"


def test_difference_message_names_the_way_to_the_peers_number():
    with pytest.raises(ValueError, match=r"batchmean"):
        ll.get("KLDivLoss")
    with pytest.raises(ValueError, match=r"modified_huber"):
        ll.get("sparsemax_loss")


def test_presets_carry_the_peers_defaults():
    # Where a peer's defaults differ from losslab's, the alias is a preset with the peer's.
    assert ll.get("poly_loss_cross_entropy") == ll.get("poly1", epsilon=2.0, from_logits=True)  # Optax ε = 2
    assert ll.get("CategoricalGeneralizedCrossEntropy") == ll.get("generalized_cross_entropy", q=0.5)  # Keras
    assert ll.get("multiclass_hinge_loss") == ll.get("multiclass_hinge", variant="crammer_singer")  # Optax
    assert ll.get("sigmoid_focal_loss") == ll.get("binary_focal", from_logits=True)  # Optax: logits
    assert ll.get("MultiLabelMarginLoss") == ll.get("multilabel_margin", target_format="indices")
    assert ll.get("sigmoid_binary_cross_entropy") == ll.get("binary_cross_entropy", from_logits=True)
