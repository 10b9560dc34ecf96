"""Left–right mirroring of training trials (surrogate/augmentation.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gait2hip.surrogate.augmentation import mirror_sides, mirrored_name
from gait2hip.surrogate.dataset import find_channels, load_dataset
from gait2hip.surrogate.segmentation import SegmentationConfig, heel_strikes, segment_table


@pytest.mark.parametrize("column, expected", [
    ("hip_flexion_r", "hip_flexion_l"),
    ("ankle_angle_l", "ankle_angle_r"),
    ("hip_adduction_r_moment", "hip_adduction_l_moment"),
    ("glut_med1_l_force", "glut_med1_r_force"),
    ("add_long_r_force", "add_long_l_force"),
    ("stance_r", "stance_l"),
    ("affected_side", "affected_side"),
    ("lumbar_bending", "lumbar_bending"),
    ("body_mass_kg", "body_mass_kg"),
])
def test_mirrored_name_swaps_only_the_side_token(column, expected):
    assert mirrored_name(column) == expected


def test_mirroring_twice_gives_the_table_back():
    table = pd.DataFrame({"hip_flexion_r": [1.0], "hip_flexion_l": [2.0], "glut_med1_r_force": [3.0],
                          "glut_med1_l_force": [4.0], "time": [0.0]})
    mirrored = mirror_sides(table)
    assert mirrored["hip_flexion_r"].iloc[0] == 2.0 and mirrored["glut_med1_r_force"].iloc[0] == 4.0
    pd.testing.assert_frame_equal(mirror_sides(mirrored)[table.columns], table)


def test_a_one_sided_column_refuses_to_mirror():
    table = pd.DataFrame({"hip_flexion_r": [1.0], "hip_flexion_l": [2.0], "psoas_r_force": [3.0]})
    with pytest.raises(ValueError, match="psoas_r_force"):
        mirror_sides(table)


def test_mirrored_samples_are_the_real_labels_with_sides_swapped(labelled_dataset):
    table = load_dataset(labelled_dataset)
    channels = find_channels(table)
    inputs, targets = list(channels.inputs), channels.target_names
    windows = SegmentationConfig(mode="windows", window_frames=50, window_stride_frames=25)
    original = segment_table(table, inputs, targets, windows)
    mirrored = segment_table(mirror_sides(table), inputs, targets, windows)
    np.testing.assert_array_equal(mirrored.inputs, original.inputs[..., [inputs.index(mirrored_name(n)) for n in inputs]])
    np.testing.assert_array_equal(mirrored.targets,
                                  original.targets[..., [targets.index(mirrored_name(n)) for n in targets]])


def test_mirrored_cycles_run_from_left_heel_strike_to_left_heel_strike():
    n_frames = 300
    stance_l = (np.arange(n_frames) + 40) % 100 < 60          # left heel strikes at frames 60, 160, 260
    table = pd.DataFrame({"subject": "S01", "trial": "t", "time": np.arange(n_frames) / 100.0,
                          "stance_r": (np.arange(n_frames) % 100) < 60, "stance_l": stance_l,
                          "hip_flexion_r": 0.0, "hip_flexion_l": np.arange(n_frames, dtype=float),
                          "glut_med1_r_force": 0.0, "glut_med1_l_force": 1.0})
    mirrored = segment_table(mirror_sides(table), ["hip_flexion_r"], ["glut_med1_r_force"], SegmentationConfig())
    assert len(mirrored.inputs) == 2
    np.testing.assert_allclose(mirrored.inputs[:, [0, -1], 0], [[60.0, 160.0], [160.0, 260.0]])
    np.testing.assert_array_equal(mirrored.targets, 1.0)
