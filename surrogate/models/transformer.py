"""Transformer-encoder surrogate with sinusoidal positional encoding and an optional causal mask."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class TransformerConfig:
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2
    feedforward: int = 128
    dropout: float = 0.1
    causal: bool = False
    max_length: int = 2048


def sinusoidal_encoding(length: int, d_model: int) -> torch.Tensor:
    """``(length, d_model)`` sinusoidal positional encoding (Vaswani et al. 2017)."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    frequency = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    encoding = torch.zeros(length, d_model)
    encoding[:, 0::2] = torch.sin(position * frequency)
    encoding[:, 1::2] = torch.cos(position * frequency[: d_model // 2])
    return encoding


class TransformerSurrogate(nn.Module):
    """Linear embedding + positional encoding → encoder layers → linear head on every frame."""

    def __init__(self, config: TransformerConfig, n_inputs: int, n_outputs: int):
        super().__init__()
        self.config = config
        self.causal = config.causal
        self.embed = nn.Linear(n_inputs, config.d_model)
        self.register_buffer("positions", sinusoidal_encoding(config.max_length, config.d_model), persistent=False)
        layer = nn.TransformerEncoderLayer(config.d_model, config.n_heads, config.feedforward, config.dropout,
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, config.n_layers, enable_nested_tensor=False)
        self.head = nn.Linear(config.d_model, n_outputs)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        length = inputs.shape[1]
        hidden = self.embed(inputs) + self.positions[:length]           # (B, T, d_model)
        mask = nn.Transformer.generate_square_subsequent_mask(length, device=inputs.device) if self.causal else None
        return self.head(self.encoder(hidden, mask=mask, is_causal=self.causal))  # (B, T, n_outputs)

    def init_stream(self, batch: int):
        return []

    def step(self, frame: torch.Tensor, history: list):
        """One frame: re-encode the history (causal attention needs every past frame)."""
        if not self.causal:
            raise ValueError("only a causal Transformer can stream frame by frame")
        history = history + [frame]
        return self.forward(torch.stack(history, dim=1))[:, -1], history
