"""A task whose process dies or hangs is reported failed; it never takes the caller down."""

from __future__ import annotations

import shutil

import pytest

from gait2hip.pipeline.batch import BatchOptions, label_cohort
from gait2hip.pipeline.config import PipelineConfig
from gait2hip.pipeline.isolation import run_in_child_process
from gait2hip.pipeline.status import TrialStatus
from gait2hip.pipeline.subject import SubjectInfo
from gait2hip.pipeline.tasks import TaskKind, TaskRequest


@pytest.mark.parametrize("use_fork_server", [True, False], ids=["forked", "own-interpreter"])
def test_a_worker_process_that_dies_without_reporting_is_a_failed_task(tmp_path, monkeypatch, use_fork_server):
    # A request the worker cannot even parse makes the child exit with a traceback, no result.
    request = TaskRequest(kind=TaskKind.TRIAL, key="S01/walk_01", subject=SubjectInfo("S01", 70.0, 1.75),
                          out_dir=tmp_path / "task", config=PipelineConfig(), input_hash="h")
    unparseable = {**request.to_json(), "config": {"no_such_key": 1}}
    monkeypatch.setattr(TaskRequest, "to_json", lambda self: unparseable)
    result = run_in_child_process(request, use_fork_server=use_fork_server)
    assert result.status == TrialStatus.FAILED
    assert result.failed_stage == "crash"
    assert "exit code 1" in result.error and "ConfigError" in result.error


def test_a_task_over_its_time_limit_fails_and_the_batch_goes_on(tiny_cohort, tmp_path):
    cohort = tmp_path / "cohort"
    shutil.copytree(tiny_cohort, cohort)
    for subject in ("S02",):
        shutil.rmtree(cohort / subject)
    report = label_cohort(cohort, tmp_path / "labels", PipelineConfig(), BatchOptions(jobs=2, quiet=True, timeout_s=0.3))
    assert report.n_failed == 2  # the subject's scaling times out, so both its trials are failed
    assert all("scaling of subject S01 failed" in failure["error"] for failure in report.failures)
