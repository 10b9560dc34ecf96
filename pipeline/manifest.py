"""The batch manifest: one row per trial with status, error, QC figures, wall times, hashes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from gait2hip.core.atomic import write_atomically
from gait2hip.pipeline.cohort import Cohort
from gait2hip.pipeline.tasks import TaskResult

MANIFEST_PARQUET = "manifest.parquet"
MANIFEST_CSV = "manifest.csv"


def build_manifest(cohort: Cohort, trial_results: dict[str, TaskResult], labels_dir: Path) -> pd.DataFrame:
    """Return the manifest table (rows in cohort order).

    Columns: ``subject, trial, group, affected_side, body_mass_kg, height_m, cadence_condition,
    cadence_steps_per_min, status, failed_stage, error, skipped, n_frames, input_hash,
    peak_rss_mb`` (peak memory of the task's process), ``labels_path``, then ``qc_<figure>`` and ``wall_time_<stage>_s`` columns.
    A trial that failed QC reads ``failed_stage`` ``qc`` and the checks it missed as its error.
    """
    rows = []
    for subject in cohort.subjects:
        for trial in subject.trials:
            result = trial_results[trial.key]
            row: dict[str, Any] = {
                "subject": subject.info.subject_id,
                "trial": trial.trial_id,
                "group": subject.info.group,
                "affected_side": subject.info.affected_side or "",
                "body_mass_kg": subject.info.mass_kg,
                "height_m": subject.info.height_m,
                "cadence_condition": trial.cadence_condition,
                "cadence_steps_per_min": trial.cadence_steps_per_min,
                "status": str(result.status),
                "failed_stage": result.failed_stage or ("qc" if result.failed_qc else ""),
                "error": result.error or ("; ".join(result.reasons) if result.failed_qc else ""),
                "skipped": result.skipped,
                "n_frames": int(result.n_frames),
                "input_hash": result.input_hash,
                "peak_rss_mb": float(result.peak_rss_mb or 0.0),
                "labels_path": str(result.labels.relative_to(labels_dir)) if result.labels is not None else "",
            }
            for name, value in result.qc.items():
                row[f"qc_{name}"] = value
            for stage, seconds in result.wall_time_s.items():
                row[f"wall_time_{stage}_s"] = seconds
            rows.append(row)
    return pd.DataFrame(rows)


def write_manifest(manifest: pd.DataFrame, labels_dir: Path) -> Path:
    """Write ``manifest.parquet`` and ``manifest.csv`` atomically; return the parquet path."""
    write_atomically(labels_dir / MANIFEST_CSV, lambda temporary: manifest.to_csv(temporary, index=False))
    return write_atomically(labels_dir / MANIFEST_PARQUET, lambda temporary: manifest.to_parquet(temporary, index=False))
