"""Consolidate a labelled cohort into one parquet dataset partitioned by subject.

``dataset/subject=<id>/<trial>.parquet`` holds each usable (``ok`` or ``warn``) trial's label
rows with the manifest's metadata joined: ``trial, group, affected_side, body_mass_kg,
height_m, cadence_condition, cadence_steps_per_min``; ``subject`` comes from the partition
folder.
Read it with ``pandas.read_parquet(DATASET_DIR)`` (``subject`` arrives as a category).
The folder is replaced as a whole, so a reader never sees a half-written dataset.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd

from gait2hip.core.atomic import make_staging_folder
from gait2hip.pipeline.status import USABLE_STATUSES

DATASET_DIR = "dataset"
METADATA_COLUMNS = ("trial", "group", "affected_side", "body_mass_kg", "height_m", "cadence_condition",
                    "cadence_steps_per_min")


def export_dataset(manifest: pd.DataFrame, labels_dir: Path) -> Path | None:
    """Write ``labels_dir/dataset`` from the manifest's usable trials; None if there are none."""
    usable = manifest[manifest["status"].isin(USABLE_STATUSES) & (manifest["labels_path"] != "")]
    final = labels_dir / DATASET_DIR
    if usable.empty:
        shutil.rmtree(final, ignore_errors=True)
        return None
    staging = make_staging_folder(labels_dir, prefix=".dataset.")
    try:
        for row in usable.itertuples(index=False):
            table = pd.read_parquet(labels_dir / row.labels_path)
            # A manifest written before a metadata column existed lacks it; the rows do too.
            for column in reversed([name for name in METADATA_COLUMNS if name in usable.columns]):
                table.insert(0, column, getattr(row, column))
            partition = staging / f"subject={row.subject}"
            partition.mkdir(exist_ok=True)
            table.to_parquet(partition / f"{row.trial}.parquet", index=False)
        previous = labels_dir / f".{DATASET_DIR}.previous"
        shutil.rmtree(previous, ignore_errors=True)
        if final.exists():
            os.replace(final, previous)
        os.replace(staging, final)
        shutil.rmtree(previous, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final
