"""Label a whole cohort: scale each subject once, label every trial, in parallel, resumably.

Every task (one scaling, one trial) runs in a child process started by a joblib worker
(``loky`` locally, or Dask through joblib's Dask backend), so a crash fails that task only.
A task is skipped when its ``result.json`` records the same input hash (inputs, model files,
settings) and its outputs exist, whether it passed QC or failed it (the same inputs give the same
verdict); a task that stopped with an error (a tool error, bad input, a timeout, a crash) and
anything changed re-run. All outputs are written atomically.

Output layout (``LABELS_DIR``)::

    <subject>/scale/...                  scaled model, setup XML, logs, result.json
    <subject>/trials/<trial>/...         labels.parquet, summary.json, tool outputs, result.json
    manifest.parquet, manifest.csv       one row per trial
    dataset/subject=<id>/...parquet      labels of ok/warn trials with metadata (surrogate input)
    summary.json                         what ran, counts, wall time
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import joblib
from tqdm import tqdm

from gait2hip.pipeline.cohort import Cohort, SubjectSpec, TrialSpec, discover_cohort
from gait2hip.pipeline.config import PipelineConfig
from gait2hip.core.hashing import hash_file, hash_values
from gait2hip.pipeline.settings_hash import hash_config
from gait2hip.pipeline.isolation import run_in_child_process
from gait2hip.pipeline.manifest import build_manifest, write_manifest
from gait2hip.pipeline.qc import FAILED
from gait2hip.pipeline.worker import RESULT_FILE

_log = logging.getLogger(__name__)
BACKENDS = ("loky", "dask")


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
        Give up on one task after this long (None: no limit).
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
    raised. Raises only for a cohort that cannot be read at all.
    """
    start = time.perf_counter()
    cohort = discover_cohort(cohort_dir)
    labels_dir = Path(labels_dir).resolve()
    labels_dir.mkdir(parents=True, exist_ok=True)
    config_hash = hash_config(config)

    scale_requests = {s.info.subject_id: _scale_request(s, labels_dir, config, config_hash) for s in cohort.subjects}
    scale_results = _run_all(scale_requests, options, "scaling")
    trial_requests = {}
    for subject in cohort.subjects:
        scaled = scale_results[subject.info.subject_id]
        for trial in subject.trials:
            trial_requests[trial.key] = _trial_request(subject, trial, labels_dir, config, scaled)
    trial_results = _run_all(trial_requests, options, "labelling")

    manifest = build_manifest(cohort, trial_results, labels_dir)
    manifest_path = write_manifest(manifest, labels_dir)
    from gait2hip.pipeline.dataset import export_dataset  # local: pyarrow dataset writer is only needed here

    dataset_dir = export_dataset(manifest, labels_dir)
    counts = manifest["status"].value_counts().to_dict()
    report = BatchReport(
        labels_dir=labels_dir, n_trials=len(manifest), n_ok=counts.get("ok", 0), n_warn=counts.get("warn", 0),
        n_failed=counts.get(FAILED, 0), n_skipped=int(manifest["skipped"].sum()),
        wall_time_s=time.perf_counter() - start, manifest_path=manifest_path, dataset_dir=dataset_dir,
        failures=manifest.loc[manifest["status"] == FAILED, ["subject", "trial", "failed_stage", "error"]]
        .to_dict("records"),
    )
    _write_batch_summary(report, cohort, config, options)
    return report


def _scale_request(subject: SubjectSpec, labels_dir: Path, config: PipelineConfig, config_hash: str) -> dict:
    input_hash = hash_values(config_hash, hash_file(subject.static_trc_path), asdict(subject.info))
    return {"kind": "scale", "subject": asdict(subject.info), "static_trc": str(subject.static_trc_path),
            "out_dir": str(labels_dir / subject.info.subject_id / "scale"), "config": config.to_dict(),
            "input_hash": input_hash, "trial_key": f"{subject.info.subject_id}/scale"}


def _trial_request(subject: SubjectSpec, trial: TrialSpec, labels_dir: Path, config: PipelineConfig,
                   scaled: dict) -> dict:
    out_dir = labels_dir / subject.info.subject_id / "trials" / trial.trial_id
    input_hash = hash_values(scaled["input_hash"], hash_file(trial.markers_path), hash_file(trial.grf_path))
    request = {"kind": "trial", "subject": asdict(subject.info), "markers": str(trial.markers_path),
               "grf": str(trial.grf_path), "out_dir": str(out_dir), "config": config.to_dict(),
               "input_hash": input_hash, "trial_key": trial.key, "scaled_model": scaled.get("scaled_model")}
    if scaled["status"] == FAILED:
        request["blocked_by"] = {"status": FAILED, "failed_stage": "scale",
                                 "error": f"scaling of subject {subject.info.subject_id} failed: {scaled.get('error')}"}
    return request


def _run_all(requests: dict[str, dict], options: BatchOptions, what: str) -> dict[str, dict]:
    """Run the requests that are not up to date; return key → result (skipped ones included)."""
    results, pending = {}, {}
    for key, request in requests.items():
        if "blocked_by" in request:
            results[key] = {"kind": request["kind"], "input_hash": request["input_hash"], **request["blocked_by"]}
        elif (previous := _up_to_date_result(request)) is not None:
            results[key] = {**previous, "skipped": True}
        else:
            pending[key] = request
    if not pending:
        return results
    progress = tqdm(total=len(pending), desc=what, unit="task", disable=options.quiet, dynamic_ncols=True)
    with _parallel_backend(options) as parallel:
        tasks = (joblib.delayed(_run_one)(key, request, options.timeout_s) for key, request in pending.items())
        for key, result in parallel(tasks):
            results[key] = result
            progress.update(1)
            if result["status"] == FAILED:
                progress.write(f"  {key}: FAILED {failure_text(result)}")
    progress.close()
    return results


def failure_text(result: dict) -> str:
    """Where and why a task failed: the stage and error, or the QC checks it missed."""
    if result.get("error"):
        return f"at {result.get('failed_stage') or 'an unknown stage'}: {result['error']}"
    return "QC: " + "; ".join(result.get("reasons") or ["no reason recorded"])


def _run_one(key: str, request: dict, timeout_s: float | None) -> tuple[str, dict]:
    return key, run_in_child_process(request, timeout_s)


def _up_to_date_result(request: dict) -> dict | None:
    result_path = Path(request["out_dir"]) / RESULT_FILE
    if not result_path.is_file():
        return None
    previous = json.loads(result_path.read_text())
    # A QC verdict (status failed, no error) is what the same inputs and settings give again; a
    # tool error, a timeout or a crash may not be, so those tasks run again.
    stopped_with_error = previous.get("status") == FAILED and previous.get("error")
    if previous.get("input_hash") != request["input_hash"] or stopped_with_error:
        return None
    needed = previous.get("labels") if request["kind"] == "trial" else previous.get("scaled_model")
    return previous if needed and Path(needed).is_file() else None


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
