"""kube-proxy's merged view of one Service (simk8s.proxy.stream.MergedEndpoints)."""

from simk8s.api.objects import EndpointAddress, EndpointPort, Endpoints, EndpointSubset
from simk8s.proxy.stream import MergedEndpoints


def _ep(*subsets: tuple[list[str], list[str]]) -> Endpoints:
    return Endpoints(
        name="web",
        subsets=tuple(
            EndpointSubset(
                addresses=tuple(EndpointAddress(ip) for ip in ready),
                not_ready_addresses=tuple(EndpointAddress(ip) for ip in not_ready),
                ports=(EndpointPort(port=80 + i),),
            )
            for i, (ready, not_ready) in enumerate(subsets)
        ),
    )


def test_counting_without_diff_gives_the_same_ready_counts():
    writes = [
        ("create", _ep((["10.0.0.1", "10.0.0.2"], ["10.0.0.3"]))),
        ("update", _ep((["10.0.0.1", "10.0.0.3"], []), (["10.0.0.1"], ["10.0.0.2"]))),  # shared IP
        ("update", _ep((["10.0.0.4"], []))),
        ("delete", _ep()),
    ]
    diffed, counted = MergedEndpoints(), MergedEndpoints()
    deltas, zeros = [], []
    for op, obj in writes:
        deltas.append(diffed.apply("Endpoints", op, obj))
        zeros.append(counted.apply("Endpoints", op, obj, diff=False))
        assert counted.ready_count() == diffed.ready_count()
    assert diffed.ready_count() == 0
    assert deltas == [2, 2, 3, 1]  # → {1,2}: 2; → {1,3}: 2 and 3 changed; → {4}: 1, 3, 4; delete {4}
    assert zeros == [0, 0, 0, 1]  # not diffed; a delete still reports what it removed
