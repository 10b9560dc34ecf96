"""Read the consolidated label dataset (``gait2hip label`` → ``LABELS_DIR/dataset``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow
import pyarrow.dataset

from gait2hip.core.errors import InputDataError

INPUT_NAMES = ("hip_flexion_r", "hip_adduction_r", "hip_rotation_r", "knee_angle_r", "ankle_angle_r",
               "hip_flexion_l", "hip_adduction_l", "hip_rotation_l", "knee_angle_l", "ankle_angle_l")
INPUT_UNIT = "deg"
TARGET_GROUPS = ("moments", "forces")
_GROUP_SUFFIX = {"moments": "_moment", "forces": "_force"}
TARGET_UNITS = {"moments": "Nm/kg", "forces": "N/kg"}


@dataclass(frozen=True)
class Channels:
    """Input columns (degrees) and target columns by group (``moments`` Nm/kg, ``forces`` N/kg)."""

    inputs: tuple[str, ...]
    targets: dict[str, tuple[str, ...]]

    @property
    def target_names(self) -> list[str]:
        return [name for group in self.targets.values() for name in group]

    def group_of(self, target: str) -> str:
        return next(group for group, names in self.targets.items() if target in names)


def target_channel_differences(expected: dict[str, tuple[str, ...]],
                               found: dict[str, tuple[str, ...]]) -> list[tuple[str, list[str], list[str]]]:
    """Per target group of ``expected``: (group, its channels ``found`` lacks, ``found``'s channels it lacks).

    Only groups with a difference are listed; both lists are sorted.
    """
    differences = []
    for group, names in expected.items():
        wanted, present = set(names), set(found.get(group, ()))
        if wanted != present:
            differences.append((group, sorted(wanted - present), sorted(present - wanted)))
    return differences


def load_dataset(folder: str | Path) -> pd.DataFrame:
    """Every label row of the dataset, with ``subject`` as a plain string column.

    Every column any trial file holds is kept: trials labelled by different gait2hip versions
    (one with ``valid_r``/``valid_l``, one without) read together with the column empty where
    a trial lacks it, where a plain read would keep only the first file's columns.
    """
    folder = Path(folder)
    if not folder.exists():
        raise InputDataError(folder, "label dataset not found (run `gait2hip label` first)")
    try:
        table = _read_all_columns(folder)
    except (OSError, ValueError, pyarrow.ArrowException) as error:
        # ArrowException also covers trial files whose same column has clashing types.
        raise InputDataError(folder, f"not a readable parquet dataset ({error})") from error
    if "subject" not in table.columns:
        raise InputDataError(folder, "no 'subject' column or subject=<id> partitions")
    table["subject"] = table["subject"].astype(str)
    for column in ("trial", "cadence_condition", "group"):
        if column in table.columns:
            table[column] = table[column].astype(str)
    return table.sort_values(["subject", "trial", "time"], kind="stable").reset_index(drop=True)


def _read_all_columns(folder: Path) -> pd.DataFrame:
    dataset = pyarrow.dataset.dataset(folder, format="parquet", partitioning="hive")
    schema = pyarrow.unify_schemas([dataset.schema,
                                    *(fragment.physical_schema for fragment in dataset.get_fragments())])
    if schema.equals(dataset.schema):
        return pd.read_parquet(folder)      # every file has the same columns: the usual read
    return pd.read_parquet(folder, schema=schema)


def find_channels(table: pd.DataFrame, groups: tuple[str, ...] = TARGET_GROUPS,
                  inputs: tuple[str, ...] = INPUT_NAMES) -> Channels:
    """Inputs and the target columns of the requested groups, by the label naming rules."""
    missing = [name for name in inputs if name not in table.columns]
    if missing:
        raise InputDataError(Path("dataset"), f"input column(s) missing: {', '.join(missing)}")
    unknown = [group for group in groups if group not in _GROUP_SUFFIX]
    if unknown:
        raise ValueError(f"unknown target group(s) {unknown}; choose from {TARGET_GROUPS}")
    targets = {group: tuple(c for c in table.columns if c.endswith(_GROUP_SUFFIX[group])) for group in groups}
    return Channels(tuple(inputs), targets)
