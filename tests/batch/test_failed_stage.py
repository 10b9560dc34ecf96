"""A task's error carries the stage it stopped in: the manifest and the trial's summary.json agree."""

from __future__ import annotations

import json
import shutil

import pytest

from gait2hip.core.errors import InputDataError
from gait2hip.pipeline import trial as trial_module
from gait2hip.pipeline.cohort import discover_cohort
from gait2hip.pipeline.config import PipelineConfig
from gait2hip.pipeline.manifest import build_manifest
from gait2hip.pipeline.status import TrialStatus
from gait2hip.pipeline.tasks import TaskKind, TaskRequest
from gait2hip.pipeline.trial import SUMMARY_FILE
from gait2hip.pipeline.worker import run_request


@pytest.fixture()
def one_trial_cohort(tiny_cohort, tmp_path):
    cohort = shutil.copytree(tiny_cohort, tmp_path / "cohort")
    shutil.rmtree(cohort / "S02")
    shutil.rmtree(cohort / "S01" / "trials" / "walk_02")
    return discover_cohort(cohort)


def test_an_error_while_building_labels_reads_labels_in_the_manifest_and_the_summary(one_trial_cohort, tmp_path,
                                                                                     monkeypatch):
    (subject,) = one_trial_cohort.subjects
    (trial,) = subject.trials
    labels_dir = tmp_path / "labels"
    config = PipelineConfig()
    scaled = run_request(TaskRequest(kind=TaskKind.SCALE, key="S01/scale", subject=subject.info,
                                     out_dir=labels_dir / "S01" / "scale", config=config, input_hash="scale",
                                     static_trc=subject.static_trc_path))
    assert scaled.status == TrialStatus.OK

    def label_table_of_a_muscle_so_did_not_solve(**paths):
        raise InputDataError(paths["so_forces_path"], "expected column 'glut_med1_r' is missing")

    monkeypatch.setattr(trial_module, "build_label_table", label_table_of_a_muscle_so_did_not_solve)
    out_dir = labels_dir / "S01" / "trials" / trial.trial_id
    result = run_request(TaskRequest(kind=TaskKind.TRIAL, key=trial.key, subject=subject.info, out_dir=out_dir,
                                     config=config, input_hash="trial", markers=trial.markers_path,
                                     grf=trial.grf_path, scaled_model=scaled.scaled_model))

    summary = json.loads((out_dir / SUMMARY_FILE).read_text())
    manifest = build_manifest(one_trial_cohort, {trial.key: result}, labels_dir)
    assert result.status == TrialStatus.FAILED and "glut_med1_r" in result.error
    assert summary["status"] == "failed"
    assert summary["stages_run"] == ["inputs", "ik", "id", "so", "so_cross_check"]  # the default batched SO, checked
    assert summary["failed_stage"] == manifest.loc[0, "failed_stage"] == result.failed_stage == "labels"
