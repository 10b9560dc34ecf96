"""The batched static optimization solved a chunk of frames at a time gives what it gives all at once.

Chunking bounds the solver's memory on a long trial; these tests pin that it changes no result:
the per-frame problems, the solutions and the written files are the same bits. Real OpenSim on a
short synthetic walk (a subject-scaled gait2392 of the virtual gait lab, its generating
coordinates and GRFs).
"""

from __future__ import annotations


import numpy as np
import pytest

from gait2hip.pipeline.batched_static_optimization import _SOProblem, run_batched_static_optimization
from gait2hip.pipeline.bounded_least_squares import solve_bounded_least_norm
from gait2hip.pipeline.config import StaticOptimizationConfig

FIRST_FRAME, N_FRAMES = 30, 23
# Small and not a divisor of N_FRAMES, so the last chunk is a short one.
SMALL_CHUNK_FRAMES = 5


@pytest.fixture(scope="module")
def walk(synthetic_so_walk, tmp_path_factory) -> dict:
    return {"folder": tmp_path_factory.mktemp("batched_so_chunks"), "inputs": synthetic_so_walk.window(FIRST_FRAME, N_FRAMES)}


@pytest.fixture(scope="module")
def problem_frames(walk) -> dict:
    """The SO problem's kinematics and its per-frame terms for every frame of the window at once."""
    inputs = walk["inputs"]
    problem = _SOProblem(inputs["model_path"], inputs["actuators_path"], inputs["external_loads_path"], "S01/walk")
    settings = StaticOptimizationConfig()
    kinematics = problem.target_kinematics(inputs["coordinates_path"], settings.lowpass_cutoff_hz,
                                           inputs["time_range_s"])
    whole = problem.frames(*kinematics, settings.use_muscle_physiology)
    return {"problem": problem, "kinematics": kinematics, "whole": whole, "settings": settings}


def test_frame_terms_set_up_in_chunks_equal_those_set_up_all_at_once(problem_frames):
    problem, kinematics = problem_frames["problem"], problem_frames["kinematics"]
    matrix, target, optimal_forces, other_values = problem_frames["whole"]
    assert len(kinematics[0]) == N_FRAMES
    for first in range(0, N_FRAMES, SMALL_CHUNK_FRAMES):
        chunk = slice(first, first + SMALL_CHUNK_FRAMES)
        chunk_matrix, chunk_target, chunk_forces, chunk_other = problem.frames(
            *(array[chunk] for array in kinematics), problem_frames["settings"].use_muscle_physiology)
        np.testing.assert_array_equal(chunk_matrix, matrix[chunk])
        np.testing.assert_array_equal(chunk_target, target[chunk])
        np.testing.assert_array_equal(chunk_forces, optimal_forces[chunk])
        for ours, theirs in zip(chunk_other, other_values[chunk]):
            for a, b in zip(ours, theirs):
                assert (a is None and b is None) or np.array_equal(a, b)


def test_frames_solved_in_chunks_give_the_same_bits_as_solved_together(problem_frames):
    problem = problem_frames["problem"]
    matrix, target, _, _ = problem_frames["whole"]
    together = solve_bounded_least_norm(matrix, target, problem.lower, problem.upper, tolerance=1e-12)
    assert together.converged.all()
    for first in range(0, N_FRAMES, SMALL_CHUNK_FRAMES):
        chunk = slice(first, first + SMALL_CHUNK_FRAMES)
        alone = solve_bounded_least_norm(matrix[chunk], target[chunk], problem.lower, problem.upper, tolerance=1e-12)
        np.testing.assert_array_equal(alone.x, together.x[chunk])
        np.testing.assert_array_equal(alone.converged, together.converged[chunk])


def test_chunked_batched_so_writes_the_same_files_as_unchunked(walk):
    settings = StaticOptimizationConfig(solver="batched")
    runs = {chunk: run_batched_static_optimization(**walk["inputs"], out_dir=walk["folder"] / f"chunk_{chunk}",
                                                   settings=settings, chunk_frames=chunk)
            for chunk in (SMALL_CHUNK_FRAMES, N_FRAMES)}
    small, whole = runs[SMALL_CHUNK_FRAMES], runs[N_FRAMES]
    assert small.forces_path.read_bytes() == whole.forces_path.read_bytes()
    assert small.activations_path.read_bytes() == whole.activations_path.read_bytes()
    assert small.log_path.read_text() == whole.log_path.read_text()
    assert small.n_failed_frames == whole.n_failed_frames == 0


def test_a_chunk_of_no_frames_is_refused(walk, tmp_path):
    with pytest.raises(ValueError, match="chunk_frames"):
        run_batched_static_optimization(**walk["inputs"], out_dir=tmp_path, settings=StaticOptimizationConfig(),
                                        chunk_frames=0)
