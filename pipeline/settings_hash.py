"""The hash of the pipeline settings: what decides whether a labelled trial is still up to date."""

from __future__ import annotations

import dataclasses

from gait2hip.core.hashing import hash_file, hash_values
from gait2hip.pipeline.config import PipelineConfig
from gait2hip.pipeline.model_config import ModelConfig

# Where the model's files lie is no setting: their contents are hashed instead.
_MODEL_FILE_FIELDS = ("model_path", "marker_set_path")


def hash_config(config: PipelineConfig) -> str:
    """Hash of every setting plus the content of the model files the settings point at.

    Values and file contents only, never a path: the same settings and model files give the
    same hash wherever the checkout, the model or the configuration file lies. The model is
    hashed by what its ``model.yaml`` says (names, weights, scalings), not by where it is, so
    ``model: gait2392`` and ``model: path/to/gait2392/model.yaml`` give the same hash.
    """
    model_config = ModelConfig.load(config.model)
    model_settings = {name: value for name, value in dataclasses.asdict(model_config).items()
                      if name not in _MODEL_FILE_FIELDS}
    settings = {**config.to_dict(), "model": model_settings}
    return hash_values(settings, hash_file(model_config.model_path), hash_file(model_config.marker_set_path))
