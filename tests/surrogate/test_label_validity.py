"""Frames with unknown labels (``valid_r``/``valid_l`` False): masked or dropped, never trained on.

The backward-compatibility tests pin that a dataset without the columns, or with them all
True, trains and evaluates bit for bit alike, through the same operations as plain MSE.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from gait2hip.core.errors import ConfigError, InputDataError
from gait2hip.surrogate.augmentation import mirror_sides
from gait2hip.surrogate.config import TrainingConfig
from gait2hip.surrogate.dataset import INPUT_NAMES, load_dataset
from gait2hip.surrogate.evaluate import evaluate_checkpoint
from gait2hip.surrogate.losses import masked_mse_loss
from gait2hip.surrogate.metrics import per_subject_channel_metrics, rmse, summarise
from gait2hip.surrogate.preprocessing import Standardizer
from gait2hip.surrogate.segmentation import (SegmentationConfig, resample_known_to_points, segment_table,
                                             target_side)
from gait2hip.surrogate.train import train_from_config
from support.label_tables import write_dataset

TARGETS = ["hip_flexion_r_moment", "hip_flexion_l_moment", "glut_med1_r_force", "glut_med1_l_force"]
CYCLE_FRAMES = 100


def _trial(seed: int, n_frames: int = 420) -> pd.DataFrame:
    """One walk: right heel strikes at frames 100, 200, 300, 400 (3 cycles), left ones 50 frames earlier."""
    rng = np.random.default_rng(seed)
    frames = np.arange(n_frames)
    phase = 2 * np.pi * frames / CYCLE_FRAMES
    table = pd.DataFrame({"trial": "walk", "group": "healthy", "cadence_condition": "cadence_100",
                          "time": frames / 100.0, "stance_r": frames % CYCLE_FRAMES < 60,
                          "stance_l": (frames + 50) % CYCLE_FRAMES < 60})
    for index, name in enumerate(INPUT_NAMES):
        shift = np.pi if name.endswith("_l") else 0.0
        table[name] = 20 * np.sin(phase + shift + 0.3 * index) + rng.normal(0, 1, n_frames)
    table["hip_flexion_r_moment"] = 0.05 * table["hip_flexion_r"] + rng.normal(0, 0.05, n_frames)
    table["hip_flexion_l_moment"] = 0.05 * table["hip_flexion_l"] + rng.normal(0, 0.05, n_frames)
    table["glut_med1_r_force"] = np.abs(0.4 * table["hip_adduction_r"]) + rng.normal(0, 0.1, n_frames)
    table["glut_med1_l_force"] = np.abs(0.4 * table["hip_adduction_l"]) + rng.normal(0, 0.1, n_frames)
    return table


def _trials(n_subjects: int = 4) -> dict[str, pd.DataFrame]:
    return {f"S{index:02d}": _trial(index) for index in range(n_subjects)}


def _with_validity(trials: dict[str, pd.DataFrame], unknown_left: slice | None) -> dict[str, pd.DataFrame]:
    """Every trial with ``valid_r``/``valid_l``; the left leg's labels unknown on ``unknown_left`` frames."""
    result = {}
    for subject, table in trials.items():
        table = table.assign(valid_r=True, valid_l=True)
        if unknown_left is not None:
            table.loc[table.index[unknown_left], "valid_l"] = False
        result[subject] = table
    return result


def _tiny_config(**segmentation) -> TrainingConfig:
    return TrainingConfig(model="lstm", model_config={"hidden_size": 6, "n_layers": 1, "dropout": 0.0},
                          split_fractions=(0.5, 0.25, 0.25), max_epochs=2, batch_size=2, num_threads=1,
                          segmentation=SegmentationConfig(**segmentation))


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "best.pt", weights_only=True)["model_state"]


def _assert_same_weights(first: Path, second: Path) -> None:
    a, b = _weights(first), _weights(second)
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


# --- the loss -------------------------------------------------------------------------------------


