"""Per-trial quality control: figures from IK, ID and SO, and an ok/warn/failed status.

Thresholds come from :class:`gait2hip.pipeline.config.QCThresholds` (OpenSim best practice by
default). Residuals are the ID generalized forces at the pelvis (root) coordinates: the
load the GRFs fail to explain. Reserves are the SO reserve actuators; the hip reserves are
judged against the peak ID moment of their coordinate, since the labels are hip loads.
A figure that is not a finite number (NaN, infinite) fails the trial, with a reason naming it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gait2hip.pipeline.actuators import RESERVE_PREFIX
from gait2hip.pipeline.config import QCThresholds
from gait2hip.pipeline.model_config import ModelConfig
from gait2hip.pipeline.status import TrialStatus
from gait2hip.pipeline.subject import SubjectInfo


@dataclass(frozen=True)
class QCReport:
    """QC figures (units in the key names), the status, and why it is not ``ok``."""

    figures: dict[str, float]
    status: TrialStatus
    reasons: tuple[str, ...]


def compute_qc(*, marker_rms_error_m: float, marker_max_error_m: float, inverse_dynamics: pd.DataFrame,
               so_forces: pd.DataFrame, n_so_failed_frames: int, model_config: ModelConfig,
               subject: SubjectInfo, thresholds: QCThresholds,
               so_cross_check_worst_pct_peak: float | None = None) -> QCReport:
    """Return the QC figures and status of one trial.

    Parameters
    ----------
    inverse_dynamics
        ID generalized forces (``<coordinate>_moment`` in Nm, ``<coordinate>_force`` in N).
    so_cross_check_worst_pct_peak
        With the batched SO solver: its worst muscle difference from OpenSim's tool on the
        cross-check frames (% of peak); None when there was no check.
    so_forces
        SO actuator forces, including ``reserve_<coordinate>`` columns (Nm).

    Frames within ``thresholds.edge_exclusion_s`` of the trial's start and end are left out
    of the residual and reserve figures: the tools low-pass filter padded coordinates, and
    the accelerations at the padded ends are artefacts of the padding, not of the data.
    """
    inverse_dynamics = _interior(inverse_dynamics, thresholds.edge_exclusion_s)
    so_forces = _interior(so_forces, thresholds.edge_exclusion_s)
    translations = inverse_dynamics[[f"{c}_force" for c in model_config.pelvis_translations]].to_numpy()
    rotations = inverse_dynamics[[f"{c}_moment" for c in model_config.pelvis_rotations]].to_numpy()
    peak_residual_force_n = float(np.max(np.linalg.norm(translations, axis=1)))
    peak_residual_moment_nm = float(np.max(np.linalg.norm(rotations, axis=1)))

    reserve_columns = [c for c in so_forces.columns if c.startswith(RESERVE_PREFIX)]
    peak_reserve_nm = float(np.max(np.abs(so_forces[reserve_columns].to_numpy()))) if reserve_columns else 0.0
    hip_reserve_pct = 0.0
    for coordinate in model_config.hip_coordinates:
        column = RESERVE_PREFIX + coordinate
        peak_moment = float(np.max(np.abs(inverse_dynamics[f"{coordinate}_moment"])))
        if column not in so_forces.columns:
            continue
        peak_reserve = float(np.max(np.abs(so_forces[column])))
        if not (math.isfinite(peak_moment) and math.isfinite(peak_reserve)):
            hip_reserve_pct = math.nan  # judged (failed) below, never mistaken for a small figure
            break
        if peak_moment > 0:
            hip_reserve_pct = max(hip_reserve_pct, 100.0 * peak_reserve / peak_moment)
    n_frames = len(so_forces)
    figures = {
        "ik_marker_rms_error_m": marker_rms_error_m,
        "ik_marker_max_error_m": marker_max_error_m,
        "peak_pelvis_residual_force_n": peak_residual_force_n,
        "peak_pelvis_residual_force_pct_bw": 100.0 * peak_residual_force_n / subject.body_weight_n,
        "peak_pelvis_residual_moment_nm": peak_residual_moment_nm,
        "peak_reserve_torque_nm": peak_reserve_nm,
        "peak_hip_reserve_pct_peak_moment": hip_reserve_pct,
        "so_failed_frames": float(n_so_failed_frames),
        "so_failed_fraction": n_so_failed_frames / n_frames if n_frames else 1.0,
    }
    if so_cross_check_worst_pct_peak is not None:
        figures["so_cross_check_worst_pct_peak"] = so_cross_check_worst_pct_peak
    status, reasons = _judge(figures, thresholds)
    return QCReport(figures, status, tuple(reasons))


def _interior(table: pd.DataFrame, edge_s: float) -> pd.DataFrame:
    """Rows at least ``edge_s`` from both ends (all rows when the trial is too short for that)."""
    times = table["time"].to_numpy()
    inside = (times >= times[0] + edge_s) & (times <= times[-1] - edge_s)
    return table[inside] if inside.sum() >= 2 else table


def _judge(figures: dict[str, float], limits: QCThresholds) -> tuple[TrialStatus, list[str]]:
    """Status and reasons: a figure past its fail limit, or not a finite number, fails the trial.

    Every comparison with NaN is false, so a NaN figure (a tool that diverged, markers far
    off in a damaged file) would pass any limit; it is a failure of its own, named.
    """
    status, reasons = TrialStatus.OK, []
    for key, value in figures.items():
        if not math.isfinite(value):
            status = TrialStatus.FAILED
            reasons.append(f"{key} = {value} is not a finite number")
    checks = [
        ("ik_marker_rms_error_m", limits.marker_rms_error_warn_m, limits.marker_rms_error_fail_m, "m"),
        ("ik_marker_max_error_m", limits.marker_max_error_warn_m, limits.marker_max_error_fail_m, "m"),
        ("peak_pelvis_residual_force_pct_bw", limits.residual_force_warn_pct_bw, limits.residual_force_fail_pct_bw, "% BW"),
        ("peak_pelvis_residual_moment_nm", limits.residual_moment_warn_nm, limits.residual_moment_fail_nm, "Nm"),
        ("peak_hip_reserve_pct_peak_moment", limits.reserve_torque_warn_pct_peak_moment,
         limits.reserve_torque_fail_pct_peak_moment, "% of peak hip moment"),
        ("so_failed_fraction", 0.0, limits.so_failed_frames_fail_fraction, "of frames"),
        ("so_cross_check_worst_pct_peak", limits.so_cross_check_warn_pct_peak, float("inf"), "% of peak force"),
    ]
    for key, warn_limit, fail_limit, unit in checks:
        value = figures.get(key)
        if value is None or not math.isfinite(value):
            continue
        if value > fail_limit:
            status = TrialStatus.FAILED
            reasons.append(f"{key} = {value:.4g} {unit} > fail limit {fail_limit:g}")
        elif value > warn_limit:
            status = TrialStatus.WARN if status == TrialStatus.OK else status
            reasons.append(f"{key} = {value:.4g} {unit} > warn limit {warn_limit:g}")
    return status, reasons
