"""Training configuration: one YAML per model (``surrogate/configs/*.yaml``), typed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from gait2hip.core.config_loading import YamlConfig
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
    """

    model: str = "transformer"
    model_config: dict[str, Any] = field(default_factory=dict)
    targets: tuple[str, ...] = ("moments", "forces")
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

    def __post_init__(self) -> None:
        if abs(sum(self.split_fractions) - 1.0) > 1e-6:
            raise ValueError(f"split_fractions must sum to 1, got {self.split_fractions}")
        if self.max_epochs < 1 or self.patience < 1 or self.batch_size < 1:
            raise ValueError("max_epochs, patience and batch_size must be at least 1")
        if not re.fullmatch(r"cpu|cuda(:\d+)?", self.device):
            raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")
