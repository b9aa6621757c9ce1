"""losslab: loss functions computed right, measured, and chosen.

The catalog, one loss per line (``losslab list`` prints it with descriptions)::

    import losslab as ll
    ll.huber(y_true, y_pred, delta=1.0)      # functional form, reduced (mean)
    L = ll.get("huber", delta=1.0)           # the Loss object: gradient, hessian, traits
"""

from __future__ import annotations

from .core import CatalogEntry, Loss, Param, catalog, get, register, set_num_threads
from .traits import Interval, Traits

# Regression (losses/regression.py)
from .losses.regression import (
    MAE, MAPE, MSE, MSLE, Barron, Cauchy, EpsilonInsensitive, Huber, LogCosh, Quantile, SmoothL1,
    SquaredEpsilonInsensitive, Tukey,
)
from .losses.regression import mse
from .losses.regression import mae
from .losses.regression import huber
from .losses.regression import smooth_l1
from .losses.regression import log_cosh
from .losses.regression import quantile
from .losses.regression import epsilon_insensitive
from .losses.regression import squared_epsilon_insensitive
from .losses.regression import msle
from .losses.regression import mape
from .losses.regression import cauchy
from .losses.regression import tukey
from .losses.regression import barron

# Probabilistic (losses/probabilistic.py)
from .losses.probabilistic import Brier, GammaDeviance, GaussianNLL, JSDivergence, KLDivergence, Poisson, Tweedie
from .losses.probabilistic import poisson
from .losses.probabilistic import gamma_deviance
from .losses.probabilistic import tweedie
from .losses.probabilistic import gaussian_nll
from .losses.probabilistic import kl_divergence
from .losses.probabilistic import js_divergence
from .losses.probabilistic import brier

# Regularizers (regularizers.py)
from .regularizers import L1, L2, ElasticNet, Objective, Regularizer, elastic_net, get_regularizer, l1, l2

__version__ = "0.1.0"
