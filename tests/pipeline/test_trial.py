"""End-to-end behaviour of one labelled trial (real OpenSim: scale, IK, ID, SO)."""

from __future__ import annotations

import json
import math

import numpy as np
import opensim
import pandas as pd
import pytest

from gait2hip.core.opensim_files import grf_identifiers, read_opensim_table
from gait2hip.pipeline.config import PipelineConfig
from gait2hip.pipeline.model_config import ModelConfig
from gait2hip.pipeline.status import USABLE_STATUSES
from gait2hip.pipeline.trial import label_trial
from support.synthetic_pipeline_data import write_still_grf

# Residual tolerances for GRFs that agree exactly with a still posture.
STILL_RESIDUAL_FORCE_PCT_BW = 1.0
STILL_RESIDUAL_MOMENT_NM = 3.0
# Muscles + reserves must reproduce the ID hip moments to within this share of body weight × height.
MOMENT_MATCH_TOLERANCE_NM_PER_KG = 0.02


def test_label_table_has_the_documented_columns(still_trial):
    table = pd.read_parquet(still_trial.result.labels_path)
    model_config = ModelConfig.load("gait2392")
    assert list(table.columns[:11]) == ["time", *model_config.input_coordinates]
    moments = [c for c in table.columns if c.endswith("_moment")]
    assert moments == [f"{c}_moment" for c in model_config.hip_coordinates]
    forces = [c for c in table.columns if c.endswith("_force")]
    assert len(forces) == 54 and "glut_med1_r_force" in forces and "vas_int_r_force" not in forces
    assert table[["stance_r", "stance_l"]].all().all()


def test_label_angles_are_the_posture_in_degrees(still_trial):
    table = pd.read_parquet(still_trial.result.labels_path)
    assert table["hip_flexion_r"].mean() == pytest.approx(20.0, abs=0.5)
    assert table["knee_angle_l"].mean() == pytest.approx(-30.0, abs=0.5)
    assert table["ankle_angle_r"].mean() == pytest.approx(10.0, abs=0.5)


def test_still_posture_under_body_weight_has_near_zero_pelvis_residuals(still_trial):
    qc = still_trial.result.qc
    assert qc["peak_pelvis_residual_force_pct_bw"] < STILL_RESIDUAL_FORCE_PCT_BW
    assert qc["peak_pelvis_residual_moment_nm"] < STILL_RESIDUAL_MOMENT_NM
    assert still_trial.result.status == "ok"


def test_static_optimization_forces_are_non_negative(still_trial):
    forces = read_opensim_table(still_trial.result.so_forces_path)
    model = opensim.Model(str(still_trial.scaled.scaled_model_path))
    muscles = model.getMuscles()
    muscle_columns = [muscles.get(i).getName() for i in range(muscles.getSize())]
    assert len(muscle_columns) == 92
    assert (forces[muscle_columns].to_numpy() >= -1e-6).all()


def test_muscle_plus_reserve_moments_reproduce_inverse_dynamics_hip_moments(still_trial):
    forces = read_opensim_table(still_trial.result.so_forces_path)
    inverse_dynamics = read_opensim_table(still_trial.result.id_forces_path)
    coordinates = read_opensim_table(still_trial.result.ik_coordinates_path)
    model = opensim.Model(str(still_trial.scaled.scaled_model_path))
    state = model.initSystem()
    frame = len(coordinates) // 2
    for name in coordinates.columns[1:]:
        coordinate = model.getCoordinateSet().get(name)
        value = coordinates[name].iloc[frame]
        coordinate.setValue(state, math.radians(value) if coordinate.getMotionType() == 1 else value, False)
    model.realizePosition(state)
    muscles = model.getMuscles()
    for hip in ModelConfig.load("gait2392").hip_coordinates:
        coordinate = model.getCoordinateSet().get(hip)
        produced = sum(forces[muscles.get(i).getName()].iloc[frame] * muscles.get(i).computeMomentArm(state, coordinate)
                       for i in range(muscles.getSize()))
        produced += forces[f"reserve_{hip}"].iloc[frame]
        required = inverse_dynamics[f"{hip}_moment"].iloc[frame]
        assert produced / still_trial.subject.mass_kg == pytest.approx(
            required / still_trial.subject.mass_kg, abs=MOMENT_MATCH_TOLERANCE_NM_PER_KG), hip


