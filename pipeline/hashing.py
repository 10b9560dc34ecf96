"""Content hashes that decide what a re-run must redo (inputs, model files, settings)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pipeline.config import PipelineConfig
from pipeline.model_config import ModelConfig

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


def hash_config(config: PipelineConfig) -> str:
    """Hash of every setting plus the content of the model files the settings point at."""
    model_config = ModelConfig.load(config.model)
    return hash_values(config.to_dict(), hash_file(model_config.model_path), hash_file(model_config.marker_set_path),
                       repr(model_config))
