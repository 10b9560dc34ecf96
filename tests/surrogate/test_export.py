"""Exported surrogates (torch.export) give the checkpoint's predictions, without gait2hip's code."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from gait2hip.surrogate.checkpoint import load_checkpoint
from gait2hip.surrogate.config import TrainingConfig
from gait2hip.surrogate.export import export_program
from gait2hip.surrogate.inference import predict_segments
from gait2hip.surrogate.train import train_from_config

LOAD_AND_RUN = """
import json, sys, numpy, torch
extra = {"gait2hip.json": ""}
model = torch.export.load(sys.argv[1], extra_files=extra).module()
meta = json.loads(extra["gait2hip.json"])
angles = torch.tensor(numpy.load(sys.argv[2]), dtype=torch.float32)
heights = [torch.tensor([1.2, 1.5, 1.9])] if meta["call"] == ["angles_deg", "body_height_m"] else []
numpy.save(sys.argv[3], model(angles, *heights).detach().numpy())
print(json.dumps({"gait2hip_modules": sorted(m for m in sys.modules if m.split(".")[0] in ("surrogate", "pipeline")),
                  "length": meta["sequence_length"]}))
"""


@pytest.mark.parametrize("model_name", ["lstm", "transformer", "mamba"])
def test_exported_model_matches_the_checkpoint_in_a_fresh_process(labelled_dataset, tmp_path, model_name):
    config = TrainingConfig.from_yaml(f"surrogate/configs/{model_name}.yaml")
    config = dataclasses.replace(config, max_epochs=1, split_fractions=(0.34, 0.33, 0.33))
    run = train_from_config(config, labelled_dataset, tmp_path / "run")
    metadata = export_program(run.best_checkpoint, tmp_path / "model.pt2")
    model, checkpoint = load_checkpoint(run.best_checkpoint)
    angles = np.random.default_rng(0).normal(0.0, 20.0, (3, metadata["sequence_length"], 10))
    np.save(tmp_path / "angles.npy", angles)

    process = subprocess.run([sys.executable, "-c", LOAD_AND_RUN, str(tmp_path / "model.pt2"), str(tmp_path / "angles.npy"),
                              str(tmp_path / "out.npy")], capture_output=True, text=True, check=True, cwd=tmp_path)

    report = json.loads(process.stdout.strip().splitlines()[-1])
    assert report == {"gait2hip_modules": [], "length": 101}
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), predict_segments(model, checkpoint, angles), rtol=1e-4, atol=1e-4)
    assert metadata["target_units"]["glut_med1_r_force"] == "N/kg" and metadata["input_unit"] == "deg"


def test_an_exported_height_scaled_model_takes_the_heights_beside_the_angles(labelled_dataset, tmp_path):
    config = TrainingConfig.from_yaml("surrogate/configs/lstm.yaml")
    config = dataclasses.replace(config, max_epochs=1, split_fractions=(0.34, 0.33, 0.33), moment_scaling="mass_height")
    run = train_from_config(config, labelled_dataset, tmp_path / "run")
    metadata = export_program(run.best_checkpoint, tmp_path / "model.pt2")
    model, checkpoint = load_checkpoint(run.best_checkpoint)
    angles = np.random.default_rng(0).normal(0.0, 20.0, (3, metadata["sequence_length"], 10))
    np.save(tmp_path / "angles.npy", angles)

    subprocess.run([sys.executable, "-c", LOAD_AND_RUN, str(tmp_path / "model.pt2"), str(tmp_path / "angles.npy"),
                    str(tmp_path / "out.npy")], capture_output=True, text=True, check=True, cwd=tmp_path)

    assert metadata["call"] == ["angles_deg", "body_height_m"] and metadata["moment_scaling"] == "mass_height"
    expected = predict_segments(model, checkpoint, angles, np.array([1.2, 1.5, 1.9]))
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, rtol=1e-4, atol=1e-4)
