"""Scenario files: YAML (+ Kubernetes manifests, + overrides) → a validated, frozen Scenario.

    sc = load_scenario("scenarios/quick.yaml", overrides=["cluster.nodes=50"])
    for name, variant in load_variants(sc): ...
    resolved_dict(sc)   # every default filled, human units; echo it beside results

Problems raise one ScenarioError whose `.lines` are `FILE:LINE: path: message`.
Messages about ignored manifest objects are on `sc.warnings`.
"""

from .cluster import Cluster, KubeProxy, Watcher
from .errors import ScenarioError
from .events import Event, Traffic, Variant
from .loader import load_scenario, load_variants, resolved_dict
from .model import Scenario
from .services import ServicePortSpec, ServiceSpec
from .units import (
    IntOrPercent,
    format_bandwidth,
    format_duration,
    format_quantity,
    format_rate,
    parse_bandwidth,
    parse_duration,
    parse_int_or_percent,
    parse_quantity,
    parse_rate,
)
from .workloads import Workload

__all__ = [
    "Cluster",
    "Event",
    "IntOrPercent",
    "KubeProxy",
    "Scenario",
    "ScenarioError",
    "ServicePortSpec",
    "ServiceSpec",
    "Traffic",
    "Variant",
    "Watcher",
    "Workload",
    "format_bandwidth",
    "format_duration",
    "format_quantity",
    "format_rate",
    "load_scenario",
    "load_variants",
    "parse_bandwidth",
    "parse_duration",
    "parse_int_or_percent",
    "parse_quantity",
    "parse_rate",
    "resolved_dict",
]
