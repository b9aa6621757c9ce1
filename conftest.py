"""Collection at the repository root: the doctest run (``--doctest-modules`` over src/losslab)
imports every module, so modules that need an optional dependency at import time are left
out when it is absent (the tests that use them skip on their own)."""

from __future__ import annotations

import importlib.util
import os

# Keras reads its backend when first imported; losslab.keras runs on torch or jax.
os.environ.setdefault("KERAS_BACKEND", "torch" if importlib.util.find_spec("torch") else "jax")


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # ValueError: a module set to None in sys.modules
        return False


collect_ignore = [
    f"src/losslab/{module}.py" for module, library in (("torch", "torch"), ("keras", "keras")) if not _importable(library)
]
collect_ignore_glob = [] if _importable("numba") else ["src/losslab/kernels/_*.py"]
