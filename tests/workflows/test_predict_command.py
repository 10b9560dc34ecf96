"""``gait2hip predict`` on an IK file, end to end with a trained surrogate."""

from __future__ import annotations

import dataclasses
import json

import numpy as np

import pandas as pd

from gait2hip.core.opensim_files import read_opensim_table
from gait2hip.surrogate.config import TrainingConfig
from gait2hip.surrogate.train import train_from_config
from gait2hip.workflows.cli import main

ANGLES = [f"{joint}_{side}" for side in "rl" for joint in
          ("hip_flexion", "hip_adduction", "hip_rotation", "knee_angle", "ankle_angle")]


def test_predict_writes_csv_and_sto_for_an_angle_file(labelled_dataset, tmp_path):
    config = dataclasses.replace(TrainingConfig.from_yaml("surrogate/configs/lstm.yaml"), max_epochs=1,
                                 split_fractions=(0.34, 0.33, 0.33))
    config = dataclasses.replace(config, segmentation=dataclasses.replace(config.segmentation, mode="windows",
                                                                          window_frames=40, window_stride_frames=20))
    run = train_from_config(config, labelled_dataset, tmp_path / "run")
    table = pd.read_parquet(labelled_dataset)
    angles = table[table["subject"].astype(str) == "S01"].head(80)
    csv = tmp_path / "angles.csv"
    angles[["time", *[c for c in angles.columns if c.endswith(("_r", "_l")) and not c.startswith("stance")]]].to_csv(csv, index=False)
    assert main(["predict", str(run.best_checkpoint), str(csv), "--out", str(tmp_path / "out")]) == 0
    predicted = pd.read_csv(tmp_path / "out.csv")
    assert len(predicted) == 80 and "psoas_l_force" in predicted
    stored = read_opensim_table(tmp_path / "out.sto")
    np.testing.assert_allclose(stored["psoas_l_force"].to_numpy(), predicted["psoas_l_force"].to_numpy(), atol=1e-6)
    summary = json.loads((tmp_path / "out.summary.json").read_text())
    assert summary["frames"] == 80 and summary["resampled_from_hz"] is None


def test_predict_with_a_cycle_model_needs_heel_strikes_and_uses_the_grf(labelled_dataset, tmp_path, caplog):
    config = dataclasses.replace(TrainingConfig.from_yaml("surrogate/configs/lstm.yaml"), max_epochs=1,
                                 split_fractions=(0.34, 0.33, 0.33))
    run = train_from_config(config, labelled_dataset, tmp_path / "run")
    table = pd.read_parquet(labelled_dataset)
    trial = table[table["subject"].astype(str) == "S01"]
    csv = tmp_path / "angles.csv"
    trial[["time", *ANGLES]].to_csv(csv, index=False)
    assert main(["predict", str(run.best_checkpoint), str(csv)]) == 2
    assert "--grf" in caplog.text and "angles.csv" in caplog.text

    with_stance = tmp_path / "with_stance.csv"
    trial[["time", *ANGLES, "stance_r"]].to_csv(with_stance, index=False)
    assert main(["predict", str(run.best_checkpoint), str(with_stance), "--out", str(tmp_path / "a")]) == 0
    from_grf = tmp_path / "from_grf"
    grf = next((labelled_dataset.parent.parent / "cohort" / "S01" / "trials").glob("*/grf.mot"))
    assert main(["predict", str(run.best_checkpoint), str(csv), "--grf", str(grf), "--out", str(from_grf)]) == 0
    a, b = pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "from_grf.csv")
    assert 0 < a["psoas_r_force"].notna().sum() < len(a)
    pd.testing.assert_frame_equal(a, b)


def test_predict_with_a_height_scaled_model_needs_the_subjects_height(labelled_dataset, tmp_path, caplog):
    config = dataclasses.replace(TrainingConfig.from_yaml("surrogate/configs/lstm.yaml"), max_epochs=1,
                                 split_fractions=(0.34, 0.33, 0.33), moment_scaling="mass_height")
    run = train_from_config(config, labelled_dataset, tmp_path / "run")
    table = pd.read_parquet(labelled_dataset)
    csv = tmp_path / "angles.csv"
    table[table["subject"].astype(str) == "S01"][["time", *ANGLES, "stance_r"]].to_csv(csv, index=False)
    assert main(["predict", str(run.best_checkpoint), str(csv)]) == 2
    assert "--height-m" in caplog.text
    assert main(["predict", str(run.best_checkpoint), str(csv), "--height-m", "170"]) == 2
    assert "not a body height in metres" in caplog.text
    for name, height in (("short", "1.2"), ("tall", "1.8")):
        assert main(["predict", str(run.best_checkpoint), str(csv), "--height-m", height,
                     "--out", str(tmp_path / name)]) == 0
    short, tall = pd.read_csv(tmp_path / "short.csv"), pd.read_csv(tmp_path / "tall.csv")
    np.testing.assert_allclose(tall["hip_flexion_r_moment"], 1.5 * short["hip_flexion_r_moment"], rtol=1e-5)
    np.testing.assert_allclose(tall["psoas_r_force"], short["psoas_r_force"])
    assert json.loads((tmp_path / "tall.summary.json").read_text())["body_height_m"] == 1.8
