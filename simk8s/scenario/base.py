"""The base of every scenario model, and the location type their problems carry.

YAML keys are camelCase; attributes are snake_case (`sc.cluster.kube_proxy.min_sync_period`).
Inside, durations are float seconds, sizes int bytes, bandwidth float bytes/s, rates float
per second. Checks that involve several fields raise `errors.Problems`, so that every
problem is reported at its own path.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

Loc = tuple[str | int, ...]


class SchemaModel(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


def field_alias(model: type[BaseModel], field: str) -> str:
    """The YAML key of a field (its camelCase alias)."""
    info = model.model_fields[field]
    return info.alias or to_camel(field)


def schema_models() -> list[type[SchemaModel]]:
    """Every scenario model class (SchemaModel's subclasses, recursively)."""
    found: list[type[SchemaModel]] = []
    pending = list(SchemaModel.__subclasses__())
    while pending:
        cls = pending.pop(0)
        if cls not in found:
            found.append(cls)
            pending.extend(cls.__subclasses__())
    return found
