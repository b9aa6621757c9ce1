"""losslab: loss functions computed right, measured, and chosen.

The catalog, one loss per line (``losslab list`` prints it with descriptions)::

    import losslab as ll
    ll.huber(y_true, y_pred, delta=1.0)      # functional form, reduced (mean)
    L = ll.get("huber", delta=1.0)           # the Loss object: gradient, hessian, traits
"""

from __future__ import annotations

from .loss import CatalogEntry, Loss, LossOverflow, Param, catalog, get, register, set_num_threads
from .loss.registry import exports as _exports
from ._validate import checked
from .traits import Interval, Traits

# The catalog: each family module registers its losses (``@register``); every registered
# class and its functional form (``ll.huber``, ``ll.Huber``) is exported from here, so
# adding a loss needs no line in this file.
from .losses import binary, embedding, multiclass, probabilistic, ranking, regression, segmentation, sequence
from .losses import fenchel_young as _fenchel_young_module
from .losses import metric, multilabel, noisy_labels, preference, sampled, transport

for _family in (regression, probabilistic, binary, multiclass, noisy_labels, sampled, _fenchel_young_module, multilabel,
                segmentation, ranking, embedding, metric, sequence, transport, preference):
    globals().update(_exports(_family.__name__))
del _family

from .losses.fenchel_young import fenchel_young
from .losses.multiclass import class_balanced_weights
from .losses.sequence import perplexity
from . import miners

# Regularizers (regularizers.py)
from .regularizers import L1, L2, ElasticNet, Objective, Regularizer, elastic_net, get_regularizer, l1, l2

# Training engine and data sets (train/, datasets.py); losslab.sklearn is imported on demand
from . import datasets, train
from .train import diagnose, fit

# Profiles (profile/) and user losses (custom/); matplotlib and sympy are imported lazily
from .profile import Profile, profile
from . import custom
from .custom import custom_loss

# Loss specs in text ("huber(delta=1.345)"), parsed without eval: one syntax for the CLI and Python
from . import spec
from .spec import resolve_loss

# Choosing a loss (select/); scikit-learn, joblib and dask are imported when the functions run
from .select import Advice, SearchResult, recommend, search

__version__ = "0.1.0"
