"""The SO stage writes exactly the ``.sto`` files OpenSim's AnalyzeTool writes, and not its ControlSet.

The stage prints the tool's activation and force storages itself, skipping the tool's
``so_StaticOptimization_controls.xml`` (an XML node per actuator per frame, which doubles the
memory of a long trial). Real OpenSim on a few frames of a synthetic walk (a subject-scaled
gait2392 of the virtual gait lab, its generating coordinates and GRFs).
"""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import opensim
import pytest

from gait2hip.pipeline.actuators import write_so_actuators
from gait2hip.pipeline.config import PipelineConfig
from gait2hip.pipeline.ground_reactions import write_external_loads
from gait2hip.pipeline.model_config import ModelConfig
from gait2hip.pipeline.static_optimization import run_static_optimization
from gait2hip.virtual_lab.cohort import synthesize_cohort
from gait2hip.virtual_lab.presets import CohortPreset, GroupSpec

FIRST_FRAME, N_FRAMES = 40, 6
CONTROLS_FILE = "so_StaticOptimization_controls.xml"
RESULT_FILES = ("so_StaticOptimization_force.sto", "so_StaticOptimization_activation.sto")


@pytest.fixture(scope="module")
def stage(tmp_path_factory) -> dict:
    """The SO stage run on a few frames, its outputs copied aside, then the plain tool run from its setup."""
    folder = tmp_path_factory.mktemp("so_outputs")
    preset = CohortPreset.load("demo")
    preset = dataclasses.replace(preset, groups=(GroupSpec("healthy", 1, (110.0,), 1),))
    synthesize_cohort(preset, folder / "cohort")
    subject = folder / "cohort" / "S01"
    trial = next((subject / "trials").iterdir())
    model_path = subject / "truth" / "model.osim"
    coordinates_path = subject / "truth" / f"{trial.name}_coordinates.mot"
    config = PipelineConfig()
    model_config = ModelConfig.load(config.model)
    model = opensim.Model(str(model_path))
    model.initSystem()
    loads = write_external_loads(trial / "grf.mot", config.grf, model_config.foot_bodies, folder / "external_loads.xml")
    actuators = folder / "so_actuators.xml"
    write_so_actuators(model, model_config, config.static_optimization, actuators)
    times_s = np.asarray(opensim.TimeSeriesTable(str(coordinates_path)).getIndependentColumn())
    out_dir = folder / "so"
    result = run_static_optimization(model_path=model_path, coordinates_path=coordinates_path,
                                     external_loads_path=loads, actuators_path=actuators, out_dir=out_dir,
                                     settings=config.static_optimization, trial_id="S01/walk",
                                     time_range_s=(float(times_s[FIRST_FRAME]),
                                                   float(times_s[FIRST_FRAME + N_FRAMES - 1])))
    ours = folder / "ours"
    ours.mkdir()
    written_by_stage = sorted(path.name for path in out_dir.iterdir() if path.is_file())
    for name in RESULT_FILES:
        shutil.copy(out_dir / name, ours / name)
    # OpenSim's own tool from the same setup, printing its results itself, over the same folder.
    assert opensim.AnalyzeTool(str(result.setup_path), True).run()
    return {"result": result, "out_dir": out_dir, "ours": ours, "written_by_stage": written_by_stage}


def test_stage_result_files_are_byte_for_byte_those_the_tool_prints(stage):
    for name in RESULT_FILES:
        assert (stage["ours"] / name).read_bytes() == (stage["out_dir"] / name).read_bytes(), name
    assert stage["result"].n_failed_frames == 0


def test_stage_writes_no_control_set_that_the_tool_alone_writes(stage):
    assert CONTROLS_FILE not in stage["written_by_stage"]
    assert set(RESULT_FILES) <= set(stage["written_by_stage"])
    assert (stage["out_dir"] / CONTROLS_FILE).is_file()
