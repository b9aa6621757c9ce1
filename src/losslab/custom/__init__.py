"""User losses: a Python function (``custom_loss``) or a safe text formula (``from_expression``).

Both give a full ``Loss``: reductions and weights, gradient and Hessian, the registry
(registered when given a ``name``), ``losslab.profile`` and training.

**A function** ``(y_true, y_pred) -> per-sample values`` written with array operations::

    @losslab.custom_loss(task="regression", name="pseudo_huber")
    def pseudo_huber(y_true, y_pred, xp, c=1.0):
        r = (y_pred - y_true) / c
        return c * c * (xp.sqrt(1 + r * r) - 1)

Give the function an ``xp`` parameter and it receives the Array-API namespace of the
caller's arrays (NumPy, PyTorch, JAX, array_api_strict, ...): written with ``xp.*`` calls
and operators it runs, and differentiates, on every backend. A function without ``xp``
receives the arrays as they come and must work on them itself (operators and methods).
Its keyword arguments with defaults are the loss's parameters (``losslab.get("pseudo_huber",
c=2.0)``). Derivatives (``derivatives=``: "auto", "torch", "jax", "finite_differences",
"complex_step") are described in ``losslab.custom.derivatives``.

**A formula** in ``r`` = y_pred − y_true (regression), ``m`` = y·f (binary margin, y in
{−1, +1} or {0, 1}) or ``p`` = the predicted probability of the true class (binary; with
``from_logits=True`` p = sigmoid(m)). The text is parsed with ``ast.parse(mode="eval")``
into a whitelisted tree: numbers, the variable, parameters given by keyword, + − * / **,
unary −, abs, exp, log, log1p, sqrt, cosh, tanh, sigmoid, softplus, min, max and
where(comparison, a, b). Anything else is rejected with a ValueError naming it, before
anything is evaluated; nothing calls eval/exec/compile. A complexity budget (size,
constants, exponents, degree; ``losslab.custom.parser``) and a time limit on the symbolic
work (``losslab.custom.symbolic``) make every formula accepted or refused within seconds.
The tree becomes a SymPy expression, differentiated symbolically, and a small evaluator
walks the SymPy trees with ``xp`` calls (stable forms for log(cosh), softplus, sigmoid and
log(sigmoid)).

Modules: ``function`` (custom_loss), ``derivatives`` (autodiff, finite differences,
complex step), ``parser`` (whitelist and budget), ``symbolic`` (SymPy, time limit),
``evaluate`` (SymPy trees to ``xp`` calls), ``expression`` (from_expression), ``base``
(what both kinds share).

>>> import numpy as np
>>> from losslab.custom import from_expression
>>> L = from_expression("where(abs(r) <= delta, r**2/2, delta*(abs(r) - delta/2))", delta=1.0)
>>> print(L([0.0, 0.0], [0.5, 3.0]), L.gradient([0.0, 0.0], [0.5, 3.0], reduction="sum"))
1.3125 [0.5 1. ]
"""

from __future__ import annotations

from .base import TASKS, set_trait_measurer
from .derivatives import DERIVATIVES
from .expression import ExpressionLoss, ParsedExpression, from_expression, parse_expression
from .function import CustomLoss, custom_loss
from .parser import FUNCTIONS, MAX_LENGTH, VARIABLES

__all__ = ["custom_loss", "from_expression", "parse_expression", "CustomLoss", "ExpressionLoss"]