def test_hip_moments_are_normalised_by_body_mass(still_trial):
    table = pd.read_parquet(still_trial.result.labels_path)
    inverse_dynamics = read_opensim_table(still_trial.result.id_forces_path)
    np.testing.assert_allclose(table["hip_flexion_r_moment"].to_numpy(),
                               inverse_dynamics["hip_flexion_r_moment"].to_numpy() / still_trial.subject.mass_kg,
                               rtol=1e-9, atol=1e-9)
    # A flexed posture needs a clearly non-zero hip moment against gravity.
    assert abs(table["hip_flexion_r_moment"].mean()) > 0.05


def test_summary_records_status_qc_and_stage_times(still_trial):
    summary = json.loads(still_trial.result.summary_path.read_text())
    assert summary["status"] == "ok"
    assert set(summary["wall_time_s"]) >= {"ik", "id", "so"}
    assert summary["qc"]["so_failed_frames"] == 0
    assert summary["n_frames"] == 41


def test_every_tool_setup_is_saved_and_loads_back_in_opensim(still_trial):
    out_dir = still_trial.result.out_dir
    opensim.InverseKinematicsTool(str(out_dir / "ik" / "setup_ik.xml"))
    opensim.InverseDynamicsTool(str(out_dir / "id" / "setup_id.xml"))
    # SO by the default batched solver: its settings, and the setup of OpenSim's tool that cross-checked it.
    assert json.loads((out_dir / "so" / "setup_so_batched.json").read_text())["solver"] == "batched"
    opensim.AnalyzeTool(str(out_dir / "so" / "cross_check" / "setup_so.xml"), False)
    opensim.ScaleTool(str(still_trial.scaled.setup_path))


def test_opensim_output_goes_to_the_trial_logs(still_trial):
    logs = still_trial.result.out_dir / "logs"
    assert (logs / "so_batched.log").stat().st_size > 0
    # OpenSim's tool, cross-checking the batched solver, logs beside its outputs.
    assert (still_trial.result.out_dir / "so" / "cross_check" / "logs" / "so_opensim.log").stat().st_size > 0
    assert (logs / "ik_opensim.log").stat().st_size > 0


def test_walking_ik_holds_the_trunk_when_no_trunk_marker_is_tracked():
    """A lower-body protocol: the lumbar joint moves no tracked marker, so IK holds it at its default."""
    from gait2hip.pipeline.trial import _unobserved_coordinates

    model_config = ModelConfig.load("gait2392")
    model = opensim.Model(str(model_config.model_path))
    for marker in opensim.MarkerSet(str(model_config.marker_set_path)):
        model.addMarker(marker.clone())
    model.initSystem()
    every_marker = model_config.markers_used("dynamic")
    lower_body = {name: w for name, w in every_marker.items()
                  if name not in ("Sternum", "R.Acromium", "L.Acromium", "Top.Head")}

    assert _unobserved_coordinates(model, every_marker, model_config) == {}
    held = _unobserved_coordinates(model, lower_body, model_config)
    assert sorted(held) == ["lumbar_bending", "lumbar_extension", "lumbar_rotation"]
    assert all(target.value == 0.0 for target in held.values())


def test_ground_reactions_need_cover_only_the_labelled_frames(still_trial, tmp_path):
    """Plates recorded for part of the trial label that part; the tools' loads file holds its frames only."""
    still_grf = read_opensim_table(still_trial.grf_path)
    ids = grf_identifiers("r")
    centre = np.array([still_grf[f"{ids.point}x"].iloc[0], 0.0, still_grf[f"{ids.point}z"].iloc[0]])
    short_grf = write_still_grf(tmp_path / "short_grf.mot", 0.25, 1000.0, still_trial.subject.body_weight_n, centre)

    result = label_trial(still_trial.subject, still_trial.scaled.scaled_model_path, still_trial.markers_trc_path,
                         short_grf, tmp_path / "part", PipelineConfig(), "S01/part", time_range_s=(0.05, 0.2))

    assert result.status in USABLE_STATUSES
    loads = read_opensim_table(tmp_path / "part" / "grf_filtered_6hz.mot")
    np.testing.assert_allclose(loads["time"], np.arange(5, 21) / 100.0, atol=1e-9)
