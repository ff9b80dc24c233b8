"""Small builders of API records for the controller tests: a selector Service and ready,
running pods spread over three nodes (override any field by keyword)."""

from simk8s.api.objects import RUNNING, Pod, Service, ServicePort

SELECTOR = (("app", "web"),)


def service(**kw) -> Service:
    base = {
        "name": "web",
        "uid": "svc-uid",
        "selector": SELECTOR,
        "ports": (ServicePort(port=80, name="http"),),
        "cluster_ip": "10.96.0.10",
    }
    base.update(kw)
    return Service(**base)


def pod(i: int, *, name: str, uid: str, subnet: str, **kw) -> Pod:
    """Pod number ``i``: ``name``/``uid`` are format strings of ``i``; IP ``<subnet>.x.y``."""
    base = {
        "name": name.format(i=i),
        "uid": uid.format(i=i),
        "labels": SELECTOR,
        "node_name": f"node-{i % 3}",
        "pod_ips": (f"{subnet}.{i // 250}.{i % 250 + 1}",),
        "phase": RUNNING,
        "ready": True,
    }
    base.update(kw)
    return Pod(**base)
