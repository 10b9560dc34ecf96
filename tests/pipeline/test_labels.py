"""The label table covers the frames SO solved; a real gap in SO's output is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gait2hip.core.errors import InputDataError
from gait2hip.core.opensim_files import write_mot
from gait2hip.pipeline.foot_contact import ContactReport, LegContact
from gait2hip.pipeline.labels import build_label_table
from gait2hip.pipeline.model_config import ModelConfig

RATE_HZ = 100.0
START_S, END_S = 0.57, 2.64
BODY_MASS_KG = 70.0
HIP_MUSCLES = ["glut_med1_r", "psoas_l"]


def _times(start_s: float, end_s: float) -> np.ndarray:
    return np.round(np.arange(round(start_s * RATE_HZ), round(end_s * RATE_HZ) + 1) / RATE_HZ, 6)


def _write_tables(folder: Path, so_times: np.ndarray) -> dict[str, Path]:
    """IK, ID on the trial's frames (0.57-2.64 s) and SO on ``so_times``; values are known ramps of time."""
    model_config = ModelConfig.load("gait2392")
    times = _times(START_S, END_S)
    ik = {name: 10.0 * times for name in model_config.input_coordinates}
    inverse_dynamics = {f"{name}_moment": BODY_MASS_KG * times for name in model_config.hip_coordinates}
    static_optimization = {muscle: BODY_MASS_KG * 2.0 * so_times for muscle in HIP_MUSCLES}
    return {
        "ik_coordinates_path": write_mot(folder / "ik.mot", ik, times, in_degrees=True),
        "id_forces_path": write_mot(folder / "id.sto", inverse_dynamics, times, in_degrees=False),
        "so_forces_path": write_mot(folder / "so.sto", static_optimization, so_times, in_degrees=False),
    }


def _build(paths: dict[str, Path], notes: list[str] | None = None):
    times = _times(START_S, END_S)
    on_plate = {"r": np.ones(len(times), dtype=bool), "l": np.zeros(len(times), dtype=bool)}
    contact = ContactReport(times, {side: LegContact(side, flags, flags, np.ones(len(times), dtype=bool), ())
                                    for side, flags in on_plate.items()}, {"r": (), "l": ()})
    return build_label_table(**paths, model_config=ModelConfig.load("gait2392"), hip_muscles=HIP_MUSCLES,
                             body_mass_kg=BODY_MASS_KG, contact=contact, notes=notes)


def test_so_one_frame_short_gives_labels_ending_where_so_ends_with_a_note(tmp_path):
    paths = _write_tables(tmp_path, _times(START_S, END_S - 1 / RATE_HZ))
    notes: list[str] = []

    table = _build(paths, notes)

    assert table["time"].iloc[0] == pytest.approx(START_S)
    assert table["time"].iloc[-1] == pytest.approx(2.63)
    assert len(table) == len(_times(START_S, END_S)) - 1
    np.testing.assert_allclose(table["glut_med1_r_force"], 2.0 * table["time"], atol=1e-9)
    np.testing.assert_allclose(table["hip_flexion_r_moment"], table["time"], atol=1e-9)
    assert len(notes) == 1 and "2.630" in notes[0] and "2.640" in notes[0]


def test_so_covering_every_frame_leaves_the_labels_untrimmed_and_no_note(tmp_path):
    paths = _write_tables(tmp_path, _times(START_S, END_S))
    notes: list[str] = []
    table = _build(paths, notes)
    assert len(table) == len(_times(START_S, END_S)) and notes == []


def test_so_two_frames_short_is_refused(tmp_path):
    paths = _write_tables(tmp_path, _times(START_S, END_S - 2 / RATE_HZ))
    with pytest.raises(InputDataError, match=r"so\.sto.*0\.570-2\.620 s.*2 frames missing at the end"):
        _build(paths)


def test_so_missing_frames_in_the_middle_is_refused(tmp_path):
    so_times = _times(START_S, END_S)
    so_times = np.concatenate([so_times[:50], so_times[53:]])
    paths = _write_tables(tmp_path, so_times)
    with pytest.raises(InputDataError, match=r"so\.sto.*frames missing between 1\.060 and 1\.100 s"):
        _build(paths)
