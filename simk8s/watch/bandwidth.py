"""A replica's egress link shared by its concurrent streams, as TCP shares it.

Every stream with bytes left to send gets an equal share of the link (processor sharing,
the fluid limit of TCP's per-flow fairness on one bottleneck); a group of `weight`
identical streams gets `weight` shares. Between two decision points no stream gets new
bytes, so the drain is exact: streams finish in order of their remaining bytes, and the
per-stream "virtual" byte count V(t) (bytes each backlogged stream has received since the
interval began) is piecewise linear in t.

Simplifications: no TCP slow start, round-trip or socket-buffer effects; the link runs at
full rate whenever any stream has bytes to send.
"""

from __future__ import annotations

import numpy as np


class Drain:
    """The link emptying from time `t0` with no new bytes arriving."""

    __slots__ = ("bandwidth", "t0", "t_knots", "v_knots")

    def __init__(self, t0: float, v_knots: np.ndarray, t_knots: np.ndarray, bandwidth: float):
        self.t0 = t0
        self.v_knots = v_knots  # V at each stream group's finish, ascending (first knot 0)
        self.t_knots = t_knots  # seconds after t0 at those knots
        self.bandwidth = bandwidth

    @property
    def busy_until(self) -> float:
        """When the last backlogged stream finishes."""
        return self.t0 + float(self.t_knots[-1])

    def v_at(self, t: float) -> float:
        """Bytes each still-backlogged stream has received by `t` (inf once all are done)."""
        dt = t - self.t0
        if dt >= self.t_knots[-1]:
            return np.inf
        return float(np.interp(dt, self.t_knots, self.v_knots))

    def time_of(self, v: np.ndarray) -> np.ndarray:
        """When a stream that stays backlogged has received `v` bytes."""
        return self.t0 + np.interp(v, self.v_knots, self.t_knots)

    def bytes_sent(self, t: float) -> float:
        """Bytes the link carried between t0 and `t` (it runs at full rate while busy)."""
        return self.bandwidth * (min(t, self.busy_until) - self.t0)


def drain(t0: float, remaining: np.ndarray, weight: np.ndarray, bandwidth: float,
          busy: np.ndarray | None = None) -> Drain:
    """`remaining[i]` bytes left for each of `weight[i]` identical streams; `busy`, if
    given, is `np.flatnonzero(remaining > 0)` already computed."""
    if busy is None:
        busy = np.flatnonzero(remaining > 0)
    n = busy.size
    if n == 0:
        return Drain(t0, np.zeros(1), np.zeros(1), bandwidth)
    rem_busy = remaining[busy]
    order = rem_busy.argsort(kind="stable")
    v_knots = np.zeros(n + 1)
    rem = v_knots[1:]
    rem_busy.take(order, out=rem)
    w = weight.take(busy.take(order))
    # Between the (i-1)th and ith group finishing, the groups from i on share the link
    # (whole counts: the same floats as a float cumsum).
    active = w[::-1].cumsum()[::-1]
    step_v = v_knots[1:] - v_knots[:-1]  # v_knots[0] is 0: the first step is rem[0] itself
    step_v *= active
    step_v /= bandwidth
    t_knots = np.zeros(n + 1)
    step_v.cumsum(out=t_knots[1:])
    return Drain(t0, v_knots, t_knots, bandwidth)
