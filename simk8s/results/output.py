"""Where simk8s may write: the rules that keep a user's files safe.

- A results directory is replaced only when simk8s wrote it: it holds a manifest
  (`MANIFEST`) listing every file simk8s put there, and nothing else. An empty directory
  may be used too. Any other existing path is refused — there is no flag around this.
- A single output file (a sweep's Parquet) is replaced only when simk8s wrote it (its
  Parquet metadata says so).
- An input is never an output, and neither the current directory nor one holding it is.
- Targets are probed before the (long) simulation, so an unwritable path is a one-line
  answer at once, not after the work.
- Everything is written to a temporary sibling and moved into place when complete.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from simk8s.errors import OutputError

MANIFEST = ".simk8s-results.json"  # lists what simk8s wrote into a results directory
PARQUET_KEY = b"simk8s"  # Parquet schema metadata key marking a file simk8s wrote


def describe_os_error(err: OSError) -> str:
    """`path: reason` (errno's words, not Python's repr)."""
    reason = err.strerror or str(err)
    if err.errno == errno.ENOSPC:
        reason = "no space left on the device"
    name = err.filename if err.filename is not None else ""
    return f"{name}: {reason}" if name else reason


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def refuse_inputs(target: Path, label: str, inputs: Iterable[str | Path]) -> None:
    """An input is never an output: `target` may not be an input or a folder holding one."""
    resolved = target.resolve()
    for inp in inputs:
        if _inside(Path(inp).resolve(), resolved):
            raise OutputError(f"{label} {target}: holds the input {inp}; choose another path")


def check_results_dir(out: str | Path, *, inputs: Iterable[str | Path] = (), label: str = "--out") -> Path:
    """Refuse a results directory simk8s may not replace; probe that it can be written."""
    if str(out).strip() == "":
        raise OutputError(f"{label}: empty path")
    out = Path(os.path.normpath(out))  # `a/missing/..` is `a`, here and for every later step
    resolved = out.resolve()
    if _inside(Path.cwd().resolve(), resolved):
        raise OutputError(f"{label} {out}: is the current directory or holds it; results need a directory of their own")
    refuse_inputs(out, label, inputs)
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise OutputError(f"{label} {out}: exists and is not a directory simk8s wrote; choose another path")
    if out.is_dir():
        why = not_ours(out)
        if why:
            raise OutputError(
                f"{label} {out}: {why}; simk8s replaces only results directories it wrote "
                "(choose another path, or move it away yourself)"
            )
    probe_writable(resolved.parent, label, out)
    return out


def not_ours(folder: Path) -> str | None:
    """None when simk8s may replace `folder` (empty, or only what simk8s wrote); else why not.
    A folder with neither a manifest nor a summary.json is refused without walking it (it
    may be a home directory); a link anywhere inside is refused (its target is not ours)."""
    try:
        if not any(folder.iterdir()):
            return None
        manifest = folder / MANIFEST
        if not manifest.is_file() and not (folder / "summary.json").is_file():
            return f"exists and is not a simk8s results directory (no {MANIFEST})"
        entries = list(folder.rglob("*"))
    except OSError as err:
        return f"cannot be read ({describe_os_error(err)})"
    links = [p for p in entries if p.is_symlink()]
    if links:
        return f"holds a link, {links[0].relative_to(folder).as_posix()}, which simk8s never writes"
    present = sorted(p.relative_to(folder).as_posix() for p in entries if not p.is_dir())
    if manifest.is_file():
        try:
            listed = set(json.loads(manifest.read_text())["files"])
        except (OSError, ValueError, KeyError, TypeError):
            return f"its {MANIFEST} is unreadable"
        extra = [p for p in present if p != MANIFEST and p not in listed]
        return f"holds {extra[0]}, which simk8s did not write" if extra else None
    if _looks_like_old_results(folder, present):
        return None
    return f"exists and is not a simk8s results directory (no {MANIFEST})"


def _looks_like_old_results(folder: Path, present: list[str]) -> bool:
    """A results directory from before the manifest: a simk8s summary.json, the resolved
    scenario, and Parquet tables one level down — nothing else."""
    try:
        summary = json.loads((folder / "summary.json").read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(summary, dict) or "simk8s_version" not in summary or "variants" not in summary:
        return False
    for p in present:
        parts = p.split("/")
        top_level_file = len(parts) == 1 and p in ("summary.json", "scenario.resolved.yaml")
        if not (top_level_file or (len(parts) == 2 and p.endswith(".parquet"))):
            return False
    return True


def write_manifest(folder: Path) -> None:
    """List every file in `folder` (written by simk8s) in its manifest."""
    from simk8s import __version__

    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    doc = {"written_by": "simk8s", "simk8s_version": __version__, "files": files}
    (folder / MANIFEST).write_text(json.dumps(doc, indent=1) + "\n")


def probe_writable(folder: Path, label: str, target: Path) -> None:
    """Create `folder` if needed and write (then remove) a file in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".simk8s-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise OutputError(f"{label} {target}: cannot write there ({describe_os_error(err)})") from None


def check_output_file(
    target: str | Path, *, inputs: Iterable[str | Path] = (), label: str = "--out", owned: Callable[[Path], bool]
) -> Path:
    """Refuse a single output file that is an input, a directory, or not written by simk8s."""
    if str(target).strip() == "":
        raise OutputError(f"{label}: empty path")
    target = Path(target)
    for inp in inputs:
        if Path(inp).resolve() == target.resolve():
            raise OutputError(f"{label} {target}: is the input {inp}; an input is never an output")
    if target.is_dir() or target.is_symlink():
        raise OutputError(f"{label} {target}: is a directory or a link; give a file path")
    if target.exists() and not owned(target):
        raise OutputError(f"{label} {target}: exists and was not written by simk8s; choose another path")
    probe_writable(target.resolve().parent, label, target)
    return target


def first_line_is(marker: str) -> Callable[[Path], bool]:
    """`owned` for check_output_file: a text file simk8s wrote starts with `marker`."""

    def owned(path: Path) -> bool:
        try:
            with path.open(encoding="utf-8") as f:
                return f.readline().rstrip("\n") == marker
        except (OSError, UnicodeDecodeError):
            return False

    return owned


def parquet_written_by_simk8s(path: Path) -> bool:
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except Exception:  # not Parquet at all
        return False
    if PARQUET_KEY in (schema.metadata or {}):
        return True
    # A sweep from before the marker: its columns are the flattened summary's.
    return {"variant", "exception", "sim.end_time_s", "sim.events"} <= set(schema.names)


def write_file_atomically(target: Path, write: Callable[[Path], object]) -> None:
    """`write(tmp)` into a temporary sibling, then move it over `target`; no partial file
    is left behind, whatever stops the write (a full disk, Ctrl-C, SIGTERM)."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.resolve().parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        tmp.chmod(0o666 & ~umask())
        tmp.replace(target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def umask() -> int:
    try:  # Linux: read it, rather than set and restore it (racy with other threads)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask
