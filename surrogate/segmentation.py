"""Cut trials into model samples: gait cycles time-normalised to 101 points, or fixed windows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

CYCLE_POINTS = 101


@dataclass(frozen=True)
class SegmentationConfig:
    """``mode``: ``cycles`` (right heel strike to right heel strike, 101 points) or ``windows``."""

    mode: str = "cycles"
    window_frames: int = 100
    window_stride_frames: int = 50

    def __post_init__(self) -> None:
        if self.mode not in ("cycles", "windows"):
            raise ValueError(f"segmentation mode must be 'cycles' or 'windows', got {self.mode!r}")


@dataclass(frozen=True)
class Segments:
    """Samples of one dataset: inputs ``(n, time, n_inputs)``, targets ``(n, time, n_targets)``, metadata."""

    inputs: np.ndarray
    targets: np.ndarray
    subject: np.ndarray
    cadence: np.ndarray
    trial: np.ndarray

    def select(self, mask: np.ndarray) -> "Segments":
        return Segments(self.inputs[mask], self.targets[mask], self.subject[mask], self.cadence[mask], self.trial[mask])


def heel_strikes(stance: np.ndarray) -> np.ndarray:
    """Frame indices where ``stance`` rises from False to True."""
    stance = np.asarray(stance, dtype=bool)
    return np.flatnonzero(~stance[:-1] & stance[1:]) + 1


def segment_table(table: pd.DataFrame, inputs: list[str], targets: list[str], config: SegmentationConfig) -> Segments:
    """Segment every trial of ``table``; trials without a whole cycle fall back to windows."""
    samples_in, samples_out, subjects, cadences, trials = [], [], [], [], []
    for (subject, trial), rows in table.groupby(["subject", "trial"], sort=True):
        x, y = rows[inputs].to_numpy(float), rows[targets].to_numpy(float)
        pieces = _cycles(rows, x, y) if config.mode == "cycles" else []
        if not pieces:
            pieces = _windows(x, y, config.window_frames, config.window_stride_frames)
        for piece_in, piece_out in pieces:
            samples_in.append(piece_in)
            samples_out.append(piece_out)
            subjects.append(subject)
            cadences.append(rows["cadence_condition"].iloc[0] if "cadence_condition" in rows else "unknown")
            trials.append(trial)
    if not samples_in:
        raise ValueError("no sample could be cut from the dataset (trials shorter than one window?)")
    lengths = {s.shape[0] for s in samples_in}
    if len(lengths) > 1:  # cycles and windows mixed: bring windows to the cycle length
        samples_in = [resample_to_points(s, CYCLE_POINTS) for s in samples_in]
        samples_out = [resample_to_points(s, CYCLE_POINTS) for s in samples_out]
    return Segments(np.stack(samples_in), np.stack(samples_out), np.array(subjects), np.array(cadences),
                    np.array(trials))


def _cycles(rows: pd.DataFrame, x: np.ndarray, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    if "stance_r" not in rows:
        return []
    strikes = heel_strikes(rows["stance_r"].to_numpy())
    return [(resample_to_points(x[a:b + 1], CYCLE_POINTS), resample_to_points(y[a:b + 1], CYCLE_POINTS))
            for a, b in zip(strikes[:-1], strikes[1:]) if b - a >= 10]


def _windows(x: np.ndarray, y: np.ndarray, length: int, stride: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(x[start:start + length], y[start:start + length]) for start in range(0, len(x) - length + 1, stride)]


def resample_to_points(values: np.ndarray, n_points: int) -> np.ndarray:
    """Resample ``(n_frames, channels)`` linearly onto ``n_points`` equally spaced points."""
    old = np.linspace(0.0, 1.0, len(values))
    new = np.linspace(0.0, 1.0, n_points)
    return np.column_stack([np.interp(new, old, values[:, c]) for c in range(values.shape[1])])
