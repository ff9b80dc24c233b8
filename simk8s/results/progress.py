"""Progress bars (tqdm; off when not a terminal, or TQDM_DISABLE=1, or --quiet).

One bar per variant across all its stages (cluster → watch → kube-proxy → data path): the
bar counts stages done plus the simulated share of the running one, and its label names
the stage. Variants running in parallel (``--jobs``) each keep their own line; a variant's
line is freed when its last stage ends. Sweeps and frontiers count points instead.
"""

from __future__ import annotations

import os
import sys
import threading

from tqdm.auto import tqdm

STAGES = ("cluster", "watch", "proxy", "dataplane")
STAGE_NAMES = {"cluster": "cluster", "watch": "watch fan-out", "proxy": "kube-proxy", "dataplane": "data path"}


def _wanted(enabled: bool | None) -> bool:
    if enabled is not None:
        return enabled
    return sys.stderr.isatty() and os.environ.get("TQDM_DISABLE", "") in ("", "0")


class ProgressBar:
    """`update(variant, stage, now, total)` from `simk8s.pipeline` (`Progress`). While
    entered, a ticker redraws the open bars every `tick` seconds, so a stage that reports
    nothing until it ends (kube-proxy, data path) still shows its elapsed time."""

    def __init__(self, enabled: bool | None = None, tick: float = 1.0):
        self.enabled = _wanted(enabled)
        self.tick = tick
        self._bars: dict[str, tqdm] = {}  # variant → its bar
        self._lines: dict[str, int] = {}  # variant → terminal line (tqdm position)
        self._stages: dict[str, str] = {}  # variant → the stage it is in
        self._lock = threading.Lock()  # updates come from the relay thread of --jobs too
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def __enter__(self) -> ProgressBar:
        if self.enabled:
            self._ticker = threading.Thread(target=self._tick, name="simk8s-progress", daemon=True)
            self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        with self._lock:
            for bar in self._bars.values():
                bar.close()
            self._bars.clear()

    def _tick(self) -> None:
        while not self._stop.wait(self.tick):
            with self._lock:
                for bar in self._bars.values():
                    bar.refresh()

    def update(self, variant: str, stage: str, now: float, total: float | None = None) -> None:
        if self.enabled:
            with self._lock:
                self._update(variant, stage, now, total)

    def _update(self, variant: str, stage: str, now: float, total: float | None) -> None:
        bar = self._bars.get(variant)
        if bar is None:
            line = self._lines.setdefault(variant, len(self._lines))
            bar = self._bars[variant] = tqdm(
                desc=variant, total=len(STAGES), unit="stage", leave=False, file=sys.stderr, position=line, disable=False,
                bar_format="{desc} {percentage:3.0f}%|{bar}| [{elapsed}]",
            )
        index = STAGES.index(stage) if stage in STAGES else 0
        share = min(1.0, now / total) if total else 0.0
        moved_on = self._stages.get(variant) != stage
        self._stages[variant] = stage
        bar.set_description_str(f"{variant}: {STAGE_NAMES.get(stage, stage)} {now:,.0f}/{total or 0:,.0f} sim-s", refresh=False)
        bar.update(index + share - bar.n)
        if moved_on:  # a new stage shows at once (tqdm otherwise redraws at most every 0.1 s)
            bar.refresh()
        if stage == STAGES[-1] and total is not None and now >= total:  # the last stage is done: free the line
            bar.close()
            del self._bars[variant]


class PointsBar:
    """One bar counting a sweep's or frontier's finished points (reused ones are done from the
    start). A frontier learns its total as it goes: each round adds its probes."""

    def __init__(self, enabled: bool | None = None, desc: str = "sweep"):
        self.enabled = _wanted(enabled)
        self.desc = desc
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
            self._bar = tqdm(desc=self.desc, total=total, unit="point", file=sys.stderr, leave=False, disable=False)
        if self._bar.total != total:
            self._bar.total = total
        self._bar.update(done - self._bar.n)
