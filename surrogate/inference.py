"""Run a trained surrogate on whole trials, cut the way it was trained.

A model trained on gait cycles (right heel strike to right heel strike, time-normalised to
101 points) only ever saw cycles: a trial is cut at its right heel strikes, each cycle is
predicted on 101 points and mapped back onto the trial's frames. A model trained on fixed
windows is run on overlapping windows whose predictions are averaged. Frames no cycle
covers (before the first and after the last heel strike) come back as NaN.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from gait2hip.surrogate.body_size import to_label_units
from gait2hip.surrogate.checkpoint import Checkpoint, load_checkpoint
from gait2hip.surrogate.segmentation import CYCLE_POINTS, resample_to_points

# Shortest stretch between heel strikes taken as a gait cycle (frames), as in training.
MIN_CYCLE_FRAMES = 10


class SequenceInputError(ValueError):
    """The sequence cannot be cut the way the model was trained (no heel strikes, too short)."""


def predict_segments(model: torch.nn.Module, checkpoint: Checkpoint, inputs_deg: np.ndarray,
                     body_height_m: float | np.ndarray | None = None) -> np.ndarray:
    """``(n, time, n_inputs)`` degrees → ``(n, time, n_targets)`` in label units (N/kg, Nm/kg).

    ``checkpoint`` supplies the standardisation and which targets are forces. Muscle forces
    are clipped at 0 N/kg: a muscle only pulls (static optimization's forces are never
    negative), whatever the regression says. ``body_height_m`` (m; one value, or ``(n,)``
    one per sample) is needed by a checkpoint trained with ``moment_scaling: mass_height``,
    whose moments are per metre of height (:mod:`gait2hip.surrogate.body_size`), and unused
    otherwise.
    """
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    with torch.inference_mode():
        standardised = torch.tensor(checkpoint.input_scaler.transform(inputs_deg), dtype=torch.float32, device=device)
        output = model(standardised).cpu().numpy()
    scaling = checkpoint.training_config.moment_scaling
    heights = None if body_height_m is None else np.broadcast_to(np.asarray(body_height_m, dtype=float),
                                                                  (len(inputs_deg),))
    predicted = to_label_units(checkpoint.target_scaler.inverse(output), checkpoint.target_names, scaling, heights)
    forces = checkpoint.force_mask
    predicted[..., forces] = np.maximum(predicted[..., forces], 0.0)
    return predicted


def predict_sequence(model: torch.nn.Module, checkpoint: Checkpoint, angles_deg: np.ndarray,
                     right_heel_strike_frames: np.ndarray | None = None,
                     body_height_m: float | None = None) -> np.ndarray:
    """Predict every target for one trial.

    Parameters
    ----------
    angles_deg
        ``(n_frames, n_inputs)`` joint angles in degrees, in the checkpoint's input order, at
        the rate the labels had (100 Hz for the pipeline's labels).
    right_heel_strike_frames
        Frame indices of right heel strikes; required for cycle-trained models.
    body_height_m
        The subject's height (m); required for a model trained with ``moment_scaling: mass_height``.

    Returns
    -------
    ``(n_frames, n_targets)`` in label units; NaN on frames no cycle or window covers.

    Raises
    ------
    SequenceInputError
        Cycle model without two heel strikes a cycle apart; window model on fewer frames than a window.
    """
    segmentation = checkpoint.segmentation
    n_frames = len(angles_deg)
    n_targets = len(checkpoint.target_names)
    if segmentation.mode == "cycles":
        spans = _cycle_spans(right_heel_strike_frames)
        inputs = np.stack([resample_to_points(angles_deg[a:b + 1], CYCLE_POINTS) for a, b in spans])
    else:
        spans = _window_spans(n_frames, segmentation.window_frames, segmentation.window_stride_frames)
        inputs = np.stack([angles_deg[a:b + 1] for a, b in spans])
    predicted = predict_segments(model, checkpoint, inputs, body_height_m)   # (n_segments, time, n_targets)
    total, count = np.zeros((n_frames, n_targets)), np.zeros((n_frames, 1))
    for (a, b), values in zip(spans, predicted):
        total[a:b + 1] += resample_to_points(values, b - a + 1)
        count[a:b + 1] += 1
    with np.errstate(invalid="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def predict_angles(checkpoint: Path, angles: pd.DataFrame, right_heel_strike_frames: np.ndarray | None = None,
                   body_height_m: float | None = None) -> pd.DataFrame:
    """Predict every target for one trial's angles (degrees) held in ``angles``; see :func:`predict_sequence`."""
    model, loaded = load_checkpoint(checkpoint)
    predicted = predict_sequence(model, loaded, angles[list(loaded.input_names)].to_numpy(float),
                                 right_heel_strike_frames, body_height_m)
    result = pd.DataFrame(predicted, columns=loaded.target_names)
    if "time" in angles:
        result.insert(0, "time", angles["time"].to_numpy())
    return result


def right_heel_strikes_from_times(times_s: np.ndarray, heel_strike_times_s: list[float]) -> np.ndarray:
    """Frame indices nearest to the given heel-strike times that fall inside the trial."""
    times_s = np.asarray(times_s, dtype=float)
    inside = [t for t in heel_strike_times_s if times_s[0] <= t <= times_s[-1]]
    return np.unique([int(np.argmin(np.abs(times_s - t))) for t in inside]).astype(int)


def _cycle_spans(right_heel_strike_frames: np.ndarray | None) -> list[tuple[int, int]]:
    strikes = np.sort(np.asarray(right_heel_strike_frames if right_heel_strike_frames is not None else [], dtype=int))
    spans = [(int(a), int(b)) for a, b in zip(strikes[:-1], strikes[1:]) if b - a >= MIN_CYCLE_FRAMES]
    if not spans:
        raise SequenceInputError(
            "this model was trained on gait cycles: give at least two right heel strikes one cycle apart "
            f"(got {len(strikes)} heel strike(s))")
    return spans


def _window_spans(n_frames: int, window: int, stride: int) -> list[tuple[int, int]]:
    if n_frames < window:
        raise SequenceInputError(f"this model was trained on {window}-frame windows; the trial has {n_frames} frames")
    starts = list(range(0, n_frames - window + 1, stride))
    if starts[-1] != n_frames - window:
        starts.append(n_frames - window)
    return [(start, start + window - 1) for start in starts]
