"""Moments learned per kilogram and metre of body height (moment_scaling: mass_height)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from gait2hip.core.errors import ConfigError, InputDataError
from gait2hip.surrogate.body_size import moment_channels, to_label_units, to_learned_units, trial_heights_m
from gait2hip.surrogate.checkpoint import Checkpoint, load_checkpoint
from gait2hip.surrogate.config import TrainingConfig
from gait2hip.surrogate.dataset import INPUT_NAMES, load_dataset
from gait2hip.surrogate.inference import predict_segments
from gait2hip.surrogate.preprocessing import Standardizer
from gait2hip.surrogate.segmentation import SegmentationConfig, segment_table
from gait2hip.surrogate.split import SubjectSplit

NAMES = ("glut_med1_r_force", "hip_flexion_r_moment")


def _checkpoint(scaling: str) -> Checkpoint:
    return Checkpoint(
        training_config=TrainingConfig(moment_scaling=scaling), input_names=INPUT_NAMES, input_units=("deg",) * 10,
        target_groups={"forces": NAMES[:1], "moments": NAMES[1:]}, target_units=("N/kg", "Nm/kg"),
        input_scaler=Standardizer(np.zeros(10), np.ones(10)), target_scaler=Standardizer(np.zeros(2), np.ones(2)),
        split=SubjectSplit(("S1",), ("S2",), ("S3",)), dataset="", epoch=0, model_state={})


class Constant(torch.nn.Module):
    def forward(self, inputs):
        return torch.full((*inputs.shape[:2], 2), 0.5)


def test_moments_are_learned_per_metre_of_height_and_forces_as_they_are():
    labels = np.ones((2, 3, 2))
    heights = np.array([1.25, 2.0])
    learned = to_learned_units(labels, NAMES, "mass_height", heights)
    np.testing.assert_allclose(learned[:, :, 0], 1.0)
    np.testing.assert_allclose(learned[:, :, 1], [[0.8] * 3, [0.5] * 3])
    np.testing.assert_allclose(to_label_units(learned, NAMES, "mass_height", heights), labels)
    assert to_learned_units(labels, NAMES, "mass", None) is labels


def test_a_height_scaled_surrogate_multiplies_its_moments_by_each_samples_height():
    predicted = predict_segments(Constant(), _checkpoint("mass_height"), np.zeros((2, 101, 10)), np.array([1.2, 1.8]))
    np.testing.assert_allclose(predicted[0, :, 1], 0.6)
    np.testing.assert_allclose(predicted[1, :, 1], 0.9)
    np.testing.assert_allclose(predicted[..., 0], 0.5)           # forces per kilogram, whatever the height
    one_height = predict_segments(Constant(), _checkpoint("mass_height"), np.zeros((2, 101, 10)), 1.5)
    np.testing.assert_allclose(one_height[..., 1], 0.75)
    np.testing.assert_allclose(predict_segments(Constant(), _checkpoint("mass"), np.zeros((2, 101, 10)), 1.8), 0.5)


def test_a_height_scaled_surrogate_refuses_to_predict_without_heights():
    with pytest.raises(ValueError, match="body height"):
        predict_segments(Constant(), _checkpoint("mass_height"), np.zeros((2, 101, 10)))
    with pytest.raises(ValueError, match="positive values in metres"):
        predict_segments(Constant(), _checkpoint("mass_height"), np.zeros((2, 101, 10)), np.array([1.7, np.nan]))


def test_an_unknown_moment_scaling_is_refused_by_name():
    with pytest.raises(ValueError, match="moment_scaling must be one of"):
        TrainingConfig(moment_scaling="height")


def test_the_default_scaling_leaves_the_config_as_it_was_written():
    assert "moment_scaling" not in TrainingConfig().to_dict()
    assert TrainingConfig(moment_scaling="mass_height").to_dict()["moment_scaling"] == "mass_height"


def test_segments_carry_each_trials_height():
    frames = 60
    stance = (np.arange(frames) % 20) < 12
    table = pd.concat([pd.DataFrame({"subject": subject, "trial": "t", "x": np.arange(frames, dtype=float),
                                     "y_moment": 1.0, "stance_r": stance, "height_m": height})
                       for subject, height in (("A", 1.3), ("B", 1.8))], ignore_index=True)
    segments = segment_table(table, ["x"], ["y_moment"], SegmentationConfig())
    assert dict(zip(segments.subject, segments.height_m)) == {"A": 1.3, "B": 1.8}
    assert np.isnan(segment_table(table.drop(columns="height_m"), ["x"], ["y_moment"], SegmentationConfig()).height_m).all()


def test_heights_missing_or_varying_within_a_trial_are_named():
    table = pd.DataFrame({"subject": ["A", "A", "B"], "trial": ["t", "t", "t"], "height_m": [1.7, 1.7, 1.6]})
    assert trial_heights_m(table) == {("A", "t"): 1.7, ("B", "t"): 1.6}
    with pytest.raises(InputDataError, match="no 'height_m' column"):
        trial_heights_m(table.drop(columns="height_m"), "labels/dataset")
    with pytest.raises(InputDataError, match="subject=A/t"):
        trial_heights_m(table.assign(height_m=[1.7, 1.75, 1.6]))
    with pytest.raises(InputDataError, match="subject=B/t"):
        trial_heights_m(table.assign(height_m=[1.7, 1.7, 170.0]))          # centimetres


def test_a_model_trained_per_metre_of_height_predicts_moments_in_proportion_to_the_height(labelled_dataset, tmp_path):
    from gait2hip.surrogate.evaluate import evaluate_on
    from gait2hip.surrogate.train import train_from_config

    table = load_dataset(labelled_dataset)
    assert table.groupby("subject")["height_m"].nunique().eq(1).all()   # the pipeline's dataset carries it
    config = dataclasses.replace(TrainingConfig.from_yaml("surrogate/configs/lstm.yaml"), max_epochs=2,
                                 split_fractions=(0.34, 0.33, 0.33), moment_scaling="mass_height")
    run = train_from_config(config, labelled_dataset, tmp_path / "run")
    model, checkpoint = load_checkpoint(run.best_checkpoint)
    angles = segment_table(table, list(INPUT_NAMES), checkpoint.target_names, checkpoint.segmentation).inputs
    short, tall = (predict_segments(model, checkpoint, angles, height) for height in (1.2, 1.8))
    moments = moment_channels(checkpoint.target_names)
    np.testing.assert_allclose(tall[..., moments], 1.5 * short[..., moments], rtol=1e-6)
    np.testing.assert_array_equal(tall[..., ~moments], short[..., ~moments])
    evaluation = evaluate_on(model, checkpoint, table, "all")    # heights from the dataset's rows
    assert np.isfinite(evaluation.predicted).all()
    with pytest.raises(InputDataError, match="height_m"):
        evaluate_on(model, checkpoint, table.drop(columns="height_m"), "labels")


def test_a_fine_tune_keeps_the_moment_scaling_of_its_checkpoint(labelled_dataset, tmp_path):
    from gait2hip.surrogate.train import train_from_config

    config = dataclasses.replace(TrainingConfig.from_yaml("surrogate/configs/lstm.yaml"), max_epochs=1,
                                 split_fractions=(0.34, 0.33, 0.33))
    run = train_from_config(config, labelled_dataset, tmp_path / "run")
    fine_tune = dataclasses.replace(config, init_checkpoint=str(run.best_checkpoint), moment_scaling="mass_height")
    with pytest.raises(ConfigError, match="moment_scaling"):
        train_from_config(fine_tune, labelled_dataset, tmp_path / "fine_tuned")
