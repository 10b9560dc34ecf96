"""Assemble the per-trial label table: IK angles in, ID hip moments and SO hip forces out.

Columns (see docs/labels.md): ``time`` (s); the model's input coordinates (degrees);
``<hip coordinate>_moment`` (Nm/kg); ``<muscle>_force`` (N/kg) for every muscle crossing the
hip; ``stance_r``/``stance_l`` (bool: the foot on the ground, on a plate or on the floor);
``valid_r``/``valid_l`` (bool: that leg's moments and forces are known, its foot in swing or
on a plate; see :mod:`gait2hip.pipeline.foot_contact`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from gait2hip.core.atomic import write_atomically
from gait2hip.core.errors import InputDataError
from gait2hip.core.opensim_files import read_opensim_table, table_in_degrees
from gait2hip.pipeline.foot_contact import ContactReport
from gait2hip.pipeline.model_config import ModelConfig
from gait2hip.pipeline.sign_conventions import apply_label_signs

logger = logging.getLogger(__name__)

# Result tables must reproduce the IK frame times to within this (s).
_TIME_MATCH_TOLERANCE_S = 1e-6
# A step between SO frames longer than this many IK frame intervals is a gap of missing frames.
_MAX_STEP_IN_FRAMES = 1.5


def build_label_table(*, ik_coordinates_path: Path, id_forces_path: Path, so_forces_path: Path,
                      model_config: ModelConfig, hip_muscles: list[str], body_mass_kg: float,
                      contact: ContactReport, start_time_s: float | None = None, notes: list[str] | None = None) -> pd.DataFrame:
    """Return the label table of one trial, one row per IK frame SO solved (from ``start_time_s`` when given).

    SO's output may stop one frame before the trial's last frame (its tool drops the last
    frame of some time ranges); the labels then end where SO ends, and a note says so. More
    than one frame missing at the end, or frames missing inside SO's time range, is an error.

    Parameters
    ----------
    ik_coordinates_path
        IK ``.mot`` (degrees). Inputs are the unfiltered IK angles, as a user would feed them.
    id_forces_path, so_forces_path
        ID generalized forces and SO actuator forces (``.sto``), on the IK frame times.
    hip_muscles
        Muscles whose forces become ``<muscle>_force`` columns.
    body_mass_kg
        Divides moments (Nm → Nm/kg) and forces (N → N/kg).
    contact
        Each leg's stance and label validity on the IK frames (``stance_*``, ``valid_*`` columns).
    start_time_s
        First frame SO solved (s), when it started after the trial's first frame.
    notes
        When given, a line is appended for every adjustment made (e.g. the labels trimmed to
        SO's time range), for the trial's notes.

    Raises
    ------
    InputDataError
        If a table lacks a column, IK is not in degrees, or ID/SO do not cover the frames
        (naming the table and the time ranges).
    """
    ik = read_opensim_table(ik_coordinates_path)
    if start_time_s is not None:
        ik = ik[ik["time"] >= start_time_s - _TIME_MATCH_TOLERANCE_S].reset_index(drop=True)
    if not table_in_degrees(ik_coordinates_path):
        raise InputDataError(ik_coordinates_path, "IK coordinates are expected in degrees (inDegrees=yes)")
    inverse_dynamics = read_opensim_table(id_forces_path)
    static_optimization = read_opensim_table(so_forces_path)
    ik = _trim_to_so_end(ik, static_optimization, so_forces_path, notes)
    times = ik["time"].to_numpy()

    labels = {"time": times}
    for coordinate in model_config.input_coordinates:
        labels[coordinate] = _column(ik, coordinate, ik_coordinates_path)
    id_on_ik_times = _on_times(inverse_dynamics, times, id_forces_path)
    for coordinate in model_config.hip_coordinates:
        labels[f"{coordinate}_moment"] = _column(id_on_ik_times, f"{coordinate}_moment", id_forces_path) / body_mass_kg
    so_on_ik_times = _on_times(static_optimization, times, so_forces_path)
    for muscle in hip_muscles:
        labels[f"{muscle}_force"] = _column(so_on_ik_times, muscle, so_forces_path) / body_mass_kg
    rows, found = contact.rows_at(times)
    if not found.all():
        raise InputDataError(ik_coordinates_path, "the IK frames are not the marker trial's frames")
    for side in ("r", "l"):
        labels[f"stance_{side}"] = contact.legs[side].stance[rows]
    for side in ("r", "l"):
        labels[f"valid_{side}"] = contact.legs[side].valid[rows]
    # One sign convention per column whatever the model (docs/labels.md, "Sign conventions").
    return pd.DataFrame(apply_label_signs(labels, model_config))


def write_labels(table: pd.DataFrame, path: Path) -> Path:
    """Write the label table as parquet, atomically (never a half-written file)."""
    return write_atomically(path, lambda temporary: table.to_parquet(temporary, index=False))


def _column(table: pd.DataFrame, name: str, source: Path) -> np.ndarray:
    if name not in table.columns:
        raise InputDataError(source, f"expected column {name!r} is missing")
    return table[name].to_numpy(dtype=float)


def _on_times(table: pd.DataFrame, times: np.ndarray, source: Path) -> pd.DataFrame:
    """Rows of ``table`` at ``times``: exact when the tool kept the frames, else interpolated."""
    result_times = table["time"].to_numpy()
    if len(result_times) == len(times) and np.allclose(result_times, times, atol=_TIME_MATCH_TOLERANCE_S):
        return table
    if result_times[0] > times[0] + 1e-3 or result_times[-1] < times[-1] - 1e-3:
        raise InputDataError(source, f"covers {result_times[0]:.3f}-{result_times[-1]:.3f} s, "
                                     f"not the trial's {times[0]:.3f}-{times[-1]:.3f} s")
    columns = {"time": times}
    for name in table.columns[1:]:
        columns[name] = np.interp(times, result_times, table[name].to_numpy())
    return pd.DataFrame(columns)


def _trim_to_so_end(ik: pd.DataFrame, static_optimization: pd.DataFrame, so_forces_path: Path,
                    notes: list[str] | None) -> pd.DataFrame:
    """IK frames up to SO's last frame when SO ends exactly one frame early; refuse real gaps."""
    times = ik["time"].to_numpy()
    so_times = static_optimization["time"].to_numpy()
    if len(times) < 2 or len(so_times) == 0:
        return ik
    frame_s = float(np.median(np.diff(times)))
    steps = np.diff(so_times)
    gaps = np.flatnonzero(steps > _MAX_STEP_IN_FRAMES * frame_s)
    if gaps.size:
        first = gaps[0]
        raise InputDataError(so_forces_path, f"frames missing between {so_times[first]:.3f} and "
                                             f"{so_times[first + 1]:.3f} s ({gaps.size} gap(s) in SO's output)")
    missing_at_end = int(np.count_nonzero(times > so_times[-1] + _TIME_MATCH_TOLERANCE_S))
    if missing_at_end == 0:
        return ik
    if missing_at_end > 1:
        raise InputDataError(so_forces_path, f"covers {so_times[0]:.3f}-{so_times[-1]:.3f} s, not the trial's "
                                             f"{times[0]:.3f}-{times[-1]:.3f} s: {missing_at_end} frames missing "
                                             "at the end")
    note = (f"SO's output ends one frame early, at {so_times[-1]:.3f} s; the labels end there, "
            f"not at the trial's {times[-1]:.3f} s")
    logger.info("%s: %s", so_forces_path, note)
    if notes is not None:
        notes.append(note)
    return ik.iloc[:-1].reset_index(drop=True)
