"""Time this host's netfilter tools on synthetic node rulesets (`simk8s calibrate --host`).

Each size runs in a fresh network namespace (`unshare -n`), so the host's own rules are never
touched. Inside it a worker (this module, `python -m simk8s.calibration.host_timing PLAN`)
runs the tools the way kube-proxy does and prints the wall and CPU seconds of each run:
- `iptables-restore -w 5 --noflush --counters` with the full and the partial input
  (pkg/util/iptables/iptables.go `restoreInternal`; the partial one from KEP-3453);
- `iptables-save -t nat` (the stale-chain cleanup of iptables `syncProxyRules`);
- `nft -f -` with the full transaction and with partial ones (sigs.k8s.io/knftables nftables.go
  `realNFTables.Run`).
The first full load of each tool is not timed: kube-proxy's timed syncs replace rules that exist.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from simk8s.calibration.host_rulesets import build_inputs

TOOLS = ("unshare", "iptables-restore", "iptables-save", "nft")
IPT_RESTORE = ["iptables-restore", "-w", "5", "--noflush", "--counters"]


@dataclass(frozen=True)
class Size:
    services: int
    eps: int  # endpoints per Service
    repeats: int | None = None  # None: the run's default
    nft: bool = True  # also time nft at this size

    @classmethod
    def parse(cls, text: str) -> Size:
        """`SERVICESxEPS`, e.g. `1000x2`."""
        services, _, eps = text.strip().partition("x")
        if not services.isdigit() or not eps.isdigit() or int(services) < 1 or int(eps) < 1:
            raise ValueError(f"size {text!r}: expected SERVICESxENDPOINTS, e.g. 1000x2")
        return cls(int(services), int(eps))


# About 2.8k to 100k iptables-restore lines (11 lines per Service at 2 endpoints, 35 at 8);
# two endpoint ratios separate the per-Service from the per-endpoint nft price. Both tools
# grow faster than linearly on iptables v1.8.9 (nf_tables) and nft 1.0.6, so the largest
# size is timed once and for iptables only: the whole run stays within a few minutes.
DEFAULT_SIZES = (Size(250, 2), Size(1000, 2), Size(3000, 2), Size(9100, 2, repeats=1, nft=False),
                 Size(250, 8), Size(1000, 8))


def missing_privileges(tools: tuple[str, ...] = TOOLS) -> str | None:
    """Why the real tools cannot run here (privileges, `tools` on PATH, a namespace), or None."""
    if os.geteuid() != 0:
        try:
            with open("/proc/self/status", encoding="ascii") as fh:
                eff = next(int(line.split()[1], 16) for line in fh if line.startswith("CapEff:"))
        except (OSError, StopIteration, ValueError):
            eff = 0
        if not eff & (1 << 12) or not eff & (1 << 21):  # CAP_NET_ADMIN, CAP_SYS_ADMIN (for unshare -n)
            return "needs root (or CAP_NET_ADMIN and CAP_SYS_ADMIN) to time iptables and nft in a network namespace"
    absent = [t for t in tools if shutil.which(t) is None]
    if absent:
        return f"needs {', '.join(absent)} on PATH (scripts/netfilter-tools installs the Debian packages)"
    probe = subprocess.run(["unshare", "-n", "nft", "list", "ruleset"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"`unshare -n nft list ruleset` failed: {probe.stderr.strip()[:200]}"
    return None


def measure(sizes: Iterable[Size] = DEFAULT_SIZES, repeats: int = 3,
            progress: Callable[[str], None] = lambda _: None) -> list[dict]:
    """One record per timed run: size, operation, input lines/objects, wall and CPU seconds."""
    records: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="simk8s-host-") as tmp:
        for size in sizes:
            inputs = build_inputs(size.services, size.eps)
            d = Path(tmp)
            for name in ("ipt_full", "ipt_partial", "nft_full", "nft_forward", "nft_back"):
                (d / name).write_text(getattr(inputs, name))
            plan = d / "plan.json"
            plan.write_text(json.dumps({"dir": tmp, "repeats": size.repeats or repeats, "nft": size.nft}))
            done = subprocess.run(["unshare", "-n", sys.executable, "-m", __name__, str(plan)],
                                  capture_output=True, text=True, env={**os.environ, "PYTHONPATH": _pythonpath()})
            if done.returncode != 0:
                raise RuntimeError(f"timing at {size.services} services failed: {done.stderr.strip()[-400:]}")
            counts = {"ipt_full": inputs.ipt_full_lines, "ipt_partial": inputs.ipt_partial_lines,
                      "nft_full": inputs.nft_full.count("\n"), "nft_partial": inputs.nft_forward.count("\n")}
            for rec in json.loads(done.stdout):
                op = rec["op"]
                rec.update(services=size.services, endpoints=inputs.endpoints, eps=size.eps,
                           lines=rec.pop("lines", None) or counts[op])
                records.append(rec)
            progress(f"{size.services} services × {size.eps} endpoints: "
                     f"{inputs.ipt_full_lines:,} restore lines, {counts['nft_full']:,} nft commands")
    return records


def _pythonpath() -> str:
    root = str(Path(__file__).resolve().parents[2])
    return os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)


# --- the worker, inside the namespace ----------------------------------------------------------


def _timed(cmd: list[str], stdin_path: Path | None) -> tuple[float, float, int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(stdin_path) if stdin_path else open(os.devnull) as stdin:
        t0 = time.perf_counter()
        done = subprocess.run(cmd, stdin=stdin, capture_output=True, text=True)
        wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {done.stderr.strip()[:300]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout.count("\n")


def _worker(plan_path: str) -> None:
    plan = json.loads(Path(plan_path).read_text())
    d, repeats = Path(plan["dir"]), int(plan["repeats"])
    out: list[dict] = []

    def run(op: str, cmd: list[str], name: str | None, keep_lines: bool = False) -> None:
        wall, cpu, lines = _timed(cmd, d / name if name else None)
        out.append({"op": op, "wall": wall, "cpu": cpu, **({"lines": lines} if keep_lines else {})})

    _timed(IPT_RESTORE, d / "ipt_full")  # creates the chains; not timed
    for _ in range(repeats):
        run("ipt_full", IPT_RESTORE, "ipt_full")
    for _ in range(repeats):
        run("ipt_partial", IPT_RESTORE, "ipt_partial")
    for _ in range(repeats):
        run("ipt_save", ["iptables-save", "-t", "nat"], None, keep_lines=True)
    if not plan["nft"]:
        json.dump(out, sys.stdout)
        return
    _timed(["nft", "-f", "-"], d / "nft_full")
    for _ in range(repeats):
        run("nft_full", ["nft", "-f", "-"], "nft_full")
    for _ in range(repeats):
        run("nft_partial", ["nft", "-f", "-"], "nft_forward")
        run("nft_partial", ["nft", "-f", "-"], "nft_back")
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    _worker(sys.argv[1])
