"""``gait2hip sim2real``: how surrogates trained on a virtual cohort do on real subjects, three ways.

For each model (``surrogate/configs/<model>.yaml``), side by side on the same real subjects:

(a) ``zero_shot``: trained on the virtual (synthetic) cohort's dataset, scored on every real
    subject without seeing any;
(b) ``real_only``: trained on real subjects only, K folds over the subjects; each fold trains
    on the other folds' subjects (a seeded few of them validate, for early stopping) and is
    scored on its own;
(c) ``fine_tune``: the (a) checkpoint fine-tuned (:mod:`gait2hip.surrogate.fine_tune`) on the
    same training and validation subjects as (b), scored on the same held-out fold.

Scores are R² and RMSE per subject (over the frames whose labels are known), then averaged over
subjects: every real subject is scored once under each protocol. A training already done with
the same settings and data bytes (its fingerprint) is not redone; one stopped part-way resumes.
``OUT/summary.json`` depends only on the config, the data and the seeds (same bytes on a
re-run); wall times go to ``OUT/wall_times.json``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from gait2hip.core.atomic import write_atomically, write_json_atomically
from gait2hip.core.config_loading import YamlConfig, check_counts_at_least_one, check_seed
from gait2hip.core.errors import ConfigError
from gait2hip.workflows.sim2real_report import PROTOCOLS, report_markdown

SURROGATE_CONFIGS = Path(__file__).resolve().parents[1] / "surrogate" / "configs"
TRAINING_STARTED = "training_started.txt"

if TYPE_CHECKING:
    import pandas as pd

    from gait2hip.surrogate.config import TrainingConfig
    from gait2hip.surrogate.cross_validation import Fold


@dataclass(frozen=True)
class VirtualStep:
    """(a)'s training on the virtual dataset (when not reused): overrides of the model's training config."""

    max_epochs: int | None = None
    patience: int | None = None
    split_fractions: tuple[float, float, float] | None = None


@dataclass(frozen=True)
class RealStep:
    """(b)'s training on each fold's real subjects: overrides of the model's training config."""

    max_epochs: int | None = None
    patience: int | None = None
    learning_rate: float | None = None


@dataclass(frozen=True)
class FineTuneStep:
    """(c)'s fine-tune of the (a) checkpoint on each fold's real subjects (lower rate than from scratch)."""

    learning_rate: float = 5e-4
    max_epochs: int = 100
    patience: int = 20

    def __post_init__(self) -> None:
        from gait2hip.surrogate.fine_tune import FineTuneSettings

        FineTuneSettings(self.learning_rate, self.max_epochs, self.patience)    # the fine-tune's own checks


@dataclass(frozen=True)
class Sim2RealConfig(YamlConfig):
    """The sim-to-real protocol (``workflows/sim2real.yaml``); paths are relative to the working folder.

    ``virtual_dataset`` / ``real_dataset``: consolidated label datasets (``LABELS/dataset``).
    ``virtual_models_dir``: a finished ``gait2hip run``'s ``models`` folder whose
    ``<model>/best.pt`` are taken as (a) instead of training; null trains them into ``OUT``.
    ``training_configs_dir``: where ``<model>.yaml`` are read (null: ``surrogate/configs``).
    ``folds``: a number of folds (2 or more) or ``loso`` (one per real subject);
    ``validation_subjects``: of each fold's training subjects, validating. ``seed`` seeds the
    folds, the validation subjects and every training; ``num_threads`` each training's CPU threads.
    """

    name: str = "sim2real"
    virtual_dataset: str | None = None
    real_dataset: str | None = None
    out: str = "runs/sim2real"
    virtual_models_dir: str | None = None
    models: tuple[str, ...] = ("lstm", "transformer", "mamba")
    training_configs_dir: str | None = None
    # Literal first: the YAML loader passes the value through, and __post_init__ checks it is 'loso' or a count.
    folds: Literal["loso"] | int = 4
    validation_subjects: int = 2
    seed: int = 0
    num_threads: int = 1
    virtual: VirtualStep = field(default_factory=VirtualStep)
    real: RealStep = field(default_factory=RealStep)
    fine_tune: FineTuneStep = field(default_factory=FineTuneStep)

    def __post_init__(self) -> None:
        if not (self.folds == "loso" or (isinstance(self.folds, int) and not isinstance(self.folds, bool)
                                         and self.folds >= 2)):
            raise ValueError(f"folds must be a number of folds (2 or more) or 'loso', got {self.folds!r}")
        if not self.models:
            raise ValueError("models must name at least one model (lstm, transformer, mamba)")
        check_counts_at_least_one(self, ("validation_subjects", "num_threads"))
        check_seed(self.seed)


