"""Variants in parallel: one process per group of variants that share a cluster run.

A scenario's variants fall into groups by `cluster_key` (rolling-2000: the Endpoints
variant, which runs without truncation, and the three EndpointSlice variants, which share
one control plane). Each group runs in a forked worker, start to finish, and sends back
its variants' summaries and tables; the SimPy world, fan-out and fleet stay in the worker
(they hold generators and are not picklable). Within a group, once the first variant has
run (cluster and watch stages included), the worker forks a child per further variant but
one, so that a group of many variants (rolling-2000's three EndpointSlice variants) does
not run its kube-proxy and data-path stages one after the other while the other workers
are idle. A process computes only while it holds one of `jobs` CPU tokens: a forked child
waits for one (its parent gives its own back once its in-process variants are done), so
children run on cores other groups have left and never slow down a group still running
(rolling-2000: the Endpoints variant, the longest). Every variant runs exactly as it would
in one process (same seeds, reading the same finished cluster and watch stages), so the
figures are identical.

Progress reports travel back over a queue and are replayed to the caller's callback by
a thread, throttled to a few per second per variant.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import pickle
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

from simk8s.pipeline import VariantResult, run_after_first, run_group
from simk8s.workers import die_with_parent, stop_workers

Progress = Callable[[str, str, float, float], None]
_REPORT_EVERY_S = 0.25  # wall seconds between progress messages from one worker

_queue: Any = None  # the worker's end of the progress queue (set by _init_worker)
_cores: Any = None  # the CPU tokens shared by the workers and their children (ditto)


def run_groups_in_processes(
    groups: list[list[tuple[str, Any]]], jobs: int, progress: Progress | None = None,
    on_group_done: Callable[[list[VariantResult]], None] | None = None,
) -> list[VariantResult]:
    """Run each group in a worker process (at most `jobs` at once); results in group order.
    `on_group_done`: called here with each group's results as soon as they arrive (e.g. to
    write them while other groups still run)."""
    ctx = multiprocessing.get_context("fork")  # workers inherit the loaded modules: no re-import
    # SimpleQueue: a put is written to the pipe at once, so every message is there before the
    # worker returns its results (and before the relay's stop sentinel).
    queue = ctx.SimpleQueue() if progress is not None else None
    cores = ctx.Semaphore(jobs)
    relay = None
    try:
        with ProcessPoolExecutor(
            max_workers=min(jobs, len(groups)), mp_context=ctx, initializer=_init_worker, initargs=(queue, os.getpid(), cores)
        ) as pool:
            futures = [pool.submit(_run_group_light, group) for group in groups]
            # The relay thread starts only now that the workers are forked (the first submit
            # forks them all): a fork copies no thread, and no lock held by one.
            if queue is not None and progress is not None:
                relay = _Relay(queue, progress)
            try:
                pending = set(futures)
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for f in done:
                        group_results = f.result()  # a failure shows at once
                        if on_group_done is not None:
                            on_group_done(group_results)
                results = [r for f in futures for r in f.result()]
            except BaseException:  # a group failed, Ctrl-C or SIGTERM: stop the others now
                stop_workers(pool)
                raise
    finally:
        if relay is not None:
            relay.stop()
    return results


def _init_worker(queue: Any, parent_pid: int, cores: Any) -> None:
    global _queue, _cores
    _queue, _cores = queue, cores
    die_with_parent(parent_pid)


def _run_group_light(group: list[tuple[str, Any]]) -> list[VariantResult]:
    progress = _throttled_sender() if _queue is not None else None
    forked: list[_Forked] = []
    try:
        with _core():
            first = run_group(group[:1], progress)[0]
            forked = [_Forked(_variant_run(first, name, sc, progress)) for name, sc in group[2:]]
            results = [_light(first)] + [_light(run_after_first(first, n, sc, progress)) for n, sc in group[1:2]]
        # this core is free now: a waiting child takes it
        return results + [child.result() for child in forked]
    finally:
        for child in forked:
            child.stop()


def _core() -> contextlib.AbstractContextManager:
    """Hold one of the `jobs` CPU tokens (none to hold outside `run_groups_in_processes`)."""
    return _cores if _cores is not None else contextlib.nullcontext()


def _variant_run(first: VariantResult, name: str, sc: Any, progress: Progress | None) -> Callable[[], VariantResult]:
    def run() -> VariantResult:
        with _core():  # wait for a core no one computes on
            return _light(run_after_first(first, name, sc, progress))

    return run


def _light(result: VariantResult) -> VariantResult:
    # What crosses the process boundary: summary and tables (the live objects stay here).
    return dataclasses.replace(result, cluster=None, fanout=None, fleet=None, traffic={})


class _Forked:
    """`run()` in a forked child of this worker (it inherits the finished cluster and watch
    stages copy-on-write); `result()` waits for it and returns what it returned (or raises
    what it raised). The child hands its result over in a temporary file."""

    def __init__(self, run: Callable[[], VariantResult]) -> None:
        fd, self.path = tempfile.mkstemp(prefix="simk8s-variant-", suffix=".pickle")
        os.close(fd)
        parent = os.getpid()
        self.pid = os.fork()
        if self.pid == 0:  # the child: never returns
            code = 1
            try:
                die_with_parent(parent)
                try:
                    outcome: tuple[bool, Any] = (True, run())
                except BaseException as exc:
                    outcome = (False, exc)
                with open(self.path, "wb") as f:
                    pickle.dump(outcome, f, protocol=pickle.HIGHEST_PROTOCOL)
                code = 0
            finally:
                os._exit(code)

    def result(self) -> VariantResult:
        _, status = os.waitpid(self.pid, 0)
        self.pid = 0
        try:
            if os.waitstatus_to_exitcode(status) != 0:
                raise RuntimeError(f"a variant's worker process ended with status {status}")
            with open(self.path, "rb") as f:
                ok, value = pickle.load(f)
        finally:
            os.unlink(self.path)
        if not ok:
            raise value
        return value

    def stop(self) -> None:
        """After a failure here: end the child (if it still runs) and remove its file."""
        if self.pid:
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            self.pid = 0
        with contextlib.suppress(OSError):
            os.unlink(self.path)


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
