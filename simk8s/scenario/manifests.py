"""Import Deployments (apps/v1) and Services (v1) from Kubernetes manifest files.

Each object is projected onto the scenario schema (a plain camelCase dict, validated
later with the rest of the scenario) together with a *locator*: schema sub-path →
manifest path, so that a schema error inside an imported object is reported at its
line in the manifest (`app.yaml:12: spec.ports.0.nodePort: ...`). Only fields simk8s
models are read; every other field is ignored, and objects of other kinds are listed in
one warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import error_line
from .yamlbounds import LimitError, read_text
from .yamlsource import Loc, YamlParseError, dotted, locate, parse_documents

_SUPPORTED = {("apps/v1", "Deployment"), ("v1", "Service")}


@dataclass
class ImportedObject:
    """One Deployment or Service from a manifest, in scenario-schema shape."""

    kind: str  # "Deployment" | "Service"
    data: dict[str, Any]
    file: str  # as displayed in error lines
    node: yaml.Node  # the document's node tree
    locator: dict[Loc, Loc] = field(default_factory=dict)  # schema sub-path → manifest path

    def where(self, loc: Loc) -> tuple[str, int | None, str]:
        """(file, line, manifest path) of the longest located prefix of schema path `loc`."""
        for end in range(len(loc), 0, -1):
            target = self.locator.get(tuple(loc[:end]))
            if target is not None:
                return self.file, locate(self.node, target), dotted(target)
        return self.file, self.node.start_mark.line + 1, f"{self.kind}/{self.data.get('name', '?')}"


@dataclass
class ManifestImport:
    services: list[ImportedObject] = field(default_factory=list)
    workloads: list[ImportedObject] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # "ConfigMap/app-config (app.yaml:30)"
    errors: list[str] = field(default_factory=list)


def read_manifest_file(path: Path, display: str, into: ManifestImport) -> None:
    """Read one multi-document manifest file, adding objects, ignored kinds and errors."""
    try:
        text = read_text(path)
    except UnicodeDecodeError:
        into.errors.append(error_line(display, None, "", "not a text file"))
        return
    except LimitError as exc:
        into.errors.append(error_line(display, None, "", str(exc.problem)))
        return
    except OSError as exc:
        into.errors.append(error_line(display, None, "", f"cannot read it: {exc.strerror or exc}"))
        return
    try:
        documents = parse_documents(text, display)
    except YamlParseError as exc:
        into.errors.extend(exc.lines)
        return
    for doc in documents:
        if doc.data is None or doc.node is None:
            continue  # empty document (e.g. a trailing `---`)
        line = doc.node.start_mark.line + 1
        if not isinstance(doc.data, dict):
            into.errors.append(error_line(display, line, "", "a manifest document must be a mapping (a Kubernetes object)"))
            continue
        api_version, kind = doc.data.get("apiVersion"), doc.data.get("kind")
        if (api_version, kind) not in _SUPPORTED:
            name = _name_of(doc.data)
            into.ignored.append(f"{kind or '(no kind)'}/{name} ({display}:{line})")
            continue
        reader = _ObjectReader(display, doc.node, into.errors)
        if kind == "Deployment":
            obj = reader.deployment(doc.data)
            if obj is not None:
                into.workloads.append(obj)
        else:
            obj = reader.service(doc.data)
            if obj is not None:
                into.services.append(obj)


def ignored_warning(ignored: list[str]) -> str | None:
    """The one warning naming every manifest object simk8s did not import."""
    if not ignored:
        return None
    return f"ignored {len(ignored)} manifest object(s) of kinds simk8s does not model: " + ", ".join(ignored)


def _name_of(data: dict[str, Any]) -> str:
    metadata = data.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return str(name) if name is not None else "?"


class _ObjectReader:
    """Projects one Kubernetes object onto the schema, recording where each value came from."""

    def __init__(self, file: str, node: yaml.Node, errors: list[str]) -> None:
        self.file = file
        self.node = node
        self.errors = errors
        self.locator: dict[Loc, Loc] = {}

    def _error(self, loc: Loc, message: str) -> None:
        self.errors.append(error_line(self.file, locate(self.node, loc), dotted(loc), message))

    def _get(self, parent: dict[str, Any] | None, loc: Loc, key: str, expected: type) -> Any:
        """parent[key] if present and of the expected container type, else None (and an error)."""
        if parent is None or parent.get(key) is None:
            return None
        value = parent[key]
        if not isinstance(value, expected):
            what = "mapping" if expected is dict else "list"
            self._error((*loc, key), f"expected a {what}, got {_type_name(value)}")
            return None
        return value

    def _copy(self, out: dict[str, Any], out_loc: Loc, src: dict[str, Any] | None, src_loc: Loc,
              key: str, out_key: str | None = None) -> None:
        """Copy src[key] to out[out_key] (when present) and remember where it came from."""
        if src is None or key not in src:
            return
        out_key = out_key or key
        out[out_key] = src[key]
        self.locator[(*out_loc, out_key)] = (*src_loc, key)

    def _metadata(self, data: dict[str, Any], out: dict[str, Any]) -> dict[str, Any] | None:
        metadata = self._get(data, (), "metadata", dict)
        if metadata is None or metadata.get("name") is None:
            if isinstance(data.get("metadata", {}), dict):  # else _get reported the type
                self._error(("metadata", "name"), "missing required field")
            return metadata
        self._copy(out, (), metadata, ("metadata",), "name")
        self._copy(out, (), metadata, ("metadata",), "namespace")
        return metadata

    def _finish(self, kind: str, out: dict[str, Any]) -> ImportedObject | None:
        # Keep a named object even after a structural error so the schema still checks the
        # rest of it; an object without a name cannot be referred to and is dropped.
        if "name" not in out:
            return None
        return ImportedObject(kind, out, self.file, self.node, self.locator)

    # -- apps/v1 Deployment --------------------------------------------------------------

    def deployment(self, data: dict[str, Any]) -> ImportedObject | None:
        out: dict[str, Any] = {"kind": "Deployment"}
        self._metadata(data, out)
        spec = self._get(data, (), "spec", dict) or {}
        s = ("spec",)
        self._copy(out, (), spec, s, "replicas")
        self._copy(out, (), spec, s, "minReadySeconds")
        selector = self._get(spec, s, "selector", dict)
        # matchExpressions are not modelled; matchLabels is the selector.
        self._copy(out, (), selector, (*s, "selector"), "matchLabels", "selector")
        template = self._get(spec, s, "template", dict)
        t = (*s, "template")
        template_meta = self._get(template, t, "metadata", dict)
        out["labels"] = {}  # no template labels → the schema reports it (no {app: name} default)
        self.locator[("labels",)] = (*t, "metadata", "labels")
        self._copy(out, (), template_meta, (*t, "metadata"), "labels")
        pod_spec = self._get(template, t, "spec", dict)
        p = (*t, "spec")
        self._copy(out, (), pod_spec, p, "terminationGracePeriodSeconds")
        self._containers(self._get(pod_spec, p, "containers", list), (*p, "containers"), out)
        self._strategy(self._get(spec, s, "strategy", dict), (*s, "strategy"), out)
        return self._finish("Deployment", out)

    def _containers(self, containers: list[Any] | None, loc: Loc, out: dict[str, Any]) -> None:
        ports: list[dict[str, Any]] = []
        for c, container in enumerate(containers or []):
            if not isinstance(container, dict):
                self._error((*loc, c), f"expected a mapping, got {_type_name(container)}")
                continue
            port_list = self._get(container, (*loc, c), "ports", list)
            for p, port in enumerate(port_list or []):
                port_loc = (*loc, c, "ports", p)
                if not isinstance(port, dict):
                    self._error(port_loc, f"expected a mapping, got {_type_name(port)}")
                    continue
                item: dict[str, Any] = {}
                out_loc = ("containerPorts", len(ports))
                self.locator[out_loc] = port_loc
                for key in ("name", "containerPort", "protocol"):
                    self._copy(item, out_loc, port, port_loc, key)
                ports.append(item)
            probe = self._get(container, (*loc, c), "readinessProbe", dict)
            # Simplification: Pod readiness = all containers ready; we use the first probe found.
            if probe is not None and "readinessProbe" not in out:
                probe_loc = (*loc, c, "readinessProbe")
                out["readinessProbe"] = {}
                self.locator[("readinessProbe",)] = probe_loc
                for key in ("initialDelaySeconds", "periodSeconds", "successThreshold", "failureThreshold"):
                    self._copy(out["readinessProbe"], ("readinessProbe",), probe, probe_loc, key)
        if ports:
            out["containerPorts"] = ports

    def _strategy(self, strategy: dict[str, Any] | None, loc: Loc, out: dict[str, Any]) -> None:
        if strategy is None:
            return
        out["strategy"] = {}
        self.locator[("strategy",)] = loc
        self._copy(out["strategy"], ("strategy",), strategy, loc, "type")
        rolling = self._get(strategy, loc, "rollingUpdate", dict)
        for key in ("maxSurge", "maxUnavailable"):
            self._copy(out["strategy"], ("strategy",), rolling, (*loc, "rollingUpdate"), key)

    # -- v1 Service ----------------------------------------------------------------------

    def service(self, data: dict[str, Any]) -> ImportedObject | None:
        out: dict[str, Any] = {}
        metadata = self._metadata(data, out)
        for key in ("labels", "annotations"):
            self._copy(out, (), metadata, ("metadata",), key)
        spec = self._get(data, (), "spec", dict) or {}
        s = ("spec",)
        for key in ("type", "selector", "publishNotReadyAddresses", "sessionAffinity",
                    "internalTrafficPolicy", "externalTrafficPolicy", "externalIPs",
                    "loadBalancerIP", "loadBalancerSourceRanges", "externalName",
                    "trafficDistribution"):
            self._copy(out, (), spec, s, key)
        if spec.get("clusterIP") not in (None, ""):  # "" means "allocate one"
            self._copy(out, (), spec, s, "clusterIP")
        affinity = self._get(spec, s, "sessionAffinityConfig", dict)
        client_ip = self._get(affinity, (*s, "sessionAffinityConfig"), "clientIP", dict)
        self._copy(out, (), client_ip, (*s, "sessionAffinityConfig", "clientIP"), "timeoutSeconds",
                   "sessionAffinityTimeout")
        ports: list[dict[str, Any]] = []
        for p, port in enumerate(self._get(spec, s, "ports", list) or []):
            port_loc = (*s, "ports", p)
            if not isinstance(port, dict):
                self._error(port_loc, f"expected a mapping, got {_type_name(port)}")
                continue
            item: dict[str, Any] = {}
            out_loc = ("ports", len(ports))
            self.locator[out_loc] = port_loc
            for key in ("name", "port", "targetPort", "protocol", "nodePort"):
                self._copy(item, out_loc, port, port_loc, key)
            ports.append(item)
        out["ports"] = ports
        self.locator[("ports",)] = (*s, "ports")
        return self._finish("Service", out)


def _type_name(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)
