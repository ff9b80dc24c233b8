"""A frontier's plot on disk: a PNG that says simk8s wrote it, so a rerun may replace it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from simk8s.results.output import check_output_file, write_file_atomically

PNG_MARKER = "simk8s frontier plot"  # the PNG's Software text chunk


def png_written_by_simk8s(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return head.startswith(b"\x89PNG") and PNG_MARKER.encode() in head


def check_frontier_plot(target: str | Path, inputs: Sequence[str | Path] = ()) -> Path:
    return check_output_file(target, inputs=inputs, label="plot", owned=png_written_by_simk8s)


def write_frontier_plot(result: Any, target: str | Path, *, inputs: Sequence[str | Path] = ()) -> Path:
    import matplotlib.pyplot as plt

    from simk8s.results.plots import plot_frontier

    target = check_frontier_plot(target, inputs)
    fig = plot_frontier(result)
    try:
        write_file_atomically(target, lambda tmp: fig.savefig(tmp, format="png", dpi=110, metadata={"Software": PNG_MARKER}))
    finally:
        plt.close(fig)
    return target
