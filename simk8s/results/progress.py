"""A progress bar over simulated time (tqdm; off when not a terminal, or TQDM_DISABLE=1)."""

from __future__ import annotations

import sys

from tqdm.auto import tqdm


class ProgressBar:
    def __init__(self, enabled: bool | None = None):
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bar: tqdm | None = None
        self._key: tuple[str, str] | None = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()

    def update(self, variant: str, stage: str, now: float, total: float | None = None) -> None:
        if not self.enabled:
            return
        if self._key != (variant, stage):
            if self._bar is not None:
                self._bar.close()
            self._key = (variant, stage)
            self._bar = tqdm(desc=f"{variant}: {stage}", total=total, unit="sim-s", leave=False, file=sys.stderr)
        assert self._bar is not None
        self._bar.update(max(0.0, now - self._bar.n))
