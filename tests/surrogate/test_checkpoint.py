"""Checkpoints hold tensors and plain values only: read back exactly, and never run a file's code."""

from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from gait2hip.core.errors import CheckpointError
from gait2hip.surrogate.checkpoint import Checkpoint, TrainingState, load_checkpoint, read_checkpoint, save_checkpoint
from gait2hip.surrogate.config import TrainingConfig
from gait2hip.surrogate.dataset import INPUT_NAMES
from gait2hip.surrogate.models.registry import build_model
from gait2hip.surrogate.preprocessing import Standardizer
from gait2hip.surrogate.split import SubjectSplit
from gait2hip.workflows.cli import main

TARGET_GROUPS = {"moments": ("hip_flexion_r_moment", "hip_adduction_r_moment"),
                 "forces": ("glut_med1_r_force", "psoas_r_force", "iliacus_r_force")}


class CodeOnLoad:
    """Unpickling this runs code: it creates ``marker`` (what a malicious checkpoint would do, harmlessly)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').close()",)


def _checkpoint(with_training_state: bool = True) -> Checkpoint:
    """A small LSTM checkpoint with weights, optimizer moments and random states that are all non-trivial."""
    config = TrainingConfig.from_yaml("surrogate/configs/lstm.yaml")
    config = dataclasses.replace(config, model_config={**config.model_config, "hidden_size": 8}, lr_reduce_patience=2)
    n_targets = sum(len(names) for names in TARGET_GROUPS.values())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        model = build_model("lstm", config.model_config, len(INPUT_NAMES), n_targets)
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=config.lr_reduce_patience)
        torch.nn.functional.mse_loss(model(torch.randn(2, 101, len(INPUT_NAMES))), torch.randn(2, 101, n_targets)).backward()
        optimizer.step()
        scheduler.step(0.5)
        torch_rng_state = torch.get_rng_state()
    generator = torch.Generator().manual_seed(7)
    torch.randperm(10, generator=generator)
    rng = np.random.default_rng(0)
    state = TrainingState(optimizer.state_dict(), scheduler.state_dict(), generator.get_state(), torch_rng_state,
                          [{"epoch": 0, "train_loss": 0.75, "validation_loss": 0.5, "learning_rate": 2e-3}], 0, 0.5)
    return Checkpoint(
        training_config=config, input_names=INPUT_NAMES, input_units=("deg",) * len(INPUT_NAMES),
        target_groups=TARGET_GROUPS, target_units=("Nm/kg",) * 2 + ("N/kg",) * 3,
        input_scaler=Standardizer(rng.normal(size=10), rng.uniform(1, 20, 10)),
        target_scaler=Standardizer(rng.normal(size=n_targets), rng.uniform(0.1, 2, n_targets)),
        split=SubjectSplit(("S01", "S04"), ("S02",), ("S03",)), dataset="/data/labels/dataset", epoch=0,
        model_state=model.state_dict(), training_state=state if with_training_state else None)


def _assert_tensors_equal(expected, got, where: str = "") -> None:
    """Nested dicts / lists of tensors and plain values: equal keys, bit-identical tensors, equal values."""
    if isinstance(expected, torch.Tensor):
        assert isinstance(got, torch.Tensor) and got.dtype == expected.dtype and torch.equal(got, expected), where
    elif isinstance(expected, dict):
        assert set(got) == set(expected), where
        for key in expected:
            _assert_tensors_equal(expected[key], got[key], f"{where}.{key}")
    elif isinstance(expected, (list, tuple)):
        assert len(got) == len(expected), where
        for index, (a, b) in enumerate(zip(expected, got)):
            _assert_tensors_equal(a, b, f"{where}[{index}]")
    else:
        assert got == expected, where


def test_saved_checkpoint_reads_back_with_equal_metadata_and_bit_identical_tensors(tmp_path):
    written = _checkpoint()
    save_checkpoint(written, tmp_path / "last.pt")

    read = read_checkpoint(tmp_path / "last.pt")

    assert read.training_config == written.training_config and read.model == "lstm"
    assert (read.input_names, read.input_units, read.target_groups, read.target_units, read.split, read.dataset,
            read.epoch, read.format_version) == (written.input_names, written.input_units, written.target_groups,
                                                 written.target_units, written.split, written.dataset, 0, 1)
    for scaler in ("input_scaler", "target_scaler"):
        for part in ("mean", "std"):
            np.testing.assert_array_equal(getattr(getattr(read, scaler), part), getattr(getattr(written, scaler), part))
    _assert_tensors_equal(dict(written.model_state), dict(read.model_state), "model_state")
    _assert_tensors_equal(dataclasses.asdict(written.training_state), dataclasses.asdict(read.training_state),
                          "training_state")
    assert read.target_names == [*TARGET_GROUPS["moments"], *TARGET_GROUPS["forces"]]
    assert read.force_mask.tolist() == [False, False, True, True, True]


def test_checkpoint_file_is_readable_by_a_weights_only_load(tmp_path):
    save_checkpoint(_checkpoint(), tmp_path / "last.pt")
    content = torch.load(tmp_path / "last.pt", weights_only=True)
    assert content["format"] == "gait2hip.checkpoint" and json.loads(content["metadata"])["epoch"] == 0


def test_loaded_model_gives_the_saved_networks_outputs(tmp_path):
    written = _checkpoint(with_training_state=False)
    save_checkpoint(written, tmp_path / "best.pt")
    model, read = load_checkpoint(tmp_path / "best.pt")
    inputs = torch.randn(1, 101, len(INPUT_NAMES), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(model(inputs), written.build_model()(inputs))
    assert read.training_state is None and not model.training


@pytest.mark.parametrize("container", ["torch zip", "torch legacy", "plain pickle"])
def test_a_checkpoint_whose_loading_would_run_code_is_refused_without_running_it(tmp_path, container):
    marker = tmp_path / "code_ran"
    content = {"format": "gait2hip.checkpoint", "format_version": 1, "payload": CodeOnLoad(marker)}
    if container == "plain pickle":
        (tmp_path / "best.pt").write_bytes(pickle.dumps(content, protocol=2))
    else:
        torch.save(content, tmp_path / "best.pt", _use_new_zipfile_serialization=container == "torch zip")

    with pytest.raises(CheckpointError, match="refused: it holds Python objects") as raised:
        read_checkpoint(tmp_path / "best.pt")

    assert str(raised.value).startswith(f"{tmp_path / 'best.pt'}: ") and "exec" in str(raised.value)
    assert not marker.exists()


@pytest.mark.parametrize("command", ["predict", "evaluate", "export", "timing"])
def test_commands_refuse_a_checkpoint_whose_loading_would_run_code(tmp_path, caplog, command):
    marker = tmp_path / "code_ran"
    bomb = tmp_path / "best.pt"
    torch.save({"payload": CodeOnLoad(marker)}, bomb)
    arguments = {"predict": ["predict", str(bomb), str(tmp_path / "angles.csv")],
                 "evaluate": ["evaluate", str(bomb), "--data", str(tmp_path / "dataset"), "--out", str(tmp_path / "e")],
                 "export": ["export", str(bomb), "--out", str(tmp_path / "model.pt2")],
                 "timing": ["timing", str(tmp_path / "cohort"), "--data", str(tmp_path / "dataset"),
                            "--checkpoint", str(bomb), "--out", str(tmp_path / "t")]}[command]

    assert main(arguments) == 2

    assert f"{bomb}: refused" in caplog.text
    assert not marker.exists()


def test_the_converter_refuses_code_on_load_too_and_the_code_is_live(tmp_path, caplog):
    marker = tmp_path / "code_ran"
    torch.save({"payload": CodeOnLoad(marker)}, tmp_path / "best.pt")
    assert main(["convert-checkpoint", str(tmp_path / "best.pt"), str(tmp_path / "new.pt")]) == 2
    assert "refused" in caplog.text and not marker.exists() and not (tmp_path / "new.pt").exists()

    # Proves the refusals refuse a file that really would run code: a full unpickling (here, in
    # the test only; gait2hip has none) runs it.
    torch.load(tmp_path / "best.pt", weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("kind, problem", [
    ("truncated", "not a readable PyTorch checkpoint"), ("empty", "empty"), ("text", "not a checkpoint gait2hip can read"),
    ("folder", "is a folder"), ("missing", "not found"), ("state_dict", "not a gait2hip checkpoint"),
])
def test_files_that_are_not_checkpoints_give_an_error_naming_the_file_and_the_problem(tmp_path, kind, problem):
    path = tmp_path / "best.pt"
    if kind == "truncated":
        save_checkpoint(_checkpoint(), tmp_path / "whole.pt")
        path.write_bytes((tmp_path / "whole.pt").read_bytes()[:4000])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("model: lstm\nweights: none\n")
    elif kind == "folder":
        path.mkdir()
    elif kind == "state_dict":
        torch.save(_checkpoint().model_state, path)

    with pytest.raises(CheckpointError) as raised:
        read_checkpoint(path)

    assert str(raised.value).startswith(f"{path}: ") and problem in str(raised.value)


def test_a_checkpoint_of_a_newer_format_is_refused_with_its_version(tmp_path):
    save_checkpoint(_checkpoint(), tmp_path / "best.pt")
    content = torch.load(tmp_path / "best.pt", weights_only=True)
    torch.save({**content, "format_version": 99}, tmp_path / "best.pt")
    with pytest.raises(CheckpointError, match="format version 99"):
        read_checkpoint(tmp_path / "best.pt")


def _legacy_file(checkpoint: Checkpoint, path: Path) -> None:
    """What an older gait2hip wrote: one dict of string keys, subject ids as numpy strings."""
    state = checkpoint.training_state
    torch.save({
        "model": checkpoint.model, "model_config": checkpoint.model_config,
        "training_config": {k: v for k, v in checkpoint.training_config.to_dict().items() if k != "device"},
        "input_names": list(checkpoint.input_names), "target_names": checkpoint.target_names,
        "target_groups": {group: list(names) for group, names in checkpoint.target_groups.items()},
        "input_scaler": checkpoint.input_scaler.to_dict(), "target_scaler": checkpoint.target_scaler.to_dict(),
        "split": {part: [np.str_(s) for s in subjects] for part, subjects in checkpoint.split.to_dict().items()},
        "dataset": checkpoint.dataset, "model_state": checkpoint.model_state,
        "optimizer_state": state.optimizer_state, "generator_state": state.data_order_rng_state,
        "torch_rng_state": state.torch_rng_state, "epoch": checkpoint.epoch, "history": state.history,
        "scheduler_state": state.scheduler_state,
        "best": {"loss": state.best_validation_loss, "epoch": state.best_epoch}}, path)


def test_an_older_format_checkpoint_is_refused_with_how_to_convert_it_and_converts_safely(tmp_path, capsys):
    written = _checkpoint()
    _legacy_file(written, tmp_path / "old.pt")
    with pytest.raises(CheckpointError, match="older, unversioned format; convert it once with: gait2hip "
                                              "convert-checkpoint"):
        read_checkpoint(tmp_path / "old.pt")

    assert main(["convert-checkpoint", str(tmp_path / "old.pt"), str(tmp_path / "new.pt")]) == 0   # no trust needed

    converted = read_checkpoint(tmp_path / "new.pt")
    assert converted.split == written.split and converted.training_config == written.training_config
    assert converted.target_units == written.target_units and converted.input_units == written.input_units
    _assert_tensors_equal(dict(written.model_state), dict(converted.model_state), "model_state")
    _assert_tensors_equal(dataclasses.asdict(written.training_state), dataclasses.asdict(converted.training_state),
                          "training_state")
    assert "with training state" in capsys.readouterr().out
