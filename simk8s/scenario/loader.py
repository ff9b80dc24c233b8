"""Load a scenario file: YAML + manifests + `--set` overrides → a validated Scenario.

Every problem found is collected and raised as one ScenarioError whose lines read
``FILE:LINE: dotted.path: message``: FILE:LINE is where the offending key or value is
written (the scenario, a manifest, `--set:N` for the N-th override), and the path is the
schema path (or, inside a manifest, the Kubernetes path).

Order of resolution: scenario file → imported manifest objects appended to `services` /
`workloads` → `--set` overrides → validation. Variants (`compare[].set`) are applied to the
*resolved* base scenario, both when checked here and in `load_variants`, so a variant that
passes `load_scenario` always builds.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from .base import Loc as SchemaLoc
from .copies import Expansion
from .errors import ScenarioError, error_line
from .events import Variant
from .manifests import ImportedObject, ManifestImport, ignored_warning, read_manifest_file
from .memory import memory_problem
from .messages import SNAKE_NAMES, Problem, describe, problems_of
from .model import Scenario
from .overrides import apply_setting, loc_of, parse_override
from .releases import NOT_IN_RELEASE
from .yamlbounds import LimitError, read_text
from .yamlsource import Loc, YamlDocument, YamlParseError, dotted, locate, node_at, parse_documents

_EVENT_OPTIONAL_KEYS = ("rollout", "scale", "replicas", "drain", "nodeLoss", "zoneOutage", "apiserverRestart")


# --- public API -------------------------------------------------------------------------


def load_scenario(path: str | Path, overrides: Sequence[str] = ()) -> Scenario:
    """Read, merge, override and validate a scenario file. Raises ScenarioError listing
    every problem. Manifest warnings are on the result's `.warnings`."""
    display = str(path)
    document = _read_scenario_document(Path(path), display)
    raw: dict[str, Any] = dict(document.data)
    sources = _Sources(display, document.node)
    errors: list[str] = []

    imported = _import_manifests(raw.pop("manifests", None), Path(path).parent, sources, errors)
    _machine_relative_to(raw, Path(path).parent)
    merged = _merge(raw, imported, sources)

    with_overrides = copy.deepcopy(merged)
    applied: list[tuple[int, Loc]] = []
    for number, text in enumerate(overrides, start=1):
        try:
            parts, value = parse_override(text)
        except ValueError as exc:
            errors.append(error_line("--set", number, "", str(exc)))
            continue
        message = apply_setting(with_overrides, parts, value)
        if message:
            errors.append(error_line("--set", number, ".".join(parts), message))
        else:
            applied.append((number, loc_of(parts)))

    scenario, problems = _validate(with_overrides)
    from_file = set(_validate(merged)[1]) if applied else set()
    for loc, message in problems:
        errors.append(sources.render(loc, message, applied if (loc, message) not in from_file else ()))

    variant_base = _variant_base(scenario, with_overrides)
    skipped: dict[str, str] = {}
    built: dict[str, Scenario] = {}
    errors += _variant_errors(raw.get("compare"), variant_base, set(problems), sources, skipped, built)

    if errors:
        raise ScenarioError(_in_reading_order(_unique(errors), display))
    assert scenario is not None
    warning = ignored_warning(imported.ignored)
    scenario._warnings = ((warning,) if warning else ()) + tuple(
        f"variant {name} skipped: {why}" for name, why in skipped.items())
    scenario._skipped_variants = tuple(skipped)
    scenario._checked_variants = built
    return scenario


def load_variants(scenario: Scenario) -> list[tuple[str, Scenario]]:
    """(name, scenario) for each `compare` variant: the resolved base with the variant's
    `set` applied and `compare` emptied. Without `compare`: [("base", scenario)]."""
    if not scenario.compare:
        return [("base", scenario)]
    base: dict[str, Any] | None = None  # resolved only for a variant load_scenario did not build
    variants: list[tuple[str, Scenario]] = []
    for variant in scenario.compare:
        if variant.name in scenario._skipped_variants:  # not in this release (a warning said so)
            continue
        if not variant.settings:
            # Nothing to set: the base itself (what validating `base` would give, without
            # validating 20,000 copied objects once more).
            variants.append((variant.name, scenario.model_copy(update={"compare": ()})))
            continue
        checked = scenario._checked_variants.get(variant.name)
        if checked is not None:
            # load_scenario validated this very data (same base, same `set`): not twice. A
            # copy, so that callers loading the variants twice do not share one object.
            built = checked.model_copy()
        else:
            base = _variant_base(scenario, {}) if base is None else base
            built = _build_variant(base, variant)
        built._warnings = scenario.warnings
        variants.append((variant.name, built))
    return variants


