"""Model registry: name → (config dataclass, module). Training never branches on model type."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from torch import nn

from gait2hip.core.config_loading import build_dataclass
from gait2hip.core.errors import ConfigError
from gait2hip.surrogate.models.lstm import LSTMConfig, LSTMSurrogate
from gait2hip.surrogate.models.mamba import MambaConfig, MambaSurrogate
from gait2hip.surrogate.models.transformer import TransformerConfig, TransformerSurrogate

MODELS = {
    "lstm": (LSTMConfig, LSTMSurrogate),
    "transformer": (TransformerConfig, TransformerSurrogate),
    "mamba": (MambaConfig, MambaSurrogate),
}


def check_model_name(name: str) -> None:
    """Raise ConfigError naming the registered models when ``name`` is not one of them."""
    if name not in MODELS:
        raise ConfigError(f"model: unknown model {name!r}; registered: {', '.join(sorted(MODELS))}")


def model_config(name: str, config: dict[str, Any] | None) -> Any:
    """The typed, checked config of model ``name`` from its YAML mapping (``model_config``).

    Every integer setting of a model is a size or a count (layers, hidden units, heads, state
    size, kernel width) and must be at least 1; ``dropout`` is a probability in [0, 1).

    Raises
    ------
    ConfigError
        Unknown model name, unknown key, wrong type or a value out of range, with the key named.
    """
    check_model_name(name)
    config_class, _ = MODELS[name]
    where = f"model_config ({name})."
    typed = build_dataclass(config_class, config or {}, where=where)
    for field in dataclasses.fields(typed):
        value = getattr(typed, field.name)
        if isinstance(value, bool):
            continue
        if isinstance(value, int) and value < 1:
            raise ConfigError(f"{where}{field.name} must be at least 1, got {value}")
        if field.name == "dropout" and not (math.isfinite(value) and 0.0 <= value < 1.0):
            raise ConfigError(f"{where}dropout is a probability in [0, 1), got {value}")
    heads = getattr(typed, "n_heads", None)
    if heads is not None and typed.d_model % heads:
        raise ConfigError(f"{where}d_model ({typed.d_model}) must be a multiple of n_heads ({heads})")
    return typed


def build_model(name: str, config: dict[str, Any] | None, n_inputs: int, n_outputs: int) -> nn.Module:
    """Instantiate the registered model ``name`` with its config mapping."""
    typed = model_config(name, config)
    return MODELS[name][1](typed, n_inputs, n_outputs)
