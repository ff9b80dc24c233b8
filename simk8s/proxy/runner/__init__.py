"""kube-proxy's BoundedFrequencyRunner, both generations, as SimPy processes.

`async_runner`: `pkg/util/async` (≤ v1.33, token bucket with burst 2, lastRun at the end
of a run); `proxy_runner`: `pkg/proxy/runner` (v1.34+, minInterval and maxInterval from
completion). The per-node reference (simk8s/proxy/reference.py) runs them as they are; the
vectorized fleet (simk8s/proxy/fleet/schedule.py) reproduces their schedules in closed form.
"""

from simk8s.proxy.runner.async_runner import BURST_SYNCS, AsyncRunner, TokenBucket
from simk8s.proxy.runner.channel import SyncFn
from simk8s.proxy.runner.clock import LATE, AbsoluteTimeEnvironment
from simk8s.proxy.runner.proxy_runner import ProxyRunner
from simk8s.proxy.runner.registry import RUNNERS, make_runner
from simk8s.proxy.runner.trace import RunRecord, simulate_runner

__all__ = [
    "BURST_SYNCS",
    "LATE",
    "RUNNERS",
    "AbsoluteTimeEnvironment",
    "AsyncRunner",
    "ProxyRunner",
    "RunRecord",
    "SyncFn",
    "TokenBucket",
    "make_runner",
    "simulate_runner",
]
