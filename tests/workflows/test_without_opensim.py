"""The surrogate side runs on a core install: with OpenSim and ezc3d unimportable, every command's
``--help`` works, ``train``, ``predict``, ``evaluate`` and ``export`` run, and the labelling
commands stop with one line naming the extra to install.

Each check runs in a fresh interpreter whose ``sys.modules`` maps ``opensim`` and ``ezc3d`` to
None, so any import of them (direct or transitive) raises ModuleNotFoundError there, as on a
machine where they are not installed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from gait2hip.workflows.cli import main

REPO = Path(__file__).resolve().parents[2]
WITHOUT_LAB = "import sys; sys.modules['opensim'] = None; sys.modules['ezc3d'] = None\n"
INSTALL_HINT = 'pip install "gait2hip[lab]"'
ANGLES = [f"{joint}_{side}" for side in "rl" for joint in
          ("hip_flexion", "hip_adduction", "hip_rotation", "knee_angle", "ankle_angle")]


def _python_without_lab(code: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WITHOUT_LAB + code], capture_output=True, text=True,
                          timeout=900, cwd=cwd)


def _gait2hip_without_lab(*args: str) -> subprocess.CompletedProcess:
    return _python_without_lab(f"from gait2hip.workflows.cli import main; sys.exit(main({list(args)!r}))")


def test_every_command_help_works_without_opensim():
    result = _python_without_lab("""
import argparse, contextlib, io, json
from gait2hip.workflows.cli import build_parser
parser = build_parser()
(commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
helps = {}
for name in [*commands.choices, "ingest c3d"]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        parser.parse_args([*name.split(), "--help"])
    helps[name] = out.getvalue()
heavy = sorted(m for m in ("torch", "pandas", "numpy", "scipy", "matplotlib") if m in sys.modules)
print(json.dumps({"helps": helps, "heavy": heavy}))
""")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {"train", "evaluate", "predict", "export", "label", "label-trial", "ingest", "ingest c3d",
            "synth", "run", "demo", "timing"} <= report["helps"].keys()
    for name, text in report["helps"].items():
        assert text.startswith(f"usage: gait2hip {name}"), name
    # Building the parser loads no command's heavy dependencies: --help stays fast.
    assert report["heavy"] == []


def test_surrogate_modules_never_import_opensim():
    walk = """
import importlib, pkgutil, sys
import gait2hip.core, gait2hip.surrogate
modules = [m.name for package in (gait2hip.core, gait2hip.surrogate)
           for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
modules += ["gait2hip.workflows.cli", "gait2hip.workflows.prediction_inputs", "gait2hip.workflows.console"]
for name in modules:
    importlib.import_module(name)
print(len(modules), sys.modules.get("opensim", "absent"), sys.modules.get("ezc3d", "absent"))
"""
    blocked = _python_without_lab(walk)
    assert blocked.returncode == 0, blocked.stderr
    assert int(blocked.stdout.split()[0]) > 15
    # With OpenSim installed, importing them does not load it either (not even behind a try).
    installed = subprocess.run([sys.executable, "-c", walk], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert installed.returncode == 0, installed.stderr
    assert installed.stdout.split()[1:] == ["absent", "absent"]


@pytest.fixture(scope="module")
def trained_without_opensim(labelled_dataset, tmp_path_factory):
    """A tiny LSTM (gait cycles) trained by ``gait2hip train`` with OpenSim unimportable."""
    folder = tmp_path_factory.mktemp("without_opensim")
    config = yaml.safe_load((REPO / "surrogate/configs/lstm.yaml").read_text())
    config |= {"model_config": {"hidden_size": 8, "n_layers": 1, "bidirectional": True, "dropout": 0.0},
               "split_fractions": [0.34, 0.33, 0.33], "max_epochs": 1}
    (folder / "tiny.yaml").write_text(yaml.safe_dump(config))
    result = _gait2hip_without_lab("train", "--config", str(folder / "tiny.yaml"), "--data", str(labelled_dataset),
                                   "--out", str(folder / "run"))
    assert result.returncode == 0, result.stderr
    table = pd.read_parquet(labelled_dataset)
    trial = table[table["subject"].astype(str) == "S01"]
    trial[["time", *ANGLES, "stance_r"]].to_csv(folder / "angles.csv", index=False)
    return folder


def test_predict_runs_without_opensim_and_matches_a_lab_install(trained_without_opensim):
    folder = trained_without_opensim
    checkpoint, angles = folder / "run" / "best.pt", folder / "angles.csv"
    result = _gait2hip_without_lab("predict", str(checkpoint), str(angles), "--out", str(folder / "core"))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and INSTALL_HINT in result.stderr  # why there is no .sto
    assert not (folder / "core.sto").exists()
    summary = json.loads((folder / "core.summary.json").read_text())
    assert summary["frames_predicted"] > 0
    # The same prediction on an install with OpenSim: identical numbers, plus the .sto copy.
    assert main(["predict", str(checkpoint), str(angles), "--out", str(folder / "lab")]) == 0
    assert (folder / "lab.sto").is_file()
    pd.testing.assert_frame_equal(pd.read_csv(folder / "core.csv"), pd.read_csv(folder / "lab.csv"))


def test_evaluate_and_export_run_without_opensim(trained_without_opensim, labelled_dataset):
    folder = trained_without_opensim
    checkpoint = folder / "run" / "best.pt"
    evaluated = _gait2hip_without_lab("evaluate", str(checkpoint), "--data", str(labelled_dataset),
                                      "--out", str(folder / "evaluation"), "--external-group", "antalgic-hip")
    assert evaluated.returncode == 0, evaluated.stderr
    assert (folder / "evaluation" / "results.md").is_file()
    exported = _gait2hip_without_lab("export", str(checkpoint), "--out", str(folder / "model.pt2"))
    assert exported.returncode == 0, exported.stderr
    assert (folder / "model.pt2").stat().st_size > 0


def test_predict_from_a_grf_file_without_opensim_names_the_lab_extra(trained_without_opensim, labelled_dataset):
    folder = trained_without_opensim
    grf = next((labelled_dataset.parent.parent / "cohort" / "S01" / "trials").glob("*/grf.mot"))
    result = _gait2hip_without_lab("predict", str(folder / "run" / "best.pt"), str(folder / "angles.csv"),
                                   "--grf", str(grf), "--out", str(folder / "from_grf"))
    assert result.returncode == 2
    assert INSTALL_HINT in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [
    ["label", "COHORT", "--out", "OUT"],
    ["label-trial", "--static", "s.trc", "--markers", "m.trc", "--grf", "g.mot", "--mass", "70", "--height", "1.7",
     "--out", "OUT"],
    ["ingest", "c3d", "trial.c3d", "--out", "OUT"],
    ["synth", "--out", "OUT"],
    ["demo", "--out", "OUT"],
    ["run", "workflows/demo.yaml", "--out", "OUT"],
    ["timing", "COHORT", "--data", "DATA", "--checkpoint", "best.pt", "--out", "OUT"],
], ids=lambda command: command[0])
def test_labelling_commands_without_opensim_exit_with_the_install_hint(command, tmp_path):
    out = tmp_path / "out"
    result = _gait2hip_without_lab(*[str(out) if word == "OUT" else word for word in command])
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: gait2hip {command[0]} needs the Python package ") and line.endswith(INSTALL_HINT)
    assert not out.exists()


def test_label_offers_the_batch_engines_backends():
    from gait2hip.pipeline.batch import BACKENDS
    from gait2hip.workflows.commands import label

    assert label.BACKENDS == BACKENDS
