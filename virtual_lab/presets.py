"""Cohort presets (``workflows/presets/*.yaml``) as typed dataclasses."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from gait2hip.core.config_loading import build_dataclass, dataclass_to_dict, read_yaml_mapping
from gait2hip.core.errors import ConfigError
from gait2hip.virtual_lab.trial import TrialSettings

PRESETS_DIR = Path(__file__).resolve().parents[1] / "workflows" / "presets"
GROUPS = ("healthy", "antalgic-hip")
# Cadences a person walks at (slow clinical walking about 60 steps/min, a fast walk about 140),
# with margins; outside it a value is a typo or another unit (steps/s, strides/min).
CADENCE_RANGE_STEPS_PER_MIN = (40.0, 200.0)


@dataclass(frozen=True)
class GroupSpec:
    """One group of the cohort: how many subjects, which cadences (steps/min), trials per cadence.

    An empty ``cadences_steps_per_min`` means one self-selected cadence per subject.
    """

    group: str = "healthy"
    subjects: int = 8
    cadences_steps_per_min: tuple[float, ...] = (90.0, 110.0, 130.0)
    trials_per_cadence: int = 1

    def __post_init__(self) -> None:
        if self.group not in GROUPS:
            raise ValueError(f"group must be one of {GROUPS}, got {self.group!r}")
        if self.subjects < 1 or self.trials_per_cadence < 1:
            raise ValueError(f"subjects and trials_per_cadence must be at least 1, got {self.subjects} and "
                             f"{self.trials_per_cadence}")
        low, high = CADENCE_RANGE_STEPS_PER_MIN
        outside = [c for c in self.cadences_steps_per_min if not (math.isfinite(c) and low <= c <= high)]
        if outside:
            raise ValueError(f"cadences_steps_per_min {outside} outside {low:g}-{high:g} steps/min")


@dataclass(frozen=True)
class CohortPreset:
    """A whole synthetic cohort: groups, recording settings, seed, model."""

    name: str = "demo"
    description: str = ""
    seed: int = 0
    model: str = "gait2392"
    groups: tuple[GroupSpec, ...] = field(default_factory=lambda: (GroupSpec(),))
    recording: TrialSettings = field(default_factory=TrialSettings)

    def __post_init__(self) -> None:
        if not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must be an integer from 0 to 4294967295, got {self.seed}")
        if not self.groups:
            raise ValueError("groups must hold at least one group")

    @classmethod
    def load(cls, name_or_path: str) -> "CohortPreset":
        """Load ``workflows/presets/<name>.yaml`` or a YAML file path."""
        path = Path(name_or_path)
        if not path.suffix:
            path = PRESETS_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            available = sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))
            raise ConfigError(f"no cohort preset {name_or_path!r}; available: {available}")
        try:
            return build_dataclass(cls, read_yaml_mapping(path))
        except ConfigError as error:
            if str(path) in str(error):
                raise
            raise ConfigError(f"{path}: {error}") from error

    def to_dict(self) -> dict:
        return dataclass_to_dict(self)
