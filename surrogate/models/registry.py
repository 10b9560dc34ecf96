"""Model registry: name → (config dataclass, module). Training never branches on model type."""

from __future__ import annotations

from typing import Any

from torch import nn

from gait2hip.core.config_loading import build_dataclass
from gait2hip.surrogate.models.lstm import LSTMConfig, LSTMSurrogate
from gait2hip.surrogate.models.mamba import MambaConfig, MambaSurrogate
from gait2hip.surrogate.models.transformer import TransformerConfig, TransformerSurrogate

MODELS = {
    "lstm": (LSTMConfig, LSTMSurrogate),
    "transformer": (TransformerConfig, TransformerSurrogate),
    "mamba": (MambaConfig, MambaSurrogate),
}


def build_model(name: str, config: dict[str, Any] | None, n_inputs: int, n_outputs: int) -> nn.Module:
    """Instantiate the registered model ``name`` with its config mapping."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; registered: {sorted(MODELS)}")
    config_class, model_class = MODELS[name]
    return model_class(build_dataclass(config_class, config or {}, where=f"model.{name}."), n_inputs, n_outputs)
