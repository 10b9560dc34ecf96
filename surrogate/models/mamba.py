"""Mamba (selective state-space model) surrogate in plain PyTorch, CUDA kernel optional."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from gait2hip.surrogate.models.selective_scan import fused_selective_scan, selective_scan, selective_scan_step


@dataclass(frozen=True)
class MambaConfig:
    d_model: int = 64
    n_layers: int = 2
    d_state: int = 16
    expand: int = 2
    conv_kernel: int = 4
    dropout: float = 0.0

    @property
    def d_inner(self) -> int:
        return self.expand * self.d_model

    @property
    def dt_rank(self) -> int:
        return math.ceil(self.d_model / 16)


class MambaBlock(nn.Module):
    """in-proj → causal depthwise conv → SiLU → selective scan, gated by SiLU(z) → out-proj."""

    def __init__(self, config: MambaConfig):
        super().__init__()
        self.config = config
        inner, state = config.d_inner, config.d_state
        self.in_proj = nn.Linear(config.d_model, 2 * inner)
        self.conv = nn.Conv1d(inner, inner, config.conv_kernel, groups=inner, padding=config.conv_kernel - 1)
        self.x_proj = nn.Linear(inner, config.dt_rank + 2 * state, bias=False)
        self.dt_proj = nn.Linear(config.dt_rank, inner)
        self.a_log = nn.Parameter(torch.log(torch.arange(1, state + 1, dtype=torch.float32)).repeat(inner, 1))
        self.d = nn.Parameter(torch.ones(inner))
        self.out_proj = nn.Linear(inner, config.d_model)

    def _ssm_inputs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        dt_low, b, c = torch.split(self.x_proj(x), [self.config.dt_rank, self.config.d_state, self.config.d_state], -1)
        return F.softplus(self.dt_proj(dt_low)), -torch.exp(self.a_log), b, c

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        length = u.shape[1]
        x, z = self.in_proj(u).chunk(2, dim=-1)                                 # (B, T, inner) each
        x = F.silu(self.conv(x.transpose(1, 2))[..., :length].transpose(1, 2))  # causal conv
        delta, a, b, c = self._ssm_inputs(x)
        fused = fused_selective_scan() if x.is_cuda else None
        if fused is not None:
            y = fused(x.transpose(1, 2).contiguous(), delta.transpose(1, 2).contiguous(), a,
                      b.transpose(1, 2).contiguous(), c.transpose(1, 2).contiguous(), self.d).transpose(1, 2)
        else:
            y = selective_scan(x, delta, a, b, c, self.d)
        return self.out_proj(y * F.silu(z))

    def step(self, u: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, tuple]:
        """One frame ``(B, d_model)`` with ``cache = (conv window (B, inner, k), ssm state (B, inner, N))``."""
        window, h = cache
        x, z = self.in_proj(u).chunk(2, dim=-1)
        window = torch.cat([window[..., 1:], x.unsqueeze(-1)], dim=-1)
        x = F.silu((window * self.conv.weight.squeeze(1)).sum(-1) + self.conv.bias)
        delta, a, b, c = self._ssm_inputs(x)
        y, h = selective_scan_step(h, x, delta, a, b, c, self.d)
        return self.out_proj(y * F.silu(z)), (window, h)


class MambaSurrogate(nn.Module):
    """Input projection, residual pre-norm Mamba blocks, output head. Causal by construction."""

    causal = True

    def __init__(self, config: MambaConfig, n_inputs: int, n_outputs: int):
        super().__init__()
        self.config = config
        self.input = nn.Linear(n_inputs, config.d_model)
        self.norms = nn.ModuleList(nn.LayerNorm(config.d_model) for _ in range(config.n_layers))
        self.blocks = nn.ModuleList(MambaBlock(config) for _ in range(config.n_layers))
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.d_model, n_outputs)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        hidden = self.input(inputs)                                  # (B, T, d_model)
        for norm, block in zip(self.norms, self.blocks):
            hidden = hidden + self.dropout(block(norm(hidden)))
        return self.head(hidden)                                     # (B, T, n_outputs)

    def init_stream(self, batch: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        inner, kernel, state = self.config.d_inner, self.config.conv_kernel, self.config.d_state
        return [(torch.zeros(batch, inner, kernel), torch.zeros(batch, inner, state)) for _ in self.blocks]

    def step(self, frame: torch.Tensor, caches: list) -> tuple[torch.Tensor, list]:
        """One frame ``(B, n_inputs)`` → ``(B, n_outputs)``, carrying each block's cache."""
        hidden = self.input(frame)
        new_caches = []
        for norm, block, cache in zip(self.norms, self.blocks, caches):
            out, cache = block.step(norm(hidden), cache)
            hidden = hidden + out
            new_caches.append(cache)
        return self.head(hidden), new_caches
