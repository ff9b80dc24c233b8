"""Capacity frontiers: how far one scenario dimension can grow before a limit breaks.

    from simk8s.frontier import frontier
    f = frontier("scenarios/quick.yaml", "workloads.0.replicas", ["npl.p99=5s", "failed.ratio=1%"])
    f.table        # per variant: largest value keeping every limit, first broken, by what
    f.probes       # every probe: value, variant, each limit's figure, ok
"""

from simk8s.frontier.limits import ALIASES, Limit, format_value, parse_limit
from simk8s.frontier.search import Frontier, frontier

__all__ = ["ALIASES", "Frontier", "Limit", "format_value", "frontier", "parse_limit"]