@dataclass(frozen=True)
class Plan:
    """What a checked config will run.

    ``virtual_table`` / ``real_table`` are the datasets' label rows, ``digests`` the sha256 of
    each dataset's files (in every fingerprint), ``trainings`` each model's training config as
    (a) trains it, ``real_trainings`` as (b) does, ``reused`` the (a) checkpoints taken as they
    are, ``real_groups`` the real subjects' groups (what (b) and (c) train on).
    """

    config: Sim2RealConfig
    out: Path
    virtual_dir: Path
    real_dir: Path
    virtual_table: pd.DataFrame
    real_table: pd.DataFrame
    digests: dict[str, str]
    trainings: dict[str, TrainingConfig]
    real_trainings: dict[str, TrainingConfig]
    reused: dict[str, Path]
    folds: list[Fold]
    real_subjects: tuple[str, ...]
    real_groups: tuple[str, ...]




def plan_sim2real(config: Sim2RealConfig) -> Plan:
    """Check everything before the first training; raise ConfigError/InputDataError naming what is wrong.

    Checked: the output folder, both datasets (present, readable, the same target channels),
    every model's training config with the overrides, the reused checkpoints (present,
    readable), and that the real subjects fill the folds.
    """
    from gait2hip.surrogate.checkpoint import read_checkpoint
    from gait2hip.surrogate.config import TrainingConfig
    from gait2hip.surrogate.cross_validation import cross_validation_folds
    from gait2hip.surrogate.dataset import find_channels, load_dataset
    from gait2hip.surrogate.models.registry import MODELS
    from gait2hip.workflows.arguments import check_input_folder, check_output_folder, replaced

    out = check_output_folder(Path(config.out), "out (--out)")
    for key, value in (("virtual_dataset (--virtual)", config.virtual_dataset),
                       ("real_dataset (--real)", config.real_dataset)):
        if not value:
            raise ConfigError(f"{key}: no label dataset given (a LABELS/dataset folder)")
        check_input_folder(Path(value), key, "label dataset folder")
    unknown = [name for name in config.models if name not in MODELS]
    if unknown:
        raise ConfigError(f"models: unknown model(s) {', '.join(unknown)}; registered: {', '.join(sorted(MODELS))}")
    reused = {}
    if config.virtual_models_dir:
        models_dir = check_input_folder(Path(config.virtual_models_dir), "virtual_models_dir (--virtual-checkpoints)",
                                        "models folder")
        for name in config.models:
            reused[name] = (models_dir / name / "best.pt").resolve()
            read_checkpoint(reused[name])
    virtual_dir, real_dir = Path(config.virtual_dataset), Path(config.real_dataset)
    virtual_table, real_table = load_dataset(virtual_dir), load_dataset(real_dir)
    _check_same_channels(find_channels(virtual_table), find_channels(real_table), virtual_dir, real_dir)
    real_subjects = tuple(sorted(real_table["subject"].unique()))
    real_groups = tuple(sorted(real_table["group"].unique())) if "group" in real_table.columns else ("healthy",)
    configs_dir = Path(config.training_configs_dir) if config.training_configs_dir else SURROGATE_CONFIGS
    trainings, real_trainings = {}, {}
    for name in config.models:
        base = replaced(TrainingConfig.from_yaml(configs_dir / f"{name}.yaml"), f"model {name}", seed=config.seed,
                        num_threads=config.num_threads)
        trainings[name] = replaced(base, f"virtual (model {name})", **_set(config.virtual))
        real_trainings[name] = replaced(base, f"real (model {name})", groups=real_groups, **_set(config.real))
    try:
        folds = cross_validation_folds(real_subjects, config.folds, config.validation_subjects, config.seed)
    except ConfigError as error:
        raise ConfigError(f"{real_dir} ({len(real_subjects)} real subjects): {error}") from None
    digests = {"virtual": _dataset_digest(virtual_dir), "real": _dataset_digest(real_dir)}
    return Plan(config, out.resolve(), virtual_dir.resolve(), real_dir.resolve(), virtual_table, real_table, digests,
                trainings, real_trainings, reused, folds, real_subjects, real_groups)


def _set(step: Any) -> dict[str, Any]:
    """The overrides a step's YAML sets (null keeps the model's own value)."""
    return {key: value for key, value in dataclasses.asdict(step).items() if value is not None}


def _check_same_channels(virtual: Any, real: Any, virtual_dir: Path, real_dir: Path) -> None:
    """Refuse a real dataset whose target channels differ from the virtual one's, naming them."""
    from gait2hip.core.errors import InputDataError

    from gait2hip.surrogate.dataset import target_channel_differences

    problems = []
    for group, missing, extra in target_channel_differences(virtual.targets, real.targets):
        if missing:
            problems.append(f"{group} channel(s) of the virtual dataset missing: {', '.join(missing)}")
        if extra:
            problems.append(f"{group} channel(s) not in the virtual dataset: {', '.join(extra)}")
    if problems:
        raise InputDataError(real_dir, f"its target channels differ from those of the virtual dataset {virtual_dir} "
                                       f"(label both with the same model): {'; '.join(problems)}")


