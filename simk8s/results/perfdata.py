"""`simk8s check --perfdata DIR`: ClusterLoader2 PerfData files, so perfdash plots the
simulated latencies beside measured ones.

The format is clusterloader2's `PerfData` (`clusterloader2/pkg/measurement/util/perftype.go`
in kubernetes/perf-tests): `version`, `dataItems` of {`data`: Perc50/Perc90/Perc99,
`unit`, `labels`}, as its NetworkProgrammingLatency measurement writes them (milliseconds,
label `Metric`). One file per measurement, named `<Measurement>_simk8s_<scenario>.json`:
perfdash finds files by the prefix `<OutputFilePrefix>_<Name>` of its config
(`perfdash/metrics-downloader.go`), here Name `simk8s`; each variant is a data item with a
`variant` label.

Simplification: percentiles are histogram_quantile over the whole run's buckets, where
clusterloader2 takes the 99th percentile over time of 5-minute windows (`quantile_over_time`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from simk8s.results.check import CheckRun
from simk8s.results.metrics import families, metric_value
from simk8s.results.output import check_output_file, probe_writable, write_file_atomically

WRITTEN_BY = "simk8s check"
VERSION = "v1"
# measurement → the kube-proxy histogram it reads
MEASUREMENTS = {
    "NetworkProgrammingLatency": "kubeproxy_network_programming_duration_seconds",
    "SyncProxyRulesLatency": "kubeproxy_sync_proxy_rules_duration_seconds",
}
PERCENTILES = {"Perc50": 0.5, "Perc90": 0.9, "Perc99": 0.99}


def perfdata(run: CheckRun) -> dict[str, dict[str, Any]]:
    """File name → PerfData document, for the variants the checks ran."""
    fams = {name: families(vr) for name, vr in run.runs.items()}
    out: dict[str, dict[str, Any]] = {}
    for measurement, metric in MEASUREMENTS.items():
        items = []
        for variant, fs in fams.items():
            if not any(f.name == metric for f in fs):
                continue
            data = {}
            for key, q in PERCENTILES.items():
                seconds = metric_value(fs, metric, q)
                data[key] = 0.0 if seconds is None else round(seconds * 1000.0, 6)
            items.append({"data": data, "unit": "ms", "labels": {"Metric": measurement, "variant": variant}})
        if items:
            out[file_name(measurement, run.scenario_name)] = {
                "version": VERSION,
                "dataItems": items,
                "labels": {"written_by": WRITTEN_BY, "scenario": run.scenario_name, "source": "simulated"},
            }
    return out


def file_name(measurement: str, scenario: str) -> str:
    return f"{measurement}_simk8s_{scenario}.json"


def written_by_simk8s(path: Path) -> bool:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(doc, dict) and isinstance(doc.get("labels"), dict) and doc["labels"].get("written_by") == WRITTEN_BY


def check_perfdata_dir(folder: str | Path, scenario: str, inputs: tuple[str | Path, ...] = ()) -> Path:
    """Probe DIR before the run: creatable, and none of the files we would write is a user's."""
    folder = Path(folder)
    if str(folder).strip() == "":
        check_output_file(folder, label="--perfdata", owned=written_by_simk8s)  # "empty path"
    if folder.exists() and not folder.is_dir():
        from simk8s.errors import OutputError

        raise OutputError(f"--perfdata {folder}: exists and is not a directory")
    probe_writable(folder.resolve(), "--perfdata", folder)
    for measurement in MEASUREMENTS:
        check_output_file(folder / file_name(measurement, scenario), inputs=inputs, label="--perfdata",
                          owned=written_by_simk8s)
    return folder


def _write_text(path: Path, text: str) -> None:
    def write(tmp: Path) -> None:
        tmp.write_text(text)

    write_file_atomically(path, write)


def write_perfdata(run: CheckRun, folder: str | Path, inputs: tuple[str | Path, ...] = ()) -> list[Path]:
    folder = check_perfdata_dir(folder, run.scenario_name, inputs)
    written = []
    for name, doc in perfdata(run).items():
        path = check_output_file(folder / name, inputs=inputs, label="--perfdata", owned=written_by_simk8s)
        _write_text(path, json.dumps(doc, indent=2) + "\n")
        written.append(path)
    return written
