"""A normative gait template: Fourier series through published normative joint angles.

See ``data/normative_gait.yaml`` for the source and conventions. Each curve is a 4-harmonic
Fourier series fitted by least squares to the tabulated values, so it is smooth and periodic
and can be evaluated (and differentiated) at any phase.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

TEMPLATE_PATH = Path(__file__).resolve().parent / "data" / "normative_gait.yaml"
N_HARMONICS = 4


@dataclass(frozen=True)
class FourierCurve:
    """``value(phase) = a0 + Σ a_k cos(2πk·phase) + b_k sin(2πk·phase)``, phase in cycles."""

    mean: float
    cosine: np.ndarray
    sine: np.ndarray

    def __call__(self, phase: np.ndarray) -> np.ndarray:
        """Value at ``phase`` (cycles, any real number; periodic with period 1)."""
        phase = np.asarray(phase, dtype=float)[..., None]
        k = np.arange(1, len(self.cosine) + 1)
        angle = 2 * np.pi * k * phase
        return self.mean + (np.cos(angle) @ self.cosine[:, None] + np.sin(angle) @ self.sine[:, None])[..., 0]

    @classmethod
    def fit(cls, phase: np.ndarray, values: np.ndarray, n_harmonics: int = N_HARMONICS) -> "FourierCurve":
        """Least-squares fit through ``values`` at ``phase`` (cycles)."""
        k = np.arange(1, n_harmonics + 1)
        design = np.column_stack([np.ones_like(phase), np.cos(2 * np.pi * np.outer(phase, k)),
                                  np.sin(2 * np.pi * np.outer(phase, k))])
        coefficients, *_ = np.linalg.lstsq(design, values, rcond=None)
        return cls(float(coefficients[0]), coefficients[1:n_harmonics + 1], coefficients[n_harmonics + 1:])


@dataclass(frozen=True)
class GaitTemplate:
    """Per-leg joint curves (``hip_flexion``, ...) and whole-body pelvis/lumbar curves, degrees."""

    joints: dict[str, FourierCurve]
    pelvis: dict[str, FourierCurve]
    stance_fraction: float

    @classmethod
    def load(cls, path: Path = TEMPLATE_PATH) -> "GaitTemplate":
        raw = yaml.safe_load(Path(path).read_text())
        # The last sample repeats the first (100 % = 0 %): drop it so it is not weighted twice.
        phase = np.asarray(raw["phase_percent"][:-1], dtype=float) / 100.0
        fit = {group: {name: FourierCurve.fit(phase, np.asarray(values[:-1], dtype=float))
                       for name, values in raw[group].items()} for group in ("joints", "pelvis")}
        return cls(fit["joints"], fit["pelvis"], float(raw["stance_fraction"]))
