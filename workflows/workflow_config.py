"""Workflow files (``workflows/*.yaml``) as typed dataclasses: what ``gait2hip run`` does, end to end."""

from __future__ import annotations

from dataclasses import dataclass, field

from gait2hip.core.config_loading import YamlConfig
from gait2hip.pipeline.config import SO_SOLVERS


SOURCES = ("preset", "folder", "corpus")


@dataclass(frozen=True)
class CohortStep:
    """Where the cohort comes from: a synthetic preset, an existing cohort folder, or a C3D corpus.

    ``source``: ``preset`` (``workflows/presets``, synthesized), ``folder`` (a cohort labelled as
    is) or ``corpus`` (a folder of subjects' C3D files, ingested into ``OUT/cohort`` first by
    :func:`gait2hip.ingest.corpus.ingest_corpus`); when null it follows from which of
    ``corpus``, ``folder`` is set, else ``preset``. A ``corpus`` workflow may leave the path
    null in its file and take it from ``gait2hip run --corpus DIR``.

    ``include``, ``exclude``: globs on the corpus-relative path (``'*/straight/*'``);
    ``ingest_config``: an ``IngestConfig`` YAML (``ingest/config.py``; protocol ``auto`` by
    default); ``subjects_table``: ``id,mass_kg,height_m[,group,affected_side]`` CSV, else mass
    and height come from the C3D files.
    """

    preset: str = "demo"
    seed: int | None = None
    folder: str | None = None
    source: str | None = None
    corpus: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    ingest_config: str | None = None
    subjects_table: str | None = None

    def __post_init__(self) -> None:
        if self.seed is not None and not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must be an integer from 0 to 4294967295, got {self.seed}")
        if self.source is not None and self.source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)} (or null: from the keys set), got {self.source!r}")
        if self.corpus and self.folder:
            raise ValueError("set corpus (C3D files to ingest) or folder (a cohort already in the layout), not both")

    @property
    def kind(self) -> str:
        """``preset``, ``folder`` or ``corpus``: the source given, else the one its keys imply."""
        if self.source is not None:
            return self.source
        return "corpus" if self.corpus else "folder" if self.folder else "preset"

    @property
    def measured(self) -> bool:
        """Whether the cohort is measured data (a corpus or a lab folder), not synthesized."""
        return self.kind != "preset"


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
    """Which models (``surrogate/configs/<name>.yaml``) and the budget overrides applied to all of them.

    ``enabled: false`` stops the run after labelling (ingest → label → report): a measured
    corpus of a dozen walks is a QC and validation set, too small for a subject-level split.
    """

    enabled: bool = True
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
    """Trials of the test subjects timed, simulation repetitions per trial (0 trials skips the step), and the SO
    solvers whose simulation paths are timed side by side."""

    n_trials: int = 2
    repetitions: int = 3
    solvers: tuple[str, ...] = ("opensim", "batched")

    def __post_init__(self) -> None:
        unknown = [solver for solver in self.solvers if solver not in SO_SOLVERS]
        if unknown or not self.solvers:
            raise ValueError(f"solvers must be one or more of {list(SO_SOLVERS)}, got {list(self.solvers)}")
        if self.n_trials < 0:
            raise ValueError(f"n_trials must be 0 (no timing) or more, got {self.n_trials}")
        if self.repetitions < 1:
            raise ValueError(f"repetitions must be at least 1, got {self.repetitions}")


@dataclass(frozen=True)
class WorkflowConfig(YamlConfig):
    """One end-to-end run: cohort (synthesized, a folder, or ingested from C3D) → labels → surrogates →
    evaluation → timing → report; with ``train.enabled: false``, cohort → labels → QC report."""

    name: str = "demo"
    out: str = "runs/demo"
    cohort: CohortStep = field(default_factory=CohortStep)
    label: LabelStep = field(default_factory=LabelStep)
    train: TrainStep = field(default_factory=TrainStep)
    evaluate: EvaluateStep = field(default_factory=EvaluateStep)
    timing: TimingStep = field(default_factory=TimingStep)
