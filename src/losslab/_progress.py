"""One progress display for long runs (training epochs, search fits, experiments).

On a terminal: Rich's bar when Rich is installed, else one line rewritten in place. Off a
terminal (logs, CI): one line per step, so a log shows how far a run got. Everything goes
to stderr; stdout keeps the results. Callers decide when to show one at all.
"""

from __future__ import annotations

import sys
from typing import Any, Iterable, Iterator


class Progress:
    """``with Progress(total, "training") as bar: ... bar.advance("epoch 3 loss 0.2")``."""

    def __init__(self, total: int, description: str, *, enabled: bool = True) -> None:
        self.total, self.description, self.enabled = total, description, bool(enabled)
        self.count = 0
        self._terminal = sys.stderr.isatty()
        self._rich: Any = None
        self._task: Any = None

    def __enter__(self) -> "Progress":
        if self.enabled and self._terminal:
            try:
                from rich.console import Console
                from rich.progress import Progress as RichProgress
            except ImportError:
                return self
            self._rich = RichProgress(console=Console(stderr=True), transient=True)
            self._rich.start()
            self._task = self._rich.add_task(self.description, total=self.total)
        return self

    def advance(self, text: str | None = None) -> None:
        """One step done; ``text`` says what (shown beside the bar, or on the line)."""
        self.count += 1
        if not self.enabled:
            return
        shown = text or self.description
        if self._rich is not None:
            self._rich.update(self._task, advance=1, description=shown)
        elif self._terminal:
            sys.stderr.write(f"\r{self.description}: {self.count}/{self.total} {text or ''}".rstrip())
            sys.stderr.flush()
        else:
            print(f"[{self.count}/{self.total}] {shown}", file=sys.stderr)

    def note(self, line: str) -> None:
        """A line of its own (a result worth keeping), printed above the bar."""
        if not self.enabled:
            return
        if self._rich is not None:
            self._rich.console.print(line, highlight=False)
        else:
            if self._terminal and self.count:
                sys.stderr.write("\n")
            print(line, file=sys.stderr)

    def __exit__(self, *exc: Any) -> None:
        if self._rich is not None:
            self._rich.stop()
        elif self.enabled and self._terminal and self.count:
            sys.stderr.write("\n")


def track(items: Iterable[Any], total: int, description: str, *, enabled: bool = True) -> Iterator[Any]:
    """Yield ``items`` and advance a ``Progress`` after each one."""
    with Progress(total, description, enabled=enabled) as bar:
        for item in items:
            bar.advance()
            yield item
