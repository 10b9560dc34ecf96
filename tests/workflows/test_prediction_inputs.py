"""Angle files for ``gait2hip predict``: missing columns, radians, resampling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gait2hip.core.errors import InputDataError
from gait2hip.workflows.prediction_inputs import read_angles

NAMES = ["hip_flexion_r", "hip_adduction_r", "hip_rotation_r", "knee_angle_r", "ankle_angle_r",
         "hip_flexion_l", "hip_adduction_l", "hip_rotation_l", "knee_angle_l", "ankle_angle_l"]


def _walking_angles_deg(rate_hz: float, duration_s: float = 1.0) -> pd.DataFrame:
    time = np.arange(int(duration_s * rate_hz) + 1) / rate_hz
    phase = 2 * np.pi * time
    values = {name: 20 * np.sin(phase + i) + (-30 if "knee" in name else 0) for i, name in enumerate(NAMES)}
    return pd.DataFrame({"time": time, **values})


def test_missing_angle_columns_are_all_named(tmp_path):
    path = tmp_path / "angles.csv"
    _walking_angles_deg(100).drop(columns=["knee_angle_l", "ankle_angle_r"]).to_csv(path, index=False)
    with pytest.raises(InputDataError, match="ankle_angle_r, knee_angle_l"):
        read_angles(path, NAMES, 100.0)


def test_radians_are_detected_and_converted(tmp_path):
    degrees = _walking_angles_deg(100)
    radians = degrees.copy()
    radians[NAMES] = np.radians(degrees[NAMES])
    path = tmp_path / "radians.csv"
    radians.to_csv(path, index=False)
    result = read_angles(path, NAMES, 100.0)
    np.testing.assert_allclose(result[NAMES].to_numpy(), degrees[NAMES].to_numpy(), atol=1e-9)
    assert result.attrs["converted_from_radians"]


def test_other_sampling_rates_are_resampled(tmp_path):
    path = tmp_path / "at_120hz.csv"
    _walking_angles_deg(120).to_csv(path, index=False)
    result = read_angles(path, NAMES, 100.0)
    assert np.allclose(np.diff(result["time"]), 0.01)
    expected = 20 * np.sin(2 * np.pi * result["time"].to_numpy())
    np.testing.assert_allclose(result["hip_flexion_r"], expected, atol=0.1)


def test_ik_mot_in_degrees_is_read_through_opensim(still_trial_free_mot):
    result = read_angles(still_trial_free_mot, NAMES, 100.0)
    assert len(result) == 11 and result["hip_flexion_r"].iloc[0] == pytest.approx(20.0)


@pytest.fixture
def still_trial_free_mot(tmp_path):
    from gait2hip.core.opensim_files import write_mot

    table = _walking_angles_deg(100, 0.1)
    table["hip_flexion_r"] = 20.0
    return write_mot(tmp_path / "ik.mot", {name: table[name].to_numpy() for name in NAMES}, table["time"].to_numpy(),
                     in_degrees=True)


def test_unsupported_file_type_is_named(tmp_path):
    path = tmp_path / "angles.xlsx"
    path.write_text("x")
    with pytest.raises(InputDataError, match="angles.xlsx.*expected an OpenSim"):
        read_angles(path, NAMES, 100.0)
