"""Checkpoints of the older, unversioned format: one dict of string keys, turned into a :class:`Checkpoint`.

Reading such a file is the converter's job (``gait2hip convert-checkpoint``); this module
only maps the dict it read onto the typed checkpoint, and never loads a file itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gait2hip.core.errors import CheckpointError, ConfigError
from gait2hip.surrogate.checkpoint import Checkpoint, TrainingState
from gait2hip.surrogate.config import TrainingConfig
from gait2hip.surrogate.dataset import INPUT_UNIT, TARGET_UNITS
from gait2hip.surrogate.preprocessing import Standardizer
from gait2hip.surrogate.split import SubjectSplit

# What the older format stored; the training-state keys come with every epoch's file.
REQUIRED_KEYS = ("model_config", "training_config", "input_names", "target_names", "target_groups",
                 "input_scaler", "target_scaler", "split", "model_state", "epoch")
RESUME_KEYS = ("optimizer_state", "generator_state", "torch_rng_state", "history", "best")


def checkpoint_from_legacy(content: Any, path: Path) -> Checkpoint:
    """The typed checkpoint of an older-format checkpoint's dict (``path`` only names it in errors).

    The training state is kept when the dict holds all of it (the data order, dropout random
    state, optimizer and early-stopping record); files written before the dropout random state
    was saved could not resume exactly anyway and become checkpoints without training state.
    """
    if not isinstance(content, dict) or "model_state" not in content:
        raise CheckpointError(path, "not a gait2hip checkpoint of the older format (no 'model_state' entry)")
    missing = [key for key in REQUIRED_KEYS if key not in content]
    if missing:
        raise CheckpointError(path, f"an older-format checkpoint without {', '.join(missing)}; it cannot be converted")
    try:
        config = TrainingConfig.from_dict(content["training_config"])
    except ConfigError as error:
        raise CheckpointError(path, f"its training configuration is not valid: {error}") from error
    groups = {str(group): tuple(str(name) for name in names) for group, names in content["target_groups"].items()}
    target_names = [name for names in groups.values() for name in names]
    if target_names != [str(name) for name in content["target_names"]]:
        raise CheckpointError(path, "its target_names and target_groups disagree; it cannot be converted")
    split = content["split"]
    return Checkpoint(
        training_config=config, input_names=tuple(str(name) for name in content["input_names"]),
        input_units=tuple(INPUT_UNIT for _ in content["input_names"]), target_groups=groups,
        target_units=tuple(TARGET_UNITS[group] for group, names in groups.items() for _ in names),
        input_scaler=Standardizer.from_dict(content["input_scaler"]),
        target_scaler=Standardizer.from_dict(content["target_scaler"]),
        split=SubjectSplit(*(tuple(str(subject) for subject in split[part]) for part in ("train", "validation", "test"))),
        dataset=str(content.get("dataset", "")), epoch=int(content["epoch"]), model_state=content["model_state"],
        training_state=_training_state(content))


def _training_state(content: dict[str, Any]) -> TrainingState | None:
    if not all(key in content for key in RESUME_KEYS):
        return None
    best = content["best"]
    return TrainingState(
        optimizer_state=content["optimizer_state"], scheduler_state=content.get("scheduler_state"),
        data_order_rng_state=content["generator_state"], torch_rng_state=content["torch_rng_state"],
        history=[{key: (float(value) if key != "epoch" else int(value)) for key, value in epoch.items()}
                 for epoch in content["history"]],
        best_epoch=int(best["epoch"]), best_validation_loss=float(best["loss"]))
