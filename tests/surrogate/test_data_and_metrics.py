"""Subject split, segmentation and metrics against hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gait2hip.surrogate.metrics import mae, per_subject_channel_metrics, r2, rmse, summarise
from gait2hip.surrogate.segmentation import SegmentationConfig, heel_strikes, segment_table
from gait2hip.surrogate.split import split_subjects


def _table(n_subjects: int = 10) -> pd.DataFrame:
    rows = []
    for s in range(n_subjects):
        for cadence in ("cadence_090", "cadence_110", "cadence_130"):
            rows.append({"subject": f"S{s:02d}", "cadence_condition": cadence, "trial": cadence})
    return pd.DataFrame(rows)


def test_split_puts_no_subject_in_two_parts_and_every_cadence_in_each():
    table = _table()
    split = split_subjects(table, (0.7, 0.15, 0.15), seed=3)
    parts = [set(split.train), set(split.validation), set(split.test)]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert set().union(*parts) == set(table["subject"])
    for part in parts:
        assert set(table[table["subject"].isin(part)]["cadence_condition"]) == {"cadence_090", "cadence_110", "cadence_130"}


def test_split_is_seeded():
    table = _table()
    assert split_subjects(table, (0.6, 0.2, 0.2), 1) == split_subjects(table, (0.6, 0.2, 0.2), 1)
    assert split_subjects(table, (0.6, 0.2, 0.2), 1) != split_subjects(table, (0.6, 0.2, 0.2), 2)


def test_metrics_against_hand_computed_values():
    true = np.array([[1.0], [2.0], [3.0], [4.0]])
    predicted = np.array([[1.0], [2.0], [3.0], [6.0]])
    assert rmse(true, predicted)[0] == pytest.approx(1.0)          # sqrt(4 / 4)
    assert mae(true, predicted)[0] == pytest.approx(0.5)           # 2 / 4
    assert r2(true, predicted)[0] == pytest.approx(1 - 4 / 5)      # SS_tot = 5


def test_metrics_are_averaged_over_subjects_not_pooled():
    true = np.zeros((2, 3, 1))
    true[:, :, 0] = [[0, 1, 2], [0, 1, 2]]
    predicted = true.copy()
    predicted[1] += 1.0                                            # subject B off by 1 everywhere
    long = per_subject_channel_metrics(true, predicted, np.array(["A", "B"]), ["x_moment"])
    summary = summarise(long, {"moments": ("x_moment",)}).set_index("metric")
    assert summary.loc["rmse", "mean"] == pytest.approx(0.5)       # (0 + 1) / 2
    assert summary.loc["rmse", "sd"] == pytest.approx(np.std([0, 1], ddof=1))


def test_cycles_run_from_heel_strike_to_heel_strike_on_101_points():
    stance = np.array([1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1], dtype=bool)
    assert heel_strikes(stance).tolist() == [5, 12]
    frames = 60
    stance_long = (np.arange(frames) % 20) < 12
    table = pd.DataFrame({"subject": "S", "trial": "t", "cadence_condition": "c", "x": np.arange(frames, dtype=float),
                          "y_moment": np.arange(frames, dtype=float) * 2, "stance_r": stance_long})
    segments = segment_table(table, ["x"], ["y_moment"], SegmentationConfig())
    assert segments.inputs.shape == (1, 101, 1)  # strikes at frames 20 and 40: one whole cycle
    assert segments.inputs[0, 0, 0] == 20 and segments.inputs[0, -1, 0] == 40


def test_predicted_muscle_forces_are_never_negative_but_moments_may_be():
    import torch

    from gait2hip.surrogate.checkpoint import Checkpoint
    from gait2hip.surrogate.config import TrainingConfig
    from gait2hip.surrogate.dataset import INPUT_NAMES
    from gait2hip.surrogate.inference import predict_segments
    from gait2hip.surrogate.preprocessing import Standardizer
    from gait2hip.surrogate.split import SubjectSplit

    class MinusFive(torch.nn.Module):
        def forward(self, inputs):
            return torch.full((*inputs.shape[:2], 2), -5.0)

    checkpoint = Checkpoint(
        training_config=TrainingConfig(), input_names=INPUT_NAMES, input_units=("deg",) * 10,
        target_groups={"forces": ("glut_med1_r_force",), "moments": ("hip_flexion_r_moment",)},
        target_units=("N/kg", "Nm/kg"), input_scaler=Standardizer(np.zeros(10), np.ones(10)),
        target_scaler=Standardizer(np.zeros(2), np.ones(2)), split=SubjectSplit(("S1",), ("S2",), ("S3",)),
        dataset="", epoch=0, model_state={})
    predicted = predict_segments(MinusFive(), checkpoint, np.zeros((2, 101, 10)))
    assert (predicted[..., 0] == 0.0).all() and (predicted[..., 1] == -5.0).all()
