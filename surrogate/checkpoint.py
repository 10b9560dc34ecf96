"""A trained surrogate on disk: tensors plus versioned metadata, read without running any code.

A checkpoint file is what ``torch.save`` writes for a plain mapping::

    {"format": "gait2hip.checkpoint", "format_version": 1,
     "metadata": "<JSON text: model, training config, channels and units, split, dataset, epoch
                  [, fine_tuned_from: {path, sha256, epoch}]>",
     "scalers": {"input_mean": (n_inputs,), "input_std": ..., "target_mean": (n_targets,), "target_std": ...},
     "model_state": {parameter name: tensor},
     "training_state": None | {"optimizer": ..., "scheduler": ..., "data_order_rng": ..., "torch_rng": ...,
                               "history": [...], "best_epoch": int, "best_validation_loss": float}}

It holds only tensors and plain Python values, so :func:`read_checkpoint` loads it with
``torch.load(..., weights_only=True)``: a file from anyone can be read, and a file that
holds anything else (a pickled object whose loading would run code) is refused with a
:class:`~gait2hip.core.errors.CheckpointError`, never unpickled. ``best.pt`` carries no
training state; ``last.pt`` carries what continuing the run exactly needs.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from gait2hip.core.atomic import write_atomically
from gait2hip.core.errors import CheckpointError, ConfigError
from gait2hip.surrogate.config import TrainingConfig
from gait2hip.surrogate.models.registry import build_model
from gait2hip.surrogate.preprocessing import Standardizer
from gait2hip.surrogate.segmentation import SegmentationConfig
from gait2hip.surrogate.split import SubjectSplit

FORMAT = "gait2hip.checkpoint"
FORMAT_VERSION = 1
# What a checkpoint written before the format had a version pickles besides plain values (the
# split's subject ids as numpy strings); a safe load refuses those, the converter allows them.
LEGACY_GLOBALS = frozenset({"numpy.dtype", "numpy._core.multiarray.scalar", "numpy.core.multiarray.scalar"})
CONVERT_HINT = "convert it once with: gait2hip convert-checkpoint {path} NEW.pt"


@dataclasses.dataclass(frozen=True, eq=False)
class TrainingState:
    """What continuing a training run exactly needs besides the weights (``last.pt`` only).

    Attributes
    ----------
    optimizer_state, scheduler_state
        ``state_dict()`` of the AdamW optimizer and of the learning-rate rule (None: constant rate).
    data_order_rng_state
        State of the ``torch.Generator`` that shuffles the training segments (uint8 tensor).
    torch_rng_state
        State of torch's CPU random generator inside the training (dropout draws from it).
    history
        One mapping per epoch run: ``epoch``, ``train_loss``, ``validation_loss`` (MSE of
        standardised targets), ``learning_rate``.
    best_epoch, best_validation_loss
        The epoch with the lowest validation loss so far, and that loss.
    """

    optimizer_state: dict[str, Any]
    scheduler_state: dict[str, Any] | None
    data_order_rng_state: torch.Tensor
    torch_rng_state: torch.Tensor
    history: list[dict[str, float]]
    best_epoch: int
    best_validation_loss: float


@dataclasses.dataclass(frozen=True)
class FineTuneOrigin:
    """The checkpoint a fine-tuned run started from (:mod:`gait2hip.surrogate.fine_tune`).

    ``path`` is the file as the training config named it, ``sha256`` the hex digest of its
    bytes when the fine-tune read it (the file may be retrained or moved later; the digest
    says which weights these came from), ``epoch`` the epoch those weights were saved at.
    """

    path: str
    sha256: str
    epoch: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True, eq=False)
class Checkpoint:
    """One trained surrogate: its weights and everything needed to use or continue it.

    Attributes
    ----------
    training_config
        The whole training configuration (model name and settings, segmentation, seed, ...).
    input_names, input_units
        Input channels in the model's order, and their units (``deg``).
    target_groups, target_units
        Target channels by group (``moments``, ``forces``) in the model's output order, and
        the unit of each target (``Nm/kg``, ``N/kg``), in :attr:`target_names` order.
    input_scaler, target_scaler
        Standardisation fitted on the training subjects (means and SDs in the channels' units).
    split
        Subject ids of the training, validation and test parts.
    dataset
        The label dataset folder trained on (absolute path when written).
    epoch
        The epoch (from 0) at whose end these weights were saved; -1 in a fine-tune whose
        starting weights stayed the best (no epoch bettered them on validation).
    model_state
        ``state_dict()`` of the network.
    training_state
        For resuming (``last.pt``); None in ``best.pt``.
    fine_tuned_from
        The checkpoint a fine-tune started from (its weights and scalers); None when trained
        from scratch.
    """

    training_config: TrainingConfig
    input_names: tuple[str, ...]
    input_units: tuple[str, ...]
    target_groups: dict[str, tuple[str, ...]]
    target_units: tuple[str, ...]
    input_scaler: Standardizer
    target_scaler: Standardizer
    split: SubjectSplit
    dataset: str
    epoch: int
    model_state: dict[str, torch.Tensor]
    training_state: TrainingState | None = None
    format_version: int = FORMAT_VERSION
    fine_tuned_from: FineTuneOrigin | None = None

    @property
    def model(self) -> str:
        """Registered model name (``lstm``, ``transformer``, ``mamba``)."""
        return self.training_config.model

    @property
    def model_config(self) -> dict[str, Any]:
        return self.training_config.model_config

    @property
    def target_names(self) -> list[str]:
        """Target channels in the model's output order."""
        return [name for names in self.target_groups.values() for name in names]

    @property
    def segmentation(self) -> SegmentationConfig:
        """How the training data were cut (cycles of 101 points, or windows)."""
        return self.training_config.segmentation

    @property
    def force_mask(self) -> np.ndarray:
        """``(n_targets,)`` bool: which targets are muscle forces (non-negative by physics)."""
        forces = set(self.target_groups.get("forces", ()))
        return np.array([name in forces for name in self.target_names], dtype=bool)

    def build_model(self, device: str = "cpu") -> nn.Module:
        """The network with these weights, in eval mode, on ``device``."""
        model = build_model(self.model, self.model_config, len(self.input_names), len(self.target_names))
        model.load_state_dict(self.model_state)
        return model.to(device).eval()

    def without_training_state(self) -> "Checkpoint":
        return dataclasses.replace(self, training_state=None)


def save_checkpoint(checkpoint: Checkpoint, path: Path) -> Path:
    """Write ``checkpoint`` to ``path`` atomically, in the current format."""
    content = _to_file_content(checkpoint)
    return write_atomically(Path(path), lambda temporary: torch.save(content, temporary))


def read_checkpoint(path: Path) -> Checkpoint:
    """Read a checkpoint file (tensors on the CPU), never running code the file holds.

    Raises
    ------
    CheckpointError
        ``path`` is missing, a folder, empty, truncated, not a PyTorch file, not a gait2hip
        checkpoint, of an older or newer format, or holds objects a weights-only load refuses.
    """
    path = Path(path)
    content = _safe_load(path)
    if not isinstance(content, dict):
        raise CheckpointError(path, f"not a gait2hip checkpoint (it holds a {type(content).__name__}, "
                                    "not a gait2hip checkpoint mapping)")
    if content.get("format") != FORMAT:
        if "model_state" in content and "model" in content:
            raise CheckpointError(path, "a gait2hip checkpoint of the older, unversioned format; "
                                        + CONVERT_HINT.format(path=path))
        raise CheckpointError(path, f"not a gait2hip checkpoint (no format entry {FORMAT!r}; a bare state_dict "
                                    "or another program's file?)")
    version = content.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise CheckpointError(path, f"checkpoint format version {version!r} is not one this gait2hip reads "
                                    f"(1 to {FORMAT_VERSION}); a newer gait2hip wrote it?")
    try:
        return _from_file_content(content)
    except (KeyError, TypeError, ValueError, ConfigError) as error:
        raise CheckpointError(path, f"a damaged gait2hip checkpoint: {_describe(error)}") from error


def load_checkpoint(path: Path, device: str = "cpu") -> tuple[nn.Module, Checkpoint]:
    """The network (eval mode, on ``device``) and the checkpoint it came from; see :func:`read_checkpoint`."""
    checkpoint = read_checkpoint(path)
    try:
        return checkpoint.build_model(device), checkpoint
    except (RuntimeError, ValueError, ConfigError) as error:
        raise CheckpointError(path, f"its weights do not fit the {checkpoint.model} model its metadata describes "
                                    f"({_describe(error)})") from error


def _safe_load(path: Path) -> Any:
    if path.is_dir():
        raise CheckpointError(path, "is a folder, not a checkpoint file (give a training run's best.pt)")
    if not path.is_file():
        raise CheckpointError(path, "checkpoint file not found")
    if path.stat().st_size == 0:
        raise CheckpointError(path, "the checkpoint file is empty")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointError(path, _refusal(path, error)) from None
    except Exception as error:  # noqa: BLE001
        # The weights-only unpickler runs no code; on bytes that are not a checkpoint its parser
        # fails with whatever it hits (EOFError, KeyError, RuntimeError from the zip reader, ...).
        raise CheckpointError(path, "not a readable PyTorch checkpoint (truncated, damaged or another kind of "
                                    f"file: {_describe(error)})") from None


def _refusal(path: Path, error: pickle.UnpicklingError) -> str:
    """Why a weights-only load refused ``path``, from the globals its pickle names (listed, never imported)."""
    try:
        names = set(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    except Exception:  # noqa: BLE001 -- a scan of the pickle's opcodes, which runs nothing; any failure means "unknown"
        names = set()
    # Files outside a zip archive are not scanned; the refusal itself names the first global.
    names = names or set(re.findall(r"GLOBAL (\S+) was not an allowed global", str(error)))
    if names and names <= LEGACY_GLOBALS:
        return "a gait2hip checkpoint of the older, unversioned format; " + CONVERT_HINT.format(path=path)
    if names:
        return (f"refused: it holds Python objects ({', '.join(sorted(names))}) whose loading would run code, and "
                "gait2hip reads checkpoints only as tensors and plain values")
    return ("not a checkpoint gait2hip can read: a weights-only load stopped inside it (a text file, a damaged "
            "file, or a pickle of more than tensors and plain values); nothing in it was run")


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:300]


def _to_file_content(checkpoint: Checkpoint) -> dict[str, Any]:
    metadata = {
        "training_config": checkpoint.training_config.to_dict(),
        "input_names": list(checkpoint.input_names), "input_units": list(checkpoint.input_units),
        "target_groups": {group: list(names) for group, names in checkpoint.target_groups.items()},
        "target_units": list(checkpoint.target_units),
        "split": checkpoint.split.to_dict(), "dataset": checkpoint.dataset, "epoch": checkpoint.epoch,
    }
    if checkpoint.fine_tuned_from is not None:
        # Only when set: a checkpoint trained from scratch is the same bytes as before fine-tuning existed.
        metadata["fine_tuned_from"] = checkpoint.fine_tuned_from.to_dict()
    scalers = {f"{part}_{kind}": torch.from_numpy(np.asarray(getattr(scaler, kind), dtype=np.float64).copy())
               for part, scaler in (("input", checkpoint.input_scaler), ("target", checkpoint.target_scaler))
               for kind in ("mean", "std")}
    state = checkpoint.training_state
    training = None if state is None else {
        "optimizer": state.optimizer_state, "scheduler": state.scheduler_state,
        "data_order_rng": state.data_order_rng_state, "torch_rng": state.torch_rng_state,
        "history": [dict(epoch) for epoch in state.history], "best_epoch": int(state.best_epoch),
        "best_validation_loss": float(state.best_validation_loss)}
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "metadata": json.dumps(metadata, indent=1),
            "scalers": scalers, "model_state": checkpoint.model_state, "training_state": training}


