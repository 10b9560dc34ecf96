"""Workflow files (``workflows/*.yaml``) as typed dataclasses: what ``gait2hip run`` does, end to end."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from gait2hip.core.config_loading import YamlConfig


@dataclass(frozen=True)
class CohortStep:
    """Where the cohort comes from: a synthetic preset (``workflows/presets``) or an existing folder.

    ``folder`` set → that cohort is labelled as is (lab data); otherwise ``preset`` is synthesized.
    """

    preset: str = "demo"
    seed: int | None = None
    folder: str | None = None

    def __post_init__(self) -> None:
        if self.seed is not None and not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must be an integer from 0 to 4294967295, got {self.seed}")


@dataclass(frozen=True)
class LabelStep:
    """Batch labelling: parallel jobs and an optional pipeline settings YAML.

    ``timeout_s``: a task still running after this is stopped and recorded as failed, so one
    hanging trial cannot stall a run; null (the default) scales the limit with each trial's
    length (:func:`gait2hip.pipeline.task_timeout.default_task_timeout_s`), ``.inf`` sets none.
    ``tolerate_failures``: trials that fail (an error or a QC fail limit) are left out of the
    dataset and listed in the report, and the run goes on; ``false`` stops the run instead.
    """

    jobs: int = 2
    pipeline_config: str | None = None
    timeout_s: float | None = None
    tolerate_failures: bool = True

    def __post_init__(self) -> None:
        if self.jobs < 1 and self.jobs != -1:
            raise ValueError(f"jobs must be at least 1 (or -1: one per core), got {self.jobs}")
        if self.timeout_s is not None and not self.timeout_s > 0:
            raise ValueError(f"timeout_s must be a number of seconds > 0 (null: scaled with the trial's length; "
                             f".inf: no limit), got {self.timeout_s}")


@dataclass(frozen=True)
class TrainStep:
    """Which models (``surrogate/configs/<name>.yaml``) and the budget overrides applied to all of them."""

    models: tuple[str, ...] = ("lstm", "transformer", "mamba")
    max_epochs: int | None = None
    patience: int | None = None
    split_fractions: tuple[float, float, float] | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.models:
            raise ValueError("models must name at least one model (lstm, transformer, mamba)")
        for key in ("max_epochs", "patience"):
            if getattr(self, key) is not None and getattr(self, key) < 1:
                raise ValueError(f"{key} must be at least 1, got {getattr(self, key)}")
        if not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must be an integer from 0 to 4294967295, got {self.seed}")


@dataclass(frozen=True)
class EvaluateStep:
    """Zero-shot groups of the same dataset (e.g. ``antalgic-hip``)."""

    external_groups: tuple[str, ...] = ("antalgic-hip",)


@dataclass(frozen=True)
class TimingStep:
    """Trials of the test subjects timed, and OpenSim repetitions per trial (0 trials skips the step)."""

    n_trials: int = 2
    repetitions: int = 3

    def __post_init__(self) -> None:
        if self.n_trials < 0:
            raise ValueError(f"n_trials must be 0 (no timing) or more, got {self.n_trials}")
        if self.repetitions < 1:
            raise ValueError(f"repetitions must be at least 1, got {self.repetitions}")


@dataclass(frozen=True)
class WorkflowConfig(YamlConfig):
    """One end-to-end run: cohort → labels → surrogates → evaluation → timing → report."""

    name: str = "demo"
    out: str = "runs/demo"
    cohort: CohortStep = field(default_factory=CohortStep)
    label: LabelStep = field(default_factory=LabelStep)
    train: TrainStep = field(default_factory=TrainStep)
    evaluate: EvaluateStep = field(default_factory=EvaluateStep)
    timing: TimingStep = field(default_factory=TimingStep)
