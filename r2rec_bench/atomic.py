"""Write a whole output directory or file, or nothing: build a sibling temp, then rename."""

from __future__ import annotations

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
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    os.chmod(staging, 0o755)
    try:
        yield staging
        if target.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
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


def write_text_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``: written to a temporary sibling, fsynced, then renamed,
    so a crash leaves the old file or the new one, never a torn one."""
    path = Path(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
