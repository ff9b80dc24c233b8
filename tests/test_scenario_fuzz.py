"""Property: whatever the YAML text of a scenario file or the value of a `--set`, the loader
returns a Scenario or raises ScenarioError whose lines read `FILE[:LINE]: …` — never
another exception, never a hang.

"Never a hang" is held by bounding the inputs, not by timing them: texts are short, and the
pathological shapes (nesting, alias chains, long numbers) are generated only as large as
needed to cross the loader's limits (simk8s/scenario/yamlbounds.py), so each example is
quick whatever the machine.
"""

import re
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simk8s.scenario import Scenario, ScenarioError, load_scenario
from simk8s.scenario.yamlbounds import MAX_DEPTH

QUICK = Path(__file__).parent.parent / "scenarios" / "quick.yaml"
ERROR_LINE = re.compile(r"[^\n:]+(:\d+)?: [^\n]+")
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- values ---------------------------------------------------------------------------

WEIRD_SCALARS = [
    "30s", "1h30m", "-5s", "0s", "never", "1e999", "1.0e+400", "1.5Mi", "100Ei", "10Gbps",
    "2000/s", "25%", "150%", "99999999%", ".inf", "-.inf", ".nan", "yes", "on", "~", "None",
    "10.0.0.0/8", "fd00::/64", "10.96.0.1", "*", "app-[0-9]", "node-3", "9" * 60, "1:30:00",
]
scalars = st.one_of(
    st.integers(min_value=-3, max_value=12),
    st.sampled_from([65535, 65536, 100_000, 2**31, 2**63, 2**64, 10**40]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=12),
    st.sampled_from(WEIRD_SCALARS),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8,
)


def section(keys: list[str]):
    """A mapping with some of `keys` (and now and then an unknown one) set to any value."""
    return st.dictionaries(st.sampled_from([*keys, "bogus"]), values, max_size=4)


CLUSTER = section(["nodes", "zones", "clusterCIDR", "nodeCIDRMaskSize", "serviceCIDR", "maxPodsPerNode",
                   "scheduler", "kubelet", "apiserver", "etcd", "controllerManager", "kubeProxy"])
SERVICE = section(["name", "copies", "type", "selector", "ports", "clusterIP", "sessionAffinity",
                   "sessionAffinityTimeout", "externalIPs", "externalName", "endpoints"])
WORKLOAD = section(["name", "copies", "replicas", "labels", "selector", "containerPorts", "readinessProbe",
                    "strategy", "readinessFlaps", "terminationGracePeriodSeconds", "shutdownDelay"])
EVENT = section(["at", "rollout", "scale", "replicas", "drain", "nodeLoss"])
TRAFFIC = section(["service", "rate", "from", "clientNodes", "clients", "start", "end", "connectionDuration"])
SET_PATHS = ["cluster.nodes", "cluster.kubeProxy.mode", "cluster.controllerManager.kubeApiQps",
             "workloads.0.replicas", "traffic.0.rate", "duration", "seed", "services.0.ports",
             "cluster.zones", "description", "events", "compare", "nope.nothing", "workloads.x"]
VARIANT = st.fixed_dictionaries(
    {"name": st.sampled_from(["a", "b", "Bad"])},
    optional={"set": st.dictionaries(st.sampled_from(SET_PATHS), values, max_size=3)},
)

scenario_data = st.fixed_dictionaries(
    {"name": st.sampled_from(["fuzz", "Bad_Name", ""])},
    optional={
        "duration": values,
        "seed": values,
        "cluster": CLUSTER,
        "services": st.lists(SERVICE, max_size=2),
        "workloads": st.lists(WORKLOAD, max_size=2),
        "events": st.lists(EVENT, max_size=2),
        "traffic": st.lists(TRAFFIC, max_size=2),
        "compare": st.lists(VARIANT, max_size=2),
        "watchers": values,
    },
)

# --- texts ----------------------------------------------------------------------------


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def alias_chain(levels: int, width: int) -> str:
    """An anchor chain: level i lists `width` aliases of level i - 1 (width ** levels values)."""
    items = ["&l0 [x]"] + [f"&l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels)]
    return "[" + ", ".join(items) + "]"


WEIRD_LINES = st.sampled_from([
    "name: fuzz", "cluster:", "  nodes: 3", "  nodes: true", "workloads:", "  - name: web",
    "    replicas: yes", "compare:", "  - name: v", "    set:", "      cluster.nodes: *nope",
    "a: &a [x, *a]", "b: *undefined", "c: !!int abc", "d: !!timestamp never", "e: !!python/object x",
    "<<: *a", "{a: 1, a: 2}", "- - -", "\t- tab", "key: 'unterminated", "--- ", "...", "%YAML 1.1",
    "x: \x00", "y: \x1b[0m", "z: \ufeff", "k: " + "7" * 80,
])
shaped_text = st.one_of(
    st.builds(lambda d: "name: fuzz\ndescription: " + nested(d) + "\n", st.integers(0, MAX_DEPTH + 20)),
    st.builds(lambda levels, width: "name: fuzz\ncompare:\n  - name: v\n    set:\n      cluster.zones: "
              + alias_chain(levels, width) + "\n", st.integers(1, 8), st.integers(1, 9)),
    st.builds("\n".join, st.lists(WEIRD_LINES, max_size=12)),
    st.text(max_size=200),
)
scenario_text = st.one_of(
    scenario_data.map(lambda data: yaml.safe_dump(data, allow_unicode=True, sort_keys=False)),
    shaped_text,
)
override_text = st.one_of(
    st.builds(lambda path, value: f"{path}={yaml.safe_dump(value, default_flow_style=True).strip()}",
              st.sampled_from(SET_PATHS), values),
    st.builds(lambda path, text: f"{path}={text}", st.sampled_from(SET_PATHS),
              st.one_of(shaped_text.map(lambda t: t.replace("\n", " ")), st.sampled_from(WEIRD_SCALARS))),
    st.text(max_size=40),
)


def assert_loads_or_explains(path: Path, overrides: list[str]) -> None:
    try:
        result = load_scenario(path, overrides)
    except ScenarioError as exc:
        assert exc.lines, "a ScenarioError lists at least one problem"
        for line in exc.lines:
            assert ERROR_LINE.fullmatch(line), line
    else:
        assert isinstance(result, Scenario)


@FUZZ
@given(text=scenario_text)
def test_any_scenario_text_loads_or_is_explained(text):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        assert_loads_or_explains(path, [])


@FUZZ
@given(overrides=st.lists(override_text, min_size=1, max_size=3))
def test_any_set_value_loads_or_is_explained(overrides):
    assert_loads_or_explains(QUICK, overrides)
