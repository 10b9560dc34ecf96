"""Per-trial quality control: figures from IK, ID and SO, and an ok/warn/failed status.

Thresholds come from :class:`gait2hip.pipeline.config.QCThresholds` (OpenSim best practice by
default). Residuals are the ID generalized forces at the pelvis (root) coordinates: the
load the GRFs fail to explain. Reserves are the SO reserve actuators; the hip reserves are
judged against the peak ID moment of their coordinate, since the labels are hip loads.
A figure that is not a finite number (NaN, infinite) fails the trial, with a reason naming it.

On a walk where some stances are on the floor beside the plates (``contact``), the residuals
are judged over the frames where every loaded foot is on a plate, and each hip coordinate's
reserve over the frames where its own leg's labels are valid: elsewhere the ground reaction
is unmeasured, and the labels there are marked invalid rather than judged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gait2hip.pipeline.actuators import RESERVE_PREFIX
from gait2hip.pipeline.config import QCThresholds
from gait2hip.pipeline.foot_contact import ContactReport
from gait2hip.pipeline.rra_check import RRACheck
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
               subject: SubjectInfo, thresholds: QCThresholds, contact: ContactReport | None = None,
               all_markers_error_m: tuple[float, float] | None = None, rra_check: RRACheck | None = None,
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
    contact
        Each leg's label validity per frame; None judges every frame.
    marker_rms_error_m, marker_max_error_m, all_markers_error_m
        IK marker error (m) judged by QC: of the markers left at full weight by the marker
        consistency check; ``all_markers_error_m`` is OpenSim's (RMS, max) over every tracked
        marker, recorded as ``ik_marker_*_error_all_m``.
    rra_check
        With ``residual_reduction.enabled``: RRA's check of the trial. The residual force limits
        then judge the residual RRA leaves (``rra_peak_pelvis_residual_force_pct_bw``), the ID
        residual stays a figure, and RRA's change to the hip angles is judged too.

    Frames within ``thresholds.edge_exclusion_s`` of the trial's start and end are left out
    of the residual and reserve figures: the tools low-pass filter padded coordinates, and
    the accelerations at the padded ends are artefacts of the padding, not of the data.
    """
    inverse_dynamics = _interior(inverse_dynamics, thresholds.edge_exclusion_s)
    so_forces = _interior(so_forces, thresholds.edge_exclusion_s)
    residual_rows = inverse_dynamics[_flags_at(contact, "residual", inverse_dynamics["time"].to_numpy())]
    translations = residual_rows[[f"{c}_force" for c in model_config.pelvis_translations]].to_numpy()
    rotations = residual_rows[[f"{c}_moment" for c in model_config.pelvis_rotations]].to_numpy()
    residuals_judged = len(residual_rows) >= 2
    peak_residual_force_n = float(np.max(np.linalg.norm(translations, axis=1))) if residuals_judged else 0.0
    peak_residual_moment_nm = float(np.max(np.linalg.norm(rotations, axis=1))) if residuals_judged else 0.0

    reserve_columns = [c for c in so_forces.columns if c.startswith(RESERVE_PREFIX)]
    peak_reserve_nm = float(np.max(np.abs(so_forces[reserve_columns].to_numpy()))) if reserve_columns else 0.0
    hip_reserve_pct = 0.0
    for coordinate in model_config.hip_coordinates:
        column = RESERVE_PREFIX + coordinate
        side = _side_of(coordinate)
        moments = inverse_dynamics[_flags_at(contact, side, inverse_dynamics["time"].to_numpy())]
        reserves = so_forces[_flags_at(contact, side, so_forces["time"].to_numpy())]
        if column not in so_forces.columns or len(moments) == 0 or len(reserves) == 0:
            continue
        peak_moment = float(np.max(np.abs(moments[f"{coordinate}_moment"])))
        peak_reserve = float(np.max(np.abs(reserves[column])))
        if not (math.isfinite(peak_moment) and math.isfinite(peak_reserve)):
            hip_reserve_pct = math.nan  # judged (failed) below, never mistaken for a small figure
            break
        if peak_moment > 0:
            hip_reserve_pct = max(hip_reserve_pct, 100.0 * peak_reserve / peak_moment)
    n_frames = len(so_forces)
    figures = {
        "ik_marker_rms_error_m": marker_rms_error_m,
        "ik_marker_max_error_m": marker_max_error_m,
        **({"ik_marker_rms_error_all_m": all_markers_error_m[0], "ik_marker_max_error_all_m": all_markers_error_m[1]}
           if all_markers_error_m is not None else {}),
        "peak_pelvis_residual_force_n": peak_residual_force_n,
        "peak_pelvis_residual_force_pct_bw": 100.0 * peak_residual_force_n / subject.body_weight_n,
        "peak_pelvis_residual_moment_nm": peak_residual_moment_nm,
        "peak_reserve_torque_nm": peak_reserve_nm,
        "peak_hip_reserve_pct_peak_moment": hip_reserve_pct,
        "so_failed_frames": float(n_so_failed_frames),
        "so_failed_fraction": n_so_failed_frames / n_frames if n_frames else 1.0,
    }
    residual_key = "peak_pelvis_residual_force_pct_bw"
    if rra_check is not None:
        residual_key = "rra_peak_pelvis_residual_force_pct_bw"
        figures[residual_key] = 100.0 * rra_check.peak_residual_force_n / subject.body_weight_n
        figures["rra_hip_angle_change_rms_deg"] = rra_check.hip_angle_change_rms_deg
        figures["rra_hip_moment_change_rms_nm_per_kg"] = rra_check.hip_moment_change_rms_nm_per_kg
    if contact is not None:
        figures["residual_frames"] = float(len(residual_rows))
        for leg_side, leg in contact.legs.items():
            figures[f"valid_frames_{leg_side}"] = float(leg.valid.sum())
    if so_cross_check_worst_pct_peak is not None:
        figures["so_cross_check_worst_pct_peak"] = so_cross_check_worst_pct_peak
    status, reasons = _judge(figures, thresholds, residual_key)
    if not residuals_judged and rra_check is None:
        status = TrialStatus.WARN if status == TrialStatus.OK else status
        reasons.append("pelvis residuals not judged: fewer than 2 frames (past the edges) with every loaded "
                       "foot on a plate")
    return QCReport(figures, status, tuple(reasons))


