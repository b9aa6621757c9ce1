"""The catalog: one module per family; importing this package registers every loss."""

from . import probabilistic, regression  # noqa: F401  (registration side effect)