def test_masked_loss_is_exactly_mse_loss_when_every_point_is_known():
    generator = torch.Generator().manual_seed(0)
    predicted, target = torch.randn(3, 101, 4, generator=generator), torch.randn(3, 101, 4, generator=generator)
    expected = torch.nn.functional.mse_loss(predicted, target)
    assert torch.equal(masked_mse_loss(predicted, target, None), expected)
    assert torch.equal(masked_mse_loss(predicted, target, torch.ones(3, 101, 4, dtype=torch.bool)), expected)


def test_masked_loss_is_the_mean_squared_error_of_the_known_points():
    generator = torch.Generator().manual_seed(1)
    predicted, target = torch.randn(3, 101, 4, generator=generator), torch.randn(3, 101, 4, generator=generator)
    known = torch.rand(3, 101, 4, generator=generator) > 0.3
    torch.testing.assert_close(masked_mse_loss(predicted, target, known),
                               torch.nn.functional.mse_loss(predicted[known], target[known]))


def test_masked_target_values_change_neither_the_loss_nor_the_gradients():
    generator = torch.Generator().manual_seed(2)
    model = torch.nn.Linear(5, 4)
    inputs, target = torch.randn(3, 101, 5, generator=generator), torch.randn(3, 101, 4, generator=generator)
    known = torch.rand(3, 101, 4, generator=generator) > 0.3
    results = []
    for unknown_value in (0.0, 1e6, float("nan"), float("inf")):
        model.zero_grad()
        loss = masked_mse_loss(model(inputs), torch.where(known, target, torch.tensor(unknown_value)), known)
        loss.backward()
        results.append((loss.detach(), model.weight.grad.clone(), model.bias.grad.clone()))
    for loss, weight_grad, bias_grad in results[1:]:
        torch.testing.assert_close(loss, results[0][0], rtol=0, atol=0)
        torch.testing.assert_close(weight_grad, results[0][1], rtol=0, atol=0)
        torch.testing.assert_close(bias_grad, results[0][2], rtol=0, atol=0)
    assert torch.isfinite(results[0][1]).all()


def test_a_batch_without_a_known_point_gives_zero_loss_and_zero_gradients():
    predicted = torch.randn(2, 101, 4, requires_grad=True)
    loss = masked_mse_loss(predicted, torch.full((2, 101, 4), float("nan")), torch.zeros(2, 101, 4, dtype=torch.bool))
    loss.backward()
    assert loss.item() == 0.0
    assert torch.equal(predicted.grad, torch.zeros_like(predicted))


# --- segmentation -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name, side", [("hip_flexion_r_moment", "r"), ("hip_adduction_l_moment", "l"),
                                        ("glut_med1_r_force", "r"), ("add_long_l_force", "l"),
                                        ("pelvis_tilt_moment", None), ("lumbar_force", None), ("knee_r", None)])
def test_a_target_belongs_to_the_leg_its_name_ends_with(name, side):
    assert target_side(name) == side


def test_a_resampled_point_is_known_only_when_the_frames_it_interpolates_between_are():
    known = np.ones((26, 2), dtype=bool)     # 26 frames onto 101 points: point i lies at frame i / 4
    known[7, 0] = False
    resampled = resample_known_to_points(known, 101)
    # Frame 7 is used by the points strictly between frames 6 and 8 (points 25..31); points 24
    # and 32 fall exactly on frames 6 and 8.
    assert np.flatnonzero(~resampled[:, 0]).tolist() == list(range(25, 32))
    assert resampled[:, 1].all()


def test_known_points_never_take_a_value_from_an_unknown_frame():
    trial = _with_validity({"S00": _trial(0)}, slice(230, 237))["S00"]
    segmented = []
    for unknown_value in (0.0, np.nan, 1e9):
        changed = trial.copy()
        changed.loc[~changed["valid_l"], ["hip_flexion_l_moment", "glut_med1_l_force"]] = unknown_value
        segmented.append(segment_table(changed.assign(subject="S00"), list(INPUT_NAMES), TARGETS, SegmentationConfig()))
    for segments in segmented[1:]:
        np.testing.assert_array_equal(segments.targets, segmented[0].targets)   # NaN where unknown, equal elsewhere
    assert np.isnan(segmented[0].targets[~segmented[0].target_known]).all()
    assert np.isfinite(segmented[0].targets[segmented[0].target_known]).all()


