"""Wire sizes of Endpoints, EndpointSlice and Service objects (compact JSON, protobuf).

* ``encoding``: how protobuf and Go's JSON count bytes (varints, length-delimited fields,
  string escaping);
* ``entries``: one EndpointAddress / Endpoint, and ``SizedEntries`` (a tuple that carries
  its entries' total, kept by the controllers as they build it);
* ``metadata``: ObjectMeta and the stored envelope;
* ``kinds``: whole objects (``wire_sizes``, ``json_size``, ``proto_size``);
* ``render``: slow reference renderers the tests hold the arithmetic against;
* ``table``: the size table of ``simk8s sizes`` (docs/sizes.md).
"""

from simk8s.api.sizes.encoding import varint_len
from simk8s.api.sizes.entries import SizedEntries, entry_size, head, sum_entries
from simk8s.api.sizes.kinds import (
    WireSizes,
    clear_size_caches,
    json_size,
    proto_size,
    service_json,
    wire_sizes,
)
from simk8s.api.sizes.metadata import (
    ASSUMED_RESOURCE_VERSION,
    ASSUMED_UID_LEN,
    FIELD_MANAGER,
    PROTO_MAGIC,
    envelope_size,
)
from simk8s.api.sizes.render import reference_json_size, to_json_dict
from simk8s.api.sizes.table import (
    APISERVER_MAX_REQUEST_BODY_BYTES,
    ENDPOINTS_MANAGED_BY_VALUE,
    ETCD_MAX_REQUEST_BYTES,
    LONG_NAMING,
    Naming,
    SizeRow,
    endpoints_limit_pod_count,
    sizes_table,
)

__all__ = [
    "APISERVER_MAX_REQUEST_BODY_BYTES",
    "ASSUMED_RESOURCE_VERSION",
    "ASSUMED_UID_LEN",
    "ENDPOINTS_MANAGED_BY_VALUE",
    "ETCD_MAX_REQUEST_BYTES",
    "FIELD_MANAGER",
    "LONG_NAMING",
    "PROTO_MAGIC",
    "Naming",
    "SizeRow",
    "SizedEntries",
    "WireSizes",
    "clear_size_caches",
    "endpoints_limit_pod_count",
    "entry_size",
    "envelope_size",
    "head",
    "json_size",
    "proto_size",
    "reference_json_size",
    "service_json",
    "sizes_table",
    "sum_entries",
    "to_json_dict",
    "varint_len",
    "wire_sizes",
]
