"""The realism comparison (gait2hip.workflows.realism, benchmarks/realism.py) on label tables built here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gait2hip.core.errors import InputDataError
from gait2hip.workflows.realism import (CYCLE_POINTS, SUMMED_FORCE, channel_names, compare, comparison_markdown,
                                        gait_cycles)

RATE_HZ = 100.0
STRIDE_S = 1.1


def label_table(n_subjects: int = 4, *, shift: float = 0.0, seed: int = 0, stride_s: float = STRIDE_S,
                duration_s: float = 4.0) -> pd.DataFrame:
    """Label rows of ``n_subjects`` walks: every channel a sine of its leg's phase plus a per-subject offset."""
    rng = np.random.default_rng(seed)
    frames = []
    time_s = np.arange(0.0, duration_s, 1.0 / RATE_HZ)
    for index in range(n_subjects):
        rows = {"subject": f"S{index:02d}", "trial": "walk", "time": time_s}
        offset = rng.normal(0.0, 1.0)
        for side, lag in (("r", 0.0), ("l", 0.5)):
            phase = (time_s / stride_s - lag + 0.05) % 1.0
            rows[f"stance_{side}"] = phase < 0.6
            rows[f"valid_{side}"] = np.ones(len(time_s), dtype=bool)
            for name in channel_names():
                if name.startswith(SUMMED_FORCE) or not (name.endswith(f"_{side}") or f"_{side}_" in name):
                    continue
                rows[name] = 10.0 * np.sin(2 * np.pi * phase) + offset + shift
            rows[f"glut_med1_{side}_force"] = 20.0 + 5.0 * np.cos(2 * np.pi * phase) + shift
            rows[f"psoas_{side}_force"] = np.full(len(time_s), 3.0)
        frames.append(pd.DataFrame(rows))
    return pd.concat(frames, ignore_index=True)


def by_channel(rows):
    return {row.channel: row for row in rows}


def test_a_dataset_against_itself_has_no_mean_difference_and_full_range_overlap():
    table = label_table(n_subjects=20)
    cycles = gait_cycles(table, where="test")
    rows = by_channel(compare(cycles, cycles))
    row = rows["hip_flexion_r"]
    assert row.mean_rmse == pytest.approx(0.0, abs=1e-9)
    assert row.range_overlap == pytest.approx(1.0)
    # The 5–95 % band of 40 curves leaves out about the two or three outermost at each point.
    assert row.inside_band >= 0.85
    assert row.reference_subjects == 20


def test_a_constant_shift_is_the_mean_curve_rmse_and_moves_points_out_of_the_band():
    candidate = gait_cycles(label_table(), where="virtual")
    reference = gait_cycles(label_table(shift=5.0), where="real")
    rows = by_channel(compare(candidate, reference))
    for name in ("knee_angle_l", "hip_adduction_r_moment"):
        assert rows[name].mean_rmse == pytest.approx(5.0, abs=1e-6)
        assert rows[name].inside_band < 0.2
        assert rows[name].range_overlap < 1.0
    # Summed force: one of the two muscles shifts.
    assert rows[f"{SUMMED_FORCE}_r"].mean_rmse == pytest.approx(5.0, abs=1e-6)


def test_mean_difference_is_counted_in_between_subject_sds_of_the_reference():
    reference_table = label_table(n_subjects=6, seed=3)
    reference = gait_cycles(reference_table, where="real")
    candidate = gait_cycles(label_table(shift=2.0, seed=3, n_subjects=6), where="virtual")
    row = by_channel(compare(candidate, reference))["hip_flexion_r"]
    offsets = reference_table.groupby("subject")["hip_flexion_r"].mean()
    # Each subject's mean curve is the same sine plus its own offset: the SD across subjects is theirs.
    assert row.between_subject_sd == pytest.approx(np.std(offsets.to_numpy() - offsets.mean(), ddof=1), rel=0.02)
    assert row.mean_difference_in_sd == pytest.approx(row.mean_rmse / row.between_subject_sd)


def test_a_legs_moments_count_only_on_its_valid_frames_and_its_angles_everywhere():
    reference_table = label_table()
    unknown = reference_table["time"] > 2.0
    reference_table.loc[unknown, "valid_r"] = False
    reference_table.loc[unknown, "hip_flexion_r_moment"] = 1e6   # what an unmeasured stance would give
    candidate = gait_cycles(label_table(), where="virtual")
    reference = gait_cycles(reference_table, where="real")
    rows = by_channel(compare(candidate, reference))
    assert rows["hip_flexion_r_moment"].mean_rmse == pytest.approx(0.0, abs=1e-9)
    assert np.isnan(reference.channels["hip_flexion_r_moment"].values).any()
    assert not np.isnan(reference.channels["hip_flexion_r"].values).any()


def test_cycles_run_from_heel_strike_to_heel_strike_and_implausible_ones_are_counted_out():
    table = label_table(n_subjects=1, duration_s=4.0)
    cycles = gait_cycles(table, where="test")
    strikes_r = np.flatnonzero(~table["stance_r"].to_numpy()[:-1] & table["stance_r"].to_numpy()[1:])
    assert cycles.channels["hip_flexion_r"].values.shape == (len(strikes_r) - 1, CYCLE_POINTS)
    running = gait_cycles(label_table(n_subjects=1, stride_s=0.4), where="test")
    assert running.channels["hip_flexion_r"].values.shape[0] == 0
    assert running.dropped_cycles["shorter_than_min"] > 0


def test_a_table_without_stance_columns_is_refused_naming_the_column():
    table = label_table(n_subjects=1).drop(columns=["stance_l"])
    with pytest.raises(InputDataError, match=r"my_labels.*stance_l"):
        gait_cycles(table, where="my_labels")


def test_the_table_marks_each_target():
    cycles = gait_cycles(label_table(), where="test")
    text = comparison_markdown(compare(cycles, cycles))
    assert "`hip_flexion_r` | deg |" in text and "✓" in text
    assert len(text.splitlines()) == 2 + len(channel_names())
