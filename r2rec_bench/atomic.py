"""Write a whole output directory or file, or nothing: build a sibling temp, then rename."""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from r2rec_bench.errors import UserError


def refuse_foreign(target: Path, is_ours: Callable[[Path], bool], what: str) -> None:
    """``UserError`` unless ``target`` is absent, an empty folder, or a previous output of
    ours (``is_ours``): an output folder replaces only what r2rec-bench wrote there, never a
    user's files."""
    target = Path(target)
    if not target.exists():
        return
    if not target.is_dir():
        raise UserError(f"{target}: a file, not a folder; choose another output folder")
    if any(target.iterdir()) and not is_ours(target):
        raise UserError(
            f"{target}: not empty and not {what} written by r2rec-bench; nothing was touched; "
            "choose another output folder (or empty this one yourself)"
        )


def _remove_stale_staging(target: Path) -> None:
    """Remove the staging and retired folders that a killed process (SIGKILL, power loss)
    left beside ``target``: their names carry the process id, and only those of processes
    that no longer run are removed."""
    for sibling in target.parent.glob(f".{glob.escape(target.name)}.*-*-*"):
        kind, _, rest = sibling.name[len(target.name) + 2 :].partition("-")
        pid = rest.split("-", 1)[0]
        if kind in ("tmp", "old") and pid.isdigit() and sibling.is_dir() and not _alive(int(pid)):
            shutil.rmtree(sibling, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


@contextmanager
def atomic_directory(target: Path) -> Iterator[Path]:
    """Yield an empty staging directory that replaces ``target`` only if the block succeeds.

    On any failure (an exception or Ctrl-C) the staging directory and any parent directories
    this call created are removed, so no half-written output is ever left behind.
    """
    target = Path(target).absolute()
    created_parents = []
    parent = target.parent
    while not parent.exists():
        created_parents.append(parent)
        parent = parent.parent
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-{os.getpid()}-", dir=target.parent))
    os.chmod(staging, 0o755)
    try:
        yield staging
        if target.exists():
            retired = Path(
                tempfile.mkdtemp(prefix=f".{target.name}.old-{os.getpid()}-", dir=target.parent)
            )
            os.rename(target, retired / "old")
            os.rename(staging, target)
            shutil.rmtree(retired)
        else:
            os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        for directory in created_parents:  # innermost first
            try:
                directory.rmdir()
            except OSError:
                break
        raise


def _umask() -> int:
    """The process's umask (reading it means setting it: set it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``: written to a temporary sibling, fsynced, then renamed,
    so a crash leaves the old file or the new one, never a torn one."""
    path = Path(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        # mkstemp creates the file 0600; a results file is as readable as any other output.
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
