"""The control-plane questions of the seed tutorial, answered by shipped scenarios."""

from conftest import ROOT

from simk8s.api.sizes import wire_sizes
from simk8s.experiment import run_scenario

SCENARIOS = ROOT / "scenarios"


def test_seed_example_bytes_per_endpoints_update_on_3000_nodes():
    exp = run_scenario(SCENARIOS / "seed-example.yaml", write=False)
    ep, eps = exp.variant("endpoints"), exp.variant("endpointslices")
    api = ep.summary["apiserver"]
    writes = ep.tables["writes"]
    updates = writes[(writes.kind == "Endpoints") & (writes.rejected == "")]
    # Every update carries the whole 5000-address object to all 3000 kube-proxies, and to the
    # controller-manager's own Endpoints informer.
    assert updates.endpoints.max() == 5000
    assert api["egress_bytes"]["Endpoints"] == updates.bytes_proto.sum() * 3001
    per_update = api["egress_bytes_per_write"]["Endpoints"]
    # computed from the content: ≈ 566 kB stored protobuf → ≈ 1.7 GB per update (blog: 1.5 MB → 4.5 GB)
    assert 1.6e9 < per_update < 1.8e9
    stored = wire_sizes(ep.cluster.world.apiserver.get("Endpoints", "default", "backend"))
    assert stored.stored * 3000 == updates.bytes_proto.iloc[-1] * 3000
    # in JSON the same object is ≈ 0.92 MB: 2.8 GB per update, closer to the blog's pessimistic figure
    assert 2.5e9 < stored.json * 3000 < 3.0e9
    # The EndpointSlice variant moves the same change in ~15 kB objects.
    eps_api = eps.summary["apiserver"]
    assert eps_api["egress_bytes_per_write"]["EndpointSlice"] < per_update / 30


def test_growing_service_is_rejected_by_etcd_only_with_endpoints():
    # Same mechanism as scenarios/etcd-limit.yaml, at a tenth of the scale: a 150 KiB etcd limit.
    overrides = [
        "cluster.nodes=100",
        "cluster.etcd.maxRequestBytes=150Ki",
        "workloads.0.replicas=900",
        "events.0.replicas=1000",
        "events.1.replicas=1100",
        "events.2.replicas=1800",
        "duration=4m",
    ]
    exp = run_scenario(SCENARIOS / "etcd-limit.yaml", overrides=overrides, write=False)
    ep = exp.variant("endpoints").summary["apiserver"]
    first = ep["first_rejection"]
    assert first["kind"] == "Endpoints" and first["error"] == "etcdserver: request is too large"
    assert first["bytes_proto"] > 150 * 1024
    assert 1100 < first["endpoints"] <= 1800
    assert ep["rejected_writes"]["Endpoints"] > 0
    # the write before the first rejection fit under the limit
    writes = exp.variant("endpoints").tables["writes"]
    accepted = writes[(writes.kind == "Endpoints") & (writes.rejected == "") & (writes.time <= first["time_s"])]
    assert accepted.bytes_proto.max() <= 150 * 1024
    eps = exp.variant("endpointslices").summary["apiserver"]
    assert eps["first_rejection"] is None
    assert eps["rejected_writes"] == {"Endpoints": 0, "EndpointSlice": 0, "Service": 0}
