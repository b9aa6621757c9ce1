"""The catalog: one module per family; importing this package registers every loss."""

from . import probabilistic, regression  # noqa: F401  (registration side effect)
from . import binary, multiclass, segmentation  # noqa: F401  (registration side effect)
from . import embedding, ranking, sequence, transport  # noqa: F401  (registration side effect)
