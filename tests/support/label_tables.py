"""Small label tables for the surrogate and workflow tests: walks whose targets follow the angles.

Nothing here is a label of a real or simulated person: the tables exist so that training,
fine-tuning and the sim-to-real protocol can be run end to end in seconds without OpenSim.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gait2hip.surrogate.dataset import INPUT_NAMES


def walk(seed: int, gain: float = 1.0, unknown_left_from: int | None = None, n_frames: int = 320) -> pd.DataFrame:
    """One walk of 3 right gait cycles (100 frames each); targets follow the angles (× ``gain``);
    with ``unknown_left_from`` the left leg's labels are unknown from that frame on."""
    rng = np.random.default_rng(seed)
    frames = np.arange(n_frames)
    phase = 2 * np.pi * frames / 100
    table = pd.DataFrame({"trial": "walk", "group": "healthy", "cadence_condition": "cadence_100",
                          "time": frames / 100.0, "stance_r": (frames + 1) % 100 < 60,
                          "stance_l": (frames + 51) % 100 < 60})
    for index, name in enumerate(INPUT_NAMES):
        shift = np.pi if name.endswith("_l") else 0.0
        table[name] = 20 * np.sin(phase + shift + 0.3 * index) + rng.normal(0, 1, n_frames)
    for side in "rl":
        table[f"hip_flexion_{side}_moment"] = gain * 0.05 * table[f"hip_flexion_{side}"] + rng.normal(0, 0.05, n_frames)
        table[f"glut_med1_{side}_force"] = gain * np.abs(0.4 * table[f"hip_adduction_{side}"]) + rng.normal(
            0, 0.1, n_frames)
    table["valid_r"] = True
    table["valid_l"] = True if unknown_left_from is None else frames < unknown_left_from
    return table


def write_dataset(folder: Path, walks: dict[str, pd.DataFrame]) -> Path:
    """``folder/subject=<id>/walk.parquet``, as ``gait2hip label`` writes a dataset."""
    for subject, table in walks.items():
        (folder / f"subject={subject}").mkdir(parents=True)
        table.to_parquet(folder / f"subject={subject}" / "walk.parquet", index=False)
    return folder
