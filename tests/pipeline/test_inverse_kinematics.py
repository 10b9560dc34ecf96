"""IK recovers the coordinates that generated the markers."""

from __future__ import annotations

import math

import numpy as np

from gait2hip.core.opensim_files import read_opensim_table
from gait2hip.pipeline.inverse_kinematics import run_inverse_kinematics
from gait2hip.pipeline.markers import check_and_fill, read_trc, write_trc_m
from gait2hip.pipeline.model_config import ModelConfig
from support.synthetic_pipeline_data import marker_positions, write_trc

IK_RMS_TOLERANCE_DEG = 0.5
RATE_HZ = 100.0


def _known_motion(n_frames: int) -> dict[str, np.ndarray]:
    """A walking-like swing of both legs (rad, m) over ``n_frames`` at 100 Hz."""
    phase = 2 * math.pi * np.arange(n_frames) / RATE_HZ  # one cycle per second
    degrees = {
        "hip_flexion_r": 10 + 25 * np.sin(phase), "hip_flexion_l": 10 - 25 * np.sin(phase),
        "hip_adduction_r": 4 * np.sin(phase), "hip_adduction_l": -4 * np.sin(phase),
        "hip_rotation_r": 5 * np.cos(phase), "hip_rotation_l": -5 * np.cos(phase),
        "knee_angle_r": -30 + 28 * np.cos(phase), "knee_angle_l": -30 - 28 * np.cos(phase),
        "ankle_angle_r": 8 * np.sin(phase), "ankle_angle_l": -8 * np.sin(phase),
        "pelvis_tilt": 3 * np.sin(2 * phase), "pelvis_rotation": 5 * np.sin(phase),
    }
    motion = {name: np.radians(values) for name, values in degrees.items()}
    motion["pelvis_tx"] = 1.2 * np.arange(n_frames) / RATE_HZ
    return motion


def test_ik_recovers_known_coordinates(subject_files, tmp_path):
    n_frames = 50
    motion = _known_motion(n_frames)
    names, positions = marker_positions(subject_files.marker_model_path, motion)
    trc = write_trc(tmp_path / "walk.trc", names, positions, RATE_HZ, units="mm")
    model_config = ModelConfig.load("gait2392")
    weights = model_config.markers_used("dynamic")
    clean = write_trc_m(check_and_fill(read_trc(trc), list(weights), 0.1), tmp_path / "clean.trc")

    result = run_inverse_kinematics(
        model_path=subject_files.marker_model_path, markers_trc_path=clean, out_dir=tmp_path / "ik",
        marker_weights=weights, accuracy=1e-6, time_range_s=(0.0, (n_frames - 1) / RATE_HZ), trial_id="S01/walk")

    coordinates = read_opensim_table(result.coordinates_path)
    assert len(coordinates) == n_frames
    for name in model_config.input_coordinates:
        error_deg = coordinates[name].to_numpy() - np.degrees(motion[name])
        assert np.sqrt(np.mean(error_deg ** 2)) < IK_RMS_TOLERANCE_DEG, name
    assert result.marker_max_error_m < 1e-3
