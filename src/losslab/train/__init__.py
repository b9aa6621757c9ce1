"""The training engine (DESIGN §4): NumPy models with hand-written backprop, optimizers,
learning-rate schedules, ``fit`` and ``History``, and ``diagnose``.

>>> import numpy as np
>>> from losslab.train import MLP, fit, diagnose
"""

from .diagnosis import Diagnosis, diagnose
from .history import History, TrainingDiverged
from .models import MLP, EmbeddingNet, Linear, Model
from .optimizers import GD, LBFGS, SGD, Adam, AdamW, Optimizer, RMSProp, get_optimizer
from .schedules import Constant, Cosine, Schedule, StepDecay, constant, cosine, step
from .trainer import EarlyStopping, default_optimizer, fit, prepare_loss

__all__ = [
    "Model", "Linear", "MLP", "EmbeddingNet",
    "Optimizer", "GD", "SGD", "Adam", "AdamW", "RMSProp", "LBFGS", "get_optimizer",
    "Schedule", "Constant", "StepDecay", "Cosine", "constant", "step", "cosine",
    "fit", "EarlyStopping", "History", "TrainingDiverged", "default_optimizer", "prepare_loss",
    "Diagnosis", "diagnose",
]
