"""Kubernetes releases as profiles: every default and behaviour that changed between releases.

`cluster.kubernetesVersion` picks a release; each `Rule` below gives the value a setting
takes in that release (unless the scenario sets it explicitly), citing the upstream change
that introduced it. Stages read the resolved settings, never the version string. Adding a
release is adding its first-release entries here; `simk8s versions` renders this table into
docs/versions.md (a test keeps the two in step).

Patch releases: a rule whose change was backported applies from the minor release it was
backported to, as its newest patch has it (named in the rule's note).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Release = tuple[int, int]

OLDEST: Release = (1, 18)
NEWEST: Release = (1, 36)
ALL_MODES = ("iptables", "ipvs", "nftables")
NOT_IN_RELEASE = "needs Kubernetes"  # how a Requirement's problem reads (the loader skips such variants)


@dataclass(frozen=True)
class Rule:
    """A setting whose default follows the release: `values` are (first release, value)."""

    path: str  # under `cluster`, as the scenario writes it (camelCase, dotted)
    behaviour: str
    values: tuple[tuple[Release, Any], ...]
    source: str
    modes: tuple[str, ...] = ALL_MODES  # kube-proxy modes the value applies to
    note: str = ""

    def value_for(self, release: Release) -> Any:
        chosen = self.values[0][1]
        for first, value in self.values:
            if release >= first:
                chosen = value
        return chosen


@dataclass(frozen=True)
class Requirement:
    """A scenario choice that only exists from some release on (an error before it)."""

    what: str
    path: str  # where the error is reported (under the scenario root)
    first: Release
    source: str


@dataclass(frozen=True)
class Note:
    """A release fact shown in docs/versions.md that changes no modelled setting."""

    what: str
    release: Release
    source: str
    why_not_modelled: str = field(default="")



RULES: tuple[Rule, ...] = (
    Rule("kubeProxy.watch", "what kube-proxy watches",
         (((1, 18), "Endpoints"), ((1, 19), "EndpointSlices")),
         "EndpointSliceProxying beta and on in 1.19 (kubernetes/kubernetes#92736), GA 1.22 (#103451); KEP-752"),
    Rule("controllerManager.endpointsMaxCapacity", "addresses kept per Endpoints object (0: no cap)",
         (((1, 18), 0), ((1, 22), 1000)),
         "truncation to 1000 and `endpoints.kubernetes.io/over-capacity: truncated` (kubernetes/kubernetes#103520)",
         note="1.21 adds only the `over-capacity: warning` annotation (#99975); its bytes are not modelled"),
    Rule("kubeProxy.minSyncPeriod", "iptables --iptables-min-sync-period default",
         (((1, 18), 0.0), ((1, 19), 1.0)),
         "pkg/proxy/apis/config/v1alpha1/defaults.go (kubernetes/kubernetes#92836)", modes=("iptables",)),
    Rule("kubeProxy.minSyncPeriod", "IPVS minSyncPeriod default (v1alpha1 config file)",
         (((1, 18), 0.0),),
         "pkg/proxy/apis/config/v1alpha1/defaults.go sets only IPVS.SyncPeriod", modes=("ipvs",),
         note="newer releases' command-line flag defaults to 1s; a config file leaves 0s"),
    Rule("kubeProxy.minSyncPeriod", "nftables minSyncPeriod default",
         (((1, 29), 1.0),),
         "pkg/proxy/apis/config/v1alpha1 (shared --min-sync-period flag default)", modes=("nftables",)),
    Rule("kubeProxy.syncPeriod", "periodic sync / stale-chain cleanup pacing",
         (((1, 18), 30.0),),
         "pkg/proxy/apis/config/v1alpha1/defaults.go (30s in every mode)"),
    Rule("featureGates.MinimizeIPTablesRestore", "iptables partial restores (only changed Services' chains)",
         (((1, 18), False), ((1, 27), True)),
         "KEP-3453: alpha (off) 1.26, beta (on) 1.27, GA 1.28 (kubernetes/kubernetes#110268)", modes=("iptables",)),
    Rule("kubeProxy.fullSyncPeriod", "iptables periodic full restore",
         (((1, 18), 3600.0), ((1, 27), "never"), ((1, 33), 3600.0)),
         "hourly idle tick since 1.17 (#81517), a partial sync in 1.27-1.32 (#129128); "
         "doFullSync after 1h from 1.33 (#129329)", modes=("iptables",),
         note="before partial restores every sync is full; the hourly tick is then a full sync"),
    Rule("kubeProxy.largeClusterCleanupPacing", "stale-chain iptables-save at most once per syncPeriod above 1000 endpoints",
         (((1, 18), False), ((1, 25), True)),
         "pkg/proxy/iptables/proxier.go syncProxyRules, lastIPTablesCleanup (kubernetes/kubernetes#110334)",
         modes=("iptables",), note="before 1.25 every sync saves the tables"),
    Rule("kubeProxy.largeClusterSkipsFullSync", "no hourly full sync in large-cluster mode",
         (((1, 18), False), ((1, 34), True)),
         "kubernetes/kubernetes#138571, backported to 1.34 (#138637), 1.35 (#138636), 1.36 (#138635)",
         modes=("iptables",), note="newest patch of each release; earlier patches do the hourly full sync"),
    Rule("kubeProxy.runner", "sync runner (BoundedFrequencyRunner)",
         (((1, 18), "token-bucket"), ((1, 34), "completion-gap")),
         "pkg/util/async/bounded_frequency_runner.go (burst 2) replaced by pkg/proxy/runner (kubernetes/kubernetes#131615)"),
    Rule("kubeProxy.nftablesPartialSyncs", "nftables partial syncs (only changed Services)",
         (((1, 29), False), ((1, 31), True)),
         "pkg/proxy/nftables/proxier.go (kubernetes/kubernetes#126013, merged July 2024)", modes=("nftables",)),
    Rule("apiserver.watchCacheCapacity", "watch cache events per kind (0: adaptive 100..102400, ~75 s)",
         (((1, 18), 100), ((1, 19), 0)),
         "staging/src/k8s.io/apiserver/pkg/storage/cacher/watch_cache.go resizeCacheLocked (kubernetes/kubernetes#90091)"),
    Rule("apiserver.watchChanSize", "per-watcher channel size (0: capacity / 75 s within 10..100)",
         (((1, 18), 10), ((1, 25), 0)),
         "staging/src/k8s.io/apiserver/pkg/storage/cacher/watch_cache.go suggestedWatchChannelSize (kubernetes/kubernetes#109708)"),
    Rule("featureGates.EndpointSliceTerminatingCondition", "EndpointSlices publish terminating pods (serving/terminating)",
         (((1, 18), False), ((1, 22), True)),
         "KEP-1672: alpha (off) 1.20, beta (on) 1.22, GA 1.26"),
    Rule("featureGates.ProxyTerminatingEndpoints", "kube-proxy falls back to terminating endpoints",
         (((1, 18), False), ((1, 26), True)),
         "KEP-1669: alpha (off) 1.22, beta (on) 1.26, GA 1.28"),
    Rule("featureGates.TopologyAwareHints", "EndpointSlice hints from topology-mode / topology-aware-hints",
         (((1, 18), False), ((1, 24), True)),
         "KEP-2433: alpha 1.21, beta off 1.23, on 1.24, GA 1.33"),
    Rule("featureGates.ServiceTrafficDistribution", "Service trafficDistribution honoured",
         (((1, 18), False), ((1, 31), True)),
         "KEP-4444: alpha (off) 1.30, beta (on) 1.31, GA 1.33"),
    Rule("featureGates.LogarithmicScaleDown", "ReplicaSet scale-down ranks ready times in log2 buckets",
         (((1, 18), False), ((1, 22), True)),
         "KEP-2185: alpha (off) 1.21, beta (on) 1.22, GA 1.31"),
)

REQUIREMENTS: tuple[Requirement, ...] = (
    Requirement("kube-proxy nftables mode", "cluster.kubeProxy.mode", (1, 29),
                "KEP-3866: NFTablesProxyMode alpha 1.29, beta (on) 1.31, GA 1.33"),
    Requirement("Service trafficDistribution", "services.trafficDistribution", (1, 30),
                "KEP-4444: ServiceTrafficDistribution alpha 1.30"),
)

NOTES: tuple[Note, ...] = (
    Note("IPVS mode deprecated (a warning and an event at startup)", (1, 35),
         "kubernetes/kubernetes#134539; KEP-5495", "no behaviour change"),
    Note("v1 Endpoints API deprecated", (1, 33), "KEP-4974", "no behaviour change"),
    Note("nftables proxier lists chain and set names on every sync", (1, 29),
         "pkg/proxy/nftables/proxier.go syncProxyRules", "part of the sync cost model, not a setting"),
    Note("nftables proxier lists the whole table on every sync (ListAll)", (1, 36),
         "kubernetes/kubernetes#137501; #139513 (fixes #139531 closed, #139878 open)",
         "part of the sync cost model, not a setting"),
    Note("nftables partial syncs keep existing endpoint chains", (1, 33),
         "kubernetes/kubernetes#130119", "part of the sync cost model, not a setting"),
)


def parse_release(value: Any) -> Release:
    """'1.33', 'v1.33' or '1.33.4' (the patch is not modelled) → (1, 33); an unquoted 1.26 is
    read as the number YAML made of it. ValueError with the accepted forms and range otherwise."""
    hint = ""
    if isinstance(value, float):  # `--set cluster.kubernetesVersion=1.26`, or unquoted in YAML
        value, hint = repr(value), " (quote it: YAML reads 1.30 as the number 1.3)"
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"expected a release like \"1.33\", got {value!r}")
    m = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?", value.strip())
    if not m:
        raise ValueError(f"expected a release like \"1.33\"{hint}, got {value!r}")
    release = (int(m.group(1)), int(m.group(2)))
    if not OLDEST <= release <= NEWEST:
        raise ValueError(f"releases {format_release(OLDEST)} to {format_release(NEWEST)} are modelled, got {value!r}{hint}")
    return release


def format_release(release: Release) -> str:
    return f"{release[0]}.{release[1]}"


def defaults_for(release: Release, mode: str) -> dict[str, Any]:
    """Setting path (under `cluster`) → the value the release gives it, for this mode."""
    return {rule.path: rule.value_for(release) for rule in RULES if mode in rule.modes}


def fill_release_defaults(cluster: Mapping[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """A copy of the raw `cluster` mapping with every release-chosen setting it leaves out
    filled in, and the paths so filled. Raises ValueError for a bad version."""
    data = dict(cluster)
    key = "kubernetesVersion" if "kubernetesVersion" in data or "kubernetes_version" not in data else "kubernetes_version"
    release = parse_release(data.get(key, format_release(NEWEST)))
    data[key] = format_release(release)  # one spelling: "1.33" (not v1.33, 1.33.4 or the number 1.33)
    proxy = data.get("kubeProxy", data.get("kube_proxy")) or {}  # either spelling (populate_by_name)
    mode = proxy.get("mode", "iptables") if isinstance(proxy, Mapping) else "iptables"
    filled = []
    for path, value in defaults_for(release, mode if mode in ALL_MODES else "iptables").items():
        if _set_if_absent(data, path.split("."), value):
            filled.append(path)
    return data, tuple(filled)


def _set_if_absent(data: dict[str, Any], parts: list[str], value: Any) -> bool:
    head, *rest = parts
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", head).lower()
    present = head if head in data else snake if snake in data else None
    if not rest:
        if present is not None:
            return False
        data[head] = value
        return True
    inner = data.get(present) if present is not None else {}
    if not isinstance(inner, Mapping):
        return False  # the schema reports the wrong type
    inner = dict(inner)
    data[present or head] = inner
    return _set_if_absent(inner, rest, value)
