"""Per-channel standardisation fitted on training subjects only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Channels with (near) zero spread in training keep a unit scale, so they pass through.
_MIN_STD = 1e-8


@dataclass(frozen=True)
class Standardizer:
    """``(x - mean) / std`` per channel; ``mean`` and ``std`` have shape ``(n_channels,)``."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray, known: np.ndarray | None = None) -> "Standardizer":
        """Fit on ``(..., n_channels)`` values, counting only the ``known`` ones (same shape, bool; None: all).

        A channel with no known value keeps mean 0 and a unit scale.
        """
        if known is None or known.all():
            # The plain reduction, so data without unknown points fit exactly as they always have.
            flat = values.reshape(-1, values.shape[-1])
            std = flat.std(axis=0)
            return cls(flat.mean(axis=0), np.where(std < _MIN_STD, 1.0, std))
        flat = values.reshape(-1, values.shape[-1])
        flat_known = known.reshape(-1, known.shape[-1])
        mean, std = np.zeros(flat.shape[-1]), np.ones(flat.shape[-1])
        for channel in range(flat.shape[-1]):
            column = flat[flat_known[:, channel], channel]
            if column.size:
                mean[channel], std[channel] = column.mean(), column.std()
        return cls(mean, np.where(std < _MIN_STD, 1.0, std))

    def transform(self, values: np.ndarray) -> np.ndarray:
        return (values - self.mean) / self.std

    def inverse(self, values: np.ndarray) -> np.ndarray:
        return values * self.std + self.mean

    def to_dict(self) -> dict[str, list[float]]:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, values: dict[str, list[float]]) -> "Standardizer":
        return cls(np.asarray(values["mean"], dtype=float), np.asarray(values["std"], dtype=float))
