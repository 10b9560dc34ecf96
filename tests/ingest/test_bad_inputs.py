"""Bad C3D input: a clear InputDataError naming the file and the problem, and nothing written."""

from __future__ import annotations

import numpy as np
import pytest

from gait2hip.ingest.config import IngestConfig
from gait2hip.ingest.convert import convert_c3d_trial
from gait2hip.ingest.writers import staged_folder
from gait2hip.core.errors import InputDataError


def _assert_nothing_written(subject_dir):
    assert not subject_dir.exists(), f"left behind: {sorted(p.name for p in subject_dir.rglob('*'))}"


def _convert_expecting(c3d, subject_dir, match, **config):
    with pytest.raises(InputDataError, match=match) as error:
        convert_c3d_trial(c3d, subject_dir, config=IngestConfig(**config))
    assert error.value.path.name == c3d.name
    _assert_nothing_written(subject_dir)
    return error.value


def test_truncated_c3d(scenarios, tmp_path):
    c3d = scenarios.write_c3d(tmp_path / "walk.c3d", scenarios.walking_scenario())
    c3d.write_bytes(c3d.read_bytes()[: int(c3d.stat().st_size * 0.6)])
    _convert_expecting(c3d, tmp_path / "S01", "truncated: the header announces 251 frames")


def test_file_that_is_not_a_c3d(tmp_path):
    c3d = tmp_path / "walk.c3d"
    c3d.write_text("Frame#\tTime\tRASI\n" * 100)
    _convert_expecting(c3d, tmp_path / "S01", "not a C3D file")


def test_empty_file(tmp_path):
    c3d = tmp_path / "walk.c3d"
    c3d.write_bytes(b"")
    _convert_expecting(c3d, tmp_path / "S01", "0 bytes long")


def test_missing_file(tmp_path):
    with pytest.raises(InputDataError, match="C3D file not found"):
        convert_c3d_trial(tmp_path / "nowhere.c3d", tmp_path / "S01")
    _assert_nothing_written(tmp_path / "S01")


def test_walking_trial_without_force_plates(scenarios, tmp_path):
    c3d = scenarios.write_c3d(tmp_path / "walk.c3d", scenarios.walking_scenario(plates=()))
    _convert_expecting(c3d, tmp_path / "S01", "has no force plates")


def test_plate_channels_missing_from_the_analog_data(scenarios, tmp_path):
    c3d = scenarios.write_c3d(tmp_path / "walk.c3d", scenarios.walking_scenario(channel_offset=3))
    error = _convert_expecting(c3d, tmp_path / "S01", "missing force-plate channels")
    assert "plate 2 reads analog channel(s) [13, 14, 15]" in error.problem
    assert "holds 12 analog channel(s)" in error.problem


def test_inconsistent_analog_and_marker_rates(scenarios, tmp_path):
    c3d = scenarios.write_c3d(tmp_path / "walk.c3d", scenarios.walking_scenario())
    scenarios.set_analog_rate_in_file(c3d, 1200.0)
    _convert_expecting(c3d, tmp_path / "S01", r"inconsistent rates: ANALOG:RATE is 1200 Hz but the header stores 10")


def test_required_markers_missing_from_the_file_are_listed(scenarios, tmp_path):
    walk = scenarios.walking_scenario()
    keep = [i for i, name in enumerate(walk.marker_names) if name not in ("RHEE", "LTOE")]
    scenario = walk.with_(marker_names=tuple(walk.marker_names[i] for i in keep), positions_m=walk.positions_m[:, keep])
    c3d = scenarios.write_c3d(tmp_path / "walk.c3d", scenario)
    error = _convert_expecting(c3d, tmp_path / "S01", "required model marker", protocol="plug_in_gait")
    assert "R.Heel (needs RHEE)" in error.problem and "L.Toe.Med (needs LTOE)" in error.problem


def test_required_markers_the_protocol_does_not_map_are_listed(scenarios, tmp_path):
    c3d = scenarios.write_c3d(tmp_path / "walk.c3d", scenarios.walking_scenario())
    _convert_expecting(c3d, tmp_path / "S01", "not mapped by protocol 'plug_in_gait': R.Thigh.Upper, R.Midfoot.Sup",
                       protocol="plug_in_gait", required_markers=("R.Thigh.Upper", "R.Midfoot.Sup"))


def test_plates_nobody_stepped_on(scenarios, tmp_path):
    def nothing(times_s):
        return np.zeros((len(times_s), 3)), np.zeros((len(times_s), 3)), np.zeros(len(times_s))
    scenario = scenarios.walking_scenario(plates=(scenarios.PlateSpec((1.25, 0.0, 0.0), nothing),))
    c3d = scenarios.write_c3d(tmp_path / "walk.c3d", scenario)
    _convert_expecting(c3d, tmp_path / "S01", "no force plate carries more than 20 N")


def test_load_far_from_both_feet_names_the_plate_and_can_be_ignored(scenarios, tmp_path):
    def hand_on_plate(times_s):
        on = ((times_s > 1.0) & (times_s < 1.4)).astype(float)
        force = np.column_stack([np.zeros_like(on), 150.0 * on, np.zeros_like(on)])
        return force, np.tile([3.0, 0.0, 1.0], (len(times_s), 1)), np.zeros_like(on)
    walk = scenarios.walking_scenario()
    scenario = walk.with_(plates=walk.plates + (scenarios.PlateSpec((3.0, 0.0, 1.0), hand_on_plate),))
    c3d = scenarios.write_c3d(tmp_path / "walk.c3d", scenario)
    _convert_expecting(c3d, tmp_path / "S01", r"plate 3 at 0\.99.*155 cm from the nearest foot.*--ignore-plates 3")
    result = convert_c3d_trial(c3d, tmp_path / "S01", config=IngestConfig(ignore_plates=(3,)))
    assert [contact.plate_number for contact in result.contacts] == [1, 2]


def test_filter_cutoff_above_nyquist(scenarios, tmp_path):
    c3d = scenarios.write_c3d(tmp_path / "walk.c3d", scenarios.walking_scenario(analog_rate_hz=100.0))
    _convert_expecting(c3d, tmp_path / "S01", "cut-off 50 Hz must be below half the analog rate")


def test_existing_trial_is_kept_unless_overwrite(scenarios, tmp_path):
    c3d = scenarios.write_c3d(tmp_path / "walk.c3d", scenarios.walking_scenario())
    first = convert_c3d_trial(c3d, tmp_path / "S01")
    (first.paths["trial"].parent / "note.txt").write_text("mine")
    with pytest.raises(InputDataError, match="already exists; pass --overwrite"):
        convert_c3d_trial(c3d, tmp_path / "S01")
    assert (first.paths["trial"].parent / "note.txt").exists()
    convert_c3d_trial(c3d, tmp_path / "S01", overwrite=True)
    assert sorted(p.name for p in first.paths["trial"].parent.iterdir()) == [
        "grf.mot", "ingest_summary.json", "markers.trc", "trial.yaml"]


def test_a_failed_write_leaves_no_folder_behind(tmp_path):
    target = tmp_path / "S01" / "trials" / "walk"
    with pytest.raises(RuntimeError, match="disk full"):
        with staged_folder(target, overwrite=False) as staging:
            (staging / "markers.trc").write_text("partial")
            raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []
