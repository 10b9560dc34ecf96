"""Bad input gets a clear error naming the file and the problem, and no valid-looking output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gait2hip.pipeline.config import MarkerConfig, PipelineConfig
from gait2hip.core.errors import InputDataError
from gait2hip.pipeline.markers import check_and_fill, read_trc
from gait2hip.pipeline.subject import SubjectInfo
from gait2hip.pipeline.trial import LABELS_FILE, SUMMARY_FILE, label_trial
from support.synthetic_pipeline_data import marker_positions, write_still_grf, write_trc

RATE_HZ = 100.0
GAP_FILL_TOLERANCE_M = 2e-4


@pytest.fixture(scope="module")
def moving_markers(subject_files):
    """(names, positions in m) of a smooth 0.6 s motion, so gap filling has a known answer."""
    n_frames = 61
    phase = 2 * np.pi * np.arange(n_frames) / RATE_HZ
    return marker_positions(subject_files.marker_model_path,
                            {"hip_flexion_r": np.radians(20 * np.sin(phase)), "pelvis_tx": 1.2 * phase / (2 * np.pi)})


def test_marker_units_are_read_from_the_header(moving_markers, tmp_path):
    names, positions = moving_markers
    in_mm = read_trc(write_trc(tmp_path / "mm.trc", names, positions, RATE_HZ, units="mm"))
    in_m = read_trc(write_trc(tmp_path / "m.trc", names, positions, RATE_HZ, units="m"))
    np.testing.assert_allclose(in_mm.positions_m, positions, atol=1e-5)
    np.testing.assert_allclose(in_m.positions_m, positions, atol=1e-5)


def test_short_marker_gap_is_filled_close_to_the_truth(moving_markers, tmp_path):
    names, positions = moving_markers
    holed = positions.copy()
    holed[20:25, names.index("R.Heel"), :] = np.nan  # 50 ms gap
    markers = read_trc(write_trc(tmp_path / "gap.trc", names, holed, RATE_HZ))
    filled = check_and_fill(markers, names, max_gap_fill_s=0.1)
    heel = filled.marker_names.index("R.Heel")
    assert np.max(np.abs(filled.positions_m[20:25, heel] - positions[20:25, names.index("R.Heel")])) < GAP_FILL_TOLERANCE_M
    assert any("R.Heel" in note for note in filled.filled_gaps)


def test_long_marker_gap_is_an_error_naming_marker_and_time(moving_markers, tmp_path):
    names, positions = moving_markers
    holed = positions.copy()
    holed[10:40, names.index("L.Toe.Tip"), :] = np.nan  # 300 ms gap
    path = write_trc(tmp_path / "long_gap.trc", names, holed, RATE_HZ)
    with pytest.raises(InputDataError, match=r"L\.Toe\.Tip.*0\.100-0\.390 s") as error:
        check_and_fill(read_trc(path), names, max_gap_fill_s=0.1)
    assert error.value.path == path


def test_model_marker_absent_from_the_trc_is_named(moving_markers, tmp_path):
    names, positions = moving_markers
    keep = [i for i, name in enumerate(names) if name != "R.ASIS"]
    path = write_trc(tmp_path / "no_asis.trc", [names[i] for i in keep], positions[:, keep], RATE_HZ)
    with pytest.raises(InputDataError, match=r"absent from the TRC: R\.ASIS"):
        check_and_fill(read_trc(path), names, max_gap_fill_s=0.1)


def test_missing_and_unreadable_marker_files_are_named(tmp_path):
    with pytest.raises(InputDataError, match="not found"):
        read_trc(tmp_path / "nowhere.trc")
    garbage = tmp_path / "garbage.trc"
    garbage.write_text("this is not a TRC file\n")
    with pytest.raises(InputDataError, match="garbage.trc"):
        read_trc(garbage)


def test_non_positive_mass_is_refused():
    with pytest.raises(ValueError, match="body mass"):
        SubjectInfo("S99", 0.0, 1.7)
    with pytest.raises(ValueError, match="body mass"):
        SubjectInfo("S99", -70.0, 1.7)


def test_subject_yaml_with_bad_mass_names_the_file(tmp_path):
    path = tmp_path / "subject.yaml"
    path.write_text("id: S99\nmass_kg: -3\nheight_m: 1.7\n")
    with pytest.raises(InputDataError, match="subject.yaml.*body mass"):
        SubjectInfo.from_yaml(path)


def _label(still_trial, tmp_path: Path, config: PipelineConfig | None = None, *, grf: Path | None = None,
           markers: Path | None = None):
    return label_trial(still_trial.subject, still_trial.scaled.scaled_model_path, markers or still_trial.markers_trc_path,
                       grf or still_trial.grf_path, tmp_path / "trial", config or PipelineConfig(), "S01/bad")


def test_grf_not_covering_the_trial_fails_without_labels(still_trial, tmp_path):
    short_grf = write_still_grf(tmp_path / "short_grf.mot", 0.2, RATE_HZ, still_trial.subject.body_weight_n,
                                np.zeros(3))
    with pytest.raises(InputDataError, match=r"short_grf.mot.*does not cover the marker trial"):
        _label(still_trial, tmp_path, grf=short_grf)
    assert not (tmp_path / "trial" / LABELS_FILE).exists()
    summary = json.loads((tmp_path / "trial" / SUMMARY_FILE).read_text())
    assert summary["status"] == "failed" and summary["failed_stage"] == "inputs"


def test_grf_without_the_configured_columns_is_named(still_trial, tmp_path):
    config = PipelineConfig.from_dict({"grf": {"force_sets": [
        {"side": "r", "force_identifier": "FP1_force_v", "point_identifier": "FP1_cop_", "torque_identifier": "FP1_moment_"},
        {"side": "l", "force_identifier": "1_ground_force_v", "point_identifier": "1_ground_force_p",
         "torque_identifier": "1_ground_torque_"}]}})
    with pytest.raises(InputDataError, match="GRF column.*FP1_force_vx"):
        _label(still_trial, tmp_path, config)


def test_coordinates_the_model_lacks_are_named(still_trial, tmp_path):
    model_yaml = Path(__file__).resolve().parents[2] / "opensim_models" / "gait2392" / "model.yaml"
    custom = tmp_path / "model.yaml"
    text = model_yaml.read_text().replace("  - hip_rotation_l\n", "  - hip_twist_l\n")
    custom.write_text(text.replace("model_file: gait2392.osim", f"model_file: {model_yaml.parent / 'gait2392.osim'}")
                      .replace("marker_set_file: markerset.xml", f"marker_set_file: {model_yaml.parent / 'markerset.xml'}"))
    with pytest.raises(InputDataError, match="lacks coordinate.*hip_twist_l"):
        _label(still_trial, tmp_path, PipelineConfig(model=str(custom)))
    assert not (tmp_path / "trial" / LABELS_FILE).exists()


def test_a_failed_rerun_removes_the_previous_labels(still_trial, tmp_path):
    (tmp_path / "trial").mkdir()
    (tmp_path / "trial" / LABELS_FILE).write_text("stale labels from an earlier run")
    with pytest.raises(InputDataError):
        _label(still_trial, tmp_path, grf=tmp_path / "missing_grf.mot")
    assert not (tmp_path / "trial" / LABELS_FILE).exists()


def test_optional_marker_with_a_long_gap_is_left_out_with_a_note(moving_markers, tmp_path):
    names, positions = moving_markers
    holed = positions.copy()
    holed[10:40, names.index("R.Thigh.Front"), :] = np.nan
    markers = read_trc(write_trc(tmp_path / "optional_gap.trc", names, holed, RATE_HZ))
    kept = check_and_fill(markers, ["R.ASIS"], max_gap_fill_s=0.1, optional=["R.Thigh.Front", "R.Heel", "X.Absent"])
    assert kept.marker_names == ("R.ASIS", "R.Heel")
    assert any(note.startswith("R.Thigh.Front: not used") for note in kept.filled_gaps)
    assert "X.Absent: absent, not used" in kept.filled_gaps


def test_marker_gap_limit_comes_from_the_config():
    assert MarkerConfig().max_gap_fill_s == 0.1
    with pytest.raises(ValueError, match="max_gap_fill_s"):
        MarkerConfig(max_gap_fill_s=-1.0)
