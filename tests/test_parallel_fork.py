"""The forked children `simk8s.parallel` runs a group's later variants in: a child's
result comes back, and so does what it raised."""

import pytest

from simk8s.parallel import _Forked


def _fails():
    raise ValueError("from the child")


def test_a_forked_child_hands_back_its_result():
    assert _Forked(lambda: {"syncs": 42}).result() == {"syncs": 42}  # type: ignore[arg-type,comparison-overlap]


def test_a_forked_child_hands_back_what_it_raised():
    with pytest.raises(ValueError, match="from the child"):
        _Forked(_fails).result()
