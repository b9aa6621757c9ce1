"""The README's Python examples run as written (in order, in one namespace)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.unseeded_defaults("the README's examples, run as a user types them")
def test_readme_examples_run():
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    pytest.importorskip("sympy")
    namespace: dict = {}
    blocks = _blocks()
    assert len(blocks) >= 4
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)  # our own README, not user input
    # The numbers the README states in its comments.
    assert namespace["ll"].mse([100.0, 160.0, 250.0], [100.0, 160.0, 240.0]) == pytest.approx(100 / 3)
    card = namespace["card"]
    assert (card.estimates, card.robust, card.convex, round(card.efficiency, 2)) == ("other", True, True, 0.95)