def _build_variant(base: dict[str, Any], variant: Variant) -> Scenario:
    data = copy.deepcopy(base)
    lines: list[str] = []
    for key, value in variant.settings.items():
        message = apply_setting(data, tuple(str(key).split(".")), value)
        if message:
            lines.append(f"variant {variant.name}: {key}: {message}")
    built, problems = _validate(data, check_memory=False)  # load_scenario checked it
    lines += [f"variant {variant.name}: {dotted(loc)}: {msg}" for loc, msg in problems]
    if lines or built is None:
        raise ScenarioError(lines)
    return built


def resolved_dict(scenario: Scenario) -> dict[str, Any]:
    """The scenario with every default filled, as plain data: camelCase keys, human units
    (`30s`, `1.5Mi`, `10Gbps`, `2000/s`). `Scenario.model_validate` of it gives an equal
    Scenario; manifests are already merged into services/workloads."""
    expansion = scenario.expansion
    if not expansion.groups:
        data = scenario.model_dump(mode="json", by_alias=True)
    else:
        # Entries written with `copies` (or a traffic glob) are dumped as written: copy 0
        # stands for its group. Only one item per group is dumped (10,000 copies stay cheap).
        expanded = tuple(expansion.groups)
        data = scenario.model_dump(mode="json", by_alias=True, exclude=set(expanded))
        for list_field in expanded:
            items: tuple[BaseModel, ...] = getattr(scenario, list_field)
            data[list_field] = _compact_dump(expansion, list_field, items)
        data = {key: data[key] for key in _FIELD_ORDER if key in data}
    for event in data["events"]:  # only the one action (and replicas for scale) is shown
        for key in _EVENT_OPTIONAL_KEYS:
            if event.get(key) is None:
                event.pop(key, None)
    return data


_FIELD_ORDER = [info.alias or name for name, info in Scenario.model_fields.items()]


def _compact_dump(expansion: Expansion, list_field: str, items: tuple[BaseModel, ...]) -> list[dict[str, Any]]:
    groups = expansion.groups[list_field]
    if not expansion.consistent(list_field, items):  # changed after validation: dump everything
        return [item.model_dump(mode="json", by_alias=True) for item in items]
    firsts = [items[g.start].model_dump(mode="json", by_alias=True) for g in groups]
    return expansion.compact(list_field, firsts)


# --- reading --------------------------------------------------------------------------


def _read_scenario_document(path: Path, display: str) -> YamlDocument:
    try:
        text = read_text(path)
    except FileNotFoundError:
        raise ScenarioError([error_line(display, None, "", "no such file")]) from None
    except IsADirectoryError:
        raise ScenarioError([error_line(display, None, "", "is a directory, not a scenario file")]) from None
    except UnicodeDecodeError:
        raise ScenarioError([error_line(display, None, "", "not a text file (expected YAML)")]) from None
    except LimitError as exc:
        raise ScenarioError([error_line(display, None, "", str(exc.problem))]) from None
    except OSError as exc:
        raise ScenarioError([error_line(display, None, "", f"cannot read it: {exc.strerror or exc}")]) from None
    try:
        documents = parse_documents(text, display)
    except YamlParseError as exc:
        raise ScenarioError(exc.lines) from None
    if not documents or documents[0].data is None:
        raise ScenarioError([error_line(display, 1, "", "empty file: expected a scenario mapping (at least `name:`)")])
    if len(documents) > 1:
        second = documents[1].node
        line = second.start_mark.line + 1 if second is not None else None
        raise ScenarioError([error_line(display, line, "", f"expected one YAML document, found {len(documents)}")])
    document = documents[0]
    if not isinstance(document.data, dict):
        assert document.node is not None
        raise ScenarioError([error_line(display, document.node.start_mark.line + 1, "",
                                        f"the top level must be a mapping of scenario keys, got {describe(document.data)}")])
    return document


def _machine_relative_to(raw: dict[str, Any], base_dir: Path) -> None:
    """cluster.kubeProxy.machine names a file relative to the scenario, as manifests do
    (a `--set` value stays relative to the working directory)."""
    kube_proxy = (raw.get("cluster") or {}).get("kubeProxy") if isinstance(raw.get("cluster"), dict) else None
    machine = kube_proxy.get("machine") if isinstance(kube_proxy, dict) else None
    if isinstance(kube_proxy, dict) and isinstance(machine, str) and machine.strip() and not Path(machine).is_absolute():
        raw["cluster"] = {**raw["cluster"], "kubeProxy": {**kube_proxy, "machine": str(base_dir / machine)}}


