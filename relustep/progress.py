"""A one-line progress bar for long runs, with no dependency.

It stays silent for the first ``delay`` seconds, so short runs print nothing, and then redraws
one line on the terminal at most a few times a second.
"""

from __future__ import annotations

import sys
import time


class ProgressBar:
    """Progress of ``total`` units of work, written to ``stream`` (standard error by default).

    Parameters
    ----------
    total : int
        Units of work (epochs, runs).
    description : str
        Shown before the bar.
    delay : float
        Seconds of silence before the bar first appears.
    enabled : bool
        ``False`` prints nothing at all.
    """

    def __init__(
        self, total: int, description: str = "", *, delay: float = 2.0, stream=None, enabled=True
    ):
        self.total = max(int(total), 1)
        self.description = description
        self.delay = delay
        self.stream = sys.stderr if stream is None else stream
        self.enabled = enabled
        self.done = 0
        self.started = time.perf_counter()
        self._last_draw = 0.0
        self._drawn = False

    def update(self, amount: int = 1, status: str = "") -> None:
        """Mark ``amount`` more units done and redraw if it is time to."""
        self.done += amount
        now = time.perf_counter()
        if not self.enabled or now - self.started < self.delay:
            return
        if now - self._last_draw < 0.2 and self.done < self.total:
            return
        self._last_draw = now
        self._draw(now, status)

    def _draw(self, now: float, status: str) -> None:
        fraction = min(self.done / self.total, 1.0)
        width = 24
        filled = int(round(width * fraction))
        elapsed = now - self.started
        remaining = elapsed * (1 - fraction) / fraction if fraction > 0 else float("nan")
        bar = "#" * filled + "-" * (width - filled)
        line = (
            f"\r{self.description} [{bar}] {self.done}/{self.total} "
            f"{elapsed:5.1f}s elapsed, ~{remaining:4.0f}s left {status}"
        )
        self.stream.write(line.ljust(100)[:160])
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """End the line if a bar was drawn."""
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
