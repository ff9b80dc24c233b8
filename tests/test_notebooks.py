"""Every notebook is shared clean: outputs stripped, a `parameters` cell first (papermill
style), and a conclusion printed from its own figures. scripts/test executes them all."""

import json
import re

import pytest
from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_three_capacity_notebooks_are_there():
    assert {"capacity-planning.ipynb", "rolling-update.ipynb", "tuning.ipynb"} <= {p.name for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_clean_and_parameterised(path):
    cells = json.loads(path.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), "outputs not stripped"
    assert "parameters" in code[0].get("metadata", {}).get("tags", []), "the first code cell is not tagged parameters"
    last = "".join(code[-1]["source"])
    assert re.search(r"print\(\s*f[\"']", last), "the last cell does not print a computed conclusion"
