"""Accuracy metrics in label units, per subject then averaged (subject-level mean ± SD).

All functions take ``(n_samples, n_channels)`` arrays of true and predicted values in the
labels' units (N/kg, Nm/kg) and return one value per channel.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def rmse(true: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Root-mean-square error per channel."""
    return np.sqrt(np.mean((predicted - true) ** 2, axis=0))


def mae(true: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Mean absolute error per channel."""
    return np.mean(np.abs(predicted - true), axis=0)


def r2(true: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Coefficient of determination per channel: 1 − SS_res / SS_tot (NaN for a constant channel)."""
    residual = np.sum((true - predicted) ** 2, axis=0)
    total = np.sum((true - true.mean(axis=0)) ** 2, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, 1.0 - residual / total, np.nan)


METRICS = {"rmse": rmse, "mae": mae, "r2": r2}


def per_subject_channel_metrics(true: np.ndarray, predicted: np.ndarray, subjects: np.ndarray,
                                channel_names: list[str], cadences: np.ndarray | None = None) -> pd.DataFrame:
    """Long table: one row per subject (× cadence when given) × channel × metric.

    ``true`` and ``predicted`` are ``(n_segments, time, n_channels)``; each subject's segments
    are flattened over segments and time before the metric is computed.
    """
    rows = []
    keys = sorted(set(zip(subjects, cadences))) if cadences is not None else [(s, None) for s in sorted(set(subjects))]
    for subject, cadence in keys:
        mask = subjects == subject if cadence is None else (subjects == subject) & (cadences == cadence)
        flat_true = true[mask].reshape(-1, true.shape[-1])
        flat_predicted = predicted[mask].reshape(-1, true.shape[-1])
        for metric, function in METRICS.items():
            for channel, value in zip(channel_names, function(flat_true, flat_predicted)):
                rows.append({"subject": subject, "cadence": cadence, "channel": channel, "metric": metric,
                             "value": float(value)})
    return pd.DataFrame(rows)


def summarise(long_table: pd.DataFrame, channel_groups: dict[str, tuple[str, ...]]) -> pd.DataFrame:
    """Subject-level mean ± SD per target group and metric, as in the study's tables.

    Each subject's value is its mean over the group's channels; the table reports the mean and
    SD of those values over subjects.
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
