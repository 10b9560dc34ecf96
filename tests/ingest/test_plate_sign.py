"""A plate's sign is read off its stance loads, not off its zero offset."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from gait2hip.ingest.axes import LabAxes, rotation_to_opensim
from gait2hip.ingest.c3d_reader import PlateRecording
from gait2hip.ingest.force_plates import plate_reaction

RATE_HZ = 1000.0
# OpenSim's walking2.c3d: plate 2 reads -20 to -27 N when nobody stands on it, 40 % of the trial.
OFFSET_N = -25.0
PEAK_N = 750.0
THRESHOLD_N = 20.0
Z_UP = LabAxes("+z", "+x", rotation_to_opensim("+z", "+x"), "given", "given")


def _plate(vertical_n: np.ndarray) -> PlateRecording:
    force = np.zeros((len(vertical_n), 3))
    force[:, 2] = vertical_n
    corners = np.array([[0.3, 0.2, 0.0], [-0.3, 0.2, 0.0], [-0.3, -0.2, 0.0], [0.3, -0.2, 0.0]])
    return PlateRecording(1, force, np.zeros_like(force), corners.mean(axis=0), corners)


def _stance_with_offset(sign: float) -> np.ndarray:
    """2 s: one 0.6 s stance (half-sine) and an unloaded plate reading OFFSET_N the rest of the time."""
    times = np.arange(int(2 * RATE_HZ)) / RATE_HZ
    phase = (times - 0.5) / 0.6
    stance = (phase >= 0) & (phase <= 1)
    return np.where(stance, sign * PEAK_N * np.sin(np.pi * np.clip(phase, 0, 1)), OFFSET_N)


def _reaction(vertical_n):
    return plate_reaction(_plate(vertical_n), Z_UP, rate_hz=RATE_HZ, cutoff_hz=None, order=4,
                          threshold_n=THRESHOLD_N, source_path=Path("walk.c3d"))


def test_a_zero_offset_below_the_threshold_does_not_flip_an_upward_plate(caplog):
    with caplog.at_level(logging.WARNING, logger="gait2hip.ingest.force_plates"):
        loads = _reaction(_stance_with_offset(+1.0))
    assert "downwards" not in caplog.text
    assert loads.force_n[:, 1].max() > 0.99 * PEAK_N
    assert 0.55 < loads.loaded.sum() / RATE_HZ < 0.6  # the stance only, not the offset


def test_a_plate_carrying_the_action_is_still_flipped_despite_an_offset(caplog):
    with caplog.at_level(logging.WARNING, logger="gait2hip.ingest.force_plates"):
        loads = _reaction(_stance_with_offset(-1.0))
    assert "pulls the subject downwards" in caplog.text
    assert loads.force_n[:, 1].max() > 0.99 * PEAK_N