def _from_file_content(content: dict[str, Any]) -> Checkpoint:
    metadata = json.loads(content["metadata"])
    if not isinstance(metadata, dict):
        raise ValueError("its metadata is not a JSON mapping")
    input_names = _strings(metadata["input_names"], "input_names")
    target_groups = {str(group): _strings(names, f"target_groups.{group}")
                     for group, names in _mapping(metadata["target_groups"], "target_groups").items()}
    n_targets = sum(len(names) for names in target_groups.values())
    input_units = _strings(metadata["input_units"], "input_units")
    target_units = _strings(metadata["target_units"], "target_units")
    if len(input_units) != len(input_names) or len(target_units) != n_targets:
        raise ValueError("one unit per input and per target channel expected")
    scalers = _mapping(content["scalers"], "scalers")
    input_scaler = _standardizer(scalers, "input", len(input_names))
    target_scaler = _standardizer(scalers, "target", n_targets)
    split = _mapping(metadata["split"], "split")
    model_state = _mapping(content["model_state"], "model_state")
    if not all(isinstance(key, str) and isinstance(value, torch.Tensor) for key, value in model_state.items()):
        raise ValueError("model_state must map parameter names to tensors")
    epoch = metadata["epoch"]
    if not isinstance(epoch, int):
        raise TypeError("epoch must be an integer")
    origin = metadata.get("fine_tuned_from")
    if origin is not None:
        origin = _mapping(origin, "fine_tuned_from")
        origin = FineTuneOrigin(str(origin["path"]), str(origin["sha256"]), int(origin["epoch"]))
    return Checkpoint(
        training_config=TrainingConfig.from_dict(_mapping(metadata["training_config"], "training_config")),
        input_names=input_names, input_units=input_units, target_groups=target_groups, target_units=target_units,
        input_scaler=input_scaler, target_scaler=target_scaler,
        split=SubjectSplit(*(_strings(split[part], f"split.{part}") for part in ("train", "validation", "test"))),
        dataset=str(metadata["dataset"]), epoch=epoch, model_state=model_state,
        training_state=_training_state(content.get("training_state")), format_version=content["format_version"],
        fine_tuned_from=origin)


