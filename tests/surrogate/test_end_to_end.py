"""Training and evaluation on labels produced by the real pipeline."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import torch
import pandas as pd
import pytest

from gait2hip.core.errors import CheckpointError, ConfigError
from gait2hip.surrogate.checkpoint import load_checkpoint, read_checkpoint
from gait2hip.surrogate.config import TrainingConfig
from gait2hip.surrogate.dataset import load_dataset
from gait2hip.surrogate.evaluate import evaluate_checkpoint, split_r2
from gait2hip.surrogate.inference import SequenceInputError, predict_angles, predict_segments
from gait2hip.surrogate.segmentation import SegmentationConfig, heel_strikes, resample_to_points, segment_table
from gait2hip.surrogate.train import train_from_config


def _config(model: str) -> TrainingConfig:
    config = TrainingConfig.from_yaml(f"surrogate/configs/{model}.yaml")
    return dataclasses.replace(config, max_epochs=3, split_fractions=(0.34, 0.33, 0.33), segmentation=dataclasses.replace(
        config.segmentation, mode="windows", window_frames=40, window_stride_frames=20))


def test_same_seed_gives_the_same_model_with_or_without_the_progress_bar(labelled_dataset, tmp_path, capsys):
    first = train_from_config(_config("transformer"), labelled_dataset, tmp_path / "a")
    assert "training transformer" not in capsys.readouterr().err
    second = train_from_config(_config("transformer"), labelled_dataset, tmp_path / "b", show_progress=True)
    assert "training transformer" in capsys.readouterr().err
    assert first.best_validation_loss == second.best_validation_loss
    assert (tmp_path / "a" / "history.json").read_text() == (tmp_path / "b" / "history.json").read_text()


def test_training_then_zero_shot_evaluation_writes_the_study_tables(labelled_dataset, tmp_path):
    result = train_from_config(_config("mamba"), labelled_dataset, tmp_path / "run")
    summary = evaluate_checkpoint(result.best_checkpoint, labelled_dataset, tmp_path / "eval",
                                  external_groups=("antalgic-hip",))
    results = pd.read_csv(tmp_path / "eval" / "results.csv")
    assert set(results["evaluation"]) == {"test", "zero-shot"}
    assert set(results["target"]) == {"moments", "forces"} and set(results["metric"]) == {"rmse", "mae", "r2"}
    assert "forces_r2" in summary["generalisation_gap"]
    assert (tmp_path / "eval" / "cycles_test.png").stat().st_size > 0
    assert json.loads((tmp_path / "eval" / "summary.json").read_text())["model"] == "mamba"
    split = json.loads((tmp_path / "run" / "summary.json").read_text())["split"]
    assert not set(split["train"]) & set(split["test"])
    test_r2 = results[(results["evaluation"] == "test") & (results["metric"] == "r2")]
    assert split_r2(result.best_checkpoint, load_dataset(labelled_dataset), "test") == pytest.approx(
        dict(zip(test_r2["target"], test_r2["mean"])), abs=1e-12)


def test_resumed_training_continues_from_the_last_epoch(labelled_dataset, tmp_path):
    config = _config("lstm")
    train_from_config(dataclasses.replace(config, max_epochs=2), labelled_dataset, tmp_path / "run")
    resumed = train_from_config(dataclasses.replace(config, max_epochs=4), labelled_dataset, tmp_path / "run", resume=True)
    assert resumed.epochs_run == 4


def test_window_model_predicts_every_frame_of_a_sequence(labelled_dataset, tmp_path):
    result = train_from_config(_config("transformer"), labelled_dataset, tmp_path / "run")
    table = pd.read_parquet(labelled_dataset)
    angles = table[table["subject"].astype(str) == table["subject"].astype(str).iloc[0]].head(60)
    predicted = predict_angles(result.best_checkpoint, angles)
    assert len(predicted) == 60 and "hip_flexion_r_moment" in predicted and "glut_med1_r_force" in predicted
    assert predicted.drop(columns="time").notna().all().all()


def test_cycle_model_predicts_a_trial_cycle_by_cycle_as_in_evaluation(labelled_dataset, tmp_path):
    config = dataclasses.replace(_config("lstm"), segmentation=SegmentationConfig(mode="cycles"))
    result = train_from_config(config, labelled_dataset, tmp_path / "run")
    model, checkpoint = load_checkpoint(result.best_checkpoint)
    table = pd.read_parquet(labelled_dataset)
    trial = table[table["subject"].astype(str) == "S01"].reset_index(drop=True)
    strikes = heel_strikes(trial["stance_r"].to_numpy())
    assert len(strikes) >= 2, "the fixture's trials hold a whole right gait cycle"
    first, second = strikes[0], strikes[1]

    predicted = predict_angles(result.best_checkpoint, trial, strikes).drop(columns="time").to_numpy()

    cycle = segment_table(trial, list(checkpoint.input_names), checkpoint.target_names, SegmentationConfig("cycles"))
    expected = resample_to_points(predict_segments(model, checkpoint, cycle.inputs[:1])[0], second - first + 1)
    np.testing.assert_allclose(predicted[first:second], expected[:-1], rtol=1e-5, atol=1e-5)
    assert np.isnan(predicted[:first]).all() and np.isnan(predicted[strikes[-1] + 1:]).all()
    with pytest.raises(SequenceInputError, match="heel strikes"):
        predict_angles(result.best_checkpoint, trial, strikes[:1])


def test_left_cycles_mirrored_double_the_training_samples_only(labelled_dataset, tmp_path):
    config = dataclasses.replace(_config("transformer"), max_epochs=1)
    plain = train_from_config(dataclasses.replace(config, mirror_left_cycles=False), labelled_dataset, tmp_path / "a")
    mirrored = train_from_config(config, labelled_dataset, tmp_path / "b")
    plain_summary = json.loads((plain.run_dir / "summary.json").read_text())
    mirrored_summary = json.loads((mirrored.run_dir / "summary.json").read_text())
    assert mirrored_summary["n_train_segments"] == 2 * plain_summary["n_train_segments"]
    assert mirrored_summary["n_validation_segments"] == plain_summary["n_validation_segments"]


def test_learning_rate_halves_when_validation_stalls(labelled_dataset, tmp_path):
    # A learning rate too small to move the validation loss by the rule's 1e-4 makes the run stall
    # whatever the labels (at 0.05 it improved every epoch on some cohorts); large enough that
    # halving it is not below torch's ``eps`` (1e-8), under which the scheduler ignores a change.
    config = dataclasses.replace(_config("lstm"), max_epochs=8, patience=100, learning_rate=1e-6, lr_reduce_patience=1)
    result = train_from_config(config, labelled_dataset, tmp_path / "run")
    history = json.loads((result.run_dir / "history.json").read_text())
    # The rule, replayed on the recorded validation losses: halve after more than
    # ``lr_reduce_patience`` epochs without a (relatively 1e-4) better loss.
    expected, rate, best, stalled = [], config.learning_rate, float("inf"), 0
    for epoch in history:
        expected.append(rate)
        best, stalled = (epoch["validation_loss"], 0) if epoch["validation_loss"] < best * (1 - 1e-4) else (best, stalled + 1)
        if stalled > config.lr_reduce_patience:
            rate, stalled = rate / 2, 0
    np.testing.assert_allclose([epoch["learning_rate"] for epoch in history], expected)
    assert min(expected) < config.learning_rate, "the run should stall at least once for the test to mean something"


def test_training_resumed_from_its_last_checkpoint_ends_as_one_uninterrupted_run(labelled_dataset, tmp_path):
    config = dataclasses.replace(_config("transformer"), max_epochs=4, patience=100)   # dropout 0.1: random state matters
    whole = train_from_config(config, labelled_dataset, tmp_path / "whole")
    train_from_config(dataclasses.replace(config, max_epochs=2), labelled_dataset, tmp_path / "parts")   # stopped after 2
    resumed = train_from_config(config, labelled_dataset, tmp_path / "parts", resume=True)
    assert resumed.epochs_run == whole.epochs_run == 4
    for name in ("best.pt", "last.pt"):
        expected, got = (read_checkpoint(run / name) for run in (whole.run_dir, resumed.run_dir))
        assert got.epoch == expected.epoch
        assert got.model_state.keys() == expected.model_state.keys()
        for key, tensor in expected.model_state.items():
            assert torch.equal(got.model_state[key], tensor), key
    assert json.loads((tmp_path / "parts" / "history.json").read_text()) == json.loads((tmp_path / "whole" / "history.json").read_text())
    # A run that stopped early stays stopped when resumed.
    # A learning rate far below float32's resolution of the weights: no epoch improves.
    stopped = dataclasses.replace(config, patience=1, learning_rate=1e-30, lr_reduce_patience=0)
    first = train_from_config(stopped, labelled_dataset, tmp_path / "early")
    again = train_from_config(stopped, labelled_dataset, tmp_path / "early", resume=True)
    assert first.epochs_run < 4 and again.epochs_run == first.epochs_run


def test_training_subjects_can_be_narrowed_keeping_validation_and_test(labelled_dataset, tmp_path):
    config = dataclasses.replace(_config("transformer"), max_epochs=1)
    split = read_checkpoint(train_from_config(config, labelled_dataset, tmp_path / "full").best_checkpoint).split
    with pytest.raises(ValueError, match="subset of the split's training subjects"):
        train_from_config(config, labelled_dataset, tmp_path / "test_subject", train_subjects=split.test)
    narrowed = train_from_config(config, labelled_dataset, tmp_path / "narrowed", train_subjects=split.train[:1])
    assert read_checkpoint(narrowed.best_checkpoint).split == dataclasses.replace(split, train=split.train[:1])


def test_training_leaves_the_callers_torch_random_state_threads_and_determinism_as_they_were(labelled_dataset,
                                                                                            tmp_path):
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    try:
        torch.set_num_threads(1)
        torch.use_deterministic_algorithms(False)
        torch.manual_seed(12345)
        before = torch.get_rng_state()
        config = dataclasses.replace(_config("transformer"), max_epochs=1, num_threads=2)   # dropout draws numbers
        train_from_config(config, labelled_dataset, tmp_path / "run")
        assert torch.equal(torch.get_rng_state(), before)
        assert torch.get_num_threads() == 1 and not torch.are_deterministic_algorithms_enabled()
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


def test_resuming_from_a_best_checkpoint_without_training_state_is_refused(labelled_dataset, tmp_path):
    config = dataclasses.replace(_config("lstm"), max_epochs=1)
    run = train_from_config(config, labelled_dataset, tmp_path / "run")
    run.last_checkpoint.write_bytes(run.best_checkpoint.read_bytes())
    with pytest.raises(CheckpointError, match="no training state"):
        train_from_config(dataclasses.replace(config, max_epochs=2), labelled_dataset, tmp_path / "run", resume=True)


def test_training_device_must_be_cpu_or_a_cuda_device():
    assert TrainingConfig.from_dict({"device": "cuda:1"}).device == "cuda:1"
    with pytest.raises(ConfigError, match="device must be 'cpu', 'cuda' or 'cuda:N', got 'gpu'"):
        TrainingConfig.from_dict({"device": "gpu"})
