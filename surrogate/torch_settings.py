"""Torch's global settings for one training run: seed, deterministic algorithms, threads; restored after."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from gait2hip.core.errors import ConfigError
from gait2hip.surrogate.config import TrainingConfig


@contextlib.contextmanager
def torch_settings_for(config: TrainingConfig) -> Iterator[None]:
    """Seed torch, make it deterministic and set its threads for one run; restore all three after.

    The global random generators (CPU, and the CUDA devices when training there) are forked,
    so weight initialisation and dropout draw from ``config.seed`` while the caller's random
    state comes back untouched.
    """
    if config.device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {config.device!r}: CUDA is not available on this machine (use device: cpu)")
    devices = list(range(torch.cuda.device_count())) if config.device.startswith("cuda") else []
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=devices):
        try:
            torch.manual_seed(config.seed)
            torch.use_deterministic_algorithms(True)
            torch.set_num_threads(config.num_threads)
            yield
        finally:
            torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
            torch.set_num_threads(threads)
