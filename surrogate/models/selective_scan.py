"""The selective scan of Mamba: a parallel (log-depth) version and the step-by-step reference.

The recurrence, per batch b, channel d and state n::

    h_t = exp(Δ_t A) ⊙ h_{t-1} + Δ_t B_t x_t,        y_t = C_t · h_t + D x_t

is a linear recurrence ``h_t = a_t h_{t-1} + b_t``. Pairs ``(a, b)`` compose associatively,
``(a1, b1) then (a2, b2) = (a1 a2, a2 b1 + b2)``, so a Hillis–Steele scan computes every h_t in
⌈log2 T⌉ vectorised steps. Only products of factors in (0, 1] appear: no overflow.
"""

from __future__ import annotations

import torch


def _discretise(x: torch.Tensor, delta: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-step factors ``(B, T, D, N)``: ``exp(Δ A)`` and ``Δ B x``."""
    decay = torch.exp(delta.unsqueeze(-1) * a)                       # (B, T, D, N)
    drive = delta.unsqueeze(-1) * b.unsqueeze(2) * x.unsqueeze(-1)   # (B, T, D, N)
    return decay, drive


def selective_scan(x: torch.Tensor, delta: torch.Tensor, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor,
                   d: torch.Tensor) -> torch.Tensor:
    """Parallel selective scan.

    Parameters
    ----------
    x, delta
        ``(batch, time, channels)``; ``delta`` > 0.
    a
        ``(channels, state)``, negative real.
    b, c
        ``(batch, time, state)``.
    d
        ``(channels,)`` skip connection.

    Returns
    -------
    torch.Tensor
        ``(batch, time, channels)``.
    """
    decay, state = _discretise(x, delta, a, b)
    length = x.shape[1]
    offset = 1
    while offset < length:
        # Combine each step with the one `offset` earlier: h_t += a_t * h_{t-offset}.
        state = torch.cat([state[:, :offset], state[:, offset:] + decay[:, offset:] * state[:, :-offset]], dim=1)
        decay = torch.cat([decay[:, :offset], decay[:, offset:] * decay[:, :-offset]], dim=1)
        offset *= 2
    y = torch.einsum("btdn,btn->btd", state, c)                      # (B, T, D)
    return y + x * d


def selective_scan_reference(x: torch.Tensor, delta: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
                             c: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """The obvious loop over time (same arguments and result as :func:`selective_scan`)."""
    decay, drive = _discretise(x, delta, a, b)
    h = torch.zeros_like(drive[:, 0])                                # (B, D, N)
    outputs = []
    for t in range(x.shape[1]):
        h = decay[:, t] * h + drive[:, t]
        outputs.append(torch.einsum("bdn,bn->bd", h, c[:, t]))
    return torch.stack(outputs, dim=1) + x * d


def selective_scan_step(h: torch.Tensor, x: torch.Tensor, delta: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
                        c: torch.Tensor, d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One streaming step: state ``h (B, D, N)`` and inputs of one frame → ``(y (B, D), new h)``."""
    decay = torch.exp(delta.unsqueeze(-1) * a)
    h = decay * h + delta.unsqueeze(-1) * b.unsqueeze(1) * x.unsqueeze(-1)
    return torch.einsum("bdn,bn->bd", h, c) + x * d, h


def fused_selective_scan():
    """``mamba_ssm``'s CUDA kernel when installed (extra ``cuda``), else None."""
    try:
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
    except ImportError:
        return None
    return selective_scan_fn
