"""The hash of the pipeline settings: what decides whether a labelled trial is still up to date."""

from __future__ import annotations

from gait2hip.core.hashing import hash_file, hash_values
from gait2hip.pipeline.config import PipelineConfig
from gait2hip.pipeline.model_config import ModelConfig


def hash_config(config: PipelineConfig) -> str:
    """Hash of every setting plus the content of the model files the settings point at."""
    model_config = ModelConfig.load(config.model)
    return hash_values(config.to_dict(), hash_file(model_config.model_path), hash_file(model_config.marker_set_path),
                       repr(model_config))
