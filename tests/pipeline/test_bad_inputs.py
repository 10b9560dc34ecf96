"""Bad input gets a clear error naming the file and the problem, and no valid-looking output."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from gait2hip.core.errors import ConfigError, InputDataError
from gait2hip.core.opensim_files import check_time_column, read_opensim_table
from gait2hip.pipeline.batch import config_for_cohort
from gait2hip.pipeline.cohort import discover_cohort
from gait2hip.pipeline.config import MarkerConfig, PipelineConfig
from gait2hip.pipeline.ground_reactions import read_grf
from gait2hip.pipeline.markers import check_and_fill, read_trc
from gait2hip.pipeline.model_config import ModelConfig
from gait2hip.pipeline.qc import compute_qc
from gait2hip.pipeline.status import TrialStatus
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


# --- Time columns: checked before any OpenSim tool sees the file --------------------------------------------


def _replace_time_cell(source: Path, target: Path, data_row: int, cell: bytes) -> Path:
    """Copy ``source`` (a .mot or TRC) with the time cell of 0-based ``data_row`` replaced by ``cell``."""
    lines = source.read_bytes().split(b"\n")
    if source.suffix == ".trc":
        first, time_field = 5 + (lines[5].strip() == b""), 1
    else:
        first, time_field = next(i for i, line in enumerate(lines) if line.startswith(b"time\t")) + 1, 0
    fields = lines[first + data_row].split(b"\t")
    fields[time_field] = cell
    lines[first + data_row] = b"\t".join(fields)
    target.write_bytes(b"\n".join(lines))
    return target


def test_a_nan_time_in_the_grf_is_refused_naming_the_file_and_row(still_trial, tmp_path):
    grf = _replace_time_cell(still_trial.grf_path, tmp_path / "nan_time.mot", 7, b"nan")
    with pytest.raises(InputDataError, match=r"nan_time\.mot: the time column holds nan at data row 8") as error:
        read_grf(grf, PipelineConfig().grf, (0.0, 0.3))
    assert error.value.path == grf


def test_a_damaged_byte_in_a_grf_time_cell_fails_the_trial_at_inputs_without_labels(still_trial, tmp_path):
    # OpenSim reads the damaged cell as NaN; its inverse dynamics tool would then never return.
    grf = _replace_time_cell(still_trial.grf_path, tmp_path / "damaged.mot", 3, b"\xff0.03")
    with pytest.raises(InputDataError, match=r"damaged\.mot.*data row 4"):
        _label(still_trial, tmp_path, grf=grf)
    summary = json.loads((tmp_path / "trial" / SUMMARY_FILE).read_text())
    assert summary["failed_stage"] == "inputs" and summary["stages_run"] == []
    assert not (tmp_path / "trial" / LABELS_FILE).exists()


def test_grf_times_off_a_uniform_grid_are_refused(still_trial, tmp_path):
    grf = _replace_time_cell(still_trial.grf_path, tmp_path / "jitter.mot", 5, b"0.056")  # 0.05 on the grid
    with pytest.raises(InputDataError, match=r"jitter\.mot: times are irregular: data row 6 is at 0\.056 s"):
        read_grf(grf, PipelineConfig().grf, (0.0, 0.3))


def test_a_nan_frame_time_in_a_trc_is_refused_naming_the_frame(still_trial, tmp_path):
    trc = _replace_time_cell(still_trial.markers_trc_path, tmp_path / "nan_time.trc", 0, b"nan")
    with pytest.raises(InputDataError, match=r"nan_time\.trc: the time column holds nan at data row 1"):
        read_trc(trc)


def test_a_trc_whose_time_goes_back_is_refused(still_trial, tmp_path):
    trc = _replace_time_cell(still_trial.markers_trc_path, tmp_path / "backwards.trc", 10, b"0.05")
    with pytest.raises(InputDataError, match=r"backwards\.trc"):
        read_trc(trc)


def test_check_time_column_names_the_first_bad_row(tmp_path):
    with pytest.raises(InputDataError, match=r"data row 3: 0\.01 s follows 0\.02 s"):
        check_time_column(tmp_path / "t.mot", np.array([0.0, 0.02, 0.01, 0.03]))
    with pytest.raises(InputDataError, match=r"holds inf at data row 2"):
        check_time_column(tmp_path / "t.mot", np.array([0.0, np.inf, 0.02]))
    check_time_column(tmp_path / "t.mot", np.array([0.0, 0.0101, 0.02, 0.0299]))  # rounding within a quarter step


# --- Non-finite values are never a silent pass ----------------------------------------------------------------


def test_infinite_marker_values_are_a_gap_filled_like_nan(moving_markers, tmp_path):
    names, positions = moving_markers
    damaged = positions.copy()
    damaged[20:23, names.index("R.Heel"), 1] = np.inf
    filled = check_and_fill(read_trc(write_trc(tmp_path / "inf.trc", names, damaged, RATE_HZ)), names,
                            max_gap_fill_s=0.1)
    heel = filled.marker_names.index("R.Heel")
    assert np.isfinite(filled.positions_m).all()
    assert np.max(np.abs(filled.positions_m[20:23, heel] - positions[20:23, names.index("R.Heel")])) < GAP_FILL_TOLERANCE_M
    assert "R.Heel: filled 3 frame(s) at 0.200-0.220 s" in filled.filled_gaps


def test_an_infinite_marker_at_the_trial_edge_is_an_error_like_a_missing_one(moving_markers, tmp_path):
    names, positions = moving_markers
    damaged = positions.copy()
    damaged[0, names.index("R.ASIS"), 0] = -np.inf
    with pytest.raises(InputDataError, match=r"R\.ASIS is missing at the trial's edge"):
        check_and_fill(read_trc(write_trc(tmp_path / "edge.trc", names, damaged, RATE_HZ)), names, max_gap_fill_s=0.1)


def _qc(still_trial, marker_rms_error_m: float = 0.005, inverse_dynamics=None):
    config = PipelineConfig()
    return compute_qc(
        marker_rms_error_m=marker_rms_error_m, marker_max_error_m=0.01,
        inverse_dynamics=read_opensim_table(still_trial.result.id_forces_path) if inverse_dynamics is None
        else inverse_dynamics,
        so_forces=read_opensim_table(still_trial.result.so_forces_path), n_so_failed_frames=0,
        model_config=ModelConfig.load(config.model), subject=still_trial.subject, thresholds=config.qc)


def test_qc_fails_a_nan_figure_and_names_it(still_trial):
    assert _qc(still_trial).status != TrialStatus.FAILED  # the same trial with a finite figure passes
    report = _qc(still_trial, marker_rms_error_m=float("nan"))
    assert report.status == TrialStatus.FAILED
    assert any(reason.startswith("ik_marker_rms_error_m = nan") for reason in report.reasons)


def test_qc_fails_all_nan_inverse_dynamics(still_trial):
    inverse_dynamics = read_opensim_table(still_trial.result.id_forces_path)
    inverse_dynamics.loc[:, inverse_dynamics.columns != "time"] = np.nan
    report = _qc(still_trial, inverse_dynamics=inverse_dynamics)
    assert report.status == TrialStatus.FAILED
    named = " ".join(report.reasons)
    assert "peak_pelvis_residual_force_n = nan" in named and "peak_hip_reserve_pct_peak_moment = nan" in named


# --- Metadata YAML: types, ranges, unknown keys, encodings ----------------------------------------------------


@pytest.mark.parametrize(("line", "expected"), [
    ("mass_kg: true", r"mass_kg \(body mass\) must be a number of kg, got True"),
    ("mass_kg: 1.5", r"mass_kg \(body mass\) 1\.5 kg is outside 2-500 kg"),
    ("mass_kg: 70000", r"mass_kg \(body mass\) 70000 kg is outside"),
    ("height_m: 1.0e-6", r"height_m \(height\) 1e-06 m is outside 0\.4-2\.8 m"),
    ("height_m: '1.75'", r"height_m \(height\) must be a number of m, got '1\.75'"),
    ("weight_kg: 70", r"unknown key\(s\) \['weight_kg'\]; allowed: \['id', 'mass_kg', 'height_m', 'group', 'affected_side'\]"),
])
def test_subject_yaml_values_are_checked_naming_the_file_and_key(tmp_path, line, expected):
    values = {"id": "id: S99", "mass_kg": "mass_kg: 70", "height_m": "height_m: 1.7"}
    values[line.split(":")[0]] = line
    path = tmp_path / "subject.yaml"
    path.write_text("\n".join(values.values()) + "\n")
    with pytest.raises(InputDataError, match=expected) as error:
        SubjectInfo.from_yaml(path)
    assert error.value.path == path


def test_a_subject_yaml_that_is_not_utf8_is_named(tmp_path):
    path = tmp_path / "subject.yaml"
    path.write_bytes(b"id: S99\nmass_kg: 70\nheight_m: 1.7\ngroup: h\xe9althy\n")
    with pytest.raises(InputDataError, match=r"subject\.yaml: not (a )?UTF-8 text"):
        SubjectInfo.from_yaml(path)


def _cohort_folder(tmp_path: Path, cohort_yaml: str) -> Path:
    folder = tmp_path / "cohort"
    (folder / "S01" / "trials").mkdir(parents=True)
    (folder / "cohort.yaml").write_text(cohort_yaml)
    (folder / "S01" / "subject.yaml").write_text("id: S01\nmass_kg: 70\nheight_m: 1.7\n")
    (folder / "S01" / "static.trc").write_text("not read at discovery\n")
    return folder


@pytest.mark.parametrize(("cohort_yaml", "expected"), [
    ('name: c\nsynthetic: "no"\n', r"synthetic must be true or false \(a YAML boolean\), got 'no'"),
    ("name: c\nsynthetic: 1\n", r"synthetic must be true or false"),
    ("name: c\nsyntetic: true\n", r"unknown key\(s\) \['syntetic'\]; allowed: \['name', 'description'"),
])
def test_cohort_yaml_values_are_checked_naming_the_file_and_key(tmp_path, cohort_yaml, expected):
    folder = _cohort_folder(tmp_path, cohort_yaml)
    with pytest.raises(InputDataError, match=expected) as error:
        discover_cohort(folder)
    assert error.value.path == folder / "cohort.yaml"


def test_a_yaml_boolean_synthetic_is_read_as_written(tmp_path):
    assert discover_cohort(_cohort_folder(tmp_path, "synthetic: false\n")).synthetic is False


@pytest.mark.parametrize(("content", "expected"), [
    (b"cadence_condition: fast\ncadence_steps_per_min: fast\n", r"cadence_steps_per_min must be a positive number"),
    (b"cadence_condition: fast\ncadense_steps_per_min: 100\n", r"unknown key\(s\) \['cadense_steps_per_min'\]"),
    (b"cadence_condition: r\xe1pido\n", r"not (a )?UTF-8 text"),
    (b"cadence_condition: [fast\n", r"not valid YAML"),
])
def test_a_bad_trial_yaml_fails_that_trial_alone_naming_the_file(tmp_path, content, expected):
    folder = _cohort_folder(tmp_path, "name: c\n")
    for trial in ("walk_01", "walk_02"):
        (folder / "S01" / "trials" / trial).mkdir()
    (folder / "S01" / "trials" / "walk_02" / "trial.yaml").write_text("cadence_condition: slow\n"
                                                                     "cadence_steps_per_min: 95.5\n")
    (folder / "S01" / "trials" / "walk_01" / "trial.yaml").write_bytes(content)
    first, second = discover_cohort(folder).trials
    assert re.search(expected, first.metadata_error)
    assert str(folder / "S01" / "trials" / "walk_01" / "trial.yaml") in first.metadata_error
    assert (second.metadata_error, second.cadence_condition, second.cadence_steps_per_min) == (None, "slow", 95.5)


@pytest.mark.parametrize("time_range", ["[2.0]", "[3.0, 2.0]", "[1.0, .inf]", "[true, 2.0]", "later"])
def test_a_bad_trial_time_range_fails_that_trial_naming_the_key(tmp_path, time_range):
    folder = _cohort_folder(tmp_path, "name: c\n")
    (folder / "S01" / "trials" / "walk_01").mkdir()
    (folder / "S01" / "trials" / "walk_01" / "trial.yaml").write_text(f"time_range_s: {time_range}\n")
    (trial,) = discover_cohort(folder).trials
    assert "time_range_s must be [start, end] in s with start < end" in trial.metadata_error


def test_a_trial_time_range_is_read_in_seconds(tmp_path):
    folder = _cohort_folder(tmp_path, "name: c\n")
    (folder / "S01" / "trials" / "walk_01").mkdir()
    (folder / "S01" / "trials" / "walk_01" / "trial.yaml").write_text("time_range_s: [1.2, 3]\n")
    (trial,) = discover_cohort(folder).trials
    assert trial.time_range_s == (1.2, 3.0) and trial.metadata_error is None


def test_the_cohort_yaml_model_labels_the_cohort(tmp_path):
    cohort = discover_cohort(_cohort_folder(tmp_path, "name: c\nmodel: gait2354\n"))
    assert config_for_cohort(PipelineConfig(), cohort).model == "gait2354"
    assert config_for_cohort(PipelineConfig(model="gait2354"), cohort).model == "gait2354"


def test_a_cohort_without_a_model_keeps_the_configured_one(tmp_path):
    cohort = discover_cohort(_cohort_folder(tmp_path, "name: c\n"))
    assert cohort.model is None
    assert config_for_cohort(PipelineConfig(model="gait2354"), cohort).model == "gait2354"


def test_a_configured_model_other_than_the_cohorts_is_an_error_naming_both(tmp_path):
    cohort = discover_cohort(_cohort_folder(tmp_path, "name: c\nmodel: gait2354\n"))
    with pytest.raises(ConfigError, match=r"cohort\.yaml: the cohort's model is 'gait2354', the pipeline settings "
                                          r"name 'my_model\.yaml'"):
        config_for_cohort(PipelineConfig(model="my_model.yaml"), cohort)


# --- A trial that fails QC keeps no labels ------------------------------------------------------------------


def test_a_trial_past_a_qc_fail_limit_keeps_its_summary_and_no_labels(still_trial, tmp_path):
    (tmp_path / "trial").mkdir()
    (tmp_path / "trial" / LABELS_FILE).write_text("stale labels from an earlier run")
    # No IK reaches a marker RMS error of 1 µm: under these limits the trial fails QC.
    strict = PipelineConfig.from_dict({"qc": {"marker_rms_error_warn_m": 1e-7, "marker_rms_error_fail_m": 1e-6}})
    result = _label(still_trial, tmp_path, strict)
    summary = json.loads((tmp_path / "trial" / SUMMARY_FILE).read_text())
    assert result.status == TrialStatus.FAILED and result.labels_path is None
    assert summary["status"] == "failed" and summary["outputs"]["labels"] is None
    assert any("ik_marker_rms_error_m" in reason for reason in summary["reasons"])
    assert not (tmp_path / "trial" / LABELS_FILE).exists()
