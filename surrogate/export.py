"""Export a trained surrogate as a self-contained ``torch.export`` program (no gait2hip code needed to run it).

The exported module takes joint angles in degrees, ``(batch, sequence_length, n_inputs)``, in
the checkpoint's input order, and returns hip forces (N/kg) and moments (Nm/kg),
``(batch, sequence_length, n_targets)``: the standardisation and the non-negative muscle
forces are folded in. The sequence length
is fixed to what the model was trained on (101 points per gait cycle, or the window length),
because export unrolls the selective scan for one length; the batch size is free. Names,
units and the sequence length travel inside the file as ``gait2hip.json``. A model trained with
``moment_scaling: mass_height`` takes the subjects' body heights as a second input,
``(batch,)`` metres, and multiplies its moments (learned per metre of height) by them
(``"call": ["angles_deg", "body_height_m"]`` in the metadata)::

    extra = {"gait2hip.json": ""}
    model = torch.export.load("model.pt2", extra_files=extra).module()

(``torch.export`` is PyTorch's successor to TorchScript, which PyTorch 2.13 deprecates.)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gait2hip.core.atomic import write_atomically
from gait2hip.core.errors import CheckpointError
from gait2hip.surrogate.body_size import moment_channels
from gait2hip.surrogate.checkpoint import load_checkpoint
from gait2hip.surrogate.preprocessing import Standardizer
from gait2hip.surrogate.segmentation import CYCLE_POINTS

METADATA_FILE = "gait2hip.json"


class StandardisedSurrogate(nn.Module):
    """A surrogate with its input and target standardisation as buffers: degrees in, label units out."""

    def __init__(self, model: nn.Module, input_scaler: Standardizer, target_scaler: Standardizer,
                 force_mask: np.ndarray):
        super().__init__()
        self.model = model
        self.register_buffer("force_mask", torch.tensor(force_mask, dtype=torch.bool))
        self.register_buffer("input_mean", torch.tensor(input_scaler.mean, dtype=torch.float32))
        self.register_buffer("input_scale", torch.tensor(input_scaler.std, dtype=torch.float32))
        self.register_buffer("target_mean", torch.tensor(target_scaler.mean, dtype=torch.float32))
        self.register_buffer("target_scale", torch.tensor(target_scaler.std, dtype=torch.float32))

    def forward(self, angles_deg: torch.Tensor) -> torch.Tensor:
        standardised = (angles_deg - self.input_mean) / self.input_scale      # (B, T, n_inputs)
        output = self.model(standardised) * self.target_scale + self.target_mean  # (B, T, n_targets)
        return torch.where(self.force_mask, output.clamp_min(0.0), output)       # muscles only pull


class HeightScaledSurrogate(nn.Module):
    """A surrogate whose moments are per metre of body height: angles and heights in, label units out."""

    def __init__(self, surrogate: StandardisedSurrogate, moment_mask: np.ndarray):
        super().__init__()
        self.surrogate = surrogate
        self.register_buffer("moment_mask", torch.tensor(moment_mask, dtype=torch.bool))

    def forward(self, angles_deg: torch.Tensor, body_height_m: torch.Tensor) -> torch.Tensor:
        output = self.surrogate(angles_deg)                                      # (B, T, n_targets)
        return torch.where(self.moment_mask, output * body_height_m[:, None, None], output)


MAX_BATCH = 65536


def export_program(checkpoint: Path, out_path: Path) -> dict:
    """Export the checkpoint's model to ``out_path`` (``.pt2``); return the embedded metadata."""
    model, loaded = load_checkpoint(checkpoint)
    segmentation = loaded.segmentation
    length = CYCLE_POINTS if segmentation.mode == "cycles" else segmentation.window_frames
    wrapper = StandardisedSurrogate(model, loaded.input_scaler, loaded.target_scaler, loaded.force_mask).eval()
    example = torch.zeros(2, length, len(loaded.input_names))
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    scaling = loaded.training_config.moment_scaling
    if scaling == "mass_height":
        wrapper = HeightScaledSurrogate(wrapper, moment_channels(loaded.target_names)).eval()
        program = torch.export.export(wrapper, (example, torch.full((2,), 1.7)), dynamic_shapes=({0: batch}, {0: batch}))
    else:
        program = torch.export.export(wrapper, (example,), dynamic_shapes=({0: batch},))
    metadata = {
        "format": "gait2hip.torch-export.v1", "model": loaded.model, "sequence_length": length,
        "segmentation": segmentation.mode, "input_names": list(loaded.input_names),
        "input_unit": _one_unit(checkpoint, loaded.input_units), "target_names": loaded.target_names,
        "target_units": dict(zip(loaded.target_names, loaded.target_units)),
        "source_checkpoint": str(checkpoint), "moment_scaling": scaling,
        "call": ["angles_deg", "body_height_m"] if scaling == "mass_height" else ["angles_deg"],
    }
    extra = {METADATA_FILE: json.dumps(metadata, indent=1)}
    write_atomically(Path(out_path), lambda temporary: torch.export.save(program, str(temporary), extra_files=extra))
    return metadata


def _one_unit(checkpoint: Path, units: tuple[str, ...]) -> str:
    """The inputs' common unit: the exported program's metadata names one unit for every angle."""
    if len(set(units)) != 1:
        raise CheckpointError(checkpoint, f"its inputs mix units {sorted(set(units))}; export needs one unit")
    return units[0]
