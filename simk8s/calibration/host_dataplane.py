"""First-packet latency through real netfilter rules (`simk8s calibrate --dataplane`).

For each mode and size, a worker runs in a fresh network namespace (`unshare -n`, the client
side: the node) and starts a server in a second one; a veth pair joins them. The worker loads
N Services' rules (host_dataplane_rules, the project's renderers) into its namespace, then
times `connect()` to the first, middle and last Service: the SYN walks the nat OUTPUT rules
and is DNATed to the server, and connect() returns with the SYN-ACK, so the time is the first
packet's round trip, the figure the nftables blog charts (docs/references.md [blog-nftables]).
Each connect uses a new source port, so conntrack has no entry and the rules are walked.

Bounds: `repeats` connects per target in each of ROUNDS rounds (targets interleaved), a 1 s
timeout each, a deadline per worker. Teardown needs no cleanup step: both namespaces are
anonymous and vanish with their processes (on Ctrl-C too); the host's namespace is never changed.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from simk8s.calibration import host_dataplane_rules as rules
from simk8s.calibration.host_dataplane_fit import fit_dataplane
from simk8s.calibration.host_timing import _pythonpath

TOOLS = ("unshare", "ip", "iptables-restore", "iptables-save", "nft")
MODES = ("iptables", "nftables")
DEFAULT_SERVICES = (1000, 5000, 10_000, 30_000)
DEFAULT_REPEATS = 31  # connects per target and round
ROUNDS = 5
ROUND_GAP_S = 1.0
WARMUP = 10  # untimed connects per target first: the first ones after loading are slower
CONNECT_TIMEOUT_S = 1.0
DEADLINE_S = 60.0  # connect phase of one worker
NFT_CHUNK = 500  # nft 1.0.6 on kernel 6.x: smaller transactions load a large table faster
VETH_CLIENT, VETH_SERVER = "simk8s-c", "simk8s-s"
SOURCE_PORT_BASE = 20_000  # one fresh source port per connect: never a conntrack hit
WORKER_MODULE = "simk8s.calibration.host_dataplane"  # `__name__` is "__main__" inside the worker


def calibrate_dataplane(services: Iterable[int] = DEFAULT_SERVICES, repeats: int = DEFAULT_REPEATS,
                        progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Measure and fit: the profile's `dataplane` section (host_dataplane_fit.fit_dataplane)."""
    start = time.monotonic()
    section = fit_dataplane(measure_dataplane(services, MODES, repeats, progress))
    section["fit"].update(repeats=repeats, wall_s=round(time.monotonic() - start, 1))
    return section


def measure_dataplane(services: Iterable[int] = DEFAULT_SERVICES, modes: Iterable[str] = MODES,
                      repeats: int = DEFAULT_REPEATS,
                      progress: Callable[[str], None] = lambda _: None) -> list[dict]:
    """One record per (mode, N, target): connect() medians and spread, in ms."""
    records: list[dict] = []
    for n in services:
        for mode in modes:
            t0 = time.monotonic()
            records += _run_worker(mode, n, repeats)
            progress(f"{mode} {n:,} Services: "
                     + ", ".join(f"{r['target']} {r['median_ms']:.4f} ms" for r in records[-3:])
                     + f" ({time.monotonic() - t0:.0f} s)")
    return records


def _run_worker(mode: str, services: int, repeats: int) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="simk8s-dataplane-") as tmp:
        d = Path(tmp)
        chunks = (rules.iptables_chunks(services) if mode == "iptables"
                  else rules.nftables_chunks(services, NFT_CHUNK))
        for i, text in enumerate(chunks):
            (d / f"rules-{i:04d}").write_text(text)
        plan = {"dir": tmp, "mode": mode, "services": services, "repeats": repeats, "chunks": len(chunks),
                "targets": [t.__dict__ for t in rules.targets(services)]}
        (d / "plan.json").write_text(json.dumps(plan))
        worker = subprocess.Popen(["unshare", "-n", sys.executable, "-m", WORKER_MODULE, "client", str(d / "plan.json")],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env={**os.environ, "PYTHONPATH": _pythonpath()})
        try:
            out, err = worker.communicate()
        finally:
            if worker.poll() is None:  # interrupted: end it; its namespaces go with it
                worker.kill()
                worker.wait()
        if worker.returncode != 0:
            raise RuntimeError(f"{mode} at {services} Services failed: {err.strip()[-400:]}")
        return list(json.loads(out))


