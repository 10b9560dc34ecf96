"""The SO stage writes exactly the ``.sto`` files OpenSim's AnalyzeTool writes, and not its ControlSet.

The stage prints the tool's activation and force storages itself, skipping the tool's
``so_StaticOptimization_controls.xml`` (an XML node per actuator per frame, which doubles the
memory of a long trial). Real OpenSim on a few frames of a synthetic walk (a subject-scaled
gait2392 of the virtual gait lab, its generating coordinates and GRFs).
"""

from __future__ import annotations

import shutil

import opensim
import pytest

from gait2hip.pipeline.config import PipelineConfig
from gait2hip.pipeline.static_optimization import run_static_optimization

FIRST_FRAME, N_FRAMES = 40, 6
CONTROLS_FILE = "so_StaticOptimization_controls.xml"
RESULT_FILES = ("so_StaticOptimization_force.sto", "so_StaticOptimization_activation.sto")


@pytest.fixture(scope="module")
def stage(synthetic_so_walk, tmp_path_factory) -> dict:
    """The SO stage run on a few frames, its outputs copied aside, then the plain tool run from its setup."""
    folder = tmp_path_factory.mktemp("so_outputs")
    out_dir = folder / "so"
    result = run_static_optimization(**synthetic_so_walk.window(FIRST_FRAME, N_FRAMES), out_dir=out_dir,
                                     settings=PipelineConfig().static_optimization)
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
