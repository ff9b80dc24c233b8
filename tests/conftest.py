import textwrap
from pathlib import Path

import pytest

from simk8s.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def make_scenario(tmp_path):
    """Write a scenario YAML (dedented) to a temp file and load it."""

    def make(text: str, overrides=()):
        path = tmp_path / "scenario.yaml"
        path.write_text(textwrap.dedent(text))
        return load_scenario(path, list(overrides))

    return make
