"""The pipeline runs with another OpenSim model through configuration alone."""

from __future__ import annotations

import pandas as pd

from gait2hip.pipeline.config import PipelineConfig
from gait2hip.pipeline.scale import scale_subject
from gait2hip.pipeline.trial import label_trial


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
