"""``gait2hip run``: cohort → labels → surrogates (all models) → evaluation → timing → report.

The cohort is synthesized (a preset), taken as it is (a folder), or ingested from a C3D corpus
(:mod:`gait2hip.workflows.measured_cohort`). With ``train.enabled: false`` the run ends after
labelling with the QC report (ingest → label → report): the shape of a measured-data workflow.

Steps that are already done are not redone: labelling resumes by input hashes, a model is
not retrained when its run folder holds a summary for the same config and the same dataset
bytes, the cohort is not re-synthesized when its ``cohort.yaml`` records the same preset, and
a corpus is not ingested again when the cohort records the same corpus and settings.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from gait2hip.core.atomic import write_atomically, write_json_atomically
from gait2hip.core.errors import Gait2HipError
from gait2hip.workflows.workflow_config import WorkflowConfig

if TYPE_CHECKING:
    from gait2hip.pipeline.config import PipelineConfig


class WorkflowError(Gait2HipError):
    """A workflow step cannot go on (e.g. no labelled trial)."""


SURROGATE_CONFIGS = Path(__file__).resolve().parents[1] / "surrogate" / "configs"
# In a model's run folder: the fingerprint of the training under way (see ``_train``).
TRAINING_STARTED = "training_started.txt"


def run_workflow(config: WorkflowConfig, *, force: bool = False, progress: Callable[[str], None] = print,
                 command: str = "gait2hip run WORKFLOW.yaml") -> dict:
    """Run every step of ``config``; return the summary written to ``OUT/summary.json``."""
    from gait2hip.pipeline.batch import BatchOptions, label_cohort
    from gait2hip.pipeline.config import PipelineConfig
    from gait2hip.surrogate.evaluate import evaluate_checkpoint
    from gait2hip.workflows.report import write_report

    validate_workflow(config)
    out = Path(config.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    step_seconds: dict[str, float] = {}
    started = time.perf_counter()
    trains = config.train.enabled
    n_steps = 3 + (2 + (config.timing.n_trials > 0) if trains else 0)

    def step(name: str) -> Callable[[], None]:
        number = len(step_seconds) + 1
        progress(f"[{number}/{n_steps}] {name} ...")
        begin = time.perf_counter()

        def done() -> None:
            step_seconds[name] = time.perf_counter() - begin
            progress(f"      {name}: {step_seconds[name]:.0f} s")
        return done

    done = step("ingest (C3D corpus → cohort)" if config.cohort.kind == "corpus" else "cohort")
    cohort_dir = _cohort(config, out, force, progress)
    if config.cohort.kind == "corpus" and trains:
        _validate_training(config, _cohort_subjects_by_group(config, cohort_dir))
    done()

    done = step("label (OpenSim: scale → IK → ID → SO)")
    pipeline_config = (PipelineConfig.from_yaml(config.label.pipeline_config) if config.label.pipeline_config
                       else PipelineConfig())
    report = label_cohort(cohort_dir, out / "labels", pipeline_config,
                          BatchOptions(jobs=config.label.jobs, timeout_s=config.label.timeout_s))
    progress(f"      {report.n_trials} trials: {report.n_ok} ok, {report.n_warn} warn, {report.n_failed} failed, "
             f"{report.n_skipped} up to date")
    for failure in report.failures:
        progress(f"      left out: {failure['subject']}/{failure['trial']} ({failure['failed_stage']}: {failure['error']})")
    if trains and (report.dataset_dir is None or (report.n_failed and not config.label.tolerate_failures)):
        raise WorkflowError(f"labelling failed for {report.n_failed} of {report.n_trials} trials; "
                            f"see {report.manifest_path}")
    dataset = report.dataset_dir
    done()

    checkpoints: dict[str, Path] = {}
    evaluations: dict[str, dict] = {}
    timing = None
    if trains:
        done = step(f"train ({', '.join(config.train.models)})")
        checkpoints = {name: _train(name, config, dataset, out / "models" / name, force, progress)
                       for name in config.train.models}
        done()

        done = step("evaluate (held-out test subjects; zero-shot " + ", ".join(config.evaluate.external_groups) + ")")
        for name, checkpoint in checkpoints.items():
            evaluations[name] = evaluate_checkpoint(checkpoint, dataset, out / "models" / name / "evaluation",
                                                    external_groups=tuple(config.evaluate.external_groups) or None)
        done()

        if config.timing.n_trials > 0:
            done = step("timing (OpenSim vs surrogates, same trials)")
            timing = _timing(config, cohort_dir, dataset, checkpoints, out / "timing", pipeline_config, force, progress)
            done()

    done = step("report")
    summary = {"kind": "gait2hip.run", "command": command, "workflow": config.to_dict(), "out": str(out), "cohort": str(cohort_dir),
               "dataset": None if dataset is None else str(dataset),
               "labelling": {"trials": report.n_trials, "ok": report.n_ok,
                             "warn": report.n_warn, "failed": report.n_failed,
                             "reused": report.n_skipped, "wall_time_s": report.wall_time_s,
                             "failures": report.failures},
               "checkpoints": {name: str(path) for name, path in checkpoints.items()},
               "evaluations": evaluations, "timing": timing, "step_seconds": step_seconds}
    if config.cohort.measured:
        from gait2hip.workflows.measured_cohort import measured_facts

        summary.update(measured_facts(cohort_dir, out / "labels"))
    write_report(out, summary)
    done()
    summary["step_seconds"] = step_seconds
    summary["total_seconds"] = time.perf_counter() - started
    write_json_atomically(out / "summary.json", summary)
    progress(f"report: {out / 'report.md'} and {out / 'report.html'} ({summary['total_seconds'] / 60:.1f} min)")
    return summary


def validate_workflow(config: WorkflowConfig) -> None:
    """Check the whole workflow before its first OpenSim call; raise ConfigError naming what is wrong.

    Checked: the output folder, the cohort source (preset, folder, or a corpus named and
    present), the pipeline settings file and, when the workflow trains, every model's training
    config with the workflow's overrides (model names, their YAML files, budgets, split
    fractions, and that the split leaves a subject for each part) and the zero-shot groups'
    spelling against the cohort's groups (for a corpus: once it is ingested).
    """
    from gait2hip.pipeline.config import PipelineConfig
    from gait2hip.workflows.arguments import check_output_folder

    check_output_folder(Path(config.out), "out")
    if config.label.pipeline_config:
        PipelineConfig.from_yaml(config.label.pipeline_config)
    if config.cohort.kind == "corpus":
        from gait2hip.workflows.measured_cohort import check_corpus

        check_corpus(config.cohort)   # the groups are known only once it is ingested: training is checked then
        return
    if config.cohort.kind == "folder" and not config.cohort.folder:
        from gait2hip.core.errors import ConfigError

        raise ConfigError("cohort.folder: cohort.source is 'folder' but no folder is named")
    subjects_by_group = _cohort_subjects_by_group(config)
    if config.train.enabled:
        _validate_training(config, subjects_by_group)


def _validate_training(config: WorkflowConfig, subjects_by_group: dict[str, list[str]]) -> None:
    """Check the models, their training configs with the workflow's overrides, the split and the zero-shot groups."""
    import pandas as pd

    from gait2hip.core.errors import ConfigError
    from gait2hip.surrogate.models.registry import MODELS
    from gait2hip.surrogate.split import split_subjects

    unknown = [name for name in config.train.models if name not in MODELS]
    if unknown:
        raise ConfigError(f"train.models: unknown model(s) {', '.join(unknown)}; registered: "
                          f"{', '.join(sorted(MODELS))}")
    for name in config.train.models:
        training = _training_config(name, config)
        missing = [group for group in training.groups if group not in subjects_by_group]
        if missing:
            raise ConfigError(f"{SURROGATE_CONFIGS / f'{name}.yaml'}: groups {missing} not in the cohort "
                              f"(its groups: {', '.join(sorted(subjects_by_group))})")
        trained_on = [subject for group in training.groups for subject in subjects_by_group[group]]
        table = pd.DataFrame({"subject": trained_on, "cadence_condition": "any"})
        try:
            split_subjects(table, tuple(training.split_fractions), training.seed, tries=1)
        except ConfigError as error:
            raise ConfigError(f"train.split_fractions (model {name}): {error}") from None
    unknown = [group for group in config.evaluate.external_groups if group not in subjects_by_group]
    if unknown:
        raise ConfigError(f"evaluate.external_groups: {', '.join(unknown)} not a group of the cohort "
                          f"(its groups: {', '.join(sorted(subjects_by_group))})")


