"""Training configuration: one YAML per model (``surrogate/configs/*.yaml``), typed."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from gait2hip.core.config_loading import YamlConfig, check_counts_at_least_one, check_seed
from gait2hip.surrogate.body_size import MOMENT_SCALINGS
from gait2hip.surrogate.dataset import TARGET_GROUPS
from gait2hip.surrogate.models.registry import model_config
from gait2hip.surrogate.segmentation import SegmentationConfig


@dataclass(frozen=True)
class TrainingConfig(YamlConfig):
    """Everything a training run needs; the same budget rules apply to every model.

    Attributes
    ----------
    model, model_config
        Registered model name (``lstm``, ``transformer``, ``mamba``) and its settings.
    targets
        Target groups predicted together by one head: ``moments`` (Nm/kg), ``forces`` (N/kg).
    moment_scaling
        What the network learns of the moments: ``mass``, the labels' Nm/kg; ``mass_height``,
        Nm/kg divided by the subject's body height (m), multiplied back on prediction, so one
        model serves people of every size (:mod:`gait2hip.surrogate.body_size`); it needs the
        dataset's ``height_m`` column and each subject's height when predicting.
    groups
        Subject groups trained on (the dataset's ``group`` column); others are for zero-shot tests.
    split_fractions
        Train / validation / test shares of the subjects.
    mirror_left_cycles
        Add every training trial's left cycles, sides swapped, as more right-cycle samples
        (``surrogate/augmentation.py``); validation and test keep the right cycles only.
    max_epochs, patience
        Stop after ``max_epochs`` or when the validation loss has not improved for ``patience`` epochs.
    lr_reduce_patience
        Halve the learning rate after this many epochs without a better validation loss
        (0: constant learning rate).
    num_threads
        CPU threads torch uses while this training runs (restored afterwards).
    device
        Where the model and the tensors live while training: ``cpu``, ``cuda``, ``cuda:N``.
        Bit-for-bit reproducibility is promised on the CPU; a CUDA run is seeded the same way
        but its kernels may differ in the last bits.
    init_checkpoint
        Fine-tune: start from this checkpoint's weights and scalers instead of a fresh network
        (:mod:`gait2hip.surrogate.fine_tune`); ``model`` and ``model_config`` must be the
        checkpoint's, the dataset's channels its channels. The starting weights count as epoch
        -1 of early stopping, so ``best.pt`` is never worse on validation than where the run
        began, and ``max_epochs: 0`` saves them unchanged. None: train from scratch.
    """

    model: str = "transformer"
    model_config: dict[str, Any] = field(default_factory=dict)
    targets: tuple[str, ...] = ("moments", "forces")
    moment_scaling: str = "mass"
    groups: tuple[str, ...] = ("healthy",)
    segmentation: SegmentationConfig = field(default_factory=SegmentationConfig)
    split_fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
    seed: int = 0
    mirror_left_cycles: bool = True
    max_epochs: int = 300
    patience: int = 40
    batch_size: int = 8
    learning_rate: float = 2e-3
    lr_reduce_patience: int = 0
    weight_decay: float = 1e-4
    num_threads: int = 2
    device: str = "cpu"
    init_checkpoint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Every setting; ``init_checkpoint`` only when set and ``moment_scaling`` only when not
        ``mass``, so a config without either (and the fingerprint of a finished run,
        :func:`gait2hip.workflows.run_workflow._train`) is what it was before they existed."""
        values = super().to_dict()
        if values["init_checkpoint"] is None:
            del values["init_checkpoint"]
        if values["moment_scaling"] == "mass":
            del values["moment_scaling"]
        return values

    def __post_init__(self) -> None:
        # The model's name and settings are checked by the registry (it knows every model's config).
        model_config(self.model, self.model_config)
        fractions = tuple(self.split_fractions)
        if len(fractions) != 3 or not all(math.isfinite(f) and 0.0 < f < 1.0 for f in fractions):
            raise ValueError(f"split_fractions (train, validation, test) must each lie strictly between 0 and 1, "
                             f"got {list(fractions)}")
        if abs(sum(fractions) - 1.0) > 1e-6:
            raise ValueError(f"split_fractions must sum to 1, got {list(fractions)} (sum {sum(fractions):g})")
        check_counts_at_least_one(self, ("patience", "batch_size", "num_threads"))
        # A fine-tune of 0 epochs re-saves its starting weights: the check that it starts from them.
        if self.max_epochs < (0 if self.init_checkpoint else 1):
            raise ValueError(f"max_epochs must be at least 1 (0 only when fine-tuning, with init_checkpoint), "
                             f"got {self.max_epochs}")
        if self.lr_reduce_patience < 0:
            raise ValueError(f"lr_reduce_patience must be 0 (constant rate) or more, got {self.lr_reduce_patience}")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be a finite number > 0, got {self.learning_rate}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be a finite number >= 0, got {self.weight_decay}")
        check_seed(self.seed)
        unknown = [group for group in self.targets if group not in TARGET_GROUPS]
        if unknown or not self.targets:
            raise ValueError(f"targets must be a non-empty list of {list(TARGET_GROUPS)}, got {list(self.targets)}")
        if not self.groups:
            raise ValueError("groups must name at least one subject group to train on")
        if self.moment_scaling not in MOMENT_SCALINGS:
            raise ValueError(f"moment_scaling must be one of {list(MOMENT_SCALINGS)} (Nm/kg, or Nm/kg per metre of "
                             f"body height), got {self.moment_scaling!r}")
        for name in ("window_frames", "window_stride_frames"):
            if getattr(self.segmentation, name) < 1:
                raise ValueError(f"segmentation.{name} must be at least 1, got {getattr(self.segmentation, name)}")
        if self.init_checkpoint is not None and not self.init_checkpoint.strip():
            raise ValueError("init_checkpoint must name a checkpoint file (or be null: train from scratch)")
        if not re.fullmatch(r"cpu|cuda(:\d+)?", self.device):
            raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")