def _side_of(coordinate: str) -> str | None:
    """``r``/``l`` from a coordinate name's ``_r``/``_l`` suffix, None for a coordinate of no leg."""
    for side in ("r", "l"):
        if coordinate.endswith(f"_{side}"):
            return side
    return None


def _flags_at(contact: ContactReport | None, which: str | None, times_s: np.ndarray) -> np.ndarray:
    """``(len(times_s),)`` bool: frames valid for leg ``which`` (``r``/``l``), or ``residual`` frames.

    Every frame when there is no contact report or the coordinate belongs to no leg.
    """
    if contact is None or which is None:
        return np.ones(len(times_s), dtype=bool)
    flags = contact.residual_frames if which == "residual" else contact.legs[which].valid
    rows, found = contact.rows_at(times_s)
    return flags[rows] & found


def _interior(table: pd.DataFrame, edge_s: float) -> pd.DataFrame:
    """Rows at least ``edge_s`` from both ends (all rows when the trial is too short for that)."""
    times = table["time"].to_numpy()
    inside = (times >= times[0] + edge_s) & (times <= times[-1] - edge_s)
    return table[inside] if inside.sum() >= 2 else table


def _judge(figures: dict[str, float], limits: QCThresholds,
           residual_key: str = "peak_pelvis_residual_force_pct_bw") -> tuple[TrialStatus, list[str]]:
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
        (residual_key, limits.residual_force_warn_pct_bw, limits.residual_force_fail_pct_bw, "% BW"),
        ("rra_hip_angle_change_rms_deg", limits.rra_hip_angle_change_warn_deg, limits.rra_hip_angle_change_fail_deg,
         "deg"),
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
