"""Leave-subjects-out cross-validation: folds over subjects, explicit splits, per-subject scores.

A cohort of a dozen measured subjects is too small for one train/validation/test split to
say much; K folds over the subjects let every subject be held out once. Each fold trains on
the other folds' subjects, with a seeded few of them set aside as validation subjects for
early stopping, and is scored on its own subjects, never seen in its training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gait2hip.core.errors import ConfigError, InputDataError
from gait2hip.surrogate.split import SubjectSplit

LEAVE_ONE_OUT = "loso"


@dataclass(frozen=True)
class Fold:
    """One fold: ``split.test`` is held out, ``split.train`` trained on, ``split.validation`` early-stops."""

    index: int
    split: SubjectSplit

    def to_dict(self) -> dict:
        return {"index": self.index, **self.split.to_dict()}


def n_folds(folds: int | str, n_subjects: int) -> int:
    """How many folds ``folds`` (a count, or ``loso``: one per subject) means for ``n_subjects`` subjects.

    Raises
    ------
    ConfigError
        Fewer than 2 folds, or more folds than subjects.
    """
    k = n_subjects if folds == LEAVE_ONE_OUT else folds
    if isinstance(k, bool) or not isinstance(k, int):
        raise ConfigError(f"folds must be a number of folds (2 or more) or {LEAVE_ONE_OUT!r} (leave one subject out), "
                          f"got {folds!r}")
    if not 2 <= k <= n_subjects:
        raise ConfigError(f"folds {folds}: needs 2 to {n_subjects} folds for {n_subjects} subjects "
                          f"({LEAVE_ONE_OUT!r} is {n_subjects})")
    return k


def subject_folds(subjects: Sequence[str], folds: int | str, seed: int) -> list[tuple[str, ...]]:
    """The subjects dealt into disjoint folds that cover them all, sizes differing by at most one; seeded.

    ``subjects`` are shuffled with ``seed`` and dealt round-robin, so the folds depend on the
    set of subjects and the seed only (not on their order); each fold's ids come sorted.
    """
    ordered = sorted(set(subjects))
    k = n_folds(folds, len(ordered))
    shuffled = [str(s) for s in np.random.default_rng(seed).permutation(ordered)]
    return [tuple(sorted(shuffled[i::k])) for i in range(k)]


def cross_validation_folds(subjects: Sequence[str], folds: int | str, validation_subjects: int,
                           seed: int) -> list[Fold]:
    """Every fold's train / validation / test subjects.

    ``validation_subjects`` of each fold's training subjects (drawn with a generator seeded by
    ``seed`` and the fold's index) are its validation subjects.

    Raises
    ------
    ConfigError
        Too few subjects for the folds, or for at least one training subject after the
        validation subjects are set aside.
    """
    if validation_subjects < 1:
        raise ConfigError(f"validation_subjects must be at least 1, got {validation_subjects}")
    result = []
    for index, test in enumerate(subject_folds(subjects, folds, seed)):
        rest = sorted(set(subjects) - set(test))
        if validation_subjects >= len(rest):
            raise ConfigError(f"validation_subjects {validation_subjects}: fold {index} has {len(rest)} subjects to "
                              f"train on, and needs at least one left after the validation subjects (fewer folds or "
                              f"fewer validation subjects)")
        rng = np.random.default_rng([seed, index])
        validation = tuple(sorted(str(s) for s in rng.choice(rest, validation_subjects, replace=False)))
        train = tuple(s for s in rest if s not in validation)
        result.append(Fold(index, SubjectSplit(train, validation, test)))
    return result


def check_split(split: SubjectSplit, table: pd.DataFrame, dataset_dir: Path, groups: Sequence[str]) -> SubjectSplit:
    """``split`` once its parts are seen to be disjoint subjects of ``table``, train and validation non-empty.

    Raises
    ------
    InputDataError
        A subject of the split is not in ``table`` (the dataset's rows of ``groups``).
    ValueError
        A part is empty (train, validation) or a subject is in two parts.
    """
    parts = split.to_dict()
    absent = sorted(set().union(*parts.values()) - set(table["subject"]))
    if absent:
        raise InputDataError(dataset_dir, f"subject(s) {', '.join(absent)} of the split are not in the dataset's "
                                          f"groups {list(groups)}")
    named = [subject for part in parts.values() for subject in part]
    if len(set(named)) < len(named) or not split.train or not split.validation:
        raise ValueError(f"a split needs training and validation subjects, no subject in two parts; got {parts}")
    return split


def subject_scores(checkpoint_path: Path, table: pd.DataFrame, subjects: Sequence[str]) -> pd.DataFrame:
    """R² and RMSE of each of ``subjects`` (label rows in ``table``), per target group, known points only.

    A subject's value for a group is its mean over the group's channels (each channel's R²
    and RMSE over the subject's segments and time points), as in ``gait2hip evaluate``.

    Returns
    -------
    One row per subject × target group: ``subject``, ``target`` (``moments``, ``forces``),
    ``r2``, ``rmse`` (Nm/kg or N/kg); sorted by subject, then group in the checkpoint's order.
    """
    from gait2hip.surrogate.checkpoint import load_checkpoint
    from gait2hip.surrogate.inference import predict_segments
    from gait2hip.surrogate.metrics import per_subject_channel_metrics
    from gait2hip.surrogate.segmentation import segment_table

    model, checkpoint = load_checkpoint(checkpoint_path)
    rows = table[table["subject"].isin(subjects)]
    missing = sorted(set(subjects) - set(rows["subject"]))
    if missing:
        raise ValueError(f"subject(s) {', '.join(missing)} have no label rows to score")
    names = checkpoint.target_names
    segments = segment_table(rows, list(checkpoint.input_names), names, checkpoint.segmentation)
    predicted = predict_segments(model, checkpoint, segments.inputs, segments.height_m)
    long = per_subject_channel_metrics(segments.targets, predicted, segments.subject, names,
                                       known=segments.target_known)
    records = []
    for subject in sorted(set(segments.subject)):
        for group, channels in checkpoint.target_groups.items():
            part = long[(long["subject"] == subject) & long["channel"].isin(channels)]
            values = part.groupby("metric")["value"].mean()     # NaN channels (no known point) left out
            records.append({"subject": str(subject), "target": group, "r2": float(values["r2"]),
                            "rmse": float(values["rmse"])})
    return pd.DataFrame(records, columns=["subject", "target", "r2", "rmse"])


def mean_over_subjects(scores: pd.DataFrame) -> dict[str, dict[str, float | int]]:
    """Per target group: subject-level mean, SD and median of R² and RMSE, and the subjects counted (NaN left out).

    The median is there because one subject's R² can sit far below the others': a muscle nearly
    silent on a subject's known frames (an SD of a few hundredths of a N/kg) turns a small
    absolute error into a channel R² of -100.
    """
    summary = {}
    for group, part in scores.groupby("target", sort=False):
        entry: dict[str, float | int] = {}
        for metric in ("r2", "rmse"):
            values = part[metric].dropna()
            entry[f"{metric}_mean"] = float(values.mean()) if len(values) else float("nan")
            entry[f"{metric}_sd"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
            entry[f"{metric}_median"] = float(values.median()) if len(values) else float("nan")
        entry["n_subjects"] = int(part["r2"].notna().sum())
        summary[str(group)] = entry
    return summary
