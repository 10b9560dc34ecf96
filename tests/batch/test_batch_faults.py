"""No single fault sinks a batch: each fails its own task, the manifest is written, nothing is left running."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from support.processes import gone_within, task_processes_under

from gait2hip.pipeline import batch
from gait2hip.pipeline.batch import BatchOptions, label_cohort
from gait2hip.pipeline.task_timeout import TIMEOUT_BASE_S, TIMEOUT_PER_FRAME_S
from gait2hip.pipeline.config import PipelineConfig
from gait2hip.pipeline.dataset import export_dataset
from gait2hip.core.errors import InputDataError
from gait2hip.pipeline.output_lock import LOCK_FILE, OutputFolderLockedError, locked_output_folder
from gait2hip.pipeline.status import TrialStatus
from gait2hip.pipeline.subject import SubjectInfo
from gait2hip.pipeline.tasks import REQUEST_FILE, RESULT_FILE, TaskKind, TaskRequest, TaskResult

TINY_TRIAL_FRAMES = 41  # tests/support/synthetic_pipeline_data.write_tiny_cohort: 0.4 s at 100 Hz


@pytest.fixture()
def one_subject_cohort(tiny_cohort, tmp_path) -> Path:
    cohort = shutil.copytree(tiny_cohort, tmp_path / "cohort")
    shutil.rmtree(cohort / "S02")
    return cohort


def _parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


class _KillWhenStarted(threading.Thread):
    """Kill the process of one task (or the batch worker whose fork server forked it) once it starts.

    ``orphans`` lists the task processes still alive a second after their batch worker was killed.
    """

    def __init__(self, request_path: Path, kill_parent: bool):
        super().__init__(daemon=True)
        self.request_path, self.kill_parent = request_path, kill_parent
        self.killed: list[int] = []
        self.orphans: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set() and not self.killed:
            for pid in task_processes_under(self.request_path):
                try:
                    target = _parent_of(_parent_of(pid)) if self.kill_parent else pid
                except OSError:  # the task ended meanwhile
                    continue
                if target == os.getpid():  # joblib ran the task in this process: nothing to kill
                    continue
                os.kill(target, signal.SIGKILL)
                self.killed.append(target)
                if self.kill_parent and not gone_within(pid, seconds=1.0):
                    self.orphans.append(pid)
                break
            time.sleep(0.005)


def _manifest_row(report, subject: str, trial: str) -> pd.Series:
    manifest = pd.read_parquet(report.manifest_path).set_index(["subject", "trial"])
    return manifest.loc[(subject, trial)]


def test_a_task_whose_process_is_killed_fails_alone_and_the_batch_writes_its_manifest(one_subject_cohort, tmp_path):
    labels = tmp_path / "labels"
    killer = _KillWhenStarted(labels / "S01" / "trials" / "walk_01" / REQUEST_FILE, kill_parent=False)
    killer.start()
    report = label_cohort(one_subject_cohort, labels, PipelineConfig(), BatchOptions(jobs=1, quiet=True))
    killer.stop.set()
    assert len(killer.killed) == 1
    killed = _manifest_row(report, "S01", "walk_01")
    assert (killed["status"], killed["failed_stage"]) == ("failed", "crash")
    assert "killed by signal SIGKILL" in killed["error"]
    assert _manifest_row(report, "S01", "walk_02")["status"] == "ok"
    assert not task_processes_under(labels)


def test_a_lost_batch_worker_takes_no_task_with_it_and_leaves_no_task_process(one_subject_cohort, tmp_path):
    labels = tmp_path / "labels"
    killer = _KillWhenStarted(labels / "S01" / "trials" / "walk_01" / REQUEST_FILE, kill_parent=True)
    killer.start()
    report = label_cohort(one_subject_cohort, labels, PipelineConfig(), BatchOptions(jobs=2, quiet=True))
    killer.stop.set()
    assert len(killer.killed) == 1, "the joblib worker running walk_01 was never seen"
    assert killer.orphans == []  # its task process died with it
    assert (report.n_trials, report.n_ok, report.n_failed) == (2, 2, 0)  # walk_01 ran again, alone
    assert report.manifest_path.is_file()
    assert not task_processes_under(labels)


def test_a_killed_batch_leaves_no_task_process_and_the_next_run_finishes_it(one_subject_cohort, tmp_path):
    labels = tmp_path / "labels"
    request = labels / "S01" / "trials" / "walk_01" / REQUEST_FILE
    batch_run = subprocess.Popen([sys.executable, "-m", "gait2hip.workflows.cli", "label", str(one_subject_cohort),
                                  "--out", str(labels), "--jobs", "2", "--quiet"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (tasks := task_processes_under(request)) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert tasks, "walk_01's task process never started"
    batch_run.kill()  # the batch process alone, as the out-of-memory killer would
    batch_run.wait()
    # Its batch worker is blocked waiting for the task: the task must notice the batch's end itself.
    assert all(gone_within(pid, seconds=2.0) for pid in tasks)
    report = label_cohort(one_subject_cohort, labels, PipelineConfig(), BatchOptions(jobs=2, quiet=True))
    assert (report.n_trials, report.n_ok, report.n_failed) == (2, 2, 0)  # the stale lock was taken over
    assert not task_processes_under(labels)


def test_bad_trial_yaml_and_an_unwritable_trial_folder_fail_their_trials_and_the_batch_goes_on(tiny_cohort, tmp_path):
    cohort = shutil.copytree(tiny_cohort, tmp_path / "cohort")
    (cohort / "S01" / "trials" / "walk_01" / "trial.yaml").write_text("cadence_steps_per_min: fast\n")
    (cohort / "S01" / "trials" / "walk_02" / "trial.yaml").write_bytes(b"cadence_condition: r\xe1pido\n")
    labels = tmp_path / "labels"
    (labels / "S02" / "trials").mkdir(parents=True)
    (labels / "S02" / "trials" / "walk_01").write_text("a file where the trial's folder should be")
    report = label_cohort(cohort, labels, PipelineConfig(), BatchOptions(jobs=2, quiet=True))
    assert (report.n_trials, report.n_ok, report.n_failed) == (4, 1, 3)
    non_numeric = _manifest_row(report, "S01", "walk_01")
    assert non_numeric["failed_stage"] == "inputs" and "trial.yaml" in non_numeric["error"]
    assert "cadence_steps_per_min must be a positive number" in non_numeric["error"]
    assert "UTF-8" in _manifest_row(report, "S01", "walk_02")["error"]
    blocked = _manifest_row(report, "S02", "walk_01")
    assert blocked["failed_stage"] == "outputs" and "cannot be written" in blocked["error"]
    assert _manifest_row(report, "S02", "walk_02")["status"] == "ok"
    assert json.loads((labels / "summary.json").read_text())["failed"] == 3


def _scale_request(tmp_path: Path) -> TaskRequest:
    return TaskRequest(kind=TaskKind.SCALE, key="S01/scale", subject=SubjectInfo("S01", 70.0, 1.75),
                       out_dir=tmp_path / "S01" / "scale", config=PipelineConfig(), input_hash="h",
                       static_trc=tmp_path / "static.trc")


@pytest.mark.parametrize("damage", ["truncated", "not_utf8", "not_a_mapping", "missing_field"])
def test_a_damaged_result_json_counts_as_not_done(tmp_path, damage):
    request = _scale_request(tmp_path)
    request.out_dir.mkdir(parents=True)
    (request.out_dir / "model_scaled.osim").write_text("<OpenSimDocument/>")
    done = TaskResult(kind=TaskKind.SCALE, input_hash="h", status=TrialStatus.OK,
                      scaled_model=request.out_dir / "model_scaled.osim")
    text = json.dumps(done.to_json(request.out_dir))
    (request.out_dir / RESULT_FILE).write_text(text)
    assert batch._up_to_date_result(request) is not None  # the whole file is a finished task
    damaged = {"truncated": text[: len(text) // 2].encode(), "not_utf8": text.encode().replace(b'"ok"', b'"\xff"'),
               "not_a_mapping": b"[1, 2]", "missing_field": b'{"kind": "scale"}'}[damage]
    (request.out_dir / RESULT_FILE).write_bytes(damaged)
    assert TaskResult.read(request.out_dir) is None
    assert batch._up_to_date_result(request) is None


def test_the_default_time_limit_grows_with_the_trial(tiny_cohort, tmp_path):
    request = TaskRequest(kind=TaskKind.TRIAL, key="S01/walk_01", subject=SubjectInfo("S01", 70.0, 1.75),
                          out_dir=tmp_path, config=PipelineConfig(), input_hash="h",
                          markers=tiny_cohort / "S01" / "trials" / "walk_01" / "markers.trc")
    assert BatchOptions().timeout_of(request) == TIMEOUT_BASE_S + TIMEOUT_PER_FRAME_S * TINY_TRIAL_FRAMES
    assert BatchOptions().timeout_of(_scale_request(tmp_path)) == TIMEOUT_BASE_S  # an unreadable trial: the base
    assert BatchOptions(timeout_s=30.0).timeout_of(request) == 30.0
    assert BatchOptions(timeout_s=float("inf")).timeout_of(request) == float("inf")
    with pytest.raises(ValueError, match="timeout_s must be a positive number"):
        BatchOptions(timeout_s=0.0)


def _hold_lock(folder: Path) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from gait2hip.pipeline.output_lock import locked_output_folder; "
         "lock = locked_output_folder(Path(sys.argv[1])); lock.__enter__(); print('locked', flush=True); "
         "time.sleep(120)", str(folder)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_a_second_run_on_the_same_labels_folder_is_refused_naming_the_lock_and_its_pid(tiny_cohort, tmp_path):
    labels = tmp_path / "labels"
    holder = _hold_lock(labels)
    try:
        with pytest.raises(OutputFolderLockedError, match=rf"{LOCK_FILE}: another gait2hip label run "
                                                          rf"\(PID {holder.pid} on .*\) is writing to this folder"):
            label_cohort(tiny_cohort, labels, PipelineConfig(), BatchOptions(quiet=True))
        assert sorted(p.name for p in labels.iterdir()) == [LOCK_FILE]  # refused before writing anything
    finally:
        holder.kill()
        holder.wait()


def test_the_lock_of_a_killed_run_is_taken_over(tmp_path):
    labels = tmp_path / "labels"
    holder = _hold_lock(labels)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert f"PID {holder.pid} " in (labels / LOCK_FILE).read_text()  # the dead run's record is still there
    with pytest.raises(InputDataError, match="cohort.yaml not found"):  # past the lock, into the cohort
        label_cohort(tmp_path / "no_cohort", labels, PipelineConfig(), BatchOptions(quiet=True))
    with locked_output_folder(labels) as lock:
        assert (lock.read_text().split()[:2]) == ["PID", str(os.getpid())]


def test_the_dataset_folder_has_the_mode_the_umask_gives(tmp_path):
    trial_dir = tmp_path / "S01" / "trials" / "walk_01"
    trial_dir.mkdir(parents=True)
    pd.DataFrame({"time": [0.0, 0.01], "hip_flexion_r": [1.0, 2.0]}).to_parquet(trial_dir / "labels.parquet")
    manifest = pd.DataFrame([{"subject": "S01", "trial": "walk_01", "group": "healthy", "affected_side": "",
                              "body_mass_kg": 70.0, "cadence_condition": "c", "cadence_steps_per_min": None,
                              "status": "ok", "labels_path": "S01/trials/walk_01/labels.parquet"}])
    previous = os.umask(0o022)
    try:
        dataset = export_dataset(manifest, tmp_path)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(dataset.stat().st_mode) == 0o755
    assert stat.S_IMODE((dataset / "subject=S01").stat().st_mode) == 0o755
