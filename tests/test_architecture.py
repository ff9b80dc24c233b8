"""The repository explains itself: imports point down the pipeline, modules stay small,
and every citation leads somewhere a reader of this repository can open.

See docs/architecture.md for the stage pipeline and the module map.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import networkx as nx
from conftest import ROOT

PACKAGE = ROOT / "simk8s"
MAX_MODULE_LINES = 600


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """Modules of simk8s that `path` imports anywhere: at the top, inside functions, and
    under `if TYPE_CHECKING:` (a type that must come from a later stage is an arrow
    pointing up just the same)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return {m for m in found if m in modules and m != name}


def _graph() -> nx.DiGraph:
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {_module_name(f) for f in files}
    graph = nx.DiGraph()
    for f in files:
        graph.add_node(_module_name(f))
        graph.add_edges_from((_module_name(f), m) for m in _imports(f, modules))
    return graph


def test_no_import_cycles():
    graph = _graph()
    # A package's __init__ re-exporting its own submodules is not a cycle between concepts.
    graph.remove_edges_from([(a, b) for a, b in graph.edges if b.startswith(f"{a}.")])
    cycles = sorted(sorted(c) for c in nx.simple_cycles(graph))
    assert cycles == []


def test_kube_proxy_and_data_path_do_not_import_calibration_studies():
    graph = _graph()
    offenders = [(a, b) for a, b in graph.edges
                 if a.startswith(("simk8s.proxy", "simk8s.dataplane")) and b.startswith("simk8s.calibration")]
    assert offenders == []


def test_no_module_is_too_big_to_hold_in_mind():
    sizes = {f.relative_to(ROOT).as_posix(): len(f.read_text().splitlines()) for f in PACKAGE.rglob("*.py")}
    assert {f: n for f, n in sizes.items() if n > MAX_MODULE_LINES} == {}


# --- citations -------------------------------------------------------------------------

SCANNED = [
    *PACKAGE.rglob("*.py"), *PACKAGE.rglob("*.yaml"), *(ROOT / "tests").rglob("*.py"),
    *(ROOT / "benchmarks").rglob("*.py"), *(ROOT / "docs").rglob("*.md"), *(ROOT / "scenarios").rglob("*.yaml"),
    *(ROOT / "notebooks").glob("*.ipynb"), *(ROOT / "scripts").iterdir(), ROOT / "README.md", ROOT / "pyproject.toml",
    *(ROOT / "results").rglob("*.md"), *(ROOT / "results").rglob("*.yaml"),
]
REPO_FILES = {p.name for p in ROOT.rglob("*") if ".git" not in p.parts and ".venv" not in p.parts}
# Home directories and work trees of some machine (system paths like /proc are fine).
ABSOLUTE = re.compile(r"(?<![\w.~:/-])(/(?:work|home|Users|root|mnt|srv|opt)/|[A-Z]:\\\\)")
MD_NAME = re.compile(r"(?<![\w./-])([\w.-]+\.md)\b")  # a bare document name, no folder
SECTION = re.compile(r"§")
NOTE_WORDS = re.compile(r"\breference (?:§|section|notes?\b)|\.\./shared|shared[/]reference")


def _text(path: Path) -> str:
    text = path.read_text()
    if path.suffix == ".ipynb":  # the cells, not the JSON around them
        cells = json.loads(text)["cells"]
        text = "\n".join("".join(c["source"]) for c in cells)
    return text


def _problems(path: Path) -> list[str]:
    found = []
    for number, line in enumerate(_text(path).splitlines(), 1):
        where = f"{path.relative_to(ROOT)}:{number}"
        if ABSOLUTE.search(line):
            found.append(f"{where}: absolute path: {line.strip()}")
        if NOTE_WORDS.search(line):
            found.append(f"{where}: cites notes outside the repository: {line.strip()}")
        for name in MD_NAME.findall(line):
            if "://" not in line and name not in REPO_FILES:
                found.append(f"{where}: cites {name}, which is not in the repository")
        for match in SECTION.finditer(line):
            before = line[: match.start()]
            doc = re.search(r"([\w./-]+\.md)\s*$", before)
            if not doc or Path(doc.group(1)).name not in REPO_FILES:
                found.append(f"{where}: a section (§) of no document in the repository: {line.strip()}")
    return found


def test_citations_resolve_and_no_absolute_paths():
    me = Path(__file__)
    problems = [p for path in SCANNED if path.is_file() and path != me for p in _problems(path)]
    assert problems == []


def test_every_cited_reference_key_is_listed():
    listed = set(re.findall(r"\*\*\[([^\]]+)\]\*\*", (ROOT / "docs" / "references.md").read_text()))
    cited = {key for path in SCANNED if path.is_file()
             for key in re.findall(r"references\.md \[([^\]]+)\]", _text(path))}
    assert cited and cited - listed - {"key"} == set()  # "[key]": how the docs describe the form


def test_the_citation_check_can_fail(tmp_path):
    bad = tmp_path / "bad.py"
    # The planted problems are assembled from pieces, so that this file cites nothing itself.
    notes, design, machine = "kube-proxy" + ".md", "DESIGN" + ".md", "/" + "work/shared/" + "reference/x"
    bad.write_text(f"# see {notes} \u00a74 and {design}\nX = '{machine}'\n# reference \u00a72.1\n"
                   "# fine: docs/sizes.md \u00a72, kubernetes/kubernetes#126013, pkg/proxy/iptables/proxier.go\n")
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        found = [f.split(": ", 1)[1] for f in _problems(bad)]
    finally:
        ROOT = saved
    expected = [
        f"cites {notes}", f"cites {design}", "a section (\u00a7) of no document",  # line 1
        "absolute path", "cites notes outside",  # line 2
        "cites notes outside", "a section (\u00a7) of no document",  # line 3; line 4 is fine
    ]
    assert len(found) == len(expected)
    assert all(f.startswith(e) for f, e in zip(found, expected, strict=True)), found
