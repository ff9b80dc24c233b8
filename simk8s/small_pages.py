"""Ordinary pages, not transparent huge pages, for a variant's large short-lived arrays
(`simk8s.pipeline.run_variant` runs every stage inside `small_pages()`).

numpy asks the kernel for huge pages (madvise) on every array of 4 MiB or more. Where the
kernel compacts memory to serve such a fault (THP ``defrag`` set to ``madvise``, as on the
2-core VM of docs/performance.md), each one cost ~150 µs there: rolling-2000's Endpoints
variant spent 1.2 of its 2.2 data-path seconds in the kernel, on ~200 MB of temporaries,
and allocating the watch stage's 99 MB arrival matrix took 0.015–1.6 s (0.04–0.06 s
without). numpy documents the same switch as the NUMPY_MADVISE_HUGEPAGE environment
variable, read once at import (https://numpy.org/devdocs/reference/global_state.html).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np


def _madvise_switch() -> Callable[[bool], bool] | None:  # numpy >= 2 keeps it in numpy._core, 1.26 in numpy.core
    for name in ("_core", "core"):
        switch = getattr(getattr(getattr(np, name, None), "multiarray", None), "_set_madvise_hugepage", None)
        if switch is not None:
            return switch
    return None


@contextmanager
def small_pages() -> Iterator[None]:
    """Turn numpy's huge-page advice off inside, back to what it was after. Only speed
    depends on it (threads overlapping here may see either setting)."""
    switch = _madvise_switch()
    was = switch(False) if switch is not None else None
    try:
        yield
    finally:
        if switch is not None and was is not None:
            switch(bool(was))
