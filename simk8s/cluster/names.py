"""Object identity: generated names (the apiserver's `generateName` suffixes for pods and
EndpointSlices, the pod-template-hash in a ReplicaSet's pod names) and uids."""

from __future__ import annotations

import hashlib

import numpy as np

# The alphabet of generated names (staging/src/k8s.io/apimachinery/pkg/util/rand/rand.go):
# no vowels, no 0/1/3, so no words and no look-alike characters.
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_ALPHABET_SIZE = len(NAME_ALPHABET)


def stable_uid(*parts: str) -> str:
    """A deterministic UUID-shaped uid (36 chars, like the apiserver's)."""
    h = hashlib.sha256("/".join(parts).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


class NameSuffixes:
    """The 5-character random suffixes of generated names (pods, EndpointSlices), drawn in
    blocks (HOT PATH).

    Each suffix is what ``rng.choice(alphabet, 5)`` gives, in the same order: that call
    draws ``rng.integers(0, 27, 5)``, and bounded integers come from one continuous stream
    of 32-bit draws, so one call for many suffixes yields the same values as one call each.
    Give it a Generator nothing else draws from: then drawing ahead changes no other number.
    """

    BLOCK = 4096

    def __init__(self, rng: np.random.Generator):
        self._rng = rng
        self._letters = np.array(list(NAME_ALPHABET))
        self._ready: list[str] = []
        self._next = 0

    def next(self) -> str:
        if self._next == len(self._ready):
            draws = self._rng.integers(0, _ALPHABET_SIZE, size=(self.BLOCK, 5))
            self._ready = ["".join(row) for row in self._letters[draws].tolist()]
            self._next = 0
        suffix = self._ready[self._next]
        self._next += 1
        return suffix


def pod_template_hash(deployment: str, revision: int) -> str:
    """10 characters of the generated-name alphabet, stable per (Deployment, revision).
    Simplification: derived from a name hash, not from a hash of the pod template as
    pkg/controller/controller_utils.go ComputeHash does."""
    digest = stable_uid(deployment, str(revision)).replace("-", "")
    return "".join(NAME_ALPHABET[int(c, 16) % _ALPHABET_SIZE] for c in digest[:10])