def test_only_the_invalid_legs_channels_are_masked_in_the_cycles_holding_its_unknown_frames():
    # Right cycles run over frames 100-200, 200-300, 300-400; the left leg's labels are unknown on 230-236.
    trial = _with_validity({"S00": _trial(0)}, slice(230, 237))["S00"].assign(subject="S00")
    trial["pelvis_tilt_moment"] = 1.0
    segments = segment_table(trial, list(INPUT_NAMES), TARGETS + ["pelvis_tilt_moment"], SegmentationConfig())
    assert segments.target_known.shape == (3, 101, 5)
    masked_channels = sorted({int(c) for c in np.argwhere(~segments.target_known)[:, 2]})
    assert masked_channels == [TARGETS.index("hip_flexion_l_moment"), TARGETS.index("glut_med1_l_force")]
    assert segments.target_known[[0, 2]].all() and not segments.target_known[1].all()
    assert segments.n_masked_points == segments.validity().masked_target_points > 0


def test_drop_mode_drops_exactly_the_samples_with_an_unknown_point():
    trials = _with_validity({"S00": _trial(0), "S01": _trial(1)}, None)
    trials["S00"].loc[230:236, "valid_l"] = False                 # inside S00's second right cycle
    table = pd.concat([t.assign(subject=s) for s, t in trials.items()], ignore_index=True)
    masked = segment_table(table, list(INPUT_NAMES), TARGETS, SegmentationConfig())
    dropped = segment_table(table, list(INPUT_NAMES), TARGETS, SegmentationConfig(invalid_frames="drop"))
    whole = masked.target_known.all(axis=(1, 2))
    assert whole.tolist() == [True, False, True, True, True, True]
    np.testing.assert_array_equal(dropped.inputs, masked.inputs[whole])
    np.testing.assert_array_equal(dropped.targets, masked.targets[whole])
    assert dropped.target_known.all() and dropped.dropped_subjects.tolist() == ["S00"]
    assert dropped.validity().dropped_segments == 1 and dropped.validity().masked_target_points == 0


def test_a_table_without_validity_columns_is_known_everywhere():
    segments = segment_table(_trial(0).assign(subject="S00"), list(INPUT_NAMES), TARGETS, SegmentationConfig())
    assert segments.target_known.all() and segments.n_masked_points == 0


def test_a_validity_column_empty_on_some_frames_only_is_refused_naming_the_trial():
    trial = _with_validity({"S00": _trial(0)}, None)["S00"].assign(subject="S00")
    trial["valid_r"] = trial["valid_r"].astype(object)
    trial.loc[5:9, "valid_r"] = None
    with pytest.raises(InputDataError, match=r"subject=S00/walk.*'valid_r' is empty on 5 of 420 frames"):
        segment_table(trial, list(INPUT_NAMES), TARGETS, SegmentationConfig())


def test_mirroring_carries_each_legs_validity_with_its_channels():
    trial = _with_validity({"S00": _trial(0)}, slice(230, 237))["S00"].assign(subject="S00")
    windows = SegmentationConfig(mode="windows", window_frames=80, window_stride_frames=40)
    original = segment_table(trial, list(INPUT_NAMES), TARGETS, windows)
    mirrored = segment_table(mirror_sides(trial), list(INPUT_NAMES), TARGETS, windows)
    swapped = [TARGETS.index(n) for n in ("hip_flexion_l_moment", "hip_flexion_r_moment", "glut_med1_l_force",
                                           "glut_med1_r_force")]
    assert not original.target_known.all()
    np.testing.assert_array_equal(mirrored.target_known, original.target_known[..., swapped])


def test_an_unknown_invalid_frames_option_is_refused_naming_the_choices():
    with pytest.raises(ValueError, match=r"invalid_frames must be 'mask'.*or 'drop'.*got 'skip'"):
        SegmentationConfig(invalid_frames="skip")
    with pytest.raises(ConfigError, match="invalid_frames"):
        TrainingConfig.from_dict({"segmentation": {"invalid_frames": "skip"}})


