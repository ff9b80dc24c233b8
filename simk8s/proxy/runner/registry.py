"""The runners by the name `cluster.kubeProxy.runner` gives them."""

from __future__ import annotations

from simk8s.proxy.runner.async_runner import AsyncRunner
from simk8s.proxy.runner.channel import SyncFn
from simk8s.proxy.runner.clock import AbsoluteTimeEnvironment
from simk8s.proxy.runner.proxy_runner import ProxyRunner

RUNNERS: dict[str, type[AsyncRunner] | type[ProxyRunner]] = {
    AsyncRunner.kind: AsyncRunner,  # token-bucket: pkg/util/async (≤ v1.33)
    ProxyRunner.kind: ProxyRunner,  # completion-gap: pkg/proxy/runner (v1.34+)
}


def make_runner(
    kind: str, env: AbsoluteTimeEnvironment, fn: SyncFn, min_interval: float, max_interval: float
) -> AsyncRunner | ProxyRunner:
    try:
        cls = RUNNERS[kind]
    except KeyError:
        raise ValueError(f"unknown runner {kind!r}; expected one of {sorted(RUNNERS)}") from None
    return cls(env, fn, min_interval, max_interval)
