"""Fine-tuning from a checkpoint, training on explicit subject lists, and cross-validation folds.

Small label tables built here (no OpenSim): walks with right heel strikes every 100 frames and
targets that depend on the angles, a "virtual" dataset to pre-train on and a "real" one, with
unknown-label frames, to fine-tune on.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from gait2hip.core.errors import ConfigError, InputDataError
from gait2hip.surrogate.checkpoint import load_checkpoint, read_checkpoint
from gait2hip.surrogate.config import TrainingConfig
from gait2hip.surrogate.cross_validation import cross_validation_folds, subject_folds
from gait2hip.surrogate.fine_tune import FineTuneSettings, file_sha256, fine_tune_config
from gait2hip.surrogate.inference import predict_segments
from gait2hip.surrogate.segmentation import segment_table
from gait2hip.surrogate.split import SubjectSplit
from gait2hip.surrogate.train import train_from_config
from support.label_tables import walk, write_dataset

TARGETS = ["hip_flexion_r_moment", "hip_flexion_l_moment", "glut_med1_r_force", "glut_med1_l_force"]
TINY = TrainingConfig.from_dict({
    "model": "lstm", "model_config": {"hidden_size": 8, "n_layers": 1, "bidirectional": False, "dropout": 0.0},
    "split_fractions": [0.5, 0.25, 0.25], "max_epochs": 3, "patience": 3, "batch_size": 4, "num_threads": 1})


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("fine_tune")
    virtual = write_dataset(root / "virtual", {f"V{i:02d}": walk(i) for i in range(4)})
    real = write_dataset(root / "real", {f"R{i:02d}": walk(100 + i, gain=1.4, unknown_left_from=200)
                                         for i in range(5)})
    pretrained = train_from_config(TINY, virtual, root / "pretrained")
    return {"virtual": virtual, "real": real, "pretrained": pretrained.best_checkpoint, "root": root}


REAL_SPLIT = SubjectSplit(("R00", "R01", "R02"), ("R03",), ("R04",))


def _predictions(checkpoint_path: Path, dataset: Path, reference: Path | None = None) -> np.ndarray:
    """``checkpoint_path``'s predictions on the segments of ``dataset`` (cut and ordered as ``reference`` cuts them)."""
    model, checkpoint = load_checkpoint(checkpoint_path)
    _, cutter = load_checkpoint(reference or checkpoint_path)
    table = pd.read_parquet(dataset)
    segments = segment_table(table, list(cutter.input_names), cutter.target_names, cutter.segmentation)
    return predict_segments(model, checkpoint, segments.inputs)


def test_a_zero_epoch_fine_tune_predicts_exactly_as_its_starting_checkpoint(datasets, tmp_path):
    config = fine_tune_config(datasets["pretrained"], FineTuneSettings(max_epochs=0))
    result = train_from_config(config, datasets["real"], tmp_path / "tuned", split=REAL_SPLIT)
    assert result.best_epoch == -1 and result.epochs_run == 0
    np.testing.assert_array_equal(_predictions(result.best_checkpoint, datasets["real"]),
                                  _predictions(datasets["pretrained"], datasets["real"]))


def test_a_fine_tune_starts_from_the_checkpoints_weights_and_keeps_its_scalers(datasets, tmp_path):
    config = fine_tune_config(datasets["pretrained"], FineTuneSettings(max_epochs=2, learning_rate=1e-3))
    result = train_from_config(config, datasets["real"], tmp_path / "tuned", split=REAL_SPLIT)
    tuned, start = read_checkpoint(result.last_checkpoint), read_checkpoint(datasets["pretrained"])
    for scaler in ("input_scaler", "target_scaler"):
        np.testing.assert_array_equal(getattr(tuned, scaler).mean, getattr(start, scaler).mean)
        np.testing.assert_array_equal(getattr(tuned, scaler).std, getattr(start, scaler).std)
    # Two epochs of a few AdamW steps at 1e-3 move each weight by at most a few 1e-3 from where it started;
    # a network initialised afresh would be a different draw altogether.
    largest_step = max(float((tuned.model_state[k] - start.model_state[k]).abs().max()) for k in start.model_state)
    assert 0 < largest_step < 0.05
    assert tuned.target_names == start.target_names and tuned.input_names == start.input_names


def test_a_fine_tuned_checkpoint_records_the_file_and_sha256_it_started_from(datasets, tmp_path):
    config = fine_tune_config(datasets["pretrained"], FineTuneSettings(max_epochs=1))
    result = train_from_config(config, datasets["real"], tmp_path / "tuned", split=REAL_SPLIT)
    origin = read_checkpoint(result.best_checkpoint).fine_tuned_from
    assert origin.path == str(datasets["pretrained"])
    assert origin.sha256 == file_sha256(datasets["pretrained"])
    assert origin.epoch == read_checkpoint(datasets["pretrained"]).epoch
    summary = json.loads((tmp_path / "tuned" / "summary.json").read_text())
    assert summary["fine_tuned_from"]["sha256"] == origin.sha256
    assert summary["config"]["init_checkpoint"] == str(datasets["pretrained"])
    assert summary["split"] == REAL_SPLIT.to_dict()


def test_a_checkpoint_trained_from_scratch_records_no_origin(datasets):
    assert read_checkpoint(datasets["pretrained"]).fine_tuned_from is None
    assert "init_checkpoint" not in read_checkpoint(datasets["pretrained"]).training_config.to_dict()