def test_the_dataset_reader_keeps_validity_columns_that_only_some_trials_have(tmp_path):
    trials = _trials(2)
    trials["S01"] = trials["S01"].assign(valid_r=True, valid_l=False)    # the second file only: a plain read drops it
    table = load_dataset(write_dataset(tmp_path / "dataset", trials))
    assert table.loc[table["subject"] == "S01", "valid_l"].eq(False).all()
    assert table.loc[table["subject"] == "S00", "valid_l"].isna().all()
    segments = segment_table(table, list(INPUT_NAMES), TARGETS, SegmentationConfig())
    assert segments.target_known[segments.subject == "S00"].all()          # no column: known everywhere
    assert not segments.target_known[segments.subject == "S01"][..., [1, 3]].any()


# --- scalers and metrics ----------------------------------------------------------------------------


def test_the_scaler_ignores_masked_values():
    rng = np.random.default_rng(0)
    values = rng.normal(3.0, 2.0, (4, 101, 2))
    known = rng.random((4, 101, 2)) > 0.4
    fitted = Standardizer.fit(np.where(known, values, 1e6), known)
    for channel in range(2):
        column = values[..., channel][known[..., channel]]
        assert fitted.mean[channel] == pytest.approx(column.mean(), rel=1e-12)
        assert fitted.std[channel] == pytest.approx(column.std(), rel=1e-12)


def test_the_scaler_fits_all_known_values_exactly_as_without_a_mask():
    values = np.random.default_rng(1).normal(size=(4, 101, 3))
    with_mask = Standardizer.fit(values, np.ones(values.shape, dtype=bool))
    plain = Standardizer.fit(values)
    assert np.array_equal(with_mask.mean, plain.mean) and np.array_equal(with_mask.std, plain.std)


def test_masked_metrics_ignore_the_masked_points():
    true = np.array([[1.0], [2.0], [3.0], [4.0]])
    predicted = np.array([[1.0], [2.0], [3.0], [60.0]])            # the last point is way off, but unknown
    known = np.array([[True], [True], [True], [False]])
    assert rmse(true, predicted, known)[0] == 0.0
    long = per_subject_channel_metrics(true.reshape(1, 4, 1), predicted.reshape(1, 4, 1), np.array(["A"]),
                                       ["x_moment"], known=known.reshape(1, 4, 1))
    values = long.set_index("metric")["value"]
    assert values["rmse"] == 0.0 and values["mae"] == 0.0 and values["r2"] == 1.0


def test_a_channel_without_a_known_point_is_nan_and_left_out_of_the_subject_mean():
    true = np.zeros((2, 3, 2))
    true[..., 0] = [0.0, 1.0, 2.0]
    true[..., 1] = [0.0, 2.0, 4.0]
    predicted = true + 1.0                                          # RMSE 1 on every channel
    known = np.ones(true.shape, dtype=bool)
    known[1, :, 1] = False                                          # subject B: channel y never known
    long = per_subject_channel_metrics(true, predicted, np.array(["A", "B"]), ["x_moment", "y_moment"], known=known)
    b_y = long[(long["subject"] == "B") & (long["channel"] == "y_moment")]
    assert b_y["value"].isna().all()
    summary = summarise(long, {"moments": ("x_moment", "y_moment")}).set_index("metric")
    assert summary.loc["rmse", "mean"] == 1.0 and summary.loc["rmse", "n_subjects"] == 2


# --- training and evaluation --------------------------------------------------------------------------


