"""The fast paths of an EndpointAddress's and an Endpoint's wire size (plain ASCII
strings) give the same sizes as the general ones, escapes, non-ASCII and long strings
included."""

import random
import string

from simk8s.api.objects import Endpoint, EndpointAddress, ObjectReference
from simk8s.api.sizes.entries import (
    _address_sizes,
    _address_sizes_any,
    _endpoint_sizes,
    _endpoint_sizes_any,
)

_ALPHABET = string.ascii_letters + string.digits + '-.<>&"\\é€ \x01'


def test_fast_address_sizes_equal_the_general_ones():
    rng = random.Random(7)

    def text(longest: int) -> str:
        n = min(rng.choice([0, 1, 5, 63, 127, 128, 129, 300, 1700]), longest)
        return "".join(rng.choice(_ALPHABET if rng.random() < 0.1 else string.ascii_lowercase) for _ in range(n))

    for _ in range(3000):
        ref = None if rng.random() < 0.05 else ObjectReference(
            kind=rng.choice(["Pod", ""]), namespace=text(300), name=text(300), uid=text(2000))
        addr = EndpointAddress(ip=text(40), node_name=None if rng.random() < 0.05 else text(300),
                               target_ref=ref, hostname=text(300) if rng.random() < 0.3 else "")
        assert _address_sizes(addr) == _address_sizes_any(addr), addr


def test_fast_endpoint_sizes_equal_the_general_ones():
    rng = random.Random(11)

    def text(longest: int) -> str:
        n = min(rng.choice([0, 1, 5, 63, 127, 128, 129, 300, 1700]), longest)
        return "".join(rng.choice(_ALPHABET if rng.random() < 0.1 else string.ascii_lowercase) for _ in range(n))

    def maybe(value):
        return None if rng.random() < 0.1 else value

    for _ in range(3000):
        ref = None if rng.random() < 0.05 else ObjectReference(
            kind=rng.choice(["Pod", ""]), namespace=text(300), name=text(300), uid=text(2000))
        hinted = rng.random() < 0.05
        ep = Endpoint(
            addresses=tuple(text(40) for _ in range(rng.choice([1, 1, 1, 2, 3]))),
            ready=maybe(rng.random() < 0.5), serving=maybe(rng.random() < 0.5),
            terminating=maybe(rng.random() < 0.5),
            hostname=text(300) if rng.random() < 0.3 else "",
            target_ref=ref, node_name=maybe(text(300)), zone=maybe(text(20)),
            hints_for_zones=(text(10),) if hinted else (),
        )
        assert _endpoint_sizes(ep) == _endpoint_sizes_any(ep), ep
