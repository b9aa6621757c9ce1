"""One conversion to JSON-ready Python, for every ``to_dict`` and results file.

NumPy arrays become lists, NumPy scalars Python numbers, tuples lists, mapping keys
strings; a float that JSON cannot hold (NaN, ±inf) becomes the string "nan", "inf" or
"-inf", so that ``json.dumps(..., allow_nan=False)`` always succeeds and a reader sees
what the number was.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def to_json(value: Any) -> Any:
    """``value`` as plain Python that ``json.dumps`` writes without ``allow_nan``."""
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_json(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))
    if isinstance(value, np.generic):
        return value.item()
    return value