def test_training_and_evaluation_are_bit_identical_without_validity_columns_or_with_all_true_ones(tmp_path):
    trials = _trials()
    datasets = {"none": write_dataset(tmp_path / "none", trials),
                "all_true": write_dataset(tmp_path / "all_true", _with_validity(trials, None))}
    for name, dataset in datasets.items():
        result = train_from_config(_tiny_config(), dataset, tmp_path / f"run_{name}")
        evaluate_checkpoint(result.best_checkpoint, dataset, tmp_path / f"eval_{name}")
    _assert_same_weights(tmp_path / "run_none", tmp_path / "run_all_true")
    for name in ("history.json", "summary.json"):
        first, second = (json.loads((tmp_path / f"run_{n}" / name).read_text()) for n in datasets)
        if name == "summary.json":
            for summary in (first, second):
                summary.pop("seconds_per_epoch_median")
        assert first == second, name
    assert first["label_validity"]["train"]["masked_target_points"] == 0
    for name in ("results.csv", "metrics_test.csv"):
        assert (tmp_path / "eval_none" / name).read_bytes() == (tmp_path / "eval_all_true" / name).read_bytes()
    summaries = [json.loads((tmp_path / f"eval_{n}" / "summary.json").read_text()) for n in datasets]
    assert [{k: v for k, v in s.items() if k != "checkpoint"} for s in summaries][0] == \
        [{k: v for k, v in s.items() if k != "checkpoint"} for s in summaries][1]


def test_training_on_masked_frames_does_not_depend_on_their_unknown_values(tmp_path):
    runs = []
    for name, unknown_value in (("zeros", 0.0), ("nan", np.nan), ("huge", 1e4)):
        trials = _with_validity(_trials(), slice(230, 237))
        for table in trials.values():
            table.loc[~table["valid_l"], ["hip_flexion_l_moment", "glut_med1_l_force"]] = unknown_value
        dataset = write_dataset(tmp_path / name, trials)
        runs.append(train_from_config(_tiny_config(), dataset, tmp_path / f"run_{name}"))
    for run in runs[1:]:
        _assert_same_weights(runs[0].run_dir, run.run_dir)
        assert run.best_validation_loss == runs[0].best_validation_loss
    summary = json.loads((runs[0].run_dir / "summary.json").read_text())
    assert summary["label_validity"]["train"]["masked_target_points"] > 0


def test_evaluation_metrics_skip_unknown_points_and_count_them(tmp_path):
    trials = _with_validity(_trials(), slice(230, 237))
    for table in trials.values():
        table.loc[~table["valid_l"], ["hip_flexion_l_moment", "glut_med1_l_force"]] = np.nan
    dataset = write_dataset(tmp_path / "dataset", trials)
    result = train_from_config(_tiny_config(), dataset, tmp_path / "run")
    summary = evaluate_checkpoint(result.best_checkpoint, dataset, tmp_path / "eval")
    counts = summary["label_validity"]["test"]
    assert counts["masked_target_points"] > 0 and counts["dropped_segments"] == 0
    metrics = pd.read_csv(tmp_path / "eval" / "metrics_test.csv")
    assert metrics["value"].notna().all()                         # NaN labels were never scored


def test_drop_mode_trains_only_on_samples_whose_labels_are_all_known(tmp_path):
    trials = _with_validity(_trials(), slice(230, 237))
    dataset = write_dataset(tmp_path / "dataset", trials)
    train_from_config(_tiny_config(invalid_frames="drop"), dataset, tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    # Each of the 2 training subjects: 3 right cycles and, mirrored, 3 left ones (frames 50-150,
    # 150-250, 250-350); the unknown frames 230-236 drop the second of each.
    assert summary["n_train_segments"] == 8
    assert summary["label_validity"]["train"] == {"target_points": 8 * 101 * 4, "masked_target_points": 0,
                                                  "dropped_segments": 4}


def test_the_evaluate_command_says_how_many_target_points_it_left_out(tmp_path, capsys):
    from gait2hip.workflows.cli import main

    dataset = write_dataset(tmp_path / "dataset", _with_validity(_trials(), slice(230, 237)))
    result = train_from_config(_tiny_config(), dataset, tmp_path / "run")
    assert main(["evaluate", str(result.best_checkpoint), "--data", str(dataset), "--out", str(tmp_path / "eval")]) == 0
    counts = json.loads((tmp_path / "eval" / "summary.json").read_text())["label_validity"]["test"]
    assert (f"test: frames with unknown labels left out: {counts['masked_target_points']} of {counts['target_points']} "
            "target points masked, 0 segment(s) dropped") in capsys.readouterr().out
