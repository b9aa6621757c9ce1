"""The README's Python examples run as written (in order, in one namespace)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
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
    # The quick start's PyTorch loop: the huber module recovers the weights despite the outliers.
    weights = namespace["net"].weight.data.numpy().ravel()
    assert weights == pytest.approx([1.0, -2.0, 0.5], abs=0.1)


def test_readme_quick_start_command_lines_run(tmp_path):
    """Every `losslab` line of the quick start runs as written (in a scratch folder)."""
    pytest.importorskip("typer")
    pytest.importorskip("matplotlib")
    pytest.importorskip("sympy")
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Quick start"):text.index("\n## ", text.index("## Quick start") + 1)]
    (block,) = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    lines = [line.split("  #")[0].strip() for line in block.splitlines() if line.startswith("losslab ")]
    assert len(lines) >= 2 and any("(" in line for line in lines)  # a parameterised loss
    for line in lines:
        args = shlex.split(line)[1:]
        result = subprocess.run([sys.executable, "-m", "losslab", *args], capture_output=True, text=True,
                                timeout=300, cwd=tmp_path)
        assert result.returncode == 0, (line, result.stderr)
    assert (tmp_path / "losses.png").exists()


def test_interfaces_doc_examples_run():
    """docs/interfaces.md's Python blocks run as written, and its stated numbers hold."""
    pytest.importorskip("torch")
    doc = README.parent / "docs" / "interfaces.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 4
    try:
        import keras  # noqa: F401
    except ImportError:
        blocks = [b for b in blocks if "import keras" not in b]
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(doc), "exec"), namespace)  # our own docs, not user input
    ll, np = namespace["ll"], namespace["np"]
    y, p, w = namespace["y"], namespace["p"], namespace["w"]
    assert ll.mse(y, p, sample_weight=w) == pytest.approx(10.875)
    assert ll.mse(y, p, sample_weight=w, reduction="sum") / 4 == pytest.approx(21.75)
    if "history" in namespace:  # the Keras block ran
        assert np.isfinite(namespace["history"].history["loss"][-1])
