"""Content hashes of files and JSON-serialisable values (what a re-run compares to decide what to redo)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

_CHUNK_BYTES = 1 << 20


def hash_file(path: Path) -> str:
    """SHA-256 of a file's bytes; ``"missing"`` when it does not exist (the trial then fails)."""
    path = Path(path)
    if not path.is_file():
        return "missing"
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def hash_values(*values: Any) -> str:
    """SHA-256 of JSON-serialisable values (key-sorted, so dict order does not matter)."""
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()
