"""Fewer cyclic-GC passes while a scenario runs (CPython's `gc` thresholds and freeze).

A run allocates millions of short-lived objects (SimPy events, API records, entries) beside
a large live set (stored objects, the write log): at CPython's default thresholds, cyclic
GC passes over that live set cost ~20 % of a run and found no cycles to collect (gc
callbacks: 0 collected in rolling-2000 and scale-150k). Memory is unchanged: the garbage is
freed by reference counting.
"""

from __future__ import annotations

import atexit
import gc
import threading
from contextlib import contextmanager

# Young generation every 100,000 allocations instead of 700; the middle one after 1000 of
# those (a pass over it walked a whole 150,000-pod world, ~3 s, in scale-150k).
THRESHOLDS = (1_000_000, 1000, 100)

_lock = threading.Lock()
_depth = 0  # runs inside fewer_gc_passes now (threads of one sweep may overlap)
_saved = (700, 10, 10)  # the thresholds to restore when the last run leaves


@contextmanager
def fewer_gc_passes():
    """Raise the thresholds and freeze what exists (modules, the scenario, earlier variants'
    results) so passes skip it. Overlapping runs (threads) share one setting: the first in
    sets it, the last out restores it and unfreezes."""
    global _depth, _saved
    with _lock:
        if _depth == 0:
            _saved = gc.get_threshold()
            gc.set_threshold(*THRESHOLDS)
        gc.freeze()  # not rescanned during the run; back to the oldest generation after it
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.unfreeze()
                gc.set_threshold(*_saved)


_building = 0  # stages inside no_passes_while_building now
_was_enabled = True


@contextmanager
def no_passes_while_building():
    """Inside fewer_gc_passes: no cyclic-GC pass while a stage builds what lives on to the
    end of the variant, then freeze it (which also restarts the young generation's count).
    Even the raised threshold meant 1 pass (~0.1 s) in rolling-2000's cluster stage and 5
    (~1 s) in scale-150k's, each finding nothing to collect; the stage creates no cycles, so
    reference counting frees all its garbage. Outside fewer_gc_passes this changes nothing."""
    global _building, _was_enabled
    with _lock:
        active = _depth > 0
        if active:
            if _building == 0:
                _was_enabled = gc.isenabled()
                gc.disable()
            _building += 1
    try:
        yield
    finally:
        if active:
            with _lock:
                _building -= 1
                gc.freeze()
                if _building == 0 and _was_enabled:
                    gc.enable()


_at_exit = False


def no_collections_at_exit() -> None:
    """At interpreter exit, freeze what is left instead of letting the shutdown's full
    collections walk it: a command that ran scale-150k still holds its world in module
    caches, and those passes took ~8 s (three times the 2.4 s of one gc.collect()) after the
    results were written. Memory is the operating system's to take back by then."""
    global _at_exit
    if not _at_exit:
        _at_exit = True
        atexit.register(gc.freeze)

