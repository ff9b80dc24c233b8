"""The apiserver's watch path: watch cache, per-watcher channels, fair-shared egress, and
clients that are cut off and come back (fanout.py orchestrates; see its docstring)."""

from simk8s.watch.fanout import (
    CacheSettings,
    FanOut,
    InitialObject,
    Watcher,
    WatchStats,
    controller_watchers,
    fan_out,
)

__all__ = ["CacheSettings", "FanOut", "InitialObject", "WatchStats", "Watcher", "controller_watchers", "fan_out"]
