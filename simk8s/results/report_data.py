"""What a shareable report shows, read back from a results directory: each variant's summary
and tables, the resolved scenario, and the versions that produced them."""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

# The tables the plots read (the rest stay on disk).
PLOTTED_TABLES = ("egress", "network_programming_duration_seconds", "connection_outcomes", "deployment_history")
LIBRARIES = ("simpy", "numpy", "pandas", "pyarrow", "matplotlib", "pydantic")


@dataclass
class ReportVariant:
    """Shaped like a VariantResult for the plots: name, summary, tables."""

    name: str
    summary: dict[str, Any]
    watch: str
    settings: dict[str, str]  # a few resolved settings worth a column (mode, watch, release)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


@dataclass
class ReportData:
    name: str
    description: str
    simk8s_version: str
    variants: list[ReportVariant]
    resolved_yaml: str
    versions: dict[str, str]


def load_report_data(results: str | Path) -> ReportData:
    """LookupError (one line) for a directory that is not a readable simk8s results directory."""
    folder = Path(results)
    try:
        summary = json.loads((folder / "summary.json").read_text())
        resolved_text = (folder / "scenario.resolved.yaml").read_text()
        resolved = yaml.safe_load(resolved_text)
        sections = summary["variants"]
    except FileNotFoundError as err:
        raise LookupError(f"{results}: not a simk8s results directory (no {Path(err.filename).name})") from None
    except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as err:
        raise LookupError(f"{results}: unreadable results ({type(err).__name__})") from None
    per_variant = (resolved or {}).get("resolvedVariants") or {}
    variants = []
    for name, section in sections.items():
        cluster = (per_variant.get(name) or {}).get("cluster") or {}
        proxy = cluster.get("kubeProxy") or {}
        settings = {"kube-proxy mode": str(proxy.get("mode", "–")), "kube-proxy watches": str(proxy.get("watch", "–")),
                    "Kubernetes": str(cluster.get("kubernetesVersion", "–")), "nodes": str(cluster.get("nodes", "–"))}
        tables = {}
        for table in PLOTTED_TABLES:
            path = folder / name / f"{table}.parquet"
            if path.is_file():
                tables[table] = pd.read_parquet(path)
        variants.append(ReportVariant(name, section, str(proxy.get("watch", "EndpointSlices")), settings, tables))
    return ReportData(
        name=str(summary.get("scenario", folder.name)),
        description=str((resolved or {}).get("description") or ""),
        simk8s_version=str(summary.get("simk8s_version", "?")),
        variants=variants,
        resolved_yaml=resolved_text,
        versions=versions(str(summary.get("simk8s_version", "?"))),
    )


def versions(simk8s_version: str) -> dict[str, str]:
    """simk8s (that wrote the results), Python and the libraries (this process's)."""
    out = {"simk8s (results)": simk8s_version, "Python": platform.python_version()}
    for lib in LIBRARIES:
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            out[lib] = "–"
    return out
