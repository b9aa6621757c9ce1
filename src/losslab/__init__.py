"""losslab: loss functions computed right, measured, and chosen.

The catalog, one loss per line (``losslab list`` prints it with descriptions)::

    import losslab as ll
    ll.huber(y_true, y_pred, delta=1.0)      # functional form, reduced (mean)
    L = ll.get("huber", delta=1.0)           # the Loss object: gradient, hessian, traits
"""

from __future__ import annotations

from .core import CatalogEntry, Loss, LossOverflow, Param, catalog, get, register, set_num_threads
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

# Binary classification (losses/binary.py)
from .losses.binary import (
    BinaryCrossEntropy, BinaryFocal, Exponential, Hinge, Logistic, ModifiedHuber, Perceptron, SmoothedHinge,
    SquaredHinge, ZeroOne,
)
from .losses.binary import binary_cross_entropy
from .losses.binary import binary_focal
from .losses.binary import hinge
from .losses.binary import squared_hinge
from .losses.binary import smoothed_hinge
from .losses.binary import modified_huber
from .losses.binary import logistic
from .losses.binary import exponential
from .losses.binary import perceptron
from .losses.binary import zero_one

# Multiclass classification (losses/multiclass.py)
from .losses.multiclass import (
    NLL, CostSensitive, CrossEntropy, Focal, GeneralizedCrossEntropy, MulticlassHinge, Poly1,
    SymmetricCrossEntropy,
)
from .losses.multiclass import cross_entropy
from .losses.multiclass import nll
from .losses.multiclass import focal
from .losses.multiclass import multiclass_hinge
from .losses.multiclass import poly1
from .losses.multiclass import generalized_cross_entropy
from .losses.multiclass import symmetric_cross_entropy
from .losses.multiclass import cost_sensitive
from .losses.multiclass import class_balanced_weights

# Segmentation (losses/segmentation.py)
from .losses.segmentation import Dice, Tversky
from .losses.segmentation import dice
from .losses.segmentation import tversky

# Ranking (losses/ranking.py)
from .losses.ranking import ListNet, MarginRanking, PairwiseLogistic
from .losses.ranking import margin_ranking
from .losses.ranking import pairwise_logistic
from .losses.ranking import listnet

# Metric learning (losses/embedding.py) and triplet miners (miners.py)
from .losses.embedding import CLIP, Contrastive, CosineEmbedding, InfoNCE, SupCon, Triplet
from .losses.embedding import contrastive
from .losses.embedding import triplet
from .losses.embedding import cosine_embedding
from .losses.embedding import info_nce
from .losses.embedding import clip
from .losses.embedding import supcon
from . import miners

# Sequence (losses/sequence.py)
from .losses.sequence import LinearCrossEntropy, TokenCrossEntropy
from .losses.sequence import token_cross_entropy
from .losses.sequence import linear_cross_entropy
from .losses.sequence import perplexity

# Optimal transport (losses/transport.py)
from .losses.transport import Sinkhorn, Wasserstein1D
from .losses.transport import wasserstein_1d
from .losses.transport import sinkhorn

# Regularizers (regularizers.py)
from .regularizers import L1, L2, ElasticNet, Objective, Regularizer, elastic_net, get_regularizer, l1, l2

# Training engine and data sets (train/, datasets.py); losslab.sklearn is imported on demand
from . import datasets, train
from .train import diagnose, fit

# Profiles (profile/) and user losses (custom/); matplotlib and sympy are imported lazily
from .profile import Profile, profile
from . import custom
from .custom import custom_loss

# Choosing a loss (select/); scikit-learn, joblib and dask are imported when the functions run
from .select import Advice, SearchResult, recommend, search

__version__ = "0.1.0"
