"""Seeded subject-level split into train / validation / test."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gait2hip.core.errors import ConfigError


@dataclass(frozen=True)
class SubjectSplit:
    """Disjoint subject lists."""

    train: tuple[str, ...]
    validation: tuple[str, ...]
    test: tuple[str, ...]

    def to_dict(self) -> dict[str, list[str]]:
        return {"train": list(self.train), "validation": list(self.validation), "test": list(self.test)}


def split_subjects(table: pd.DataFrame, fractions: tuple[float, float, float], seed: int,
                   tries: int = 200) -> SubjectSplit:
    """Split the subjects of ``table`` by ``fractions`` (train, validation, test), seeded.

    Each split gets ``round(fraction × n_subjects)`` subjects (training the rest), and each must
    get at least one. Among ``tries`` seeded shuffles the first one in
    which every split holds every cadence condition is kept (else the one covering most).
    """
    subjects = sorted(table["subject"].unique())
    if len(subjects) < 3:
        raise ConfigError(f"a train/validation/test split needs at least 3 subjects, the dataset has "
                          f"{len(subjects)}{' (' + ', '.join(subjects) + ')' if subjects else ''}")
    cadences = table.groupby("subject")["cadence_condition"].agg(lambda c: frozenset(c)).to_dict()
    all_cadences = frozenset().union(*cadences.values())
    n_validation = int(round(fractions[1] * len(subjects)))
    n_test = int(round(fractions[2] * len(subjects)))
    n_train = len(subjects) - n_validation - n_test
    if min(n_train, n_validation, n_test) < 1:
        raise ConfigError(f"split_fractions {list(fractions)} give {n_train} train / {n_validation} validation / "
                          f"{n_test} test subjects of the dataset's {len(subjects)} subjects; each split needs at "
                          f"least one (a fraction of at least {1 / len(subjects):.2f} each)")
    rng = np.random.default_rng(seed)
    best, best_score = None, -1
    for _ in range(tries):
        order = list(rng.permutation(subjects))
        parts = (order[:n_train], order[n_train:n_train + n_validation], order[n_train + n_validation:])
        score = sum(len(frozenset().union(*(cadences[s] for s in part)) & all_cadences) for part in parts)
        if score > best_score:
            best, best_score = parts, score
        if score == 3 * len(all_cadences):
            break
    return SubjectSplit(*(tuple(sorted(part)) for part in best))
