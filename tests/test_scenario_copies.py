"""`copies: N` on Services and workloads, glob references in events and traffic: expansion,
names, label/selector pairing, errors at the written line, the compact resolved dump, and
the shipped scale scenario."""

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from simk8s.cluster.world import World
from simk8s.scenario import Scenario, ScenarioError, load_scenario, load_variants, resolved_dict

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"

BASE = """\
name: copies
duration: 5m
cluster: {nodes: 6}
services:
  - name: web
    copies: 3
    selector: {app: web, tier: front}
    ports: [{name: http, port: 80, targetPort: http}]
  - name: solo
    selector: {app: solo}
    ports: [{port: 80}]
workloads:
  - name: web
    copies: 3
    replicas: 2
    labels: {app: web, tier: front}
    containerPorts: [{name: http, containerPort: 8080}]
  - name: solo
    replicas: 1
"""


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def errors_of(path, overrides=()) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, overrides)
    return info.value.lines


# --- expansion and names ----------------------------------------------------------------


def test_copies_expand_with_suffixed_names_labels_and_selectors(tmp_path):
    sc = load_scenario(write(tmp_path, BASE))
    assert [s.name for s in sc.services] == ["web-0", "web-1", "web-2", "solo"]
    assert [w.name for w in sc.workloads] == ["web-0", "web-1", "web-2", "solo"]
    assert [s.selector for s in sc.services[:3]] == [
        {"app": f"web-{i}", "tier": f"front-{i}"} for i in range(3)
    ]
    assert [w.labels for w in sc.workloads[:3]] == [{"app": f"web-{i}", "tier": f"front-{i}"} for i in range(3)]
    assert all(o.copies == 1 for o in (*sc.services, *sc.workloads))  # expanded objects stand for themselves
    assert sc.workloads[1].container_ports == sc.workloads[0].container_ports
    # the uncopied entries are untouched
    assert sc.service("solo").selector == {"app": "solo"} and sc.workload("solo").labels == {"app": "solo"}


def test_default_labels_of_copies_follow_the_copy_name():
    sc = Scenario.model_validate({"name": "x", "workloads": [{"name": "api", "copies": 2}]})
    assert [w.labels for w in sc.workloads] == [{"app": "api-0"}, {"app": "api-1"}]


def test_service_copy_i_selects_exactly_workload_copy_i(tmp_path):
    world = World(load_scenario(write(tmp_path, BASE)))
    for i in range(3):
        assert world.deployments[f"default/web-{i}"].service_keys == (("default", f"web-{i}"),)
    assert world.deployments["default/solo"].service_keys == (("default", "solo"),)
    world.start_steady_state()
    assert {k: len(v) for k, v in world.service_pods.items()} == {
        ("default", "web-0"): 2, ("default", "web-1"): 2, ("default", "web-2"): 2, ("default", "solo"): 1,
    }


def test_copies_in_python_models_expand_too():
    from simk8s.scenario import Workload

    sc = Scenario(name="x", workloads=[Workload(name="w", copies=2, replicas=3)])
    assert [(w.name, w.replicas, w.labels) for w in sc.workloads] == [
        ("w-0", 3, {"app": "w-0"}), ("w-1", 3, {"app": "w-1"}),
    ]


def test_overrides_address_entries_as_written(tmp_path):
    sc = load_scenario(write(tmp_path, BASE), ["workloads.0.replicas=4", "services.0.copies=2", "workloads.0.copies=2"])
    assert [(w.name, w.replicas) for w in sc.workloads] == [("web-0", 4), ("web-1", 4), ("solo", 1)]
    assert [s.name for s in sc.services] == ["web-0", "web-1", "solo"]


# --- references: one copy, or a glob ----------------------------------------------------


