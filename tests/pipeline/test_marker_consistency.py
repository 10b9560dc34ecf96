"""The marker-consistency check on a measured static trial (biomechZoo HC040A04, vendored).

The subject's model is scaled on the static trial, whose markers are then consistent with it by
construction; a copy of 20 of its frames stands in for a walking trial, with one marker moved
rigidly off its body: on half the frames (a marker that slid during the trial) or on all of them
(a marker re-applied between the trials).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import opensim
import pytest

from gait2hip.core.errors import ConfigError, InputDataError
from gait2hip.pipeline.config import PipelineConfig
from gait2hip.pipeline.inverse_kinematics import run_inverse_kinematics
from gait2hip.pipeline.marker_consistency import MarkerConsistencyConfig, check_marker_consistency
from gait2hip.pipeline.markers import MarkerTrajectories, check_and_fill, read_trc, write_trc_m
from gait2hip.pipeline.model_config import ModelConfig

N_FRAMES = 20
MOVE_M = 0.08  # how far a marker is moved off its place (m)
OFFSET_TOLERANCE_M = 0.005


@dataclass(frozen=True)
class RealStatic:
    scaled_model_path: Path
    markers: MarkerTrajectories  # the static trial's first N_FRAMES, cleaned, in m
    weights: dict[str, float]  # dynamic IK weights of the markers it has
    required: list[str]


@pytest.fixture(scope="module")
def real_static(measured_walk) -> RealStatic:
    config = PipelineConfig()
    model_config = ModelConfig.load(config.model)
    used = model_config.markers_used("dynamic")
    markers = check_and_fill(read_trc(measured_walk.static_trc_path), model_config.markers_required("dynamic"),
                             0.1, optional=list(used))
    markers = replace(markers, times_s=markers.times_s[:N_FRAMES], positions_m=markers.positions_m[:N_FRAMES])
    weights = {name: weight for name, weight in used.items() if name in markers.marker_names}
    return RealStatic(measured_walk.scaled_model_path, markers, weights, model_config.markers_required("dynamic"))


def _moved(markers: MarkerTrajectories, name: str, frames: slice) -> MarkerTrajectories:
    """``markers`` with ``name`` moved MOVE_M to the subject's right (along the shoulder line) on ``frames``."""
    positions_m = markers.positions_m.copy()
    mean_m = positions_m.mean(axis=0)  # (n_markers, 3)
    rightwards = mean_m[markers.marker_names.index("R.Acromium")] - mean_m[markers.marker_names.index("L.Acromium")]
    positions_m[frames, markers.marker_names.index(name)] += MOVE_M * rightwards / np.linalg.norm(rightwards)
    return replace(markers, positions_m=positions_m)


def _check(real_static: RealStatic, markers: MarkerTrajectories, **config):
    return check_marker_consistency(real_static.scaled_model_path, markers, real_static.weights,
                                    MarkerConsistencyConfig(**config), required=real_static.required)


def test_the_static_trial_fits_the_model_scaled_on_it(real_static):
    result = _check(real_static, real_static.markers)
    assert len(result.pairs) >= 10
    assert result.changes == () and result.inconsistent_pairs == () and result.unattributed_pairs == ()
    assert result.weights == real_static.weights