def _import_manifests(entries: Any, base_dir: Path, sources: _Sources, errors: list[str]) -> ManifestImport:
    result = ManifestImport()
    if entries is None:
        return result
    if not isinstance(entries, list):
        errors.append(sources.render(("manifests",), "expected a list of manifest file names"))
        return result
    for i, entry in enumerate(entries):
        if not isinstance(entry, str) or not entry:
            errors.append(sources.render(("manifests", i), f"expected a file name, got {describe(entry)}"))
            continue
        file = base_dir / entry
        display = str(Path(sources.file).parent / entry)
        if not file.is_file():
            errors.append(sources.render(("manifests", i), f"no such file: {display}"))
            continue
        read_manifest_file(file, display, result)
    errors.extend(result.errors)
    return result


def _merge(raw: dict[str, Any], imported: ManifestImport, sources: _Sources) -> dict[str, Any]:
    merged = copy.deepcopy(raw)
    for key, objects in (("services", imported.services), ("workloads", imported.workloads)):
        if not objects:
            continue
        items = merged.setdefault(key, [])
        if items is None:
            items = merged[key] = []
        if not isinstance(items, list):
            continue  # the schema reports the wrong type
        for obj in objects:
            sources.origins[(key, len(items))] = obj
            items.append(copy.deepcopy(obj.data))
    return merged


# --- validation and messages ------------------------------------------------------------


def _validate(data: Any, check_memory: bool = True) -> tuple[Scenario | None, list[Problem]]:
    """Validate (after expanding `copies` and traffic globs); problem locations are those
    of the entries as written, so an error in a copy points at the line of its original.
    A valid scenario too big for this machine's memory is a problem too (`check_memory`)."""
    context: dict[str, Any] = {}
    try:
        scenario = Scenario.model_validate(data, context=context)
    except ValidationError as exc:
        return None, _written_problems(problems_of(exc), context.get("expansion"))
    too_big = memory_problem(scenario) if check_memory else None
    if too_big is None:
        return scenario, []
    return None, _written_problems([too_big], scenario.expansion)


def _written_problems(problems: list[Problem], expansion: Expansion | None) -> list[Problem]:
    """Map locations into expanded lists back to the written entries. The same problem in
    many copies is reported once, at the first copy that has it, with the number of others."""
    if expansion is None or not expansion.groups:
        return problems
    out: list[Problem] = []
    first: dict[tuple[SchemaLoc, int], int] = {}  # (written loc, group start) → index in out
    repeats: dict[int, int] = {}
    for loc, message in problems:
        written, group = expansion.written_loc(loc)
        if group is None:
            out.append((written, message))
            continue
        seen = first.get((written, group.start))
        if seen is None:
            first[(written, group.start)] = len(out)
            out.append((written, message))
        elif out[seen][1] != message:
            repeats[seen] = repeats.get(seen, 0) + 1
    for index, more in repeats.items():
        loc, message = out[index]
        out[index] = (loc, f"{message} (and in {more} more {'copy' if more == 1 else 'copies'})")
    return out




@dataclass
class _Sources:
    """Where each part of the validated data was written."""

    file: str
    root: yaml.Node | None
    origins: dict[tuple[str, int], ImportedObject] = field(default_factory=dict)

    def render(self, loc: Loc, message: str, overrides: Iterable[tuple[int, Loc]] = ()) -> str:
        blamed = [number for number, target in overrides if _related(loc, target)]
        if blamed:
            return error_line("--set", blamed[-1], dotted(loc), message)
        origin = self.origins.get((loc[0], loc[1])) if len(loc) >= 2 else None  # type: ignore[arg-type]
        if origin is not None:
            file, line, path = origin.where(loc[2:])
            return error_line(file, line, path, message)
        return error_line(self.file, locate(self.root, loc, SNAKE_NAMES), dotted(loc), message)


def _related(a: Loc, b: Loc) -> bool:
    """One path is a prefix of the other."""
    n = min(len(a), len(b))
    return tuple(a[:n]) == tuple(b[:n])


# --- variants -----------------------------------------------------------------------------


def _variant_base(scenario: Scenario | None, fallback: dict[str, Any]) -> dict[str, Any]:
    """The resolved base for variants, without the settings its release chose: a variant
    that changes the release or the kube-proxy mode gets that release's (mode's) defaults."""
    if scenario is None:
        base = copy.deepcopy(fallback)
    else:
        base = resolved_dict(scenario)
        for path in scenario.cluster._chosen_by_release:
            *parents, last = path.split(".")
            node = base["cluster"]
            for key in parents:
                node = node[key]
            del node[last]
    base["compare"] = []
    return base


