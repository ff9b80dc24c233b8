"""Deterministic random streams: one numpy Generator per component, derived from the run seed
and the component's scoped name (so adding a component never shifts another one's draws)."""

from __future__ import annotations

import hashlib

import numpy as np


def component_rng(seed: int, name: str) -> np.random.Generator:
    digest = hashlib.sha256(name.encode()).digest()
    key = int.from_bytes(digest[:8], "little")
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(key,)))
