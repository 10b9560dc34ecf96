"""``update_readme``: the README gets a compact results table, ``docs/results/<name>.md`` the full report.

The run output is built here by hand, file by file, in the layout ``gait2hip run`` writes
(summary.json, each model's evaluation CSVs and training summary, the timing table), so the
test needs neither OpenSim nor training.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from gait2hip.core.errors import InputDataError
from gait2hip.workflows.report import readme_markers, update_readme

MODELS = {"lstm": (0.812, 0.871), "transformer": (0.903, 0.944)}   # test R² (forces, moments) of the fake run
SPEEDUPS = {"lstm": 8123.4, "transformer": 10456.7}
PNG = b"\x89PNG\r\n\x1a\n fake figure"


def _fake_run(folder):
    """A finished run of workflow ``tiny`` under ``folder/run``: two models, test and zero-shot, timing."""
    out, cohort = folder / "run", folder / "cohort"
    cohort.mkdir(parents=True)
    (cohort / "cohort.yaml").write_text("name: tiny\ndescription: two synthetic subjects\nsynthetic: true\n")
    dataset = folder / "dataset.parquet"
    pd.DataFrame({"subject": ["S01", "S02", "S03"], "trial": ["cadence_090_01", "cadence_090_01", "self_01"],
                  "group": ["healthy", "healthy", "antalgic-hip"],
                  "cadence_condition": ["cadence_090", "cadence_090", "self_selected"]}).to_parquet(dataset)
    for model, (forces_r2, moments_r2) in MODELS.items():
        evaluation = out / "models" / model / "evaluation"
        evaluation.mkdir(parents=True)
        rows = []
        for name, shift, n_subjects in (("test", 0.0, 2), ("zero-shot", -0.2, 1)):
            for target, r2, rmse in (("forces", forces_r2, 0.3), ("moments", moments_r2, 0.07)):
                rows += [{"model": model, "evaluation": name, "target": target, "metric": "r2",
                          "mean": r2 + shift, "sd": 0.021, "n_subjects": n_subjects},
                         {"model": model, "evaluation": name, "target": target, "metric": "rmse",
                          "mean": rmse, "sd": 0.01, "n_subjects": n_subjects}]
        pd.DataFrame(rows).to_csv(evaluation / "results.csv", index=False)
        pd.DataFrame({"channel": ["glut_med1_r_force", "hip_flexion_r_moment"], "metric": ["r2", "r2"],
                      "value": [forces_r2, moments_r2], "cadence": ["cadence_090"] * 2,
                      "subject": ["S02"] * 2}).to_csv(evaluation / "metrics_test.csv", index=False)
        for figure in ("cycles_test.png", "cycles_zero-shot.png", "cadence_test.png"):
            (evaluation / figure).write_bytes(PNG + model.encode())
        (out / "models" / model / "summary.json").write_text(json.dumps({
            "n_parameters": 1000, "epochs_run": 12, "best_epoch": 7, "seconds_per_epoch_median": 0.5,
            "n_train_segments": 10, "n_validation_segments": 4,
            "split": {"train": ["S01"], "validation": ["S04"], "test": ["S02"]}}))
    (out / "timing").mkdir()
    (out / "timing" / "timing.md").write_text("| model | speed-up |\n|---|---|\n| lstm | fake timing table |\n")
    (out / "timing" / "timing.png").write_bytes(PNG + b"timing")
    gap = {"forces_r2": -0.2, "moments_r2": -0.2, "forces_rmse": 0.1, "moments_rmse": 0.02}
    (out / "summary.json").write_text(json.dumps({
        "command": "gait2hip run tiny.yaml", "cohort": str(cohort), "dataset": str(dataset),
        "workflow": {"name": "tiny", "label": {"jobs": 2}, "evaluate": {"external_groups": ["antalgic-hip"]}},
        "labelling": {"trials": 3, "ok": 3, "warn": 0, "failed": 0, "reused": 0, "wall_time_s": 12.0, "failures": []},
        "checkpoints": {model: str(out / "models" / model / "best.pt") for model in MODELS},
        "evaluations": {model: {"generalisation_gap": gap} for model in MODELS},
        "timing": {"models": [{"model": model, "speedup": value} for model, value in SPEEDUPS.items()]},
        "step_seconds": {"label": 12.0, "train": 30.0}}))
    return out


@pytest.fixture
def repository(tmp_path):
    """A README copy with an old results block, and a finished fake run."""
    start, end = readme_markers("tiny")
    readme = tmp_path / "repo" / "README.md"
    readme.parent.mkdir()
    readme.write_text(f"# Title\n\nbefore\n\n{start}\nold numbers 0.123\n{end}\n\nafter\n")
    return readme, _fake_run(tmp_path)


def test_readme_block_becomes_the_compact_table_with_a_link_to_the_full_report(repository):
    readme, out = repository
    page = update_readme(readme, out, "gait2hip run tiny.yaml")
    text = readme.read_text()
    assert text.startswith("# Title\n\nbefore\n\n") and text.endswith("\n\nafter\n") and "old numbers" not in text
    block = text.split(readme_markers("tiny")[0])[1]
    assert "| transformer | 0.903 ± 0.021 | 0.944 ± 0.021 | 0.703 ± 0.021 | 0.744 ± 0.021 | 10,457× |" in block
    assert "| lstm | 0.812 ± 0.021 | 0.871 ± 0.021 | 0.612 ± 0.021 | 0.671 ± 0.021 | 8,123× |" in block
    assert "SYNTHETIC" in block and "Best on the held-out subjects: **transformer**" in block
    assert "[docs/results/tiny.md](docs/results/tiny.md)" in block
    assert "(docs/results/tiny/timing.png)" in block and "(docs/results/tiny/cycles_test.png)" in block
    assert "R² by cadence" not in block and "Training" not in block   # those live in the full report
    assert page == readme.parent / "docs" / "results" / "tiny.md"


def test_the_readme_block_has_one_speed_up_column_per_simulation_path_timed(repository):
    readme, out = repository
    summary = json.loads((out / "summary.json").read_text())
    summary["timing"]["models"] = [{"model": model, "solver": solver, "speedup": value * factor}
                                   for model, value in SPEEDUPS.items()
                                   for solver, factor in (("opensim", 1.0), ("batched", 0.1))]
    (out / "summary.json").write_text(json.dumps(summary))
    update_readme(readme, out, "gait2hip run tiny.yaml")
    block = readme.read_text().split(readme_markers("tiny")[0])[1]
    assert "speed-up over the path with OpenSim SO tool | speed-up over the path with batched SO |" in block
    assert "| 0.744 ± 0.021 | 10,457× | 1,046× |" in block and "| 0.671 ± 0.021 | 8,123× | 812× |" in block


def test_full_report_page_holds_every_table_and_the_copied_figures(repository):
    readme, out = repository
    page = update_readme(readme, out, "gait2hip run tiny.yaml")
    report = page.read_text()
    assert report.startswith("# Results of `gait2hip run tiny.yaml`\n")
    for heading in ("## Cohort and labels", "### test", "### zero-shot", "Generalisation gap", "### Training",
                    "R² by cadence", "## Runtime", "fake timing table", "## Reproduce"):
        assert heading in report
    assert "![transformer: zero-shot](tiny/cycles_zero-shot.png)" in report and "(tiny/timing.png)" in report
    figures = page.parent / "tiny"
    assert (figures / "cycles_test.png").read_bytes() == PNG + b"transformer"   # the best model's figures
    assert (figures / "timing.png").read_bytes() == PNG + b"timing"


def test_a_second_update_gives_the_same_bytes(repository):
    readme, out = repository
    page = update_readme(readme, out, "gait2hip run tiny.yaml")
    first = (readme.read_bytes(), page.read_bytes())
    update_readme(readme, out, "gait2hip run tiny.yaml")
    assert (readme.read_bytes(), page.read_bytes()) == first


def test_notes_outside_the_report_pages_markers_are_kept(repository):
    readme, out = repository
    page = update_readme(readme, out, "gait2hip run tiny.yaml")
    page.write_text("# Results of tiny\n\nHand-written notes on the run.\n\n" + page.read_text().split("\n\n", 1)[1]
                    .replace("## Cohort and labels", "## stale block text"))
    update_readme(readme, out, "gait2hip run tiny.yaml")
    report = page.read_text()
    assert report.startswith("# Results of tiny\n\nHand-written notes on the run.\n\n")
    assert "stale block text" not in report and "## Cohort and labels" in report


def test_readme_without_the_markers_is_an_error_that_writes_nothing(repository):
    readme, out = repository
    readme.write_text("# Title\n\nno results section\n")
    with pytest.raises(InputDataError, match="README.md.*gait2hip:results:tiny:start"):
        update_readme(readme, out, "gait2hip run tiny.yaml")
    assert readme.read_text() == "# Title\n\nno results section\n"
    assert not (readme.parent / "docs").exists()
