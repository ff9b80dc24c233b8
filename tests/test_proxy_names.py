"""Chain-name recipes (portProtoHash, hashAndTruncate) against names in upstream proxier tests."""

import pytest

from simk8s.proxy import names


@pytest.mark.parametrize(
    ("svc_port_name", "expected"),
    [
        ("ns1/svc1:p80", "XPGD46QRK7WJZT7O"),
        ("ns2/svc2:p80", "GNZBNJ2PO5MGZ6GT"),
        ("ns5/svc5:p80", "NUKIZ6OKUXPJNT4C"),
        ("ns1/svc1", "AQI2S6QIMU7PVVRP"),
    ],
)
def test_service_chain_hash_vectors(svc_port_name, expected):
    assert names.iptables_service_hash(svc_port_name, "tcp") == expected
    assert names.svc_chain(svc_port_name, "TCP") == "KUBE-SVC-" + expected
    assert names.svl_chain(svc_port_name, "tcp") == "KUBE-SVL-" + expected
    assert names.ext_chain(svc_port_name, "tcp") == "KUBE-EXT-" + expected
    assert names.fw_chain(svc_port_name, "tcp") == "KUBE-FW-" + expected


@pytest.mark.parametrize(
    ("svc_port_name", "endpoint", "expected"),
    [
        ("ns1/svc1:p80", "10.180.0.1:80", "KUBE-SEP-SXIVWICOYRO3J4NJ"),
        ("ns5/svc5:p80", "10.180.0.3:80", "KUBE-SEP-I77PXRDZVX7PMWMN"),
        ("ns1/svc1", "10.0.1.1:80", "KUBE-SEP-3JOIVZTXZZRGORX4"),
        ("ns1/svc1", "10.0.1.2:80", "KUBE-SEP-IO5XOSKPAXIFQXAJ"),
        ("ns1/svc1", "10.0.1.3:80", "KUBE-SEP-XGJFVO3L2O5SRFNT"),
    ],
)
def test_endpoint_chain_vectors(svc_port_name, endpoint, expected):
    assert names.sep_chain(svc_port_name, "tcp", endpoint) == expected


def test_chain_names_fit_iptables_limit():
    assert len(names.sep_chain("a-very-long-namespace/with-a-long-service-name:https", "sctp", "10.1.2.3:8443")) <= 28


def test_service_port_name():
    assert names.service_port_name("ns1", "svc1") == "ns1/svc1"
    assert names.service_port_name("ns1", "svc1", "p80") == "ns1/svc1:p80"


def test_nftables_vectors():
    base = names.nft_service_base("ns1", "svc1", "TCP", "p80")
    assert base == "ns1/svc1/tcp/p80"
    assert names.nft_service_chain(base) == "service-ULMVA6XW-ns1/svc1/tcp/p80"
    assert names.nft_service_chain(base, "external") == "external-ULMVA6XW-ns1/svc1/tcp/p80"
    assert names.nft_endpoint_chain(base, "10.180.0.1", 80) == "endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"
    assert names.nft_affinity_set(base, "10.180.0.1", 80) == "affinity-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"


def test_nftables_truncation_above_240():
    long = "n" * 300
    out = names.nft_hash_and_name(long)
    assert len(out) == 240 and out.endswith("...")
    assert len(names.nft_hash_and_name("x" * 231)) == 240  # 8 + 1 + 231: not truncated
    assert not names.nft_hash_and_name("x" * 231).endswith("...")
