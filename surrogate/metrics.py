"""Accuracy metrics in label units, per subject then averaged (subject-level mean ± SD).

All functions take ``(n_samples, n_channels)`` arrays of true and predicted values in the
labels' units (N/kg, Nm/kg) and return one value per channel. ``known`` (same shape, bool)
restricts each channel to its known points (frames whose labels exist); a channel with no
known point gets NaN. Without ``known`` every point counts, computed exactly as before masks
existed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def rmse(true: np.ndarray, predicted: np.ndarray, known: np.ndarray | None = None) -> np.ndarray:
    """Root-mean-square error per channel."""
    if known is None:
        return np.sqrt(np.mean((predicted - true) ** 2, axis=0))
    return np.sqrt(_known_mean((predicted - true) ** 2, known))


def mae(true: np.ndarray, predicted: np.ndarray, known: np.ndarray | None = None) -> np.ndarray:
    """Mean absolute error per channel."""
    if known is None:
        return np.mean(np.abs(predicted - true), axis=0)
    return _known_mean(np.abs(predicted - true), known)


def r2(true: np.ndarray, predicted: np.ndarray, known: np.ndarray | None = None) -> np.ndarray:
    """Coefficient of determination per channel: 1 − SS_res / SS_tot (NaN for a constant channel)."""
    if known is None:
        residual = np.sum((true - predicted) ** 2, axis=0)
        total = np.sum((true - true.mean(axis=0)) ** 2, axis=0)
    else:
        residual = np.sum(np.where(known, (true - predicted) ** 2, 0.0), axis=0)
        total = np.sum(np.where(known, (true - _known_mean(true, known)) ** 2, 0.0), axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, 1.0 - residual / total, np.nan)


def _known_mean(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Mean over axis 0 of the known entries per channel; NaN for a channel with none."""
    count = np.count_nonzero(known, axis=0)
    total = np.sum(np.where(known, values, 0.0), axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


METRICS = {"rmse": rmse, "mae": mae, "r2": r2}


def per_subject_channel_metrics(true: np.ndarray, predicted: np.ndarray, subjects: np.ndarray,
                                channel_names: list[str], cadences: np.ndarray | None = None,
                                known: np.ndarray | None = None) -> pd.DataFrame:
    """Long table: one row per subject (× cadence when given) × channel × metric.

    ``true`` and ``predicted`` are ``(n_segments, time, n_channels)``; each subject's segments
    are flattened over segments and time before the metric is computed, over the points
    ``known`` (same shape, bool; None: all) marks. A channel with no known point for a subject
    gets NaN, which the subject's mean over channels (:func:`summarise`) leaves out.
    """
    rows = []
    keys = sorted(set(zip(subjects, cadences))) if cadences is not None else [(s, None) for s in sorted(set(subjects))]
    for subject, cadence in keys:
        mask = subjects == subject if cadence is None else (subjects == subject) & (cadences == cadence)
        flat_true = true[mask].reshape(-1, true.shape[-1])
        flat_predicted = predicted[mask].reshape(-1, true.shape[-1])
        flat_known = None if known is None else known[mask].reshape(-1, true.shape[-1])
        if flat_known is not None and flat_known.all():
            flat_known = None     # every point known: the plain computation, bit for bit
        for metric, function in METRICS.items():
            for channel, value in zip(channel_names, function(flat_true, flat_predicted, flat_known)):
                rows.append({"subject": subject, "cadence": cadence, "channel": channel, "metric": metric,
                             "value": float(value)})
    return pd.DataFrame(rows)


def summarise(long_table: pd.DataFrame, channel_groups: dict[str, tuple[str, ...]]) -> pd.DataFrame:
    """Subject-level mean ± SD per target group and metric, as in the study's tables.

    Each subject's value is its mean over the group's channels that have one (NaN, a channel
    without a known point for that subject, is left out, not counted as 0); the table reports
    the mean and SD of those values over subjects.
    """
    rows = []
    for group, channels in channel_groups.items():
        subset = long_table[long_table["channel"].isin(channels)]
        per_subject = subset.groupby(["subject", "metric"])["value"].mean().unstack("metric")
        for metric in METRICS:
            values = per_subject[metric].dropna()
            rows.append({"target": group, "metric": metric, "mean": float(values.mean()),
                         "sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0, "n_subjects": len(values)})
    return pd.DataFrame(rows)
