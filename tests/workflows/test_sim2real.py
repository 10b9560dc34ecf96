"""``gait2hip sim2real``: (a) zero-shot, (b) real-only folds, (c) fine-tuned folds, on tiny tables built here.

No OpenSim and nothing of ``runs/``: a "virtual" and a "real" label dataset are written by the
test, and the models are tiny LSTMs (a training-configs folder of the test's own).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from gait2hip.core.errors import ConfigError, InputDataError
from gait2hip.surrogate.checkpoint import read_checkpoint
from gait2hip.workflows.cli import main
from gait2hip.workflows.sim2real import PROTOCOLS, Sim2RealConfig, run_sim2real
from support.label_tables import walk, write_dataset

TINY_LSTM = {"model": "lstm", "model_config": {"hidden_size": 8, "n_layers": 1, "bidirectional": False, "dropout": 0.0},
             "split_fractions": [0.5, 0.25, 0.25], "max_epochs": 2, "patience": 2, "batch_size": 4, "num_threads": 1}
REAL_SUBJECTS = [f"R{i:02d}" for i in range(5)]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sim2real")
    virtual = {f"V{i:02d}": walk(i) for i in range(4)}
    virtual["A00"] = walk(50).assign(group="antalgic-hip")
    configs = root / "configs"
    configs.mkdir()
    (configs / "lstm.yaml").write_text(yaml.safe_dump(TINY_LSTM))
    return {"virtual": write_dataset(root / "virtual", virtual),
            "real": write_dataset(root / "real", {s: walk(100 + i, gain=1.3, unknown_left_from=180)
                                                  for i, s in enumerate(REAL_SUBJECTS)}),
            "configs": configs, "root": root}


def _config_file(inputs: dict[str, Path], folder: Path, **changes) -> Path:
    content = {"name": "tiny", "virtual_dataset": str(inputs["virtual"]), "real_dataset": str(inputs["real"]),
               "out": str(folder / "out"), "models": ["lstm"], "training_configs_dir": str(inputs["configs"]),
               "folds": 2, "validation_subjects": 1, "seed": 7, "real": {"max_epochs": 2, "patience": 2},
               "fine_tune": {"max_epochs": 2, "patience": 2}, **changes}
    path = folder / "sim2real.yaml"
    path.write_text(yaml.safe_dump(content))
    return path


def test_the_command_writes_the_three_protocols_side_by_side(inputs, tmp_path, capsys):
    assert main(["sim2real", str(_config_file(inputs, tmp_path)), "--out", str(tmp_path / "run")]) == 0
    console = capsys.readouterr().out
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    report = (tmp_path / "run" / "report.md").read_text()
    model = summary["models"]["lstm"]
    assert set(model["protocols"]) == set(PROTOCOLS)
    for protocol in PROTOCOLS:
        scores = model["protocols"][protocol]["scores"]
        assert set(scores) == {"moments", "forces"} and scores["moments"]["n_subjects"] == len(REAL_SUBJECTS)
        assert f"| lstm | {PROTOCOLS[protocol]} |" in report
    for protocol in ("real_only", "fine_tune"):
        folds = model["protocols"][protocol]["folds"]
        assert sorted(s for fold in folds for s in fold["test"]) == REAL_SUBJECTS
        assert [fold["test"] for fold in folds] == [fold["test"] for fold in summary["folds"]]
    gap = model["generalisation_gap"]["moments_r2"]
    assert gap == pytest.approx(model["virtual_test"]["scores"]["moments"]["r2_mean"]
                                - model["protocols"]["zero_shot"]["scores"]["moments"]["r2_mean"])
    assert "virtual cohort = synthetic" in report.lower() and str(inputs["real"].resolve()) in report
    assert summary["seeds"]["folds"] == 7 and summary["real_subjects"] == REAL_SUBJECTS
    assert console.count("fold 1/2") == 2 and console.count("fold 2/2") == 2    # one line per fold and protocol


def test_each_fine_tune_starts_from_the_virtual_checkpoint_on_the_real_only_folds_subjects(inputs, tmp_path):
    summary = run_sim2real(Sim2RealConfig.from_yaml(_config_file(inputs, tmp_path)), progress=lambda line: None)
    out, model = tmp_path / "out", summary["models"]["lstm"]
    for real, tuned in zip(model["protocols"]["real_only"]["folds"], model["protocols"]["fine_tune"]["folds"]):
        real_checkpoint, tuned_checkpoint = read_checkpoint(out / real["checkpoint"]), read_checkpoint(
            out / tuned["checkpoint"])
        assert real_checkpoint.split == tuned_checkpoint.split
        assert real_checkpoint.fine_tuned_from is None
        assert tuned_checkpoint.fine_tuned_from.sha256 == model["virtual_checkpoint_sha256"]
        assert tuned_checkpoint.training_config.learning_rate == 5e-4


def test_the_same_seed_gives_the_same_summary_bytes(inputs, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    for folder in (first, second):
        folder.mkdir()
        run_sim2real(Sim2RealConfig.from_yaml(_config_file(inputs, folder)), progress=lambda line: None)
    assert (first / "out" / "summary.json").read_bytes() == (second / "out" / "summary.json").read_bytes()
    assert (first / "out" / "report.md").read_bytes() == (second / "out" / "report.md").read_bytes()


def test_a_rerun_trains_nothing_again_and_writes_the_same_summary(inputs, tmp_path):
    config = Sim2RealConfig.from_yaml(_config_file(inputs, tmp_path))
    run_sim2real(config, progress=lambda line: None)
    before = (tmp_path / "out" / "summary.json").read_bytes()
    checkpoint = tmp_path / "out" / "models" / "lstm" / "fine_tune" / "fold_1" / "best.pt"
    written = checkpoint.stat().st_mtime_ns
    lines: list[str] = []
    run_sim2real(config, progress=lines.append)
    assert sum("up to date" in line for line in lines) == 1 + 2 * 2     # (a), and every fold of (b) and (c)
    assert checkpoint.stat().st_mtime_ns == written
    assert (tmp_path / "out" / "summary.json").read_bytes() == before


def test_a_changed_budget_retrains_the_folds_it_changes(inputs, tmp_path):
    run_sim2real(Sim2RealConfig.from_yaml(_config_file(inputs, tmp_path)), progress=lambda line: None)
    lines: list[str] = []
    run_sim2real(Sim2RealConfig.from_yaml(_config_file(inputs, tmp_path, fine_tune={"max_epochs": 1})),
                 progress=lines.append)
    assert sum("up to date" in line for line in lines) == 1 + 2            # (a) and (b) kept, (c) retrained


def test_finished_virtual_models_are_reused_not_retrained(inputs, tmp_path):
    first = tmp_path / "first"
    first.mkdir()
    run_sim2real(Sim2RealConfig.from_yaml(_config_file(inputs, first)), progress=lambda line: None)
    models = first / "out" / "models"      # holds lstm/virtual/best.pt; reuse wants DIR/<model>/best.pt
    (models / "lstm" / "best.pt").write_bytes((models / "lstm" / "virtual" / "best.pt").read_bytes())
    second = tmp_path / "second"
    second.mkdir()
    assert main(["sim2real", str(_config_file(inputs, second)), "--virtual-checkpoints", str(models)]) == 0
    summary = json.loads((second / "out" / "summary.json").read_text())
    assert summary["models"]["lstm"]["virtual_checkpoint_reused"] is True
    assert not (second / "out" / "models" / "lstm" / "virtual").exists()
    reference = json.loads((first / "out" / "summary.json").read_text())["models"]["lstm"]
    assert summary["models"]["lstm"]["protocols"] == reference["protocols"]


def test_leave_one_subject_out_holds_each_real_subject_out_alone(inputs, tmp_path):
    summary = run_sim2real(Sim2RealConfig.from_yaml(_config_file(inputs, tmp_path, folds="loso")),
                           progress=lambda line: None)
    assert all(len(fold["test"]) == 1 for fold in summary["folds"])
    assert sorted(fold["test"][0] for fold in summary["folds"]) == REAL_SUBJECTS
    assert summary["models"]["lstm"]["protocols"]["fine_tune"]["scores"]["moments"]["n_subjects"] == 5


def test_a_real_dataset_with_other_target_channels_is_refused_naming_them(inputs, tmp_path):
    other = write_dataset(tmp_path / "other", {s: walk(i).rename(columns={"glut_med1_l_force": "psoas_l_force"})
                                               for i, s in enumerate(REAL_SUBJECTS)})
    config = Sim2RealConfig.from_yaml(_config_file(inputs, tmp_path, real_dataset=str(other)))
    with pytest.raises(InputDataError, match="glut_med1_l_force") as error:
        run_sim2real(config, progress=lambda line: None)
    assert "psoas_l_force" in str(error.value) and not (tmp_path / "out" / "summary.json").exists()


@pytest.mark.parametrize("changes, named", [({"folds": 9}, "folds"), ({"folds": 1}, "folds"),
                                            ({"folds": "five"}, "folds"), ({"validation_subjects": 3}, "validation"),
                                            ({"models": ["gpt"]}, "gpt"), ({"real": {"max_epochs": 0}}, "max_epochs")])
def test_an_impossible_protocol_is_refused_before_any_training(inputs, tmp_path, changes, named):
    with pytest.raises((ConfigError, ValueError), match=named):
        run_sim2real(Sim2RealConfig.from_yaml(_config_file(inputs, tmp_path, **changes)), progress=lambda line: None)
    assert not (tmp_path / "out" / "models").exists()
