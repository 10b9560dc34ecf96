"""``gait2hip run``: the whole study on a tiny cohort, its report, reuse of finished steps, README section.

The cohort holds one broken trial: the run leaves it out, lists it in the report and goes on.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

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
    assert "simulation paths vs surrogate" in report and "speed-up" in report
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


# --- a measured-data workflow (workflows/real_biomechzoo.yaml): its checks, before any OpenSim call ---

REAL_WORKFLOW = Path(__file__).resolve().parents[2] / "workflows" / "real_biomechzoo.yaml"


def _real_workflow(tmp_path, **cohort):
    from gait2hip.workflows.workflow_config import WorkflowConfig

    values = yaml.safe_load(REAL_WORKFLOW.read_text())
    values["out"] = str(tmp_path / "run")
    values["cohort"].update(cohort)
    return WorkflowConfig.from_dict(values)


def test_real_workflow_without_a_corpus_is_an_error_naming_the_option(tmp_path):
    from gait2hip.core.errors import ConfigError
    from gait2hip.workflows.run_workflow import validate_workflow

    with pytest.raises(ConfigError, match="--corpus DIR"):
        validate_workflow(_real_workflow(tmp_path))


def test_real_workflow_with_an_absent_corpus_folder_names_it(tmp_path):
    from gait2hip.core.errors import InputDataError
    from gait2hip.workflows.run_workflow import validate_workflow

    with pytest.raises(InputDataError, match="C3D corpus folder not found") as raised:
        validate_workflow(_real_workflow(tmp_path, corpus=str(tmp_path / "no_such_corpus")))
    assert raised.value.path == tmp_path / "no_such_corpus"


def test_real_workflow_with_a_corpus_passes_its_checks(tmp_path):
    from gait2hip.workflows.run_workflow import validate_workflow

    corpus = tmp_path / "corpus" / "S01"
    corpus.mkdir(parents=True)
    validate_workflow(_real_workflow(tmp_path, corpus=str(corpus.parent)))


def test_real_workflow_does_not_train_by_default(tmp_path):
    config = _real_workflow(tmp_path, corpus=str(tmp_path))

    assert (config.cohort.kind, config.train.enabled) == ("corpus", False)


def test_corpus_and_cohort_folder_together_are_refused(tmp_path):
    from gait2hip.core.errors import ConfigError

    with pytest.raises(ConfigError, match="not both"):
        _real_workflow(tmp_path, corpus=str(tmp_path), folder=str(tmp_path))


def test_run_command_line_corpus_reaches_the_workflow(tmp_path, caplog):
    # The corpus of the command line is checked (and refused: absent) before anything is written.
    assert main(["run", str(REAL_WORKFLOW), "--out", str(tmp_path / "run"), "--corpus", str(tmp_path / "absent")]) == 2

    assert "cohort.corpus (--corpus): C3D corpus folder not found" in caplog.text
    assert not (tmp_path / "run" / "summary.json").exists()
