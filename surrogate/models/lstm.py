"""LSTM surrogate (uni- or bidirectional)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class LSTMConfig:
    hidden_size: int = 64
    n_layers: int = 2
    bidirectional: bool = True
    dropout: float = 0.1


class LSTMSurrogate(nn.Module):
    """Stacked LSTM and a linear head on every frame."""

    def __init__(self, config: LSTMConfig, n_inputs: int, n_outputs: int):
        super().__init__()
        self.config = config
        self.causal = not config.bidirectional
        self.lstm = nn.LSTM(n_inputs, config.hidden_size, num_layers=config.n_layers, batch_first=True,
                            bidirectional=config.bidirectional, dropout=config.dropout if config.n_layers > 1 else 0.0)
        self.head = nn.Linear(config.hidden_size * (2 if config.bidirectional else 1), n_outputs)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        hidden, _ = self.lstm(inputs)                 # (B, T, hidden × directions)
        return self.head(hidden)                      # (B, T, n_outputs)

    def init_stream(self, batch: int):
        return None

    def step(self, frame: torch.Tensor, state):
        """One frame ``(B, n_inputs)``; only for the unidirectional LSTM."""
        if not self.causal:
            raise ValueError("a bidirectional LSTM cannot stream frame by frame")
        hidden, state = self.lstm(frame.unsqueeze(1), state)
        return self.head(hidden[:, 0]), state
