"""Variants in parallel: one process per group of variants that share a cluster run.

A scenario's variants fall into groups by `cluster_key` (rolling-2000: the Endpoints
variant, which runs without truncation, and the three EndpointSlice variants, which share
one control plane). Each group runs in a forked worker, start to finish, and sends back
its variants' summaries and tables; the SimPy world, fan-out and fleet stay in the worker
(they hold generators and are not picklable). Every variant runs exactly as it would in
one process (same seeds, same order within its group), so the figures are identical.

Progress reports travel back over a queue and are replayed to the caller's callback by
a thread, throttled to a few per second per variant.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from typing import Any

from simk8s.pipeline import VariantResult, run_group
from simk8s.workers import die_with_parent, stop_workers

Progress = Callable[[str, str, float, float], None]
_REPORT_EVERY_S = 0.25  # wall seconds between progress messages from one worker

_queue: Any = None  # the worker's end of the progress queue (set by _init_worker)


def run_groups_in_processes(
    groups: list[list[tuple[str, Any]]], jobs: int, progress: Progress | None = None
) -> list[VariantResult]:
    """Run each group in a worker process (at most `jobs` at once); results in group order."""
    ctx = multiprocessing.get_context("fork")  # workers inherit the loaded modules: no re-import
    # SimpleQueue: a put is written to the pipe at once, so every message is there before the
    # worker returns its results (and before the relay's stop sentinel).
    queue = ctx.SimpleQueue() if progress is not None else None
    relay = None
    try:
        with ProcessPoolExecutor(
            max_workers=min(jobs, len(groups)), mp_context=ctx, initializer=_init_worker, initargs=(queue, os.getpid())
        ) as pool:
            futures = [pool.submit(_run_group_light, group) for group in groups]
            # The relay thread starts only now that the workers are forked (the first submit
            # forks them all): a fork copies no thread, and no lock held by one.
            if queue is not None and progress is not None:
                relay = _Relay(queue, progress)
            try:
                wait(futures, return_when=FIRST_EXCEPTION)  # a failure shows at once
                results = [r for f in futures for r in f.result()]
            except BaseException:  # a group failed, Ctrl-C or SIGTERM: stop the others now
                stop_workers(pool)
                raise
    finally:
        if relay is not None:
            relay.stop()
    return results


def _init_worker(queue: Any, parent_pid: int) -> None:
    global _queue
    _queue = queue
    die_with_parent(parent_pid)


def _run_group_light(group: list[tuple[str, Any]]) -> list[VariantResult]:
    results = run_group(group, _throttled_sender() if _queue is not None else None)
    # What crosses the process boundary: summary and tables (the live objects stay here).
    return [dataclasses.replace(r, cluster=None, fanout=None, fleet=None, traffic={}) for r in results]


def _throttled_sender() -> Progress:
    last: dict[tuple[str, str], float] = {}

    def send(variant: str, stage: str, now: float, total: float) -> None:
        t = time.monotonic()
        key = (variant, stage)
        if now >= total or t - last.get(key, -1e9) >= _REPORT_EVERY_S:  # the last one always goes
            last[key] = t
            _queue.put((variant, stage, now, total))

    return send


class _Relay:
    """Replays the workers' progress messages to the caller's callback, in a thread."""

    def __init__(self, queue: Any, progress: Progress) -> None:
        self.queue = queue
        self.progress = progress
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            msg = self.queue.get()
            if msg is None:
                return
            with contextlib.suppress(Exception):  # a broken display must not stop the draining
                self.progress(*msg)

    def stop(self) -> None:
        self.queue.put(None)
        self.thread.join(timeout=5)
