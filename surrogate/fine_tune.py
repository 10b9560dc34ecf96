"""Fine-tuning: a training that starts from a trained checkpoint's weights and scalers.

A fine-tune is a training run (:func:`gait2hip.surrogate.train.train_from_config`) whose
config names ``init_checkpoint``: the network starts from that checkpoint's weights, the
inputs and targets are standardised with its scalers (not refitted on the new subjects: the
weights were learned on that scale), and the starting weights count as epoch -1 of early
stopping. The new checkpoint records where it came from (:class:`FineTuneOrigin`: the file
and the sha256 of its bytes). This module holds the pieces the training calls; it imports
nothing of the training, so the training can import it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

from gait2hip.core.config_loading import YamlConfig, check_counts_at_least_one, check_seed
from gait2hip.core.errors import ConfigError, InputDataError
from gait2hip.surrogate.checkpoint import Checkpoint, FineTuneOrigin, read_checkpoint
from gait2hip.surrogate.config import TrainingConfig
from gait2hip.surrogate.dataset import Channels, target_channel_differences


@dataclass(frozen=True)
class FineTuneSettings(YamlConfig):
    """What a fine-tune changes of the pre-trained model's training config; the rest is the checkpoint's.

    Attributes
    ----------
    learning_rate
        AdamW learning rate; lower than training from scratch (2e-3), so the first steps on a
        few subjects do not undo what the pre-training learned.
    max_epochs, patience
        Budget and early stopping; 0 epochs saves the starting weights unchanged.
    seed, num_threads
        Data order and dropout; CPU threads while it runs.
    """

    learning_rate: float = 5e-4
    max_epochs: int = 100
    patience: int = 20
    seed: int = 0
    num_threads: int = 1

    def __post_init__(self) -> None:
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be a finite number > 0, got {self.learning_rate}")
        if self.max_epochs < 0:
            raise ValueError(f"max_epochs must be 0 (keep the starting weights) or more, got {self.max_epochs}")
        check_counts_at_least_one(self, ("patience", "num_threads"))
        check_seed(self.seed)


@dataclass(frozen=True)
class StartingPoint:
    """The checkpoint a fine-tune starts from, and its provenance as the new checkpoint records it."""

    checkpoint: Checkpoint
    origin: FineTuneOrigin


def file_sha256(path: Path) -> str:
    """Hex sha256 of the file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fine_tune_config(init_checkpoint: Path, settings: FineTuneSettings) -> TrainingConfig:
    """The training config of a fine-tune of ``init_checkpoint``: its own config with ``settings`` applied.

    Model, model settings, targets, segmentation and mirroring stay the checkpoint's (the
    weights only fit that network, the scalers only those channels).
    """
    checkpoint = read_checkpoint(init_checkpoint)
    try:
        return dataclasses.replace(checkpoint.training_config, init_checkpoint=str(init_checkpoint),
                                   learning_rate=settings.learning_rate, max_epochs=settings.max_epochs,
                                   patience=settings.patience, seed=settings.seed, num_threads=settings.num_threads)
    except ValueError as error:
        raise ConfigError(f"fine-tuning {init_checkpoint}: {error}") from error


def read_starting_point(config: TrainingConfig) -> StartingPoint:
    """Read ``config.init_checkpoint`` and check that ``config`` trains the network it holds.

    Raises
    ------
    CheckpointError
        The file is missing or not a readable checkpoint.
    ConfigError
        ``model``, ``model_config``, ``targets`` or ``moment_scaling`` differ from the checkpoint's.
    """
    if config.init_checkpoint is None:
        raise ValueError("read_starting_point needs a config with init_checkpoint set")
    path = Path(config.init_checkpoint)
    checkpoint = read_checkpoint(path)
    for key, own, theirs in (("model", config.model, checkpoint.model),
                             ("model_config", config.model_config, checkpoint.model_config),
                             ("targets", tuple(config.targets), tuple(checkpoint.target_groups)),
                             # The scalers hold the checkpoint's units for the moments.
                             ("moment_scaling", config.moment_scaling, checkpoint.training_config.moment_scaling)):
        if own != theirs:
            raise ConfigError(f"init_checkpoint {path}: its {key} is {theirs!r}, the config's is {own!r}; a fine-tune "
                              f"continues the checkpoint's network, so the two must be the same")
    return StartingPoint(checkpoint, FineTuneOrigin(str(path), file_sha256(path), checkpoint.epoch))


def checkpoint_channels(start: StartingPoint, found: Channels, dataset_dir: Path) -> Channels:
    """The checkpoint's channels, in its order, once the dataset is seen to hold exactly those.

    ``found`` are the dataset's channels (:func:`gait2hip.surrogate.dataset.find_channels`).

    Raises
    ------
    InputDataError
        Naming the checkpoint's channels the dataset lacks, and the dataset's target channels
        the checkpoint does not predict (a different model or muscle set).
    """
    checkpoint = start.checkpoint
    problems = []
    missing_inputs = [name for name in checkpoint.input_names if name not in found.inputs]
    if missing_inputs:
        problems.append(f"input channel(s) missing: {', '.join(missing_inputs)}")
    for group, missing, extra in target_channel_differences(dict(checkpoint.target_groups), found.targets):
        if missing:
            problems.append(f"{group} channel(s) missing: {', '.join(missing)}")
        if extra:
            problems.append(f"{group} channel(s) the checkpoint does not predict: {', '.join(extra)}")
    if problems:
        raise InputDataError(dataset_dir, f"its channels do not match those of the checkpoint being fine-tuned "
                                          f"({start.origin.path}): {'; '.join(problems)}")
    return Channels(tuple(checkpoint.input_names), dict(checkpoint.target_groups))