def test_events_name_one_copy_or_a_glob(tmp_path):
    text = BASE + "events:\n  - {at: 1m, rollout: web-1}\n  - {at: 2m, rollout: \"web-[02]\"}\n  - {at: 3m, scale: \"default/w*\", replicas: 5}\n"
    sc = load_scenario(write(tmp_path, text))
    assert [e.target for e in sc.events] == ["web-1", "web-[02]", "default/w*"]  # kept as written
    assert [w.name for w in sc.workloads_matching("web-[02]")] == ["web-0", "web-2"]
    assert [w.name for w in sc.workloads_matching("default/w*")] == ["web-0", "web-1", "web-2"]
    world = World(sc)
    world.start_steady_state()
    world.schedule_events()
    world.env.run(until=sc.duration)
    revisions = {name: d.revision for name, d in world.workload_by_name.items() if "/" not in name}
    assert revisions == {"web-0": 2, "web-1": 2, "web-2": 2, "solo": 1}
    assert [d.desired for d in world.deployments.values()] == [5, 5, 5, 1]
    rolled = sorted((r.workload, r.kind, r.start) for d in world.deployments.values() for r in d.rollouts)
    assert rolled == [
        ("web-0", "rollout", 120.0), ("web-0", "scale", 180.0),
        ("web-1", "rollout", 60.0), ("web-1", "scale", 180.0),
        ("web-2", "rollout", 120.0), ("web-2", "scale", 180.0),
    ]


def test_traffic_glob_becomes_one_flow_per_matching_service(tmp_path):
    text = BASE + "traffic:\n  - {service: solo, rate: 5/s}\n  - {service: \"web-*\", rate: 10/s, clients: 7}\n"
    sc = load_scenario(write(tmp_path, text))
    assert [(t.service, t.rate, t.clients) for t in sc.traffic] == [
        ("solo", 5.0, 1000), ("web-0", 10.0, 7), ("web-1", 10.0, 7), ("web-2", 10.0, 7),
    ]


def test_glob_that_matches_nothing_is_an_error_at_its_line(tmp_path):
    text = BASE + "events:\n  - {at: 1m, rollout: \"api-*\"}\ntraffic:\n  - {service: \"db-?\", rate: 1/s}\n"
    path = write(tmp_path, text)
    assert errors_of(path) == [
        f"{path}:21: events.0.rollout: no Deployment matches 'api-*' (known: web-0, web-1, web-2, solo)",
        f"{path}:23: traffic.0.service: no Service matches 'db-?' (known: web-0, web-1, web-2, solo)",
    ]


def test_unknown_name_lists_at_most_twenty_known_names(tmp_path):
    text = "name: x\nworkloads:\n  - {name: app, copies: 25}\nevents:\n  - {at: 1m, rollout: app-25}\n"
    (line,) = errors_of(write(tmp_path, text))
    assert line.endswith("no Deployment named 'app-25' (known: app-0, app-1, app-2, app-3, app-4, app-5, app-6, "
                         "app-7, app-8, app-9, app-10, app-11, app-12, app-13, app-14, app-15, app-16, app-17, "
                         "app-18, app-19, ... 25 in all)")


# --- errors in copies point at the written entry -----------------------------------------


def test_error_in_a_copied_object_is_reported_once_at_its_written_line(tmp_path):
    text = BASE.replace("ports: [{name: http, port: 80, targetPort: http}]", "ports: [{name: http, port: 99999}]")
    path = write(tmp_path, text)
    assert errors_of(path) == [
        f"{path}:8: services.0.ports.0.port: must be from 1 to 65535, got 99999",
    ]


def test_a_clash_between_copies_names_the_written_entry(tmp_path):
    text = BASE.replace("    selector: {app: web, tier: front}\n", "    selector: {app: web, tier: front}\n    clusterIP: 10.96.0.50\n", 1)
    path = write(tmp_path, text)
    assert errors_of(path) == [
        f"{path}:8: services.0.clusterIP: 10.96.0.50 is used by both Service default/web-0 and Service default/web-1"
        " (and in 1 more copy)",
    ]


