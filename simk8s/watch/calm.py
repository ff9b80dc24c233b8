"""The replica's common case in plain Python: a few rows of clients, all watching.

The same arithmetic as `Replica.advance` with bandwidth.drain (equal shares, streams done
in order of bytes left), for when numpy's per-call cost would dominate: every write of a
calm run is one step, and a step here touches a handful of floats.
"""

from __future__ import annotations

from typing import Any

CALM_ROWS = 6  # at most this many rows, all watching


def advance_calm(rep: Any, target: float) -> None:
    """Send bytes from `rep.now` to `target`; every row is watching (no LIST, no waits)."""
    h = rep.h
    now = rep.now
    if target <= now:
        return
    axis = rep.axis_list
    n = len(h.cls)
    cls = h.cls.tolist()
    weight = h.weight.tolist()
    pos = h.pos.tolist()
    ends = [axis[int(rep.class_off[c]) + int(rep.ndisp[c])] for c in cls]
    rem = [max(ends[r] - pos[r], 0.0) for r in range(n)]
    busy = [r for r in range(n) if rem[r] > 0]
    if not busy:
        rep.now = target
        return
    # Knots of V(t): V at each finish, in order of bytes left.
    busy.sort(key=lambda r: rem[r])
    active = sum(weight[r] for r in busy)
    v_knots, t_knots = [0.0], [0.0]
    for r in busy:
        step = rem[r] - v_knots[-1]
        t_knots.append(t_knots[-1] + step * active / rep.bw)
        v_knots.append(rem[r])
        active -= weight[r]
    dt = target - now

    def time_of(v: float) -> float:
        for i in range(1, len(v_knots)):
            if v <= v_knots[i]:
                span = v_knots[i] - v_knots[i - 1]
                frac = (v - v_knots[i - 1]) / span if span > 0 else 1.0
                return now + t_knots[i - 1] + frac * (t_knots[i] - t_knots[i - 1])
        return now + t_knots[-1]

    if dt >= t_knots[-1]:
        dv = float("inf")
    else:
        i = next(i for i in range(1, len(t_knots)) if dt <= t_knots[i])
        span = t_knots[i] - t_knots[i - 1]
        dv = v_knots[i - 1] + (dt - t_knots[i - 1]) / span * (v_knots[i] - v_knots[i - 1]) if span > 0 else v_knots[i]
    total = 0.0
    for r in busy:
        sent = rem[r] if dv >= rem[r] * (1 - 1e-9) - 1e-6 else dv
        total += sent * weight[r]
        h.recv[r] += sent
        c = cls[r]
        off = int(rep.class_off[c])
        lo = int(h.lo[r])
        old = pos[r]
        new = ends[r] if sent == rem[r] else old + sent
        h.pos[r] = new
        ec = rep.classes[c]
        j = lo
        while j + 1 < len(ec.cumulative) and axis[off + j + 1] <= new and j < int(rep.ndisp[c]):
            when = time_of(axis[off + j + 1] - old)
            if ec.proxy:
                nodes = rep.row_nodes(r)
                if nodes.size:
                    rep.arrival[j, nodes] = when
            j += 1
        if j > lo:
            h.lo[r] = j
            h.got[r] += j - lo
            h.rv_k[r] = ec.kidx[j - 1]
            rep.events[c] += (j - lo) * weight[r]
    rep.spans.append((now, min(target, now + t_knots[-1]), total))
    rep.now = target