def _cohort_subjects_by_group(config: WorkflowConfig, folder: Path | None = None) -> dict[str, list[str]]:
    """The cohort's subject ids by group: from the preset, or from the subject files of the cohort folder."""
    from gait2hip.virtual_lab.presets import CohortPreset

    folder = folder or (Path(config.cohort.folder) if config.cohort.folder else None)
    if folder is not None:
        from gait2hip.pipeline.cohort import discover_cohort
        from gait2hip.workflows.arguments import check_input_folder

        check_input_folder(folder, "cohort.folder", "cohort folder")
        groups: dict[str, list[str]] = {}
        for subject in discover_cohort(folder).subjects:
            groups.setdefault(subject.info.group, []).append(subject.info.subject_id)
        return groups
    preset = CohortPreset.load(config.cohort.preset)
    return {group.group: [f"{group.group}{k}" for k in range(group.subjects)] for group in preset.groups}


def _training_config(name: str, config: WorkflowConfig):
    """Model ``name``'s training config (``surrogate/configs/<name>.yaml``) with the workflow's overrides."""
    from gait2hip.surrogate.config import TrainingConfig
    from gait2hip.workflows.arguments import replaced

    training = TrainingConfig.from_yaml(SURROGATE_CONFIGS / f"{name}.yaml")
    overrides = {"seed": config.train.seed}
    for key in ("max_epochs", "patience", "split_fractions"):
        if getattr(config.train, key) is not None:
            overrides[key] = getattr(config.train, key)
    return replaced(training, f"train (model {name})", **overrides)


