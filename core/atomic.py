"""Atomic file writes: write under the final name in a temporary folder beside the target, then rename.

What is written gets the permissions any file the user creates gets (``0666`` or ``0777``
less the umask), not the private ``0600``/``0700`` of :mod:`tempfile`'s names, and reaches
the disk (``fsync``) before it takes the final name, so a crash or a power cut leaves either
the old file or the whole new one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_atomically(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(temporary_path)``, then rename the result to ``path``.

    A reader never sees a half-written ``path``; if ``write`` fails, the temporary file is
    removed and ``path`` is left as it was. The temporary file has ``path``'s own name, in a
    hidden folder of its own beside ``path``: a writer that records the file's name (OpenSim's
    TRC adapter does) writes the same bytes as it would into ``path``, and parallel writers
    in the same folder never collide. The file is flushed to disk before the rename, and the
    rename itself (the folder entry) after it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = make_staging_folder(path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        temporary = staging / path.name
        write(temporary)
        sync_to_disk(temporary)
        os.replace(temporary, path)
        _fsync(path.parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


def make_staging_folder(parent: Path, prefix: str, suffix: str = "") -> Path:
    """A new, uniquely named folder in ``parent`` with the user's normal folder permissions.

    :func:`tempfile.mkdtemp` makes it ``0700``; a folder that is renamed into place as an
    output (a dataset, a trial) must carry the mode any folder the user makes carries
    (``0777`` less the umask), or other users and group members of a shared lab disk cannot
    read it.
    """
    folder = Path(tempfile.mkdtemp(prefix=prefix, suffix=suffix, dir=parent))
    folder.chmod(0o777 & ~current_umask())
    return folder


def current_umask() -> int:
    """The process's umask, read without changing it where the system allows.

    Linux reports it in ``/proc/self/status``; elsewhere it is read by setting and restoring
    it, which is brief but not thread-safe.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def sync_to_disk(path: Path) -> None:
    """``fsync`` a file; for a folder written as a whole, every file and folder in it, then itself."""
    path = Path(path)
    if path.is_dir():
        for child in path.rglob("*"):
            _fsync(child)
    _fsync(path)


def _fsync(path: Path) -> None:
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:  # a folder cannot be opened on some systems (Windows): nothing to sync there
        return
    try:
        os.fsync(descriptor)
    except OSError:  # some file systems refuse fsync on a folder; the data itself was synced
        pass
    finally:
        os.close(descriptor)


def write_json_atomically(path: Path, content: dict[str, Any]) -> Path:
    """Write ``content`` as indented, key-sorted JSON, atomically."""
    text = json.dumps(content, indent=2, sort_keys=True, default=_json_default) + "\n"
    return write_atomically(path, lambda temporary: temporary.write_text(text))


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON")
