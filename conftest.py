"""Collection of the package's doctests: modules for an optional library that is not
installed (losslab.torch, losslab.keras) are left out instead of failing to import."""

from __future__ import annotations

import importlib.util
import os

# Keras reads its backend when first imported; losslab.keras runs on torch or jax.
os.environ.setdefault("KERAS_BACKEND", "torch" if importlib.util.find_spec("torch") else "jax")

collect_ignore = [
    f"src/losslab/{module}.py"
    for module, library in (("torch", "torch"), ("keras", "keras"))
    if importlib.util.find_spec(library) is None
]
