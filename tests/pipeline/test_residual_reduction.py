"""OpenSim's RRA on a measured overground walk (biomechZoo HC040A, vendored with its licence).

The child's scaled gait2392 leaves a pelvis residual of 8-17 % BW on the frames where every
loaded foot is on a plate (2.76-3.30 s of HC040A14). OpenSim runs for real: scaling, IK on a
short stretch of that window, and RRATool over ~0.3 s inside it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import opensim
import pytest

from gait2hip.core.errors import OpenSimToolError
from gait2hip.core.opensim_files import read_opensim_table, table_in_degrees
from gait2hip.pipeline.config import PipelineConfig
from gait2hip.pipeline.ground_reactions import write_external_loads, write_filtered_grf
from gait2hip.pipeline.inverse_kinematics import run_inverse_kinematics
from gait2hip.pipeline.markers import check_and_fill, read_trc, write_trc_m
from gait2hip.pipeline.model_config import ModelConfig
from gait2hip.pipeline.residual_reduction import (
    ADJUSTED_COORDINATES_FILE,
    ADJUSTED_MODEL_FILE,
    ResidualReductionConfig,
    run_residual_reduction,
)

TRIAL_ID = "HC040A/HC040A14"
# IK on a stretch of the residual window (2.76-3.30 s); RRA on ~0.3 s inside it.
IK_RANGE_S = (2.80, 3.26)
RRA_RANGE_S = (2.85, 3.15)
CONFIG = PipelineConfig()
RRA = ResidualReductionConfig(enabled=True, passes=2)


@dataclasses.dataclass(frozen=True)
class Walk:
    scaled_model: Path
    ik_coordinates: Path
    external_loads: Path
    folder: Path


@pytest.fixture(scope="module")
def walk(measured_walk, tmp_path_factory) -> Walk:
    folder = tmp_path_factory.mktemp("hc040a_rra")
    trial = measured_walk.markers_path.parent
    model_config = ModelConfig.load(CONFIG.model)
    markers = check_and_fill(read_trc(trial / "markers.trc"), model_config.markers_required("dynamic"),
                             CONFIG.markers.max_gap_fill_s, optional=list(model_config.markers_used("dynamic")))
    clean = write_trc_m(markers, folder / "markers_clean.trc")
    weights = {name: weight for name, weight in model_config.markers_used("dynamic").items()
               if name in markers.marker_names}
    ik = run_inverse_kinematics(model_path=measured_walk.scaled_model_path, markers_trc_path=clean, out_dir=folder / "ik",
                                marker_weights=weights, accuracy=CONFIG.inverse_kinematics.accuracy,
                                time_range_s=IK_RANGE_S, coordinate_targets=model_config.walking_ik_coordinates,
                                trial_id=TRIAL_ID)
    filtered = write_filtered_grf(trial / "grf.mot", CONFIG.grf, 6.0, folder / "grf_filtered_6hz.mot")
    loads = write_external_loads(filtered, CONFIG.grf, model_config.foot_bodies, folder / "external_loads_6hz.xml")
    return Walk(measured_walk.scaled_model_path, ik.coordinates_path, loads, folder)


def _run(walk: Walk, out_dir: Path, settings: ResidualReductionConfig, time_range_s=RRA_RANGE_S):
    model_config = ModelConfig.load(CONFIG.model)
    return run_residual_reduction(model_path=walk.scaled_model, coordinates_path=walk.ik_coordinates,
                                  external_loads_path=walk.external_loads, out_dir=out_dir, settings=settings,
                                  pelvis_translations=model_config.pelvis_translations,
                                  pelvis_rotations=model_config.pelvis_rotations, time_range_s=time_range_s,
                                  trial_id=TRIAL_ID)


@pytest.fixture(scope="module")
def reduced(walk):
    return _run(walk, walk.folder / "rra", RRA)


def test_rra_lowers_the_peak_pelvis_residual_force_of_inverse_dynamics(reduced):
    assert reduced.peak_residual_force_after_n < 0.8 * reduced.peak_residual_force_before_n


def test_adjusted_coordinates_are_on_the_ik_frames_with_the_ik_columns(walk, reduced):
    ik = read_opensim_table(walk.ik_coordinates)
    adjusted = read_opensim_table(reduced.adjusted_coordinates_path)
    ik_times = ik["time"].to_numpy()
    expected = ik_times[(ik_times >= RRA_RANGE_S[0] - 1e-9) & (ik_times <= RRA_RANGE_S[1] + 1e-9)]
    np.testing.assert_allclose(adjusted["time"].to_numpy(), expected, atol=1e-9)
    assert list(adjusted.columns) == list(ik.columns)
    assert table_in_degrees(reduced.adjusted_coordinates_path)


def test_adjusted_kinematics_stay_within_a_few_degrees_of_ik(walk, reduced):
    ik = read_opensim_table(walk.ik_coordinates).set_index("time")
    adjusted = read_opensim_table(reduced.adjusted_coordinates_path).set_index("time")
    hips = list(ModelConfig.load(CONFIG.model).hip_coordinates)
    ik_on_frames = ik.loc[ik.index.isin(adjusted.index), hips].to_numpy()
    difference_deg = np.abs(adjusted[hips].to_numpy() - ik_on_frames)
    assert difference_deg.max() < RRA.max_tracking_error_deg
    assert difference_deg.max() > 0.0


def test_adjusted_model_has_the_torso_centre_of_mass_moved_and_the_mass_change_applied(walk, reduced):
    original, adjusted = opensim.Model(str(walk.scaled_model)), opensim.Model(str(reduced.adjusted_model_path))
    original_com = original.getBodySet().get("torso").getMassCenter().to_numpy()
    adjusted_com = adjusted.getBodySet().get("torso").getMassCenter().to_numpy()
    assert np.linalg.norm(adjusted_com - original_com) > 1e-4
    total_kg = [model.getTotalMass(model.initSystem()) for model in (original, adjusted)]
    assert total_kg[1] - total_kg[0] == pytest.approx(reduced.mass_change_applied_kg, abs=1e-6)
    assert adjusted.getMuscles().getSize() == original.getMuscles().getSize()


def test_rra_that_does_not_track_raises_and_leaves_no_adjusted_output(walk):
    out_dir = walk.folder / "rra_untracked"
    out_dir.mkdir()
    for stale in (ADJUSTED_MODEL_FILE, ADJUSTED_COORDINATES_FILE):
        (out_dir / stale).write_text("from an earlier run")
    impossible = dataclasses.replace(RRA, passes=1, max_tracking_error_deg=1e-9)
    with pytest.raises(OpenSimToolError, match="did not track") as raised:
        _run(walk, out_dir, impossible, time_range_s=(2.90, 3.00))
    assert raised.value.log_path is not None and raised.value.log_path.is_file()
    assert not (out_dir / ADJUSTED_MODEL_FILE).exists()
    assert not (out_dir / ADJUSTED_COORDINATES_FILE).exists()