# --- inside the namespaces ---------------------------------------------------------------------


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def _serve() -> None:
    """The server namespace: wait for the veth, take the addresses, accept until stdin closes."""
    print("up", flush=True)  # running, so inside the new namespace: the client may add the veth
    sys.stdin.readline()  # the client moved our end of the veth in
    _ip("link", "set", "lo", "up")
    _ip("addr", "add", f"{rules.SERVER_IP}/{rules.NET_PREFIX}", "dev", VETH_SERVER)
    _ip("link", "set", VETH_SERVER, "up")
    _ip("route", "add", "local", rules.CLUSTER_CIDR, "dev", "lo")  # every endpoint address is ours
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_IP, 19, 1)  # IP_FREEBIND
    listener.bind(("0.0.0.0", rules.TARGET_PORT))
    listener.listen(4096)
    listener.setblocking(False)
    print("ready", flush=True)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    sel.register(sys.stdin, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            if key.fileobj is sys.stdin:
                return  # the client is done (or gone)
            try:
                conn, _ = listener.accept()
            except BlockingIOError:
                continue
            with contextlib.suppress(OSError):  # the address reached: the DNAT target (timed ones reset first)
                conn.sendall("{}:{}\n".format(*conn.getsockname()).encode())
            conn.close()


def _load(plan: dict, d: Path) -> None:
    cmd = (["iptables-restore", "-w", "5", "--noflush"] if plan["mode"] == "iptables" else ["nft", "-f", "-"])
    for i in range(plan["chunks"]):
        with open(d / f"rules-{i:04d}") as fh:
            done = subprocess.run(cmd, stdin=fh, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{cmd[0]} chunk {i}: {done.stderr.strip()[:300]}")


def connect_once(vip: str, port: int, source_port: int) -> float:
    """Seconds from connect() to established; the socket is reset at once (no TIME_WAIT)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.bind((rules.CLIENT_IP, source_port))
        s.settimeout(CONNECT_TIMEOUT_S)
        t0 = time.perf_counter()
        s.connect((vip, port))
        return time.perf_counter() - t0
    finally:
        s.close()


def reached(vip: str, port: int, source_port: int) -> str:
    """The endpoint address the server saw a connection to `vip` arrive at."""
    with socket.create_connection((vip, port), timeout=CONNECT_TIMEOUT_S,
                                  source_address=(rules.CLIENT_IP, source_port)) as s:
        return s.makefile().readline().strip()


def _client(plan_path: str) -> None:
    plan = json.loads(Path(plan_path).read_text())
    d = Path(plan["dir"])
    server = subprocess.Popen(["unshare", "-n", sys.executable, "-m", WORKER_MODULE, "serve"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": _pythonpath()})
    try:
        assert server.stdin is not None and server.stdout is not None
        if server.stdout.readline().strip() != "up":
            raise RuntimeError("the server namespace did not start")
        _ip("link", "set", "lo", "up")
        _ip("link", "add", VETH_CLIENT, "type", "veth", "peer", "name", VETH_SERVER, "netns", str(server.pid))
        _ip("addr", "add", f"{rules.CLIENT_IP}/{rules.NET_PREFIX}", "dev", VETH_CLIENT)
        _ip("link", "set", VETH_CLIENT, "up")
        _ip("route", "add", "default", "via", rules.SERVER_IP)  # VIPs route out before DNAT, as on a node
        server.stdin.write("go\n")
        server.stdin.flush()
        if server.stdout.readline().strip() != "ready":
            raise RuntimeError("the server namespace did not come up")
        t0 = time.monotonic()
        _load(plan, d)
        load_s = time.monotonic() - t0
        json.dump(_time_targets(plan, load_s), sys.stdout)
    finally:
        if server.stdin:
            server.stdin.close()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()


def _time_targets(plan: dict, load_s: float) -> list[dict]:
    targets = plan["targets"]
    port = iter(range(SOURCE_PORT_BASE, SOURCE_PORT_BASE + 40_000))
    for t in targets:  # through the DNAT rule to this Service's endpoint; warms the caches too
        got, want = reached(t["vip"], rules.SERVICE_PORT, next(port)), f"{t['endpoint']}:{rules.TARGET_PORT}"
        if got != want:
            raise RuntimeError(f"{t['label']} Service {t['vip']}: reached {got or 'nothing'}, expected {want}")
    for _ in range(WARMUP):
        for t in targets:
            connect_once(t["vip"], rules.SERVICE_PORT, next(port))
    # Rounds apart in time: on a shared host another job's burst spoils a round, not the run;
    # the least disturbed round's median is the one reported (and fitted).
    rounds: dict[str, list[list[float]]] = {t["label"]: [] for t in targets}
    deadline = time.monotonic() + DEADLINE_S
    for r in range(ROUNDS):
        if r:
            time.sleep(ROUND_GAP_S)
        for t in targets:
            rounds[t["label"]].append([])
        for _ in range(plan["repeats"]):
            for t in targets:
                rounds[t["label"]][-1].append(connect_once(t["vip"], rules.SERVICE_PORT, next(port)) * 1000)
        if time.monotonic() > deadline:
            break
    out = []
    for t in targets:
        ms = sorted(x for rnd in rounds[t["label"]] for x in rnd)
        medians = [statistics.median(rnd) for rnd in rounds[t["label"]]]
        out.append({"mode": plan["mode"], "services": plan["services"], "target": t["label"], "rank": t["rank"],
                    "endpoint": t["endpoint"], "repeats": len(ms), "median_ms": min(medians),
                    "round_medians_ms": [round(m, 6) for m in medians],
                    "p10_ms": ms[len(ms) // 10], "p90_ms": ms[(len(ms) * 9) // 10], "load_s": round(load_s, 2)})
    return out


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        _serve()
    else:
        _client(sys.argv[2])
