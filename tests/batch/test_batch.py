"""The batch engine: failure isolation, resumability, identical results across backends."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from gait2hip.pipeline.batch import BatchOptions, label_cohort
from gait2hip.pipeline.config import PipelineConfig
from gait2hip.workflows.cli import main

LABEL_COLUMNS_COMPARED_EXACTLY = ("time", "hip_flexion_r", "hip_flexion_r_moment", "glut_med1_r_force")


def _labels_of(labels_dir: Path) -> dict[str, pd.DataFrame]:
    return {str(path.relative_to(labels_dir)): pd.read_parquet(path) for path in sorted(labels_dir.glob("*/trials/*/labels.parquet"))}


def test_serial_loky_and_dask_give_identical_labels(tiny_cohort, tmp_path):
    config = PipelineConfig()
    label_cohort(tiny_cohort, tmp_path / "serial", config, BatchOptions(jobs=1, quiet=True))
    label_cohort(tiny_cohort, tmp_path / "loky", config, BatchOptions(jobs=2, quiet=True))
    label_cohort(tiny_cohort, tmp_path / "dask", config, BatchOptions(jobs=2, backend="dask", quiet=True))
    serial, loky, dask = (_labels_of(tmp_path / name) for name in ("serial", "loky", "dask"))
    assert len(serial) == 4 and serial.keys() == loky.keys() == dask.keys()
    for key in serial:
        pd.testing.assert_frame_equal(serial[key], loky[key], check_exact=True)
        pd.testing.assert_frame_equal(serial[key], dask[key], check_exact=True)


def test_a_corrupted_trial_fails_alone_and_the_batch_goes_on(tiny_cohort, tmp_path):
    cohort = tmp_path / "cohort"
    shutil.copytree(tiny_cohort, cohort)
    (cohort / "S02" / "trials" / "walk_01" / "markers.trc").write_text("PathFileType\t4\tgarbage\n")
    report = label_cohort(cohort, tmp_path / "labels", PipelineConfig(), BatchOptions(jobs=2, quiet=True))
    assert (report.n_ok, report.n_failed) == (3, 1)
    manifest = pd.read_parquet(report.manifest_path)
    failed = manifest[manifest["status"] == "failed"].iloc[0]
    assert (failed["subject"], failed["trial"], failed["failed_stage"]) == ("S02", "walk_01", "inputs")
    assert "markers.trc" in failed["error"]
    dataset = pd.read_parquet(report.dataset_dir)
    assert sorted(dataset.groupby(["subject", "trial"], observed=True).size().index.tolist()) == [
        ("S01", "walk_01"), ("S01", "walk_02"), ("S02", "walk_02")]


def test_the_label_command_exits_non_zero_when_a_trial_failed(tiny_cohort, tmp_path):
    cohort = tmp_path / "cohort"
    shutil.copytree(tiny_cohort, cohort)
    (cohort / "S01" / "trials" / "walk_02" / "grf.mot").unlink()
    out = tmp_path / "labels"
    assert main(["label", str(cohort), "--out", str(out), "--jobs", "2", "--quiet"]) == 1
    assert main(["label", str(cohort), "--out", str(out), "--quiet", "--tolerate-failures"]) == 0


def test_rerun_skips_unchanged_trials_qc_failures_included_and_redoes_the_rest(tiny_cohort, tmp_path):
    cohort = tmp_path / "cohort"
    shutil.copytree(tiny_cohort, cohort)
    first = label_cohort(cohort, tmp_path / "labels", PipelineConfig(), BatchOptions(jobs=2, quiet=True))
    assert first.n_skipped == 0
    again = label_cohort(cohort, tmp_path / "labels", PipelineConfig(), BatchOptions(jobs=2, quiet=True))
    assert again.n_skipped == 4
    grf = cohort / "S01" / "trials" / "walk_01" / "grf.mot"
    grf.write_text(grf.read_text().replace("endheader", "endheader", 1) + "\n")  # same data, new bytes
    changed = label_cohort(cohort, tmp_path / "labels", PipelineConfig(), BatchOptions(jobs=2, quiet=True))
    assert changed.n_skipped == 3
    # No IK reaches a marker RMS error of 1 µm: under these settings every trial fails QC.
    strict = PipelineConfig.from_dict({"qc": {"marker_rms_error_warn_m": 1e-7, "marker_rms_error_fail_m": 1e-6}})
    reconfigured = label_cohort(cohort, tmp_path / "labels", strict, BatchOptions(jobs=2, quiet=True))
    assert (reconfigured.n_skipped, reconfigured.n_failed) == (0, 4)
    # A QC verdict is what the same inputs give again: kept. A trial that stopped with an error runs again.
    (cohort / "S02" / "trials" / "walk_01" / "markers.trc").write_text("PathFileType\t4\tgarbage\n")
    for _ in range(2):
        report = label_cohort(cohort, tmp_path / "labels", strict, BatchOptions(jobs=2, quiet=True))
        manifest = pd.read_parquet(report.manifest_path).set_index(["subject", "trial"])
        assert report.n_skipped == 3
        assert not manifest.loc[("S02", "walk_01"), "skipped"]
        assert manifest.loc[("S02", "walk_01"), "failed_stage"] == "inputs"


def test_killed_batch_leaves_no_half_written_labels_and_resumes(tiny_cohort, tmp_path):
    out = tmp_path / "labels"
    command = [sys.executable, "-m", "gait2hip.workflows.cli", "label", str(tiny_cohort), "--out", str(out), "--jobs", "1", "--quiet"]
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    so_started = False
    while time.monotonic() < deadline and not so_started:
        # The batched solve is done, OpenSim's cross-check of it and the labels are still to come.
        so_started = any(out.glob("*/trials/*/logs/so_batched.log"))
        time.sleep(0.05)
    assert so_started, "the batch never reached static optimization"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    for labels in out.glob("*/trials/*/labels.parquet"):
        pd.read_parquet(labels)  # every label file that exists is whole
    report = label_cohort(tiny_cohort, out, PipelineConfig(), BatchOptions(jobs=2, quiet=True))
    assert report.n_ok == 4 and report.n_failed == 0


def test_a_moved_cohort_and_labels_folder_reuse_every_task(tiny_cohort, tmp_path):
    # Cohort and labels side by side in one tree, as in a checkout, then the whole tree moves.
    first = tmp_path / "first"
    shutil.copytree(tiny_cohort, first / "cohort")
    label_cohort(first / "cohort", first / "labels", PipelineConfig(), BatchOptions(jobs=2, quiet=True))
    written = {path.relative_to(first): path.stat().st_mtime_ns for path in first.glob("labels/**/result.json")}
    assert len(written) == 6  # two scalings, four trials
    moved = tmp_path / "moved" / "elsewhere"
    moved.parent.mkdir()
    shutil.move(first, moved)
    report = label_cohort(moved / "cohort", moved / "labels", PipelineConfig(), BatchOptions(jobs=2, quiet=True))
    assert (report.n_trials, report.n_skipped, report.n_failed) == (4, 4, 0)
    # No task ran again, scalings included: every result.json is the one the first run wrote.
    assert {path.relative_to(moved): path.stat().st_mtime_ns for path in moved.glob("labels/**/result.json")} == written
    # The dataset is exported again from the labels where they now are.
    assert len(list((moved / "labels" / "dataset").rglob("*.parquet"))) == 4
