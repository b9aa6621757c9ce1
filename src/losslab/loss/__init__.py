"""The loss core: the contract every loss follows, and the machinery it shares.

- ``contract``: the ``Loss`` object (declarations, the public interface, per-sample hooks);
- ``weights``: sample × class × ignore weights and the reductions, applied in one place;
- ``engine``: direct and row-block evaluation, the thread pool, the one fast-kernel hook;
- ``registry``: ``register``, ``get``, ``catalog`` and the generated functional forms;
- ``links``: what y_pred holds (probabilities, logits, log-probabilities) and its chain rule;
- ``shapes``: the forms losses are written in (ρ of a residual, φ of a margin, f of each
  class's log-probability), so that a loss writes its mathematics only.

Nothing here imports a loss family, or anything above the core (docs/architecture.md).
"""

from .contract import Loss, LossOverflow, Param
from .engine import one_blas_thread, set_num_threads
from .registry import CatalogEntry, catalog, exports, functional, get, register, resolve, unregister

__all__ = [
    "Loss", "LossOverflow", "Param", "register", "unregister", "resolve", "get", "catalog", "CatalogEntry",
    "functional", "exports", "set_num_threads", "one_blas_thread",
]
