"""The training loss: mean squared error over the known target points only."""

from __future__ import annotations

import torch


def masked_mse_loss(predicted: torch.Tensor, target: torch.Tensor, known: torch.Tensor | None) -> torch.Tensor:
    """Mean of ``(predicted - target)²`` over the points ``known`` marks; a scalar tensor.

    Parameters
    ----------
    predicted, target
        ``(batch, time, n_targets)`` standardised values.
    known
        ``(batch, time, n_targets)`` bool, True where the target is known; None when all are.

    Returns
    -------
    torch.Tensor
        With every point known, exactly :func:`torch.nn.functional.mse_loss` (the same
        operations, so data without unknown points train bit for bit as they always have).
        With none known, 0 with a zero gradient (never NaN). An unknown point's target value,
        even NaN or infinite, changes neither the loss nor any gradient.
    """
    if known is None or bool(known.all()):
        return torch.nn.functional.mse_loss(predicted, target)
    # where() rather than multiplying by the mask: 0 × NaN would be NaN, and its backward
    # sends nothing to the unknown points either.
    difference = torch.where(known, predicted - target, torch.zeros_like(predicted))
    return difference.square().sum() / known.sum().clamp(min=1)
