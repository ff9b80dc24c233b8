"""`simk8s calibrate --host`: this host's netfilter prices as a machine profile.

Times the real tools on synthetic rulesets (host_timing), fits the tool prices of
simk8s.proxy.cost (host_fit) and writes them as a profile that a scenario names with
`cluster.kubeProxy.machine` (loaded by simk8s.proxy.cost.load_machine_profile).
docs/host-calibration.md describes the run and this repository's host.
"""

from __future__ import annotations

import platform
import subprocess
import time
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd
import yaml

from simk8s import __version__
from simk8s.calibration.host_fit import fit, published_beside
from simk8s.calibration.host_timing import DEFAULT_SIZES, Size, measure
from simk8s.proxy.cost import PROFILE_KIND, PROFILE_MARKER


def _tool_version(cmd: list[str]) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return (done.stdout or done.stderr).strip().splitlines()[0] if (done.stdout or done.stderr).strip() else "unknown"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def host_description() -> dict[str, str]:
    return {"kernel": platform.release(), "cpu": _cpu_model(),
            "iptables": _tool_version(["iptables", "--version"]), "nft": _tool_version(["nft", "--version"])}


def profile_document(result: dict[str, Any], host: dict[str, str], seconds: float) -> dict[str, Any]:
    """The machine profile: `params` is what the model reads; the rest says where they came from."""
    res: pd.DataFrame = result["residuals"]
    return {
        "kind": PROFILE_KIND,
        "writtenBy": f"simk8s {__version__} calibrate --host",
        "host": host,
        "params": result["params"],
        "fit": {
            "intercepts_s": {k: round(v, 6) for k, v in result["intercepts"].items()},
            "tool_cpu_fraction": round(result["tool_cpu_fraction"], 4),
            "wall_s": round(seconds, 1),
        },
        "medians": [
            {"op": r["op"], "services": int(r["services"]), "endpoints": int(r["endpoints"]), "lines": int(r["lines"]),
             "repeats": int(r["repeats"]), "wall_s": round(float(r["wall"]), 6), "cpu_s": round(float(r["cpu"]), 6),
             "model_s": round(float(r["model"]), 6), "status": str(r["status"])}
            for r in res.to_dict("records")
        ],
    }


def sync_free_profile(host: dict[str, str]) -> dict[str, Any]:
    """A profile without sync prices (`calibrate --dataplane` alone, nothing to keep)."""
    return {"kind": PROFILE_KIND, "writtenBy": f"simk8s {__version__} calibrate --dataplane", "host": host,
            "params": {}}


def profile_text(doc: dict[str, Any]) -> str:
    return PROFILE_MARKER + "\n" + yaml.safe_dump(doc, sort_keys=False, width=120)


def calibrate_host(sizes: Iterable[Size] = DEFAULT_SIZES, repeats: int = 3,
                   progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Time, fit, and return the profile document (its `fit`/`medians` say how it went)."""
    start = time.monotonic()
    records = measure(sizes, repeats, progress)
    result = fit(records)
    return profile_document(result, host_description(), time.monotonic() - start)


def format_host_report(doc: dict[str, Any]) -> str:
    """The fit, its residuals, and each price beside the published one."""
    res = pd.DataFrame(doc["medians"])
    shown = pd.DataFrame({
        "operation": res["op"], "services": res["services"], "endpoints": res["endpoints"],
        "lines": res["lines"], "runs": res["repeats"],
        "measured s": res["wall_s"].map(lambda x: f"{x:.4g}"), "model s": res["model_s"].map(lambda x: f"{x:.4g}"),
        "error": (res["model_s"] / res["wall_s"] - 1).map(lambda e: f"{e:+.0%}"), "status": res["status"],
    })
    prices = published_beside(doc["params"])
    prices_shown = pd.DataFrame({
        "price": prices["price"], "published": prices["published"].map(lambda x: f"{x:.4g}"),
        "this host": prices["this host"].map(lambda x: f"{x:.4g}"),
        "ratio": prices["ratio"].map(lambda x: "" if pd.isna(x) else f"{x:.3g}"),
    })
    host = doc["host"]
    fitinfo = doc["fit"]
    lines = [
        f"== this host: {host['cpu']}, kernel {host['kernel']} ==",
        f"   {host['iptables']}; {host['nft']}",
        "",
        "== timings (median of runs) against the fitted model ==",
        shown.to_string(index=False),
        "",
        "== prices: published profile (cost_params.yaml) beside this host ==",
        prices_shown.to_string(index=False),
        "",
        "intercepts (process start and cache load, not used; t_fixed stays): "
        + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in fitinfo["intercepts_s"].items()),
        f"CPU / wall of the tools: {fitinfo['tool_cpu_fraction']:.2f}; measured in {fitinfo['wall_s']:.0f} s",
    ]
    return "\n".join(lines)