def test_a_marker_moved_on_half_the_frames_is_blamed_by_its_spread(real_static):
    result = _check(real_static, _moved(real_static.markers, "R.Acromium", slice(N_FRAMES // 2, None)))
    assert [change.marker for change in result.changes] == ["R.Acromium"]
    own_pairs = [pair for pair in result.pairs if "R.Acromium" in pair.markers]
    assert len(own_pairs) == 3 and not any(pair.consistent for pair in own_pairs)
    assert max(pair.walking_spread_m for pair in own_pairs) > 0.05
    assert all(pair.consistent for pair in result.pairs if "R.Acromium" not in pair.markers)


def test_a_marker_moved_on_every_frame_is_blamed_by_its_median(real_static):
    result = _check(real_static, _moved(real_static.markers, "L.Acromium", slice(None)))
    assert [change.marker for change in result.changes] == ["L.Acromium"]
    across = next(pair for pair in result.pairs if set(pair.markers) == {"R.Acromium", "L.Acromium"})
    # Moved to the right, L.Acromium comes 80 mm closer to R.Acromium.
    assert across.offset_m == pytest.approx(-MOVE_M, abs=OFFSET_TOLERANCE_M)
    assert across.walking_spread_m < 0.01


def test_downweight_multiplies_the_blamed_markers_weight_only(real_static):
    result = _check(real_static, _moved(real_static.markers, "R.Acromium", slice(None)), downweight_factor=0.2)
    change = result.changes[0]
    assert (change.action, change.weight_before, change.weight_after) == ("downweighted", 0.5, pytest.approx(0.1))
    assert result.weights["R.Acromium"] == pytest.approx(0.1)
    assert {n: w for n, w in result.weights.items() if n != "R.Acromium"} == \
        {n: w for n, w in real_static.weights.items() if n != "R.Acromium"}


def test_report_lists_the_blamed_marker_and_keeps_every_weight(real_static):
    result = _check(real_static, _moved(real_static.markers, "R.Acromium", slice(None)), action="report")
    assert [(c.marker, c.action) for c in result.changes] == [("R.Acromium", "reported")]
    assert result.weights == real_static.weights and result.changed_markers == []


def test_drop_zeroes_the_blamed_marker(real_static):
    result = _check(real_static, _moved(real_static.markers, "R.Acromium", slice(None)), action="drop")
    assert [(c.marker, c.action) for c in result.changes] == [("R.Acromium", "dropped")]
    assert result.weights["R.Acromium"] == 0.0


def test_drop_never_drops_a_required_marker(real_static):
    assert "V.Sacral" in real_static.required
    result = _check(real_static, _moved(real_static.markers, "V.Sacral", slice(None)), action="drop")
    assert [(c.marker, c.action) for c in result.changes] == [("V.Sacral", "downweighted")]
    assert result.weights["V.Sacral"] == pytest.approx(real_static.weights["V.Sacral"] * 0.1)


def test_drop_keeps_the_minimum_markers_of_a_body(real_static):
    """The torso has four markers: with at least four to keep, a moved acromion is down-weighted."""
    result = _check(real_static, _moved(real_static.markers, "R.Acromium", slice(None)), action="drop",
                    min_markers_per_body=4)
    assert [(c.marker, c.action) for c in result.changes] == [("R.Acromium", "downweighted")]


def test_two_markers_alone_are_both_downweighted(real_static):
    """calcn_r carries only R.Heel and R.Toe.Med here: which of the two moved cannot be told."""
    result = _check(real_static, _moved(real_static.markers, "R.Toe.Med", slice(None)))
    assert [set(pair.markers) for pair in result.unattributed_pairs] == [{"R.Heel", "R.Toe.Med"}]
    assert {(c.marker, c.action) for c in result.changes} == {("R.Heel", "downweighted"), ("R.Toe.Med", "downweighted")}
    assert sorted(result.changed_markers) == ["R.Heel", "R.Toe.Med"]


def test_drop_never_drops_either_marker_of_an_unattributed_pair(real_static):
    result = _check(real_static, _moved(real_static.markers, "R.Toe.Med", slice(None)), action="drop")
    assert {c.action for c in result.changes} == {"downweighted"}
    assert result.weights["R.Toe.Med"] > 0 and result.weights["R.Heel"] > 0


def test_the_summary_entry_gives_the_figures_in_mm(real_static):
    result = _check(real_static, _moved(real_static.markers, "L.Acromium", slice(None)))
    entry = json.loads(json.dumps(result.to_json()))
    assert entry["changed_markers"][0]["marker"] == "L.Acromium"
    assert "L.Acromium" in entry["changed_markers"][0]["reason"] and "mm" in entry["changed_markers"][0]["reason"]
    across = next(p for p in entry["inconsistent_pairs"] if set(p["markers"]) == {"R.Acromium", "L.Acromium"})
    assert across["offset_mm"] == pytest.approx(-MOVE_M * 1000, abs=OFFSET_TOLERANCE_M * 1000)
    assert across["static_mm"] - across["walking_median_mm"] == pytest.approx(MOVE_M * 1000,
                                                                               abs=OFFSET_TOLERANCE_M * 1000)


def test_a_loaded_model_is_checked_like_its_file(real_static):
    moved = _moved(real_static.markers, "R.Acromium", slice(None))
    from_file = _check(real_static, moved)
    loaded = check_marker_consistency(opensim.Model(str(real_static.scaled_model_path)), moved, real_static.weights,
                                      MarkerConsistencyConfig(), required=real_static.required)
    assert loaded.pairs == from_file.pairs and loaded.weights == from_file.weights


@pytest.mark.parametrize("factor", [1000.0, 0.1])
def test_markers_in_the_wrong_units_are_an_input_error_naming_the_file(real_static, factor):
    # mm read as m gives 1000, mm read as cm 0.1: every pair is off by the same factor.
    wrong = replace(real_static.markers, positions_m=real_static.markers.positions_m * factor)
    with pytest.raises(InputDataError, match=r"are ([0-9.]+) times as far apart.*units") as raised:
        _check(real_static, wrong)
    stated = float(re.search(r"are ([0-9.]+) times", str(raised.value)).group(1))
    assert stated == pytest.approx(factor, rel=0.01)
    assert str(real_static.markers.source_path) in str(raised.value)


def test_a_weighted_marker_the_model_lacks_is_a_config_error(real_static):
    markers = replace(real_static.markers, marker_names=("Nose",) + real_static.markers.marker_names[1:])
    with pytest.raises(ConfigError, match="Nose"):
        check_marker_consistency(real_static.scaled_model_path, markers, {"Nose": 1.0, **real_static.weights},
                                 MarkerConsistencyConfig())


@pytest.mark.parametrize("field, value", [("action", "ignore"), ("downweight_factor", 0.0),
                                          ("spread_percentiles", (95.0, 5.0)), ("min_markers_per_body", 0)])
def test_a_bad_setting_is_refused(field, value):
    with pytest.raises(ValueError, match=field):
        MarkerConsistencyConfig(**{field: value})


def test_downweighting_the_moved_marker_lowers_the_other_markers_ik_errors(real_static, tmp_path):
    model_config = ModelConfig.load("gait2392")
    markers = _moved(real_static.markers, "R.Acromium", slice(N_FRAMES // 2, None))
    trc = write_trc_m(markers, tmp_path / "moved.trc")
    result = _check(real_static, markers)
    assert [change.marker for change in result.changes] == ["R.Acromium"]
    others = {}
    for label, weights in (("as configured", real_static.weights), ("checked", result.weights)):
        ik = run_inverse_kinematics(
            model_path=real_static.scaled_model_path, markers_trc_path=trc, out_dir=tmp_path / label,
            marker_weights=weights, accuracy=1e-5, time_range_s=(float(markers.times_s[0]), float(markers.times_s[-1])),
            coordinate_targets=model_config.walking_ik_coordinates, trial_id="HC040A/moved")
        others[label] = ik.marker_errors_without(["R.Acromium"])
    rms_before_m, max_before_m = others["as configured"]
    rms_after_m, max_after_m = others["checked"]
    assert rms_after_m < rms_before_m and max_after_m < max_before_m
