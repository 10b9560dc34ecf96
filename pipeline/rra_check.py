"""A trial's dynamic consistency, checked by OpenSim's RRA over the frames every loaded foot is on a plate.

The labels come from the IK kinematics. RRA (:mod:`gait2hip.pipeline.residual_reduction`)
finds, over the longest window where both legs are valid, the nearby kinematics and torso
centre of mass with which the measured ground reactions balance the model. Two figures judge
the trial: the pelvis residual RRA leaves (the body's dynamics, once the model's
mass distribution and the marker-based kinematics are allowed their errors), and how far RRA
had to move the hip angles and hip moments from the labels' (what a dynamically consistent
labelling would have changed). A small change means the labels are within that distance of
dynamically consistent ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gait2hip.core.opensim_files import read_opensim_table, within
from gait2hip.pipeline.config import ResidualReductionConfig
from gait2hip.pipeline.foot_contact import ContactReport, windows_of
from gait2hip.pipeline.model_config import ModelConfig
from gait2hip.pipeline.residual_reduction import run_residual_reduction

# RRA needs a window long enough to track and to leave an interior past its edges (s).
MIN_WINDOW_S = 0.2


@dataclass(frozen=True)
class RRACheck:
    """RRA's verdict on one trial (units in the names)."""

    time_range_s: tuple[float, float]
    peak_residual_force_n: float
    peak_residual_moment_nm: float
    hip_angle_change_rms_deg: float
    hip_moment_change_rms_nm_per_kg: float
    mass_change_applied_kg: float
    mass_change_recommended_kg: float
    adjusted_model_path: Path
    adjusted_coordinates_path: Path
    wall_time_s: float

    def to_json(self) -> dict:
        return {"time_range_s": list(self.time_range_s), "peak_residual_force_n": self.peak_residual_force_n,
                "peak_residual_moment_nm": self.peak_residual_moment_nm,
                "hip_angle_change_rms_deg": self.hip_angle_change_rms_deg,
                "hip_moment_change_rms_nm_per_kg": self.hip_moment_change_rms_nm_per_kg,
                "mass_change_applied_kg": self.mass_change_applied_kg,
                "mass_change_recommended_kg": self.mass_change_recommended_kg,
                "adjusted_model": str(self.adjusted_model_path),
                "adjusted_coordinates": str(self.adjusted_coordinates_path), "wall_time_s": self.wall_time_s}


def longest_residual_window(contact: ContactReport) -> tuple[float, float] | None:
    """The longest run of frames with both legs valid (s), or None when none is ``MIN_WINDOW_S`` long."""
    windows = windows_of(contact.times_s, contact.residual_frames)
    if not windows:
        return None
    longest = max(windows, key=lambda w: w.end_s - w.start_s)
    return (longest.start_s, longest.end_s) if longest.end_s - longest.start_s >= MIN_WINDOW_S else None


def check_with_rra(*, model_path: Path, ik_coordinates_path: Path, id_forces_path: Path, external_loads_path: Path,
                   window_s: tuple[float, float], model_config: ModelConfig, body_mass_kg: float,
                   settings: ResidualReductionConfig, out_dir: Path, trial_id: str, log_dir: Path) -> RRACheck:
    """Run RRA over ``window_s`` and measure how far it moved the hip labels.

    ``id_forces_path`` is the trial's own ID (the labels' hip moments, Nm). Hip changes are
    RMS over the window less ``settings.edge_exclusion_s`` at each end, the worst hip
    coordinate's: angles in degrees, moments in Nm/kg.
    """
    rra = run_residual_reduction(model_path=model_path, coordinates_path=ik_coordinates_path,
                                 external_loads_path=external_loads_path, out_dir=out_dir, settings=settings,
                                 pelvis_translations=model_config.pelvis_translations,
                                 pelvis_rotations=model_config.pelvis_rotations, time_range_s=window_s,
                                 trial_id=trial_id, log_dir=log_dir)
    start, end = window_s[0] + settings.edge_exclusion_s, window_s[1] - settings.edge_exclusion_s
    angle_change = _rms_change(read_opensim_table(ik_coordinates_path), read_opensim_table(rra.adjusted_coordinates_path),
                               list(model_config.hip_coordinates), start, end)
    moments = [f"{c}_moment" for c in model_config.hip_coordinates]
    moment_change = _rms_change(read_opensim_table(id_forces_path), read_opensim_table(rra.adjusted_id_forces_path),
                                moments, start, end) / body_mass_kg
    return RRACheck(time_range_s=rra.time_range_s, peak_residual_force_n=rra.peak_residual_force_after_n,
                    peak_residual_moment_nm=rra.peak_residual_moment_after_nm,
                    hip_angle_change_rms_deg=angle_change, hip_moment_change_rms_nm_per_kg=moment_change,
                    mass_change_applied_kg=rra.mass_change_applied_kg,
                    mass_change_recommended_kg=rra.mass_change_recommended_kg,
                    adjusted_model_path=rra.adjusted_model_path,
                    adjusted_coordinates_path=rra.adjusted_coordinates_path, wall_time_s=rra.wall_time_s)


def _rms_change(before, after, columns: list[str], start_s: float, end_s: float) -> float:
    """Worst column's RMS difference between two tables over ``[start_s, end_s]`` (``after``'s frames)."""
    times = after["time"].to_numpy()
    inside = within(times, (start_s, end_s))
    worst = 0.0
    for column in columns:
        reference = np.interp(times[inside], before["time"].to_numpy(), before[column].to_numpy())
        worst = max(worst, float(np.sqrt(np.mean((after[column].to_numpy()[inside] - reference) ** 2))))
    return worst
