"""The Python examples of docs/choosing.md and docs/profiles.md run verbatim (in order, one namespace per page)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _blocks(page: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (DOCS / page).read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.parametrize("page, at_least", [("choosing.md", 3), ("profiles.md", 3)])
def test_every_python_block_runs_verbatim(page, at_least, tmp_path, monkeypatch):
    pytest.importorskip("sklearn")
    pytest.importorskip("sympy")
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)  # the examples save figures in the working folder
    from losslab.loss import unregister

    blocks = _blocks(page)
    assert len(blocks) >= at_least
    namespace: dict = {}
    try:
        for block in blocks:
            exec(compile(block, str(DOCS / page), "exec"), namespace)  # our own docs, not user input
    finally:
        unregister("my_pseudo_huber")
    # Numbers the pages state in their comments.
    if page == "profiles.md":
        card = namespace["card"]
        assert (card.estimates, card.robust, card.convex, round(card.efficiency, 3)) == ("other", True, True, 0.95)
        assert namespace["my_pseudo_huber"].gradient([0.0], [2.0], reduction="sum")[0] == pytest.approx(0.89442719)
    else:
        assert namespace["advice"].best.name == "huber"
        assert namespace["result"].best_loss.name in ("mae", "huber")
