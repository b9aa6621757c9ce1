"""The catalog: one module per family (a large family in several modules, each named for its
part); importing this package registers every loss."""

from . import probabilistic, regression  # noqa: F401  (registration side effect)
from . import binary, multiclass, multilabel, segmentation  # noqa: F401  (registration side effect)
from . import fenchel_young, noisy_labels, sampled  # noqa: F401  (the rest of family "multiclass")
from . import embedding, metric, preference, ranking, sequence, transport  # noqa: F401  (registration side effect)
