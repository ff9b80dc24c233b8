"""One variant's result as the pipeline hands it on: tables, summary, and the live stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from simk8s.cluster.run import ClusterRun
from simk8s.watch.fanout import FanOut


@dataclass
class VariantResult:
    name: str
    scenario: Any
    summary: dict
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    cluster: ClusterRun | None = None
    fanout: FanOut | None = None
    fleet: Any = None
    traffic: dict[str, Any] = field(default_factory=dict)
    stage_wall_s: dict[str, float] = field(default_factory=dict)
