"""Cut trials into model samples: gait cycles time-normalised to 101 points, or fixed windows.

Every sample carries a mask of which target points are known. On real overground walks a
leg's hip moments and muscle forces are unknown while its foot stands on the floor off the
force plates; the label tables mark the frames where each leg's labels are known with
``valid_r`` / ``valid_l``. A target channel of the right leg (name ending ``_r_moment`` or
``_r_force``) is known on the frames where ``valid_r`` is True, likewise the left; other
channels, and every channel of a table without the columns, are known everywhere.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gait2hip.core.errors import InputDataError

CYCLE_POINTS = 101
INVALID_FRAMES_MODES = ("mask", "drop")
# The column marking the frames where one leg's labels are known, and the target name endings of that leg.
VALIDITY_COLUMNS = {"r": "valid_r", "l": "valid_l"}
_SIDE_ENDINGS = {"r": ("_r_moment", "_r_force"), "l": ("_l_moment", "_l_force")}

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SegmentationConfig:
    """How trials are cut into samples.

    Attributes
    ----------
    mode
        ``cycles`` (right heel strike to right heel strike, 101 points) or ``windows``.
    window_frames, window_stride_frames
        Window length and step (frames) in ``windows`` mode, and for trials without a whole cycle.
    invalid_frames
        What a sample with unknown target points (``valid_r``/``valid_l`` False) becomes:
        ``mask`` keeps it and leaves those points out of the loss, the scalers and the
        metrics; ``drop`` removes every sample with any unknown target point.
    """

    mode: str = "cycles"
    window_frames: int = 100
    window_stride_frames: int = 50
    invalid_frames: str = "mask"

    def __post_init__(self) -> None:
        if self.mode not in ("cycles", "windows"):
            raise ValueError(f"segmentation mode must be 'cycles' or 'windows', got {self.mode!r}")
        if self.invalid_frames not in INVALID_FRAMES_MODES:
            raise ValueError(f"invalid_frames must be 'mask' (leave frames with unknown labels out of "
                             f"loss and metrics) or 'drop' (drop samples holding any), got {self.invalid_frames!r}")


@dataclass(frozen=True)
class ValidityCounts:
    """How much of a set of samples had unknown labels: its target points, the unknown ones, the dropped samples."""

    target_points: int
    masked_target_points: int
    dropped_segments: int

    def to_json(self) -> dict[str, int]:
        return {"target_points": self.target_points, "masked_target_points": self.masked_target_points,
                "dropped_segments": self.dropped_segments}


@dataclass(frozen=True)
class Segments:
    """Samples of one dataset and which of their target points are known.

    Attributes
    ----------
    inputs, targets
        ``(n, time, n_inputs)`` degrees and ``(n, time, n_targets)`` in label units; unknown
        target points hold NaN.
    target_known
        ``(n, time, n_targets)`` bool, True where the target point is known.
    subject, cadence, trial
        ``(n,)`` metadata of each sample.
    dropped_subjects
        The subject of every sample ``invalid_frames: drop`` removed (one entry per sample).
    height_m
        ``(n,)`` body height (m) of each sample's subject, from the table's ``height_m``
        column; NaN where the table has none (:mod:`gait2hip.surrogate.body_size`).
    """

    inputs: np.ndarray
    targets: np.ndarray
    target_known: np.ndarray
    subject: np.ndarray
    cadence: np.ndarray
    trial: np.ndarray
    dropped_subjects: np.ndarray = field(default_factory=lambda: np.array([], dtype=str))
    height_m: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.height_m is None:
            object.__setattr__(self, "height_m", np.full(len(self.subject), np.nan))

    @property
    def n_masked_points(self) -> int:
        """How many target points (sample × time × channel) are unknown."""
        return int(self.target_known.size - np.count_nonzero(self.target_known))

    def validity(self) -> ValidityCounts:
        """Target points (sample × time × channel), how many are unknown, and how many samples were dropped."""
        return ValidityCounts(int(self.target_known.size), self.n_masked_points, len(self.dropped_subjects))

    def select(self, mask: np.ndarray) -> "Segments":
        """The samples where ``mask`` (``(n,)`` bool) is True; dropped samples of the chosen subjects stay counted."""
        dropped = self.dropped_subjects[np.isin(self.dropped_subjects, self.subject[mask])]
        return Segments(self.inputs[mask], self.targets[mask], self.target_known[mask], self.subject[mask],
                        self.cadence[mask], self.trial[mask], dropped, self.height_m[mask])


def heel_strikes(stance: np.ndarray) -> np.ndarray:
    """Frame indices where ``stance`` rises from False to True."""
    stance = np.asarray(stance, dtype=bool)
    return np.flatnonzero(~stance[:-1] & stance[1:]) + 1


def target_side(name: str) -> str | None:
    """``r`` or ``l`` for a target of that leg (``..._r_moment``, ``..._l_force``); None for any other channel."""
    return next((side for side, endings in _SIDE_ENDINGS.items() if name.endswith(endings)), None)


def known_frames(rows: pd.DataFrame, targets: list[str], where: str = "dataset") -> np.ndarray | None:
    """``(n_frames, n_targets)`` bool: which target values of one trial are known; None when all are.

    A leg's channels follow its ``valid_r``/``valid_l`` column; a trial without the column (or
    whose column is empty throughout: a trial labelled before the column existed, read in one
    dataset with newer ones) has that leg's labels known everywhere.

    Raises
    ------
    InputDataError
        A validity column is empty on some frames only (``where`` names the trial).
    """
    known = np.ones((len(rows), len(targets)), dtype=bool)
    for side, column in VALIDITY_COLUMNS.items():
        if column not in rows:
            continue
        values = rows[column]
        missing = values.isna().to_numpy()
        if missing.all():
            continue
        if missing.any():
            raise InputDataError(Path(where), f"'{column}' is empty on {int(missing.sum())} of {len(rows)} frames; it "
                                              "must say on every frame whether that leg's labels are known (relabel "
                                              "the trial)")
        channels = [index for index, name in enumerate(targets) if target_side(name) == side]
        known[:, channels] &= values.to_numpy(dtype=bool)[:, None]
    return None if known.all() else known


def segment_table(table: pd.DataFrame, inputs: list[str], targets: list[str], config: SegmentationConfig) -> Segments:
    """Segment every trial of ``table``; trials without a whole cycle fall back to windows.

    Parameters
    ----------
    table
        Label rows (``subject``, ``trial``, the ``inputs`` and ``targets`` columns; ``stance_r``
        for cycles; optionally ``valid_r``/``valid_l`` and ``cadence_condition``).
    inputs, targets
        Column names, in the order of the samples' channels.
    config
        Cycles or windows, and what becomes of samples with unknown target points.

    Returns
    -------
    Segments
        Unknown target points are NaN and False in ``target_known``; with ``invalid_frames:
        drop`` no sample holds one.
    """
    samples_in, samples_out, samples_known, subjects, cadences, trials, heights = [], [], [], [], [], [], []
    for (subject, trial), rows in table.groupby(["subject", "trial"], sort=True):
        x, y = rows[inputs].to_numpy(float), rows[targets].to_numpy(float)
        known = known_frames(rows, targets, f"subject={subject}/{trial}")
        if known is not None:
            # Unknown values may be NaN; a finite stand-in keeps np.interp's known points exact
            # (they never weigh an unknown frame), and the points are set back to NaN below.
            y = np.where(known, y, 0.0)
        else:
            known = np.ones(y.shape, dtype=bool)
        pieces = _cycles(rows, x, y, known) if config.mode == "cycles" else []
        if not pieces:
            pieces = _windows(x, y, known, config.window_frames, config.window_stride_frames)
        for piece_in, piece_out, piece_known in pieces:
            samples_in.append(piece_in)
            samples_out.append(piece_out)
            samples_known.append(piece_known)
            subjects.append(subject)
            cadences.append(rows["cadence_condition"].iloc[0] if "cadence_condition" in rows else "unknown")
            trials.append(trial)
            heights.append(float(rows["height_m"].iloc[0]) if "height_m" in rows else np.nan)
    if not samples_in:
        raise ValueError("no sample could be cut from the dataset (trials shorter than one window?)")
    lengths = {s.shape[0] for s in samples_in}
    if len(lengths) > 1:  # cycles and windows mixed: bring windows to the cycle length
        samples_in = [resample_to_points(s, CYCLE_POINTS) for s in samples_in]
        samples_out = [resample_to_points(s, CYCLE_POINTS) for s in samples_out]
        samples_known = [resample_known_to_points(k, CYCLE_POINTS) for k in samples_known]
    known = np.stack(samples_known)
    segments = Segments(np.stack(samples_in), np.where(known, np.stack(samples_out), np.nan), known,
                        np.array(subjects), np.array(cadences), np.array(trials), height_m=np.array(heights))
    return drop_unknown(segments) if config.invalid_frames == "drop" else segments


def drop_unknown(segments: Segments) -> Segments:
    """Only the samples whose every target point is known; the others' subjects go to ``dropped_subjects``.

    Raises
    ------
    ValueError
        Every sample holds an unknown point.
    """
    whole = segments.target_known.all(axis=(1, 2))
    if whole.all():
        return segments
    if not whole.any():
        raise ValueError(f"invalid_frames: drop removed all {len(whole)} samples (every one holds frames with unknown "
                         "labels); use invalid_frames: mask to train on their known frames")
    _log.info("invalid_frames: drop removed %d of %d samples holding frames with unknown labels",
              int((~whole).sum()), len(whole))
    kept = segments.select(whole)
    dropped = np.concatenate([segments.dropped_subjects, segments.subject[~whole]])
    return Segments(kept.inputs, kept.targets, kept.target_known, kept.subject, kept.cadence, kept.trial, dropped,
                    kept.height_m)


def _cycles(rows: pd.DataFrame, x: np.ndarray, y: np.ndarray,
            known: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    if "stance_r" not in rows:
        return []
    strikes = heel_strikes(rows["stance_r"].to_numpy())
    return [(resample_to_points(x[a:b + 1], CYCLE_POINTS), resample_to_points(y[a:b + 1], CYCLE_POINTS),
             resample_known_to_points(known[a:b + 1], CYCLE_POINTS))
            for a, b in zip(strikes[:-1], strikes[1:]) if b - a >= 10]


def _windows(x: np.ndarray, y: np.ndarray, known: np.ndarray, length: int,
             stride: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    return [(x[start:start + length], y[start:start + length], known[start:start + length])
            for start in range(0, len(x) - length + 1, stride)]


def resample_to_points(values: np.ndarray, n_points: int) -> np.ndarray:
    """Resample ``(n_frames, channels)`` linearly onto ``n_points`` equally spaced points."""
    old = np.linspace(0.0, 1.0, len(values))
    new = np.linspace(0.0, 1.0, n_points)
    return np.column_stack([np.interp(new, old, values[:, c]) for c in range(values.shape[1])])


def resample_known_to_points(known: np.ndarray, n_points: int) -> np.ndarray:
    """Resample a ``(n_frames, channels)`` bool mask onto the points of :func:`resample_to_points`, conservatively.

    A resampled point is known only when every frame it interpolates between is known: the
    frame it falls on, or both frames around it.
    """
    old = np.linspace(0.0, 1.0, len(known))
    new = np.linspace(0.0, 1.0, n_points)
    # The same grid and bracketing as np.interp: the last frame at or before, the first at or after.
    before = np.searchsorted(old, new, side="right") - 1
    after = np.minimum(np.searchsorted(old, new, side="left"), len(known) - 1)
    return known[before] & known[after]
