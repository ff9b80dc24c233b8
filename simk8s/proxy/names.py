"""Chain, set and map names kube-proxy derives from service and endpoint identities.

Upstream: `portProtoHash` and the `servicePort*ChainName` / `servicePortEndpointChainName`
helpers of `pkg/proxy/iptables/proxier.go`; `hashAndTruncate` of `pkg/proxy/nftables/proxier.go`.

iptables names are prefix + 16 base32 characters of SHA-256 (chain names must stay ≤ 28
characters); nftables names are 8 base32 characters, a dash, then the readable name.
Hot path: called once per service port / endpoint per render; results are cached.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

_NFT_MAX_NAME = 240  # nftables hashAndTruncate: names are truncated with "..." only above this


def _b32_sha256(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def service_port_name(namespace: str, name: str, port_name: str = "") -> str:
    """`ns/name:port`, or `ns/name` for an unnamed port (upstream ServicePortName.String)."""
    base = f"{namespace}/{name}"
    return f"{base}:{port_name}" if port_name else base


@lru_cache(maxsize=65536)
def iptables_service_hash(svc_port_name: str, protocol: str) -> str:
    """16-character hash shared by KUBE-SVC/SVL/EXT/FW chains (portProtoHash)."""
    return _b32_sha256(svc_port_name + protocol.lower())[:16]


def svc_chain(svc_port_name: str, protocol: str) -> str:
    return "KUBE-SVC-" + iptables_service_hash(svc_port_name, protocol)


def svl_chain(svc_port_name: str, protocol: str) -> str:
    return "KUBE-SVL-" + iptables_service_hash(svc_port_name, protocol)


def ext_chain(svc_port_name: str, protocol: str) -> str:
    return "KUBE-EXT-" + iptables_service_hash(svc_port_name, protocol)


def fw_chain(svc_port_name: str, protocol: str) -> str:
    return "KUBE-FW-" + iptables_service_hash(svc_port_name, protocol)


@lru_cache(maxsize=262144)
def sep_chain(svc_port_name: str, protocol: str, endpoint: str) -> str:
    """KUBE-SEP-<16 chars of SHA-256(servicePortName + protocol + "ip:port")>
    (servicePortEndpointChainName)."""
    return "KUBE-SEP-" + _b32_sha256(svc_port_name + protocol.lower() + endpoint)[:16]


@lru_cache(maxsize=262144)
def nft_hash_and_name(name: str) -> str:
    """`<8 base32 chars>-<name>`, truncated with "..." above 240 characters (hashAndTruncate)."""
    full = _b32_sha256(name)[:8] + "-" + name
    if len(full) > _NFT_MAX_NAME:
        full = full[: _NFT_MAX_NAME - 3] + "..."
    return full


def nft_service_base(namespace: str, name: str, protocol: str, port_name: str) -> str:
    """`ns/svc/proto/portname` — the readable part of nftables service chain names."""
    return f"{namespace}/{name}/{protocol.lower()}/{port_name}"


def nft_service_chain(base: str, prefix: str = "service") -> str:
    """prefix ∈ {service, local, external, firewall}; base from `nft_service_base`."""
    return f"{prefix}-{nft_hash_and_name(base)}"


def nft_endpoint_chain(base: str, ip: str, port: int) -> str:
    return "endpoint-" + nft_hash_and_name(f"{base}__{ip}/{port}")


def nft_affinity_set(base: str, ip: str, port: int) -> str:
    return "affinity-" + nft_hash_and_name(f"{base}__{ip}/{port}")
