"""SO that cannot equilibrate the muscles at the trial's first frame starts at a later frame.

Real OpenSim on a model the test builds: one Thelen muscle pulling a block along a slider. The
coordinate starts with the muscle stretched to 1.3 m (6.5× its optimal fibre plus tendon
length) and relaxes to 0.3 m with a 10 ms time constant, so OpenSim's initial muscle
equilibrium fails at the first two frames (1.3 m and 0.67 m) and succeeds from the third.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import opensim
import pytest

from gait2hip.core.errors import OpenSimToolError
from gait2hip.core.opensim_files import read_opensim_table, write_mot
from gait2hip.pipeline.config import StaticOptimizationConfig
from gait2hip.pipeline.static_optimization import run_static_optimization

FRAME_INTERVAL_S = 0.01
DURATION_S = 0.3
# No low-pass filter: the frames are the ones written, so the failing frames are known.
SETTINGS = StaticOptimizationConfig(lowpass_cutoff_hz=-1.0)


def _write_slider_muscle_case(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    model = opensim.Model()
    model.setName("slider_muscle")
    block = opensim.Body("block", 1.0, opensim.Vec3(0), opensim.Inertia(0.01))
    model.addBody(block)
    joint = opensim.SliderJoint("slider", model.getGround(), block)
    joint.updCoordinate().setName("block_x")
    joint.updCoordinate().setRangeMin(-2.0)
    joint.updCoordinate().setRangeMax(2.0)
    model.addJoint(joint)
    # max isometric force 500 N, optimal fibre 0.1 m, tendon slack 0.2 m, no pennation
    muscle = opensim.Thelen2003Muscle("pull", 500.0, 0.1, 0.2, 0.0)
    muscle.addNewPathPoint("origin", model.getGround(), opensim.Vec3(0))
    muscle.addNewPathPoint("insertion", block, opensim.Vec3(0))
    model.addForce(muscle)
    reserve = opensim.CoordinateActuator("block_x")
    reserve.setName("reserve_block_x")
    reserve.setMinControl(-1e4)
    reserve.setMaxControl(1e4)
    model.addForce(reserve)
    model.finalizeConnections()
    paths = {"model": folder / "model.osim", "coordinates": folder / "coordinates.sto",
             "loads": folder / "external_loads.xml", "actuators": folder / "actuators.xml"}
    model.printToXML(str(paths["model"]))

    times_s = np.arange(0.0, DURATION_S + 1e-9, FRAME_INTERVAL_S)
    block_x_m = 0.3 + 1.0 * np.exp(-times_s / 0.01)
    write_mot(paths["coordinates"], {"block_x": block_x_m}, times_s, in_degrees=False)
    opensim.ExternalLoads().printToXML(str(paths["loads"]))
    opensim.ForceSet().printToXML(str(paths["actuators"]))
    return paths


def _run(paths: dict[str, Path], out_dir: Path, later_start_times_s: list[float]):
    return run_static_optimization(model_path=paths["model"], coordinates_path=paths["coordinates"],
                                   external_loads_path=paths["loads"], actuators_path=paths["actuators"],
                                   out_dir=out_dir, settings=SETTINGS, time_range_s=(0.0, DURATION_S),
                                   trial_id="slider/t01", later_start_times_s=later_start_times_s)


def test_so_starts_at_the_first_frame_where_the_muscles_equilibrate(tmp_path):
    paths = _write_slider_muscle_case(tmp_path / "case")
    result = _run(paths, tmp_path / "so", [0.01, 0.02, 0.03])

    assert result.skipped_start_frames == 2
    assert result.start_time_s == pytest.approx(0.02)
    forces = read_opensim_table(result.forces_path)
    assert forces["time"].iloc[0] == pytest.approx(0.02)
    assert forces["time"].iloc[-1] == pytest.approx(DURATION_S)
    assert np.all(np.isfinite(forces["pull"]))
    assert "Unable to compute equilibrium" in result.start_failure
    assert (tmp_path / "so" / "logs" / "so_opensim.log").is_file()
    assert result.log_path.name == "so_retry2_opensim.log"
    assert f"<initial_time>{result.start_time_s:g}</initial_time>" in result.setup_path.read_text().replace(" ", "")


def test_so_that_cannot_start_names_the_failure_and_leaves_no_forces(tmp_path):
    paths = _write_slider_muscle_case(tmp_path / "case")
    with pytest.raises(OpenSimToolError, match="Unable to compute equilibrium") as without_retries:
        _run(paths, tmp_path / "so_once", [])
    assert "late" not in str(without_retries.value)
    with pytest.raises(OpenSimToolError, match=r"started 1 frame\(s\) late, at 0\.010 s") as too_few:
        _run(paths, tmp_path / "so_twice", [0.01])
    assert too_few.value.stage == "so"
    assert not (tmp_path / "so_twice" / "so_StaticOptimization_force.sto").exists()