def _variant_errors(compare: Any, base: dict[str, Any], base_problems: set[Problem],
                    sources: _Sources, skipped: dict[str, str], built: dict[str, Scenario]) -> list[str]:
    """Apply each compare entry's `set` to the base and report what only the variant breaks,
    at the line of the `set` key responsible (or of the compare entry). A variant whose only
    problem is a feature its release lacks (nftables on 1.26, say: `--set
    cluster.kubernetesVersion=1.26` on a scenario comparing modes) goes into `skipped`
    (name → why) instead, unless every variant would be skipped. Variants that validate
    without any problem go into `built` (name → Scenario), for `load_variants`."""
    if not isinstance(compare, list):
        return []
    errors: list[str] = []
    for i, entry in enumerate(compare):
        settings = entry.get("set") if isinstance(entry, dict) else None
        if not isinstance(settings, dict):
            continue  # the schema reports a malformed entry
        set_node = node_at(sources.root, ("compare", i, "set"))
        data = copy.deepcopy(base)
        targets: list[tuple[Loc, str]] = []
        for key, value in settings.items():
            path = str(key)
            parts = tuple(path.split("."))
            line = _key_line(set_node, path) or locate(sources.root, ("compare", i, "set"))
            where = f"compare.{i}.set.{path}"
            if parts[0] == "compare":
                errors.append(error_line(sources.file, line, where, "a variant cannot set compare"))
                continue
            message = apply_setting(data, parts, value)
            if message:
                errors.append(error_line(sources.file, line, where, message))
            else:
                targets.append((loc_of(parts), path))
        variant, problems = _validate(data)
        if variant is not None and not problems and isinstance(entry.get("name"), str):
            built[entry["name"]] = variant
        own = [(loc, message) for loc, message in problems if (loc, message) not in base_problems]
        if own and all(NOT_IN_RELEASE in message for _, message in own) and isinstance(entry.get("name"), str):
            skipped[entry["name"]] = f"{dotted(own[0][0])}: {own[0][1]}"
            continue
        errors += [_render_variant(loc, message, i, entry, targets, set_node, sources) for loc, message in own]
    if skipped and len(skipped) == len(compare):
        errors.append(error_line(sources.file, locate(sources.root, ("compare",)), "compare",
                                 "no variant exists in this release: " + "; ".join(skipped.values())))
    return errors


def _render_variant(loc: Loc, message: str, index: int, entry: dict[str, Any],
                    targets: list[tuple[Loc, str]], set_node: yaml.Node | None, sources: _Sources) -> str:
    responsible = [(target, path) for target, path in targets if _related(loc, target)]
    if responsible:
        target, path = responsible[-1]
        value_node = _key_value_node(set_node, path)
        rest = loc[len(target):]
        line = locate(value_node, rest, SNAKE_NAMES) if value_node is not None else None
        line = line or _key_line(set_node, path)
        if len(loc) < len(target):
            message = f"{dotted(loc)}: {message}"
        where = f"compare.{index}.set.{path}" + (f".{dotted(rest)}" if rest else "")
        return error_line(sources.file, line, where, message)
    name = entry.get("name", "?")
    return error_line(sources.file, locate(sources.root, ("compare", index)), f"compare.{index}",
                      f"in variant {name!r}: {dotted(loc)}: {message}")


def _key_line(mapping: yaml.Node | None, key: str) -> int | None:
    if isinstance(mapping, yaml.MappingNode):
        for key_node, _ in mapping.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                return key_node.start_mark.line + 1
    return None


def _key_value_node(mapping: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(mapping, yaml.MappingNode):
        for key_node, value_node in mapping.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                return value_node
    return None


def _unique(lines: list[str]) -> list[str]:
    return list(dict.fromkeys(lines))


_LINE_PREFIX = re.compile(r"(.*?):(\d+): ")


def _in_reading_order(lines: list[str], scenario_file: str) -> list[str]:
    """Scenario-file lines first, then manifests, then --set; by line number within each."""

    def key(line: str) -> tuple[int, str, int]:
        match = _LINE_PREFIX.match(line)
        file, number = (match.group(1), int(match.group(2))) if match else (line.split(": ", 1)[0], 0)
        group = 0 if file == scenario_file else 2 if file == "--set" else 1
        return group, file, number

    return sorted(lines, key=key)