def _cohort(config: WorkflowConfig, out: Path, force: bool, progress: Callable[[str], None]) -> Path:
    if config.cohort.kind == "corpus":
        from gait2hip.workflows.measured_cohort import ingest_cohort

        return ingest_cohort(config.cohort, out, force=force, progress=progress)
    if config.cohort.folder:
        progress(f"      using the cohort at {config.cohort.folder}")
        return Path(config.cohort.folder).resolve()
    from gait2hip.virtual_lab.cohort import synthesize_cohort
    from gait2hip.virtual_lab.presets import CohortPreset

    preset = CohortPreset.load(config.cohort.preset)
    if config.cohort.seed is not None:
        preset = dataclasses.replace(preset, seed=config.cohort.seed)
    folder = out / "cohort"
    existing = folder / "cohort.yaml"
    if not force and existing.is_file():
        recorded = (yaml.safe_load(existing.read_text()) or {}).get("generator", {}).get("preset")
        if recorded == json.loads(json.dumps(preset.to_dict())):
            progress(f"      synthetic cohort {preset.name!r} already in {folder}")
            return folder
    progress(f"      synthesizing the {preset.name!r} cohort (SYNTHETIC data, virtual gait lab) into {folder}")
    synthesize_cohort(preset, folder)
    return folder


def _train(name: str, config: WorkflowConfig, dataset: Path, run_dir: Path, force: bool,
           progress: Callable[[str], None]) -> Path:
    from gait2hip.surrogate.train import train_from_config

    training = _training_config(name, config)
    fingerprint = _fingerprint(training.to_dict(), dataset)
    summary_path = run_dir / "summary.json"
    if not force and summary_path.is_file() and (run_dir / "best.pt").is_file():
        if json.loads(summary_path.read_text()).get("fingerprint") == fingerprint:
            progress(f"      {name}: up to date in {run_dir}")
            return run_dir / "best.pt"
    # Written before training starts: a run stopped part-way (a long Mamba training, a closed
    # session) resumes from its last checkpoint only when it is this same training.
    started_path = run_dir / TRAINING_STARTED
    resume = (not force and (run_dir / "last.pt").is_file() and started_path.is_file()
              and started_path.read_text().strip() == fingerprint)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(started_path, lambda path: path.write_text(fingerprint + "\n"))
    if resume:
        progress(f"      {name}: resuming the interrupted training from {run_dir / 'last.pt'}")
    result = train_from_config(training, dataset, run_dir, resume=resume, show_progress=True)
    recorded = json.loads(summary_path.read_text())
    write_json_atomically(summary_path, {**recorded, "fingerprint": fingerprint})
    progress(f"      {name}: best epoch {result.best_epoch} of {result.epochs_run}, "
             f"{result.seconds_per_epoch:.2f} s/epoch")
    return result.best_checkpoint


def _timing(config: WorkflowConfig, cohort_dir: Path, dataset: Path, checkpoints: dict[str, Path], out_dir: Path,
            pipeline_config: PipelineConfig, force: bool, progress: Callable[[str], None]) -> dict:
    """The timing study's summary: reused when its settings, the checkpoints and the dataset are unchanged.

    Timing re-runs the OpenSim path on trials, several times each (minutes a trial), so a re-run
    of a finished workflow reuses it as it does labels and models; ``--force`` times again.
    """
    from gait2hip.workflows.timing_study import run_timing_study

    recorded_by = {"timing": dataclasses.asdict(config.timing), "pipeline": pipeline_config.to_dict(),
                   "checkpoints": {name: hashlib.sha256(Path(path).read_bytes()).hexdigest()
                                   for name, path in sorted(checkpoints.items())}}
    fingerprint = _fingerprint(recorded_by, dataset)
    summary_path = out_dir / "summary.json"
    if not force and summary_path.is_file():
        recorded = json.loads(summary_path.read_text())
        if recorded.pop("fingerprint", None) == fingerprint:
            progress(f"      timing: up to date in {out_dir}")
            return recorded
    timing = run_timing_study(cohort_dir, dataset, checkpoints, out_dir, n_trials=config.timing.n_trials,
                              repetitions=config.timing.repetitions, config=pipeline_config,
                              progress=lambda message: progress(f"      {message}"), solvers=config.timing.solvers)
    write_json_atomically(summary_path, {**timing, "fingerprint": fingerprint})
    return timing


def _fingerprint(settings: dict, dataset: Path) -> str:
    """sha256 of ``settings`` (as sorted JSON) and of every parquet file of ``dataset``."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for path in sorted(Path(dataset).rglob("*.parquet")):
        digest.update(str(path.relative_to(dataset)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