def _training_state(training: Any) -> TrainingState | None:
    if training is None:
        return None
    training = _mapping(training, "training_state")
    for key in ("data_order_rng", "torch_rng"):
        if not isinstance(training[key], torch.Tensor):
            raise TypeError(f"training_state.{key} must be a tensor")
    return TrainingState(
        optimizer_state=_mapping(training["optimizer"], "training_state.optimizer"),
        scheduler_state=None if training["scheduler"] is None else _mapping(training["scheduler"], "scheduler"),
        data_order_rng_state=training["data_order_rng"], torch_rng_state=training["torch_rng"],
        history=[dict(_mapping(epoch, "history")) for epoch in training["history"]],
        best_epoch=int(training["best_epoch"]), best_validation_loss=float(training["best_validation_loss"]))


def _standardizer(scalers: dict[str, Any], part: str, n_channels: int) -> Standardizer:
    mean, std = scalers[f"{part}_mean"], scalers[f"{part}_std"]
    if not all(isinstance(t, torch.Tensor) and tuple(t.shape) == (n_channels,) for t in (mean, std)):
        raise ValueError(f"the {part} scaler must hold ({n_channels},) tensors of means and SDs")
    return Standardizer(mean.numpy().astype(float), std.numpy().astype(float))


def _mapping(value: Any, what: str) -> dict:
    if not isinstance(value, dict):
        raise TypeError(f"{what} must be a mapping, got {type(value).__name__}")
    return value


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TypeError(f"{what} must be a list of strings")
    return tuple(value)