def run_sim2real(config: Sim2RealConfig, *, force: bool = False,
                 progress: Callable[[str], None] = print) -> dict:
    """Run (a), (b), (c) for every model; write ``OUT/summary.json`` and ``OUT/report.md``; return the summary.

    ``force`` retrains every run even when its fingerprint says it is up to date.
    """
    plan = plan_sim2real(config)
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    progress(f"sim2real {config.name}: {', '.join(config.models)} × (a) zero-shot, (b) real only, (c) fine-tune; "
             f"{len(plan.real_subjects)} real subjects in {len(plan.folds)} folds; "
             f"virtual cohort = synthetic ({plan.virtual_dir})")
    models = {name: _one_model(plan, name, force, progress, seconds) for name in config.models}
    summary = _clean({
        "kind": "gait2hip.sim2real", "name": config.name,
        "note": "virtual cohort = synthetic (virtual gait lab); real subjects = measured",
        "config": {key: value for key, value in config.to_dict().items() if key != "out"},
        "datasets": {"virtual": str(plan.virtual_dir), "real": str(plan.real_dir),
                     "virtual_sha256": plan.digests["virtual"], "real_sha256": plan.digests["real"]},
        "seeds": {"folds": config.seed, "validation_subjects": config.seed, "training": config.seed},
        "real_subjects": list(plan.real_subjects), "folds": [fold.to_dict() for fold in plan.folds],
        "models": models})
    write_json_atomically(plan.out / "summary.json", summary)
    write_atomically(plan.out / "report.md", lambda path: path.write_text(report_markdown(summary)))
    total = time.perf_counter() - started
    write_json_atomically(plan.out / "wall_times.json", {"kind": "gait2hip.sim2real.wall_times",
                                                          "training_seconds": seconds, "total_seconds": total})
    progress(f"report: {plan.out / 'report.md'}; summary: {plan.out / 'summary.json'} ({total / 60:.1f} min)")
    return summary


def _one_model(plan: Plan, name: str, force: bool, progress: Callable[[str], None],
               seconds: dict[str, float]) -> dict:
    """(a), (b) and (c) of one model: its part of the summary."""
    import pandas as pd

    from gait2hip.surrogate.checkpoint import read_checkpoint
    from gait2hip.surrogate.cross_validation import mean_over_subjects, subject_scores
    from gait2hip.surrogate.fine_tune import FineTuneSettings, file_sha256, fine_tune_config

    config = plan.config
    if name in plan.reused:
        virtual_checkpoint = plan.reused[name]
        progress(f"  {name:<11} (a) the virtual-cohort model: reusing {virtual_checkpoint}")
        settings_a: dict | str = f"reused: {virtual_checkpoint}"
    else:
        run = _train(plan.trainings[name], plan.virtual_dir, plan.digests["virtual"],
                     plan.out / "models" / name / "virtual", None, {}, force)
        seconds[f"{name}/virtual"] = run["seconds"]
        virtual_checkpoint = run["checkpoint"]
        progress(f"  {name:<11} (a) the virtual-cohort model: {run['status']}")
        settings_a = plan.trainings[name].to_dict()
    virtual_sha = file_sha256(virtual_checkpoint)
    virtual_split = read_checkpoint(virtual_checkpoint).split
    virtual_scores = mean_over_subjects(subject_scores(virtual_checkpoint, plan.virtual_table, virtual_split.test))
    zero_shot = subject_scores(virtual_checkpoint, plan.real_table, plan.real_subjects)
    protocols = {"zero_shot": {"scores": mean_over_subjects(zero_shot), "subjects": _records(zero_shot)}}
    progress(f"  {name:<11} {PROTOCOLS['zero_shot']:<31} all {len(plan.real_subjects)} real subjects: "
             f"{_scores_text(protocols['zero_shot']['scores'])}")
    settings = FineTuneSettings(config.fine_tune.learning_rate, config.fine_tune.max_epochs,
                                config.fine_tune.patience, config.seed, config.num_threads)
    tuned = dataclasses.replace(fine_tune_config(virtual_checkpoint, settings), groups=plan.real_groups)
    for protocol, training, init_sha in (("real_only", plan.real_trainings[name], None),
                                         ("fine_tune", tuned, virtual_sha)):
        folds, pooled = [], []
        for fold in plan.folds:
            run = _train(training, plan.real_dir, plan.digests["real"],
                         plan.out / "models" / name / protocol / f"fold_{fold.index}", fold.split,
                         {"init_checkpoint_sha256": init_sha}, force)
            seconds[f"{name}/{protocol}/fold_{fold.index}"] = run["seconds"]
            scores = subject_scores(run["checkpoint"], plan.real_table, fold.split.test)
            pooled.append(scores)
            folds.append({**fold.to_dict(), "checkpoint": str(run["checkpoint"].relative_to(plan.out)),
                          "best_epoch": run["best_epoch"], "epochs_run": run["epochs_run"],
                          "scores": mean_over_subjects(scores), "subjects": _records(scores)})
            progress(f"  {name:<11} {PROTOCOLS[protocol]:<31} fold {fold.index + 1}/{len(plan.folds)} "
                     f"(test {', '.join(fold.split.test)}): {_scores_text(folds[-1]['scores'])}; {run['status']}")
        protocols[protocol] = {"scores": mean_over_subjects(pd.concat(pooled, ignore_index=True)), "folds": folds}
    gap = {f"{group}_r2": virtual_scores[group]["r2_mean"] - protocols["zero_shot"]["scores"][group]["r2_mean"]
           for group in virtual_scores}
    return {"virtual_checkpoint": (str(virtual_checkpoint) if name in plan.reused
                                   else str(virtual_checkpoint.relative_to(plan.out))),
            "virtual_checkpoint_sha256": virtual_sha, "virtual_checkpoint_reused": name in plan.reused,
            "virtual_test": {"subjects": list(virtual_split.test), "scores": virtual_scores},
            "protocols": protocols, "generalisation_gap": gap,
            "settings": {"virtual": settings_a, "real_only": plan.real_trainings[name].to_dict(),
                         "fine_tune": {**dataclasses.asdict(settings), "init_checkpoint_sha256": virtual_sha}}}


