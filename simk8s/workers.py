"""Worker processes that never outlive the command that started them.

`run --jobs N` and `sweep` fork workers that each hold a simulation (up to ~1.5 GB). If
the parent dies outright (SIGKILL, the OOM killer), orphaned workers would finish their
simulation and then sit there holding that memory. On Linux each worker asks the kernel
for SIGKILL when its parent goes (prctl PR_SET_PDEATHSIG); everywhere, Ctrl-C and SIGTERM
are the parent's to handle: it stops its workers and removes what it was writing.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
from concurrent.futures import Executor, ProcessPoolExecutor

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(parent_pid: int) -> None:
    """In a worker: be killed when `parent_pid` goes; ignore the terminal's Ctrl-C (the
    parent handles it and stops us); default SIGTERM (no cleanup of the parent's files)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)


def stop_workers(pool: Executor) -> None:
    """Stop a process pool's running workers now (a failure, Ctrl-C or SIGTERM in the
    parent), rather than waiting for their simulations to finish."""
    if isinstance(pool, ProcessPoolExecutor):
        # ProcessPoolExecutor has no public way to stop running work before Python 3.14's
        # terminate_workers(); its process table is the only handle on them.
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            with contextlib.suppress(Exception):
                proc.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


def terminate_on_sigterm() -> None:
    """In the CLI process: SIGTERM unwinds like Ctrl-C (temporary files are removed)."""
    from simk8s.errors import Terminated

    def handler(signum: int, frame: object) -> None:
        raise Terminated()

    signal.signal(signal.SIGTERM, handler)
