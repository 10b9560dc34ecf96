"""Atomic file writes: write under the final name in a temporary folder beside the target, then rename."""

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
    in the same folder never collide.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    try:
        temporary = staging / path.name
        write(temporary)
        os.replace(temporary, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


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
