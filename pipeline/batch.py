"""Label a whole cohort: scale each subject once, label every trial, in parallel, resumably.

Every task (one scaling, one trial) runs in a child process of its own, forked for it by a fork
server that the joblib worker (``loky`` locally, or Dask through joblib's Dask backend) keeps
(:mod:`~gait2hip.pipeline.fork_server`: the imports are paid once per worker, not per task), so
a crash fails that task only.
A task is skipped when its ``result.json`` records the same input hash (inputs, model files,
settings) and its outputs exist, whether it passed QC or failed it (the same inputs give the same
verdict); a task that stopped with an error (a tool error, bad input, a timeout, a crash) and
anything changed re-run. All outputs are written atomically.

No single fault sinks the batch: a trial with a bad ``trial.yaml``, a task folder that cannot
be written, a task that hangs (each has a time limit, scaled by its length by default), and a
task process that dies each fail their own task; a batch worker process that dies takes no
task with it (its tasks run again, see :func:`_run_all`) and leaves no task process running;
the manifest is always written. One batch at a time writes a labels folder (:mod:`~gait2hip.pipeline.output_lock`).

Output layout (``LABELS_DIR``)::

    <subject>/scale/...                  scaled model, setup XML, logs, result.json
    <subject>/trials/<trial>/...         labels.parquet (ok/warn trials), summary.json, tool outputs, result.json
    manifest.parquet, manifest.csv       one row per trial
    .gait2hip-label.lock                 held while a batch writes the folder (PID and host inside)
    dataset/subject=<id>/...parquet      labels of ok/warn trials with metadata (surrogate input)
    summary.json                         what ran, counts, wall time
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
import traceback
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import joblib
from tqdm import tqdm

from gait2hip.core.hashing import hash_file, hash_values
from gait2hip.core.errors import ConfigError
from gait2hip.pipeline.cohort import COHORT_FILE, Cohort, SubjectSpec, TrialSpec, discover_cohort
from gait2hip.pipeline.config import DEFAULT_MODEL, PipelineConfig
from gait2hip.pipeline.isolation import run_in_child_process
from gait2hip.pipeline.manifest import build_manifest, write_manifest
from gait2hip.pipeline.output_lock import locked_output_folder
from gait2hip.pipeline.settings_hash import hash_config
from gait2hip.pipeline.status import TrialStatus
from gait2hip.pipeline.task_timeout import count_trc_frames, default_task_timeout_s
from gait2hip.pipeline.tasks import REQUEST_FILE, TaskKind, TaskRequest, TaskResult

_log = logging.getLogger(__name__)
BACKENDS = ("loky", "dask")
# gait2hip.pipeline.trial.SUMMARY_FILE, spelled here: importing the trial pipeline loads OpenSim.
_TRIAL_SUMMARY_FILE = "summary.json"

@dataclass(frozen=True)
class BatchOptions:
    """How to run a batch.

    Attributes
    ----------
    jobs
        Parallel tasks (``-1``: one per core). With Dask, the cluster's workers decide.
    backend
        ``loky`` (local processes) or ``dask`` (a Dask cluster through joblib).
    scheduler_address
        Dask scheduler to connect to (``tcp://host:8786``); None starts a local cluster.
    timeout_s
        Stop one task after this many seconds and record it failed (stage ``timeout``).
        None (the default): each task's own limit from :func:`default_task_timeout_s`,
        ``TIMEOUT_BASE_S`` (600 s) plus ``TIMEOUT_PER_FRAME_S`` (1 s) per marker frame,
        e.g. 1600 s for a 10 s trial at 100 Hz, so a hanging OpenSim tool cannot stall a
        batch; ``math.inf``: no limit.
    quiet
        No progress bar (CI, logs).
    """

    jobs: int = 1
    backend: str = "loky"
    scheduler_address: str | None = None
    timeout_s: float | None = None
    quiet: bool = False

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.jobs == 0 or self.jobs < -1:
            raise ValueError(f"jobs must be a positive number or -1, got {self.jobs}")
        if self.timeout_s is not None and not self.timeout_s > 0:
            raise ValueError(f"timeout_s must be a positive number of seconds (inf: no limit), got {self.timeout_s}")

    @property
    def runs_on_this_host(self) -> bool:
        """Whether every task process runs on this machine (loky, or a Dask cluster started here)."""
        return self.backend == "loky" or self.scheduler_address is None

    def timeout_of(self, request: TaskRequest) -> float:
        """The time limit (s) of ``request``: ``timeout_s``, or the default scaled by the task's length."""
        if self.timeout_s is not None:
            return self.timeout_s
        return default_task_timeout_s(count_trc_frames(request.static_trc or request.markers))


@dataclass
class BatchReport:
    """Counts and paths of a finished batch."""

    labels_dir: Path
    n_trials: int
    n_ok: int
    n_warn: int
    n_failed: int
    n_skipped: int
    wall_time_s: float
    manifest_path: Path
    dataset_dir: Path | None
    failures: list[dict[str, Any]] = field(default_factory=list)


def label_cohort(cohort_dir: Path, labels_dir: Path, config: PipelineConfig, options: BatchOptions) -> BatchReport:
    """Scale every subject and label every trial of the cohort in ``cohort_dir``.

    Returns the report; failed trials are in the manifest and ``report.failures``, never
    raised.

    Raises
    ------
    InputDataError
        For a cohort that cannot be read at all (see :func:`discover_cohort`).
    OutputFolderLockedError
        If another batch is writing to ``labels_dir`` (its PID is in the message).
    """
    start = time.perf_counter()
    labels_dir = Path(labels_dir).resolve()
    with locked_output_folder(labels_dir):
        return _label_locked_cohort(cohort_dir, labels_dir, config, options, start)


def _label_locked_cohort(cohort_dir: Path, labels_dir: Path, config: PipelineConfig, options: BatchOptions,
                         start: float) -> BatchReport:
    cohort = discover_cohort(cohort_dir)
    config = config_for_cohort(config, cohort)
    config_hash = hash_config(config)

    scale_requests = {s.info.subject_id: _scale_request(s, labels_dir, config, config_hash) for s in cohort.subjects}
    scale_results = _run_all(scale_requests, options, "scaling")
    trial_requests, blocked = {}, {}
    for subject in cohort.subjects:
        scaled = scale_results[subject.info.subject_id]
        for trial in subject.trials:
            try:
                request = _trial_request(subject, trial, labels_dir, config, scaled)
            except OSError as error:  # an input file that exists but cannot be read
                blocked[trial.key] = TaskResult.failure(TaskKind.TRIAL, "", "inputs",
                                                        f"{error.filename}: cannot be read ({error.strerror})")
                continue
            if trial.metadata_error is not None:
                blocked[trial.key] = TaskResult.failure(TaskKind.TRIAL, request.input_hash, "inputs",
                                                        trial.metadata_error)
            elif scaled.status == TrialStatus.FAILED:
                blocked[trial.key] = TaskResult.failure(
                    TaskKind.TRIAL, request.input_hash, "scale",
                    f"scaling of subject {subject.info.subject_id} failed: {scaled.error}")
            else:
                trial_requests[trial.key] = request
    trial_results = blocked | _run_all(trial_requests, options, "labelling")

    manifest = build_manifest(cohort, trial_results, labels_dir)
    manifest_path = write_manifest(manifest, labels_dir)
    from gait2hip.pipeline.dataset import export_dataset  # local: pyarrow dataset writer is only needed here

    dataset_dir = export_dataset(manifest, labels_dir)
    counts = manifest["status"].value_counts().to_dict()
    failed = manifest["status"] == TrialStatus.FAILED
    report = BatchReport(
        labels_dir=labels_dir, n_trials=len(manifest), n_ok=counts.get(TrialStatus.OK, 0),
        n_warn=counts.get(TrialStatus.WARN, 0), n_failed=counts.get(TrialStatus.FAILED, 0),
        n_skipped=int(manifest["skipped"].sum()), wall_time_s=time.perf_counter() - start,
        manifest_path=manifest_path, dataset_dir=dataset_dir,
        failures=manifest.loc[failed, ["subject", "trial", "failed_stage", "error"]].to_dict("records"),
    )
    _write_batch_summary(report, cohort, config, options)
    return report


def config_for_cohort(config: PipelineConfig, cohort: Cohort) -> PipelineConfig:
    """The settings with the model ``cohort.yaml`` names (its marker names are that model's).

    A configuration naming a model of its own (not the default) that differs from the
    cohort's is an error: one of the two is wrong, and labelling with either would be a guess.
    """
    if cohort.model is None or cohort.model == config.model:
        return config
    if config.model != DEFAULT_MODEL:
        raise ConfigError(f"{cohort.folder / COHORT_FILE}: the cohort's model is {cohort.model!r}, the pipeline "
                          f"settings name {config.model!r}; make them agree (or remove one)")
    _log.info("labelling with cohort.yaml's model %s", cohort.model)
    return dataclasses.replace(config, model=cohort.model)


def _scale_request(subject: SubjectSpec, labels_dir: Path, config: PipelineConfig, config_hash: str) -> TaskRequest:
    # Contents and values only, never a path: a cohort or labels folder that moves keeps its hashes.
    input_hash = hash_values(config_hash, hash_file(subject.static_trc_path), asdict(subject.info))
    return TaskRequest(kind=TaskKind.SCALE, key=f"{subject.info.subject_id}/scale", subject=subject.info,
                       out_dir=labels_dir / subject.info.subject_id / "scale", config=config, input_hash=input_hash,
                       static_trc=subject.static_trc_path)


def _trial_request(subject: SubjectSpec, trial: TrialSpec, labels_dir: Path, config: PipelineConfig,
                   scaled: TaskResult) -> TaskRequest:
    parts = [scaled.input_hash, hash_file(trial.markers_path), hash_file(trial.grf_path)]
    if trial.time_range_s is not None:  # only then, so trials without one keep their hashes
        parts.append(list(trial.time_range_s))
    return TaskRequest(kind=TaskKind.TRIAL, key=trial.key, subject=subject.info,
                       out_dir=labels_dir / subject.info.subject_id / "trials" / trial.trial_id, config=config,
                       input_hash=hash_values(*parts), markers=trial.markers_path, grf=trial.grf_path,
                       scaled_model=scaled.scaled_model, time_range_s=trial.time_range_s)


def _run_all(requests: dict[str, TaskRequest], options: BatchOptions, what: str) -> dict[str, TaskResult]:
    """Run the requests that are not up to date; return key → result (skipped ones included).

    When the backend loses a worker process (killed, out of memory), the parallel call
    stops. The results already in, and any a lost task's process wrote before it died, are
    kept. The other tasks in flight at the loss (loky stops every worker when one dies, and
    each worker's task process dies with it) run again one at a time from this process,
    still each in its own task process, so what they give then is their result: a task that
    fails again fails alone. Tasks not yet started go to a fresh pool (all run from this
    process when the loss had none in flight: the backend itself is broken).
    """
    results, pending = {}, {}
    for key, request in requests.items():
        if (previous := _up_to_date_result(request)) is not None:
            results[key] = dataclasses.replace(previous, skipped=True)
        else:
            pending[key] = request
    if not pending:
        return results
    progress = tqdm(total=len(pending), desc=what, unit="task", disable=options.quiet, dynamic_ncols=True)

    def record(key: str, result: TaskResult) -> None:
        results[key] = result
        del pending[key]
        progress.update(1)
        if result.status == TrialStatus.FAILED:
            progress.write(f"  {key}: FAILED {result.failure_text()}")

    while pending:
        # request.json is written when a task starts: what was written since this moment
        # (less the file system's timestamp granularity) was in flight.
        round_start = time.time() - 0.1
        with _parallel_backend(options) as parallel:  # a backend that cannot start is the batch's error
            batch_pid = os.getpid() if options.runs_on_this_host else None
            tasks = [joblib.delayed(_run_one)(key, request, options.timeout_of(request), batch_pid)
                     for key, request in pending.items()]
            try:
                for key, result in parallel(tasks):
                    record(key, result)
            except Exception as error:  # noqa: BLE001 - the backend lost a worker; its tasks are settled below
                lost = [key for key, request in pending.items() if _started_since(request, round_start)]
                _log.warning("the %s backend lost a worker process (%s: %s); tasks in flight: %s",
                             options.backend, type(error).__name__, error, ", ".join(lost) or "none")
                # With none in flight the backend itself is broken: the rest run here too.
                for key in lost or list(pending):
                    request = pending[key]
                    if (written := TaskResult.read(request.out_dir)) is None:
                        # Alone, from this process: the task's own process still isolates it.
                        _, written = _run_one(key, request, options.timeout_of(request))
                    record(key, written)
    progress.close()
    return results


def _started_since(request: TaskRequest, moment: float) -> bool:
    try:
        return (request.out_dir / REQUEST_FILE).stat().st_mtime >= moment
    except OSError:
        return False


def _run_one(key: str, request: TaskRequest, timeout_s: float,
             batch_pid: int | None = None) -> tuple[str, TaskResult]:
    try:
        return key, run_in_child_process(request, timeout_s, batch_pid)
    except Exception as error:  # noqa: BLE001 - a bug here fails one task, not the batch
        return key, TaskResult.failure(request.kind, request.input_hash, "unexpected",
                                       f"{type(error).__name__}: {error}", traceback=traceback.format_exc())


def _up_to_date_result(request: TaskRequest) -> TaskResult | None:
    previous = TaskResult.read(request.out_dir)  # None also for a damaged or truncated result.json
    # A QC verdict (status failed, no error) is what the same inputs and settings give again; a
    # tool error, a timeout or a crash may not be, so those tasks run again.
    if previous is None or previous.input_hash != request.input_hash or previous.stopped_with_error:
        return None
    if request.kind == TaskKind.SCALE:
        needed = previous.scaled_model
    elif previous.failed_qc:  # a trial past a QC fail limit keeps no labels, only its summary
        needed = request.out_dir / _TRIAL_SUMMARY_FILE
    else:
        needed = previous.labels
    return previous if needed is not None and needed.is_file() else None


@contextlib.contextmanager
def _parallel_backend(options: BatchOptions) -> Iterator[joblib.Parallel]:
    if options.backend == "loky":
        yield joblib.Parallel(n_jobs=options.jobs, backend="loky", return_as="generator_unordered")
        return
    from dask.distributed import Client, LocalCluster  # optional at import time: only the dask backend needs it

    with contextlib.ExitStack() as stack:
        if options.scheduler_address:
            client = stack.enter_context(Client(options.scheduler_address))
        else:
            n_workers = options.jobs if options.jobs > 0 else None
            cluster = stack.enter_context(LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                                       host="127.0.0.1", dashboard_address=None))
            client = stack.enter_context(Client(cluster))
        _log.info("Dask scheduler: %s", client.scheduler.address)
        stack.enter_context(joblib.parallel_config(backend="dask"))
        yield joblib.Parallel(return_as="generator_unordered")


def _write_batch_summary(report: BatchReport, cohort: Cohort, config: PipelineConfig, options: BatchOptions) -> None:
    from gait2hip.core.atomic import write_json_atomically

    write_json_atomically(report.labels_dir / "summary.json", {
        "kind": "gait2hip.label",
        "cohort": {"name": cohort.name, "folder": str(cohort.folder), "synthetic": cohort.synthetic,
                   "subjects": len(cohort.subjects)},
        "trials": report.n_trials, "ok": report.n_ok, "warn": report.n_warn, "failed": report.n_failed,
        "skipped_up_to_date": report.n_skipped, "wall_time_s": report.wall_time_s,
        "manifest": str(report.manifest_path), "dataset": str(report.dataset_dir) if report.dataset_dir else None,
        "failures": report.failures, "options": asdict(options), "config": config.to_dict(),
    })
