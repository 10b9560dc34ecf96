"""Workflow files (``workflows/*.yaml``) as typed dataclasses: what ``gait2hip run`` does, end to end."""

from __future__ import annotations

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


@dataclass(frozen=True)
class LabelStep:
    """Batch labelling: parallel jobs and an optional pipeline settings YAML.

    ``timeout_s``: a task still running after this is stopped and recorded as failed (default
    30 min; a 10 s trial takes about 1.5 min on one core), so one hanging trial cannot stall a run.
    ``tolerate_failures``: trials that fail (an error or a QC fail limit) are left out of the
    dataset and listed in the report, and the run goes on; ``false`` stops the run instead.
    """

    jobs: int = 2
    pipeline_config: str | None = None
    timeout_s: float | None = 1800.0
    tolerate_failures: bool = True


@dataclass(frozen=True)
class TrainStep:
    """Which models (``surrogate/configs/<name>.yaml``) and the budget overrides applied to all of them."""

    models: tuple[str, ...] = ("lstm", "transformer", "mamba")
    max_epochs: int | None = None
    patience: int | None = None
    split_fractions: tuple[float, float, float] | None = None
    seed: int = 0


@dataclass(frozen=True)
class EvaluateStep:
    """Zero-shot groups of the same dataset (e.g. ``antalgic-hip``)."""

    external_groups: tuple[str, ...] = ("antalgic-hip",)


@dataclass(frozen=True)
class TimingStep:
    """Trials of the test subjects timed, and OpenSim repetitions per trial (0 trials skips the step)."""

    n_trials: int = 2
    repetitions: int = 3


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
