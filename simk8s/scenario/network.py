"""`cluster.network:` the links between zones (latency, bandwidth, price per GB) and where the
apiserver replicas run. Defaults mirror a typical three-zone cloud region: every pair of
zones linked directly (sources in docs/references.md, `simk8s/network/topology.py`)."""

from __future__ import annotations

from pydantic import Field, model_validator

from .base import Loc, SchemaModel
from .errors import Problems
from .types import Bandwidth, Duration, Name, Number

# One-way latency between two zones of a region: GCP states round trips under 1 ms at the
# 95th percentile between locations of a region
# (https://cloud.google.com/solutions/best-practices-compute-engine-region-selection).
DEFAULT_LATENCY = 250e-6
# USD per GB (10^9 bytes) charged on each side of a zone crossing: AWS EC2 "data transferred
# across Availability Zones ... $0.01/GB in each direction" (https://aws.amazon.com/ec2/pricing/on-demand/);
# GCP charges $0.01 per GiB between zones (https://cloud.google.com/vpc/network-pricing).
DEFAULT_PRICE_PER_GB = 0.01
DEFAULT_BANDWIDTH = 12.5e9  # 100Gbps between zones (recorded; no link queueing is modelled)


class LinkSettings(SchemaModel):
    latency: Duration = Field(default=DEFAULT_LATENCY, ge=0, le=10)  # one way
    bandwidth: Bandwidth = Field(default=DEFAULT_BANDWIDTH, gt=0, le=1.25e13)
    price_per_gb: Number = Field(default=DEFAULT_PRICE_PER_GB, ge=0, le=100, alias="pricePerGB")


class Link(LinkSettings):
    between: tuple[Name, Name]

    @model_validator(mode="after")
    def _two_zones(self) -> Link:
        if self.between[0] == self.between[1]:
            raise Problems([(("between",), f"a link joins two different zones, got {self.between[0]} twice")])
        return self


class Network(SchemaModel):
    # Empty: every pair of zones is linked with `defaultLink`. Otherwise exactly these links;
    # traffic between zones without a link takes the lowest-latency path.
    links: tuple[Link, ...] = Field(default=(), max_length=10_000)
    default_link: LinkSettings = LinkSettings()
    # Replica r runs in apiserverZones[r % len]; empty: the cluster's zones in order.
    apiserver_zones: tuple[Name, ...] = Field(default=(), max_length=100)

    def problems(self, zones: tuple[str, ...]) -> list[tuple[Loc, str]]:
        """Links and placements that name unknown zones, repeat a link, or leave the zones
        disconnected; locations relative to `network`."""
        import networkx as nx

        known = set(zones)
        problems: list[tuple[Loc, str]] = []
        for i, zone in enumerate(self.apiserver_zones):
            if zone not in known:
                problems.append((("apiserverZones", i), f"no zone {zone!r} in cluster.zones ({', '.join(zones)})"))
        seen: dict[frozenset[str], int] = {}
        graph = nx.Graph()
        graph.add_nodes_from(zones)
        for i, link in enumerate(self.links):
            for j, zone in enumerate(link.between):
                if zone not in known:
                    problems.append((("links", i, "between", j), f"no zone {zone!r} in cluster.zones ({', '.join(zones)})"))
            pair = frozenset(link.between)
            if pair in seen:
                problems.append((("links", i, "between"), f"zones {' and '.join(link.between)} are already linked by links[{seen[pair]}]"))
            seen.setdefault(pair, i)
            graph.add_edge(*link.between)
        if self.links and not problems and not nx.is_connected(graph):
            parts = sorted(sorted(c) for c in nx.connected_components(graph))
            problems.append((("links",), "the zones are not all connected: "
                             + " | ".join(", ".join(p) for p in parts)))
        return problems
