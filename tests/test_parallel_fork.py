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


def test_a_forked_variant_waits_for_a_free_core(monkeypatch):
    import multiprocessing
    import os

    import simk8s.parallel as parallel

    cores = multiprocessing.get_context("fork").Semaphore(1)
    monkeypatch.setattr(parallel, "_cores", cores)

    def on_a_core():
        with parallel._core():
            return {"syncs": 7}

    cores.acquire()  # this process computes: the one core is taken
    child = _Forked(on_a_core)  # type: ignore[arg-type]
    try:
        assert os.waitpid(child.pid, os.WNOHANG) == (0, 0)  # blocked, not done
        cores.release()  # done here: the child takes the core
        assert child.result() == {"syncs": 7}  # type: ignore[comparison-overlap]
    finally:
        child.stop()
