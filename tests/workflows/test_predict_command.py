"""``gait2hip predict`` on an IK file, end to end with a trained surrogate."""

from __future__ import annotations

import dataclasses
import json

import numpy as np

import pandas as pd

from pipeline.storage import read_opensim_table
from surrogate.config import TrainingConfig
from surrogate.train import train_from_config
from workflows.cli import main


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
