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
    def fit(cls, values: np.ndarray) -> "Standardizer":
        """Fit on ``(..., n_channels)`` values."""
        flat = values.reshape(-1, values.shape[-1])
        std = flat.std(axis=0)
        return cls(flat.mean(axis=0), np.where(std < _MIN_STD, 1.0, std))

    def transform(self, values: np.ndarray) -> np.ndarray:
        return (values - self.mean) / self.std

    def inverse(self, values: np.ndarray) -> np.ndarray:
        return values * self.std + self.mean

    def to_dict(self) -> dict[str, list[float]]:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, values: dict[str, list[float]]) -> "Standardizer":
        return cls(np.asarray(values["mean"], dtype=float), np.asarray(values["std"], dtype=float))
