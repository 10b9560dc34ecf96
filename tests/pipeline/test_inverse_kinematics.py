"""IK recovers the coordinates that generated the markers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gait2hip.core.opensim_files import read_opensim_table
from gait2hip.pipeline.inverse_kinematics import run_inverse_kinematics
from gait2hip.pipeline.markers import check_and_fill, read_trc, write_trc_m
from gait2hip.pipeline.model_config import CoordinateTarget, ModelConfig
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


HELD_TOLERANCE_DEG = 0.5


def test_a_held_rotational_coordinate_is_given_in_degrees(subject_files, tmp_path):
    """Static IK holding subtalar at 10° (weight 1000) gives ≈ 10°, not 10 rad."""
    model_config = ModelConfig.load("gait2392")
    weights = model_config.markers_used("static")
    clean = write_trc_m(check_and_fill(read_trc(subject_files.static_trc_path), list(weights), 0.1),
                        tmp_path / "static.trc")
    held = {"subtalar_angle_r": CoordinateTarget(10.0), "pelvis_tz": CoordinateTarget(0.02, weight=1e4)}

    result = run_inverse_kinematics(
        model_path=subject_files.marker_model_path, markers_trc_path=clean, out_dir=tmp_path / "ik",
        marker_weights=weights, accuracy=1e-6, time_range_s=(0.0, 0.05), trial_id="S01/static",
        coordinate_targets=held)

    coordinates = read_opensim_table(result.coordinates_path)
    np.testing.assert_allclose(coordinates["subtalar_angle_r"], 10.0, atol=HELD_TOLERANCE_DEG)
    # Translations stay in m: 2 cm asked, 2 cm held (the markers pull towards 0).
    np.testing.assert_allclose(coordinates["pelvis_tz"], 0.02, atol=0.002)


def test_walking_ik_holds_the_coordinates_it_is_given(subject_files, tmp_path):
    """Markers made with subtalar at 8°: walking IK holding it at 0° (as a model.yaml may) gives 0°."""
    n_frames = 5
    motion = {"subtalar_angle_r": np.full(n_frames, math.radians(8.0)), "pelvis_tilt": np.zeros(n_frames)}
    names, positions = marker_positions(subject_files.marker_model_path, motion)
    trc = write_trc(tmp_path / "walk.trc", names, positions, RATE_HZ, units="mm")
    model_config = ModelConfig.load("gait2392")
    weights = model_config.markers_used("dynamic")
    clean = write_trc_m(check_and_fill(read_trc(trc), list(weights), 0.1), tmp_path / "clean.trc")
    solved = {}
    for label, targets in (("free", None), ("held", {"subtalar_angle_r": CoordinateTarget(0.0)})):
        result = run_inverse_kinematics(
            model_path=subject_files.marker_model_path, markers_trc_path=clean, out_dir=tmp_path / label,
            marker_weights=weights, accuracy=1e-6, time_range_s=(0.0, (n_frames - 1) / RATE_HZ),
            trial_id="S01/walk", coordinate_targets=targets)
        solved[label] = read_opensim_table(result.coordinates_path)["subtalar_angle_r"].to_numpy()

    assert model_config.walking_ik_coordinates["mtp_angle_r"].value == 0.0  # no marker sees gait2392's toes
    np.testing.assert_allclose(solved["free"], 8.0, atol=HELD_TOLERANCE_DEG)
    np.testing.assert_allclose(solved["held"], 0.0, atol=HELD_TOLERANCE_DEG)


SHIFT_M = 0.03
TOTALS_TOLERANCE_M = 1e-6  # OpenSim writes its marker-error file with 8 significant digits


def _walk_with_a_shifted_marker(subject_files, tmp_path, shifted: str, n_frames: int = 5):
    """A short synthetic walk (TRC in m) with ``shifted`` moved SHIFT_M forward on every frame."""
    names, positions = marker_positions(subject_files.marker_model_path, _known_motion(n_frames))
    positions[:, names.index(shifted), 0] += SHIFT_M * 1000.0  # positions in mm
    trc = write_trc(tmp_path / "walk.trc", names, positions, RATE_HZ, units="mm")
    weights = ModelConfig.load("gait2392").markers_used("dynamic")
    clean = write_trc_m(check_and_fill(read_trc(trc), list(weights), 0.1), tmp_path / "clean.trc")
    return clean, weights, (0.0, (n_frames - 1) / RATE_HZ)


def test_per_marker_errors_give_back_opensims_totals(subject_files, tmp_path):
    clean, weights, time_range = _walk_with_a_shifted_marker(subject_files, tmp_path, "R.Acromium")
    result = run_inverse_kinematics(
        model_path=subject_files.marker_model_path, markers_trc_path=clean, out_dir=tmp_path / "ik",
        marker_weights=weights, accuracy=1e-6, time_range_s=time_range, trial_id="S01/walk")

    assert set(result.tracked_markers) == set(weights)
    assert result.marker_error_frames_m.shape == (result.n_frames, len(weights))
    rms_m, max_m = result.marker_errors_without([])
    assert rms_m == pytest.approx(result.marker_rms_error_m, abs=TOTALS_TOLERANCE_M)
    assert max_m == pytest.approx(result.marker_max_error_m, abs=TOTALS_TOLERANCE_M)
    worst = max(result.marker_errors_m, key=lambda name: result.marker_errors_m[name].rms_m)
    assert worst == "R.Acromium"
    assert result.marker_errors_without(["R.Acromium"])[1] < result.marker_errors_m["R.Acromium"].max_m


def test_a_marker_of_weight_zero_is_left_out_of_ik(subject_files, tmp_path):
    clean, weights, time_range = _walk_with_a_shifted_marker(subject_files, tmp_path, "R.Acromium")
    results = {}
    for label, marker_weights in (("zero", {**weights, "R.Acromium": 0.0}),
                                  ("absent", {n: w for n, w in weights.items() if n != "R.Acromium"})):
        results[label] = run_inverse_kinematics(
            model_path=subject_files.marker_model_path, markers_trc_path=clean, out_dir=tmp_path / label,
            marker_weights=marker_weights, accuracy=1e-6, time_range_s=time_range, trial_id="S01/walk")

    assert "R.Acromium" not in results["zero"].tracked_markers
    # OpenSim counts a weight-0 marker in its error totals; left out, the totals are those without it.
    assert results["zero"].marker_max_error_m == pytest.approx(results["absent"].marker_max_error_m, abs=1e-9)
    assert results["zero"].marker_max_error_m < SHIFT_M / 2