def test_a_copy_that_duplicates_a_written_name_is_reported_against_the_entries_as_written(tmp_path):
    text = BASE.replace("  - name: solo\n    selector", "  - name: web-1\n    selector")
    path = write(tmp_path, text)
    assert errors_of(path) == [f"{path}:9: services.1.name: duplicate Service default/web-1 (also services.0)"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "must be from 1 to 100000, got 0"),
        ("100001", "must be from 1 to 100000, got 100001"),
        ("many", "Input should be a valid integer, unable to parse string as an integer, got 'many'"),
    ],
)
def test_bad_copies_value_is_reported_at_its_line(tmp_path, value, message):
    path = write(tmp_path, BASE.replace("    copies: 3\n    replicas", f"    copies: {value}\n    replicas"))
    assert errors_of(path) == [f"{path}:14: workloads.0.copies: {message}"]


def test_suffixed_name_too_long_is_reported_at_the_written_name(tmp_path):
    name = "a" * 62
    path = write(tmp_path, f"name: x\nworkloads:\n  - name: {name}\n    copies: 2\n")
    assert errors_of(path) == [
        f"{path}:3: workloads.0.name: expected a lowercase name like 'backend' (a-z, 0-9 and '-', at most 63), "
        f"got '{name}-0' (and in 1 more copy)",
    ]


def test_a_variant_error_in_copies_points_at_the_set_key(tmp_path):
    text = BASE + "compare:\n  - {name: a}\n  - name: b\n    set: {workloads.0.replicas: -1}\n"
    path = write(tmp_path, text)
    assert errors_of(path) == [
        f"{path}:23: compare.1.set.workloads.0.replicas: must be from 0 to 1000000, got -1",
    ]


# --- the resolved dump --------------------------------------------------------------------


def test_resolved_dump_is_compact_and_round_trips(tmp_path):
    text = BASE + "events:\n  - {at: 1m, rollout: \"web-*\"}\ntraffic:\n  - {service: \"web-?\", rate: 3/s}\ncompare:\n  - {name: a}\n  - {name: b, set: {workloads.0.replicas: 4}}\n"
    sc = load_scenario(write(tmp_path, text))
    data = resolved_dict(sc)
    assert [(s["name"], s["copies"], s["selector"]) for s in data["services"]] == [
        ("web", 3, {"app": "web", "tier": "front"}), ("solo", 1, {"app": "solo"}),
    ]
    assert [(w["name"], w["copies"], w["labels"]) for w in data["workloads"]] == [
        ("web", 3, {"app": "web", "tier": "front"}), ("solo", 1, {"app": "solo"}),
    ]
    assert [t["service"] for t in data["traffic"]] == ["web-?"]
    assert data["events"] == [{"at": "1m", "rollout": "web-*"}]
    assert list(data) == list(resolved_dict(Scenario(name="x")))  # same key order as without copies
    assert Scenario.model_validate(data) == sc
    assert load_scenario(write(tmp_path, yaml.safe_dump(data, sort_keys=False), "resolved.yaml")) == sc
    variants = dict(load_variants(sc))
    assert [w.replicas for w in variants["b"].workloads] == [4, 4, 4, 1]
    for variant in variants.values():
        assert Scenario.model_validate(resolved_dict(variant)) == variant


def test_scale_scenario_loads_compactly_and_round_trips():
    sc = load_scenario(SCENARIOS / "scale-150k.yaml")
    assert (sc.cluster.nodes, len(sc.services), len(sc.workloads)) == (5000, 10000, 10000)
    assert sum(w.replicas for w in sc.workloads) == 150_000
    assert sc.service("app-9999").selector == {"app": "app-9999"} == sc.workload("app-9999").labels
    assert [w.name for w in sc.workloads_matching(sc.events[0].rollout)] == [f"app-{i}" for i in range(10, 30)]
    data = resolved_dict(sc)
    assert (len(data["services"]), len(data["workloads"])) == (1, 1)
    assert Scenario.model_validate(data) == sc
    assert [name for name, _ in load_variants(sc)] == ["slices-iptables", "slices-nftables"]


def test_plain_models_still_reject_mappings_they_cannot_expand():
    with pytest.raises(ValidationError):
        Scenario.model_validate({"name": "x", "workloads": [{"name": "w", "copies": -2}]})