def _train(training: TrainingConfig, dataset: Path, dataset_digest: str, run_dir: Path, split: Any,
           extra: dict[str, Any], force: bool) -> dict[str, Any]:
    """Train one run unless ``run_dir`` holds one of the same fingerprint; resume one stopped part-way.

    The fingerprint covers the training config (a fine-tune's starting checkpoint by the
    sha256 in ``extra``, not by its path), the split and the dataset's bytes, as
    :func:`gait2hip.workflows.run_workflow._train` does for a workflow's models.
    """
    from gait2hip.surrogate.train import LAST, train_from_config

    settings = training.to_dict()
    if settings.get("init_checkpoint"):
        settings["init_checkpoint"] = "see init_checkpoint_sha256"
    recorded_by = {"training": settings, "split": None if split is None else split.to_dict(), **extra}
    fingerprint = hashlib.sha256((json.dumps(recorded_by, sort_keys=True) + dataset_digest).encode()).hexdigest()
    summary_path, best = run_dir / "summary.json", run_dir / "best.pt"
    if not force and summary_path.is_file() and best.is_file():
        recorded = json.loads(summary_path.read_text())
        if recorded.get("fingerprint") == fingerprint:
            return {"checkpoint": best, "best_epoch": recorded["best_epoch"], "epochs_run": recorded["epochs_run"],
                    "seconds": 0.0, "status": "up to date"}
    started_path = run_dir / TRAINING_STARTED
    resume = (not force and (run_dir / LAST).is_file() and started_path.is_file()
              and started_path.read_text().strip() == fingerprint)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(started_path, lambda path: path.write_text(fingerprint + "\n"))
    begin = time.perf_counter()
    result = train_from_config(training, dataset, run_dir, resume=resume, split=split)
    elapsed = time.perf_counter() - begin
    recorded = json.loads(summary_path.read_text())
    write_json_atomically(summary_path, {**recorded, "fingerprint": fingerprint})
    kept = " (starting weights kept)" if result.best_epoch < 0 else ""
    return {"checkpoint": result.best_checkpoint, "best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
            "seconds": elapsed, "status": f"{'resumed, ' if resume else ''}best epoch {result.best_epoch}{kept} of "
                                         f"{result.epochs_run}, {elapsed:.0f} s"}


def _dataset_digest(dataset: Path) -> str:
    """sha256 over the dataset's parquet files (relative names and bytes), read once per run."""
    digest = hashlib.sha256()
    for path in sorted(Path(dataset).rglob("*.parquet")):
        digest.update(str(path.relative_to(dataset)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _records(scores: pd.DataFrame) -> list[dict[str, Any]]:
    return scores.to_dict("records")


def _scores_text(scores: dict[str, dict[str, float]]) -> str:
    return ", ".join(f"{group} R² {values['r2_mean']:.3f} (RMSE {values['rmse_mean']:.3f})"
                     for group, values in scores.items())


def _clean(value: Any) -> Any:
    """The summary with NaN (a score no subject had) as null, so the file is strict JSON."""
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
