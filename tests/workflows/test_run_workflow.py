"""``gait2hip run``: the whole study on a tiny cohort, its report, reuse of finished steps, README section.

The cohort holds one broken trial: the run leaves it out, lists it in the report and goes on.
"""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from gait2hip.workflows.cli import main
from gait2hip.workflows.report import readme_markers, update_readme


@pytest.fixture(scope="module")
def finished_run(labelled_dataset, tmp_path_factory):
    folder = tmp_path_factory.mktemp("workflow")
    cohort = folder / "cohort"
    shutil.copytree(labelled_dataset.parent.parent / "cohort", cohort)
    good_trial = next((cohort / "S01" / "trials").iterdir())
    broken = shutil.copytree(good_trial, cohort / "S01" / "trials" / "broken_01")
    (broken / "trial.yaml").write_text((broken / "trial.yaml").read_text().replace(good_trial.name, "broken_01"))
    (broken / "grf.mot").write_text("not an OpenSim file\n")
    workflow = {
        "name": "tiny", "out": str(folder / "run"),
        "cohort": {"folder": str(cohort)},
        "label": {"jobs": 2},
        "train": {"models": ["lstm", "transformer", "mamba"], "max_epochs": 2, "split_fractions": [0.34, 0.33, 0.33]},
        "evaluate": {"external_groups": ["antalgic-hip"]},
        "timing": {"n_trials": 1, "repetitions": 1},
    }
    (folder / "tiny.yaml").write_text(yaml.safe_dump(workflow))
    assert main(["run", str(folder / "tiny.yaml")]) == 0
    return folder


def test_run_writes_a_report_with_every_model_and_the_runtime(finished_run):
    run = finished_run / "run"
    report = (run / "report.md").read_text()
    assert "SYNTHETIC data" in report
    for model in ("lstm", "transformer", "mamba"):
        assert f"| {model} |" in report
    assert "### test" in report and "### zero-shot" in report and "Generalisation gap" in report
    assert "OpenSim path vs surrogate" in report and "speed-up" in report
    assert "<table>" in (run / "report.html").read_text()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["labelling"]["failed"] == 1 and set(summary["checkpoints"]) == {"lstm", "transformer", "mamba"}
    assert "S01/broken_01" in report and "grf.mot" in report
    assert summary["timing"]["trials"] and summary["evaluations"]["mamba"]["generalisation_gap"]


def test_second_run_reuses_labels_trained_models_and_timing(finished_run, capsys):
    checkpoint = finished_run / "run" / "models" / "lstm" / "best.pt"
    before = checkpoint.stat().st_mtime_ns
    assert main(["run", str(finished_run / "tiny.yaml")]) == 0
    printed = capsys.readouterr().out
    assert "lstm: up to date" in printed and "timing: up to date" in printed
    assert checkpoint.stat().st_mtime_ns == before


def test_a_training_stopped_part_way_resumes_from_its_last_checkpoint(finished_run, capsys):
    run_dir = finished_run / "run" / "models" / "lstm"
    (run_dir / "summary.json").unlink()   # as if the run had been stopped before training ended
    best = (run_dir / "best.pt").read_bytes()
    assert main(["run", str(finished_run / "tiny.yaml")]) == 0
    printed = capsys.readouterr().out
    assert "lstm: resuming the interrupted training" in printed and "transformer: up to date" in printed
    assert (run_dir / "best.pt").read_bytes() == best   # nothing left to train: the same model
    assert json.loads((run_dir / "summary.json").read_text())["fingerprint"] == (run_dir / "training_started.txt").read_text().strip()


def test_readme_section_is_replaced_from_the_run(finished_run, tmp_path):
    readme = tmp_path / "README.md"
    start_marker, end_marker = readme_markers("tiny")
    readme.write_text(f"# Title\n\nbefore\n\n{start_marker}\nold numbers\n{end_marker}\n\nafter\n")
    update_readme(readme, finished_run / "run", "gait2hip run tiny.yaml")
    text = readme.read_text()
    assert text.startswith("# Title\n\nbefore") and text.rstrip().endswith("after") and "old numbers" not in text
    assert "| transformer |" in text and "do not edit by hand" in text
    assert (tmp_path / "docs" / "results" / "tiny" / "timing.png").is_file()
    assert "docs/results/tiny/timing.png" in text