def test_fine_tuning_refuses_a_dataset_whose_target_channels_differ_and_names_them(datasets, tmp_path):
    other = {f"R{i:02d}": walk(100 + i).rename(columns={"glut_med1_r_force": "glut_max1_r_force"}) for i in range(5)}
    dataset = write_dataset(tmp_path / "other", other)
    config = fine_tune_config(datasets["pretrained"], FineTuneSettings(max_epochs=1))
    with pytest.raises(InputDataError, match="glut_med1_r_force") as error:
        train_from_config(config, dataset, tmp_path / "tuned", split=REAL_SPLIT)
    assert "glut_max1_r_force" in str(error.value) and not (tmp_path / "tuned" / "best.pt").exists()


def test_fine_tuning_refuses_a_config_for_another_network(datasets, tmp_path):
    config = dataclasses.replace(fine_tune_config(datasets["pretrained"], FineTuneSettings()),
                                 model_config={**TINY.model_config, "hidden_size": 16})
    with pytest.raises(ConfigError, match="model_config"):
        train_from_config(config, datasets["real"], tmp_path / "tuned", split=REAL_SPLIT)


def test_zero_epochs_are_refused_when_training_from_scratch():
    with pytest.raises(ValueError, match="max_epochs"):
        dataclasses.replace(TINY, max_epochs=0)


def test_training_on_explicit_subject_lists_uses_exactly_them(datasets, tmp_path):
    train_from_config(TINY, datasets["real"], tmp_path / "run", split=REAL_SPLIT)
    assert read_checkpoint(tmp_path / "run" / "best.pt").split == REAL_SPLIT


@pytest.mark.parametrize("split, named", [(SubjectSplit(("R00", "R09"), ("R03",), ()), "R09"),
                                          (SubjectSplit(("R00", "R01"), ("R01",), ("R04",)), "two parts"),
                                          (SubjectSplit(("R00",), (), ("R04",)), "validation")])
def test_an_explicit_split_with_unknown_empty_or_shared_parts_is_refused(datasets, tmp_path, split, named):
    with pytest.raises((InputDataError, ValueError), match=named):
        train_from_config(TINY, datasets["real"], tmp_path / "run", split=split)


@pytest.mark.parametrize("n_subjects, folds", [(12, 4), (12, 5), (7, 3), (5, "loso"), (2, 2)])
def test_folds_are_disjoint_by_subject_and_cover_every_subject(n_subjects, folds):
    subjects = [f"S{i:02d}" for i in range(n_subjects)]
    groups = subject_folds(subjects, folds, seed=3)
    assert len(groups) == (n_subjects if folds == "loso" else folds)
    flat = [subject for group in groups for subject in group]
    assert sorted(flat) == subjects                      # every subject once: disjoint and covering
    sizes = [len(group) for group in groups]
    assert max(sizes) - min(sizes) <= 1


def test_folds_depend_on_the_seed_not_on_the_order_subjects_come_in():
    subjects = [f"S{i:02d}" for i in range(12)]
    assert subject_folds(subjects, 4, seed=1) == subject_folds(subjects[::-1], 4, seed=1)
    assert subject_folds(subjects, 4, seed=1) != subject_folds(subjects, 4, seed=2)


def test_each_fold_validates_on_its_own_training_subjects_never_its_test_subjects():
    subjects = [f"S{i:02d}" for i in range(12)]
    folds = cross_validation_folds(subjects, 4, validation_subjects=2, seed=0)
    assert folds == cross_validation_folds(subjects, 4, validation_subjects=2, seed=0)
    for fold in folds:
        parts = fold.split
        assert len(parts.validation) == 2 and len(parts.test) == 3 and len(parts.train) == 7
        assert sorted(parts.train + parts.validation + parts.test) == subjects
        assert not set(parts.validation) & set(parts.test) and not set(parts.train) & set(parts.validation)


@pytest.mark.parametrize("folds, validation, named", [(1, 1, "folds"), (13, 1, "folds"), ("five", 1, "folds"),
                                                      (2, 6, "validation_subjects")])
def test_impossible_folds_are_refused_naming_the_setting(folds, validation, named):
    with pytest.raises(ConfigError, match=named):
        cross_validation_folds([f"S{i:02d}" for i in range(12)], folds, validation_subjects=validation, seed=0)


def test_the_fine_tune_settings_refuse_a_non_positive_learning_rate():
    with pytest.raises(ValueError, match="learning_rate"):
        FineTuneSettings(learning_rate=0.0)
    assert FineTuneSettings().learning_rate < TrainingConfig().learning_rate
    assert torch.get_num_threads() >= 1


def test_gait2hip_train_fine_tunes_when_its_config_names_an_init_checkpoint(datasets, tmp_path):
    import yaml

    from gait2hip.workflows.cli import main

    settings = fine_tune_config(datasets["pretrained"], FineTuneSettings(max_epochs=1)).to_dict()
    config = tmp_path / "fine_tune.yaml"
    config.write_text(yaml.safe_dump({**settings, "split_fractions": [0.6, 0.2, 0.2]}))
    out = tmp_path / "run"
    assert main(["train", "--config", str(config), "--data", str(datasets["real"]), "--out", str(out)]) == 0
    assert read_checkpoint(out / "best.pt").fine_tuned_from.sha256 == file_sha256(datasets["pretrained"])
