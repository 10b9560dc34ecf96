"""The pipeline runs with another OpenSim model through configuration alone."""

from __future__ import annotations

import math

import numpy as np
import opensim
import pandas as pd

from gait2hip import opensim_models
from gait2hip.pipeline.config import PipelineConfig
from gait2hip.pipeline.scale import scale_subject
from gait2hip.pipeline.subject import SubjectInfo
from gait2hip.pipeline.trial import label_trial
from support.synthetic_pipeline_data import centre_of_mass_m, marker_positions, write_still_grf, write_trc

RATE_HZ = 100.0
# A short still trial keeps the 80-muscle SO quick (0.4 s: frames left past the filters' edge
# reach of 117 ms at each end); the posture is the gait2392 still trial's, with the knee flexion
# written in this model's own sign (positive in flexion).
RAJAGOPAL_STILL_DURATION_S = 0.4
RAJAGOPAL_STILL_POSE_DEG = {"hip_flexion_r": 20.0, "hip_flexion_l": 20.0, "knee_angle_r": 30.0, "knee_angle_l": 30.0,
                            "ankle_angle_r": 10.0, "ankle_angle_l": 10.0, "lumbar_extension": -30.0}
# IK recovers the posture its markers were made from to within this (degrees).
POSE_TOLERANCE_DEG = 0.5


def test_gait2354_labels_a_trial_with_its_own_hip_muscles(subject_files, still_trial, tmp_path):
    config = PipelineConfig(model="gait2354")
    scaled = scale_subject(subject_files.subject, subject_files.static_trc_path, tmp_path / "scale", config)
    result = label_trial(subject_files.subject, scaled.scaled_model_path, still_trial.markers_trc_path,
                         still_trial.grf_path, tmp_path / "trial", config, "S01/still-2354")
    table = pd.read_parquet(result.labels_path)
    forces = [c for c in table.columns if c.endswith("_force")]
    # gait2354 lumps bundles: fewer hip muscles than gait2392's 54, same naming scheme.
    assert 20 <= len(forces) < 54 and "glut_med1_r_force" in forces
    assert result.status == "ok"
    # Same posture, same body: the hip moments agree with gait2392's within a few percent.
    reference = pd.read_parquet(still_trial.result.labels_path)
    for column in ("hip_flexion_r_moment", "hip_adduction_l_moment"):
        assert abs(table[column].mean() - reference[column].mean()) < 0.02


def _rajagopal_with_markers(tmp_path):
    """The shipped Rajagopal model with its marker set attached, and its mass (kg)."""
    name = "rajagopal_lai_uhlrich"
    model = opensim.Model(str(opensim_models.model_path(name)))
    markers = opensim.MarkerSet(str(opensim_models.marker_set_path(name)))
    for index in range(markers.getSize()):
        model.addMarker(markers.get(index).clone())
    model.finalizeConnections()
    mass_kg = model.getTotalMass(model.initSystem())
    path = tmp_path / "rajagopal_with_markers.osim"
    model.printToXML(str(path))
    return path, mass_kg


def test_rajagopal_labels_a_still_trial_with_its_own_hip_muscles(tmp_path):
    marker_model, mass_kg = _rajagopal_with_markers(tmp_path)
    subject = SubjectInfo("S01", mass_kg, 1.75)
    names, positions = marker_positions(marker_model, {"pelvis_tilt": np.zeros(int(RATE_HZ))})
    static = write_trc(tmp_path / "static.trc", names, positions, RATE_HZ, units="mm")
    n_frames = int(round(RAJAGOPAL_STILL_DURATION_S * RATE_HZ)) + 1
    pose_rad = {name: math.radians(value) for name, value in RAJAGOPAL_STILL_POSE_DEG.items()}
    still_pose = {name: np.full(n_frames, value) for name, value in pose_rad.items()}
    names, positions = marker_positions(marker_model, still_pose)
    markers = write_trc(tmp_path / "still.trc", names, positions, RATE_HZ, units="mm")
    grf = write_still_grf(tmp_path / "still_grf.mot", RAJAGOPAL_STILL_DURATION_S + 0.1, RATE_HZ,
                          subject.body_weight_n, centre_of_mass_m(marker_model, pose_rad))
    config = PipelineConfig(model="rajagopal_lai_uhlrich")
    scaled = scale_subject(subject, static, tmp_path / "scale", config)
    result = label_trial(subject, scaled.scaled_model_path, markers, grf, tmp_path / "trial", config, "S01/still-raj")
    table = pd.read_parquet(result.labels_path)
    assert result.status == "ok"
    forces = {c for c in table.columns if c.endswith("_force")}
    assert len(forces) == 50 and {"glmax1_r_force", "iliacus_l_force", "recfem_r_force"} <= forces
    assert not forces & {"gaslat_r_force", "gasmed_l_force"}
    assert abs(table["hip_flexion_r"].mean() - 20.0) < POSE_TOLERANCE_DEG
    # 30 degrees of knee flexion: +30 in this model, -30 in the label convention once
    # build_label_table applies the model's label_signs.
    # Rajagopal's knee is positive in flexion; the labels use gait2392's convention (negative).
    assert abs(table["knee_angle_l"].mean() + 30.0) < POSE_TOLERANCE_DEG


def test_harrington_hip_centres_free_the_pelvis_markers_a_marker_set_fixes(tmp_path):
    import json

    from gait2hip.pipeline.config import ScaleConfig

    # Rajagopal's marker set fixes its ASIS markers on the bony landmarks; placing the pelvis
    # markers around the regression's hip centres needs them free.
    marker_model, mass_kg = _rajagopal_with_markers(tmp_path)
    names, positions = marker_positions(marker_model, {"pelvis_tilt": np.zeros(20)})
    static = write_trc(tmp_path / "static.trc", names, positions, RATE_HZ, units="mm")
    config = PipelineConfig(model="rajagopal_lai_uhlrich", scale=ScaleConfig(hip_joint_centre="harrington2007"))

    scaled = scale_subject(SubjectInfo("S01", mass_kg, 1.75), static, tmp_path / "scale", config)

    distances_mm = json.loads((tmp_path / "scale" / "hip_joint_centres.json").read_text())["hip_to_harrington_centre_mm"]
    for side in ("r", "l"):
        assert distances_mm[side]["placed"] < distances_mm[side]["scaled_generic"] - 15.0, side
    model = opensim.Model(str(scaled.scaled_model_path))
    assert not model.getMarkerSet().get("R.ASIS").get_fixed()
