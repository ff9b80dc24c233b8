"""Progress bars over simulated time (tqdm; off when not a terminal, or TQDM_DISABLE=1).

One bar per variant, so variants running in parallel (``--jobs``) each keep their own line;
a variant's bar is replaced when it moves on to its next stage and closed when it is full.
"""

from __future__ import annotations

import sys

from tqdm.auto import tqdm


class ProgressBar:
    def __init__(self, enabled: bool | None = None):
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bars: dict[str, tuple[str, tqdm]] = {}  # variant → (stage, its bar)
        self._lines: dict[str, int] = {}  # variant → terminal line (tqdm position)

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        for _, bar in self._bars.values():
            bar.close()
        self._bars.clear()

    def update(self, variant: str, stage: str, now: float, total: float | None = None) -> None:
        if not self.enabled:
            return
        current = self._bars.get(variant)
        if current is None or current[0] != stage:
            if current is not None:
                current[1].close()
            line = self._lines.setdefault(variant, len(self._lines))
            bar = tqdm(desc=f"{variant}: {stage}", total=total, unit="sim-s", leave=False, file=sys.stderr, position=line)
            current = self._bars[variant] = (stage, bar)
        bar = current[1]
        bar.update(max(0.0, now - bar.n))
        if total is not None and now >= total:  # done: free the line
            bar.close()
            del self._bars[variant]


class PointsBar:
    """One bar counting a sweep's finished points (reused ones are done from the start)."""

    def __init__(self, enabled: bool | None = None):
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bar: tqdm | None = None

    def __enter__(self) -> PointsBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()

    def update(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self._bar is None:
            self._bar = tqdm(desc="sweep", total=total, unit="point", file=sys.stderr, leave=False)
        self._bar.update(done - self._bar.n)
