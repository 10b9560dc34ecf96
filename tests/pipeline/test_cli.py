"""The ``gait2hip label-trial`` command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gait2hip.workflows.cli import main


def test_label_trial_help_explains_every_input(capsys):
    with pytest.raises(SystemExit):
        main(["label-trial", "--help"])
    text = capsys.readouterr().out
    for option in ("--subject", "--mass", "--height", "--static", "--markers", "--grf", "--out", "--config"):
        assert option in text


def test_non_positive_mass_on_the_command_line_exits_with_a_message(subject_files, tmp_path, caplog):
    code = main(["label-trial", "--mass", "-70", "--height", "1.7", "--static", str(subject_files.static_trc_path),
                 "--markers", str(subject_files.static_trc_path), "--grf", "nowhere.mot", "--out", str(tmp_path)])
    assert code == 2
    assert "body mass" in caplog.text


def test_label_trial_writes_labels_and_summary(still_trial, subject_files, tmp_path):
    command = [sys.executable, "-m", "gait2hip.workflows.cli", "label-trial",
               "--mass", str(subject_files.subject.mass_kg), "--height", "1.75",
               "--static", str(subject_files.static_trc_path), "--markers", str(still_trial.markers_trc_path),
               "--grf", str(still_trial.grf_path), "--out", str(tmp_path / "out"), "--trial-id", "still"]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert "status OK" in completed.stdout and "so " in completed.stdout
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["status"] == "ok"
    assert (tmp_path / "out" / "still" / "labels.parquet").is_file()
    assert not (tmp_path / "opensim.log").exists()  # OpenSim's log stays in the trial folders


def test_a_cohort_trials_markers_file_takes_its_folders_name_as_trial_id(tmp_path):
    from gait2hip.workflows.commands.label_trial import default_trial_id

    trial = tmp_path / "S01" / "trials" / "walk_03"
    trial.mkdir(parents=True)
    (trial / "markers.trc").write_text("")
    assert default_trial_id(trial / "markers.trc") == "markers"  # no trial.yaml: not a cohort trial
    (trial / "trial.yaml").write_text("id: walk_03\n")
    assert default_trial_id(trial / "markers.trc") == "walk_03"
    assert default_trial_id(tmp_path / "walk1.trc") == "walk1"
