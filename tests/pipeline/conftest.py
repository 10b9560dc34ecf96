"""Fixtures for the pipeline tests: a subject, its static trial, and a still-posture trial.

The still trial holds a flexed posture (hip 20°, knee −30°, ankle 10°, trunk 30° forward) so that the hips carry
real moments, with body weight acting under the centre of mass: the GRFs then agree with the
motion exactly, which the residual tests rely on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import opensim
import pytest

from gait2hip.pipeline.config import PipelineConfig
from gait2hip.pipeline.scale import ScaleResult, scale_subject
from gait2hip.pipeline.subject import SubjectInfo
from gait2hip.pipeline.trial import TrialResult, label_trial
from support.synthetic_pipeline_data import (
    centre_of_mass_m,
    marker_positions,
    model_with_markers,
    write_still_grf,
    write_trc,
)

RATE_HZ = 100.0
STILL_DURATION_S = 0.4
STILL_POSE_DEG = {"hip_flexion_r": 20.0, "hip_flexion_l": 20.0, "knee_angle_r": -30.0, "knee_angle_l": -30.0,
                  "ankle_angle_r": 10.0, "ankle_angle_l": 10.0, "lumbar_extension": -30.0}


@dataclass(frozen=True)
class SubjectFiles:
    subject: SubjectInfo
    marker_model_path: Path
    static_trc_path: Path


@dataclass(frozen=True)
class StillTrial:
    subject: SubjectInfo
    scaled: ScaleResult
    result: TrialResult
    markers_trc_path: Path
    grf_path: Path


@pytest.fixture(scope="session")
def subject_files(tmp_path_factory) -> SubjectFiles:
    folder = tmp_path_factory.mktemp("subject")
    marker_model = model_with_markers(folder / "model_with_markers.osim")
    model = opensim.Model(str(marker_model))
    mass_kg = model.getTotalMass(model.initSystem())
    names, positions = marker_positions(marker_model, {"pelvis_tilt": np.zeros(int(RATE_HZ))})
    static = write_trc(folder / "static.trc", names, positions, RATE_HZ, units="mm")
    return SubjectFiles(SubjectInfo("S01", mass_kg, 1.75), marker_model, static)


@pytest.fixture(scope="session")
def still_trial(subject_files, tmp_path_factory) -> StillTrial:
    folder = tmp_path_factory.mktemp("still")
    n_frames = int(round(STILL_DURATION_S * RATE_HZ)) + 1
    pose_rad = {name: math.radians(value) for name, value in STILL_POSE_DEG.items()}
    names, positions = marker_positions(subject_files.marker_model_path,
                                        {name: np.full(n_frames, value) for name, value in pose_rad.items()})
    markers = write_trc(folder / "still.trc", names, positions, RATE_HZ, units="mm")
    centre = centre_of_mass_m(subject_files.marker_model_path, pose_rad)
    grf = write_still_grf(folder / "still_grf.mot", STILL_DURATION_S + 0.1, RATE_HZ,
                          subject_files.subject.body_weight_n, centre)
    config = PipelineConfig()
    scaled = scale_subject(subject_files.subject, subject_files.static_trc_path, folder / "scale", config)
    result = label_trial(subject_files.subject, scaled.scaled_model_path, markers, grf, folder / "still",
                         config, "S01/still")
    return StillTrial(subject_files.subject, scaled, result, markers, grf)


@dataclass(frozen=True)
class MeasuredWalk:
    """biomechZoo's HC040A (vendored in tests/data/realdata): one static and one straight walk.

    Ingested from C3D and scaled once (gait2392) for every test that needs a measured walk.
    """

    subject: SubjectInfo
    scaled_model_path: Path
    static_trc_path: Path
    markers_path: Path
    grf_path: Path
    folder: Path


@pytest.fixture(scope="session")
def measured_walk(tmp_path_factory) -> MeasuredWalk:
    from gait2hip.ingest.batch import ingest_c3d

    data = Path(__file__).resolve().parents[1] / "data" / "realdata" / "biomechzoo"
    folder = tmp_path_factory.mktemp("hc040a")
    ingest_c3d(data / "HC040A14.c3d", folder / "HC040A", static=data / "HC040A04.c3d")
    subject = SubjectInfo.from_yaml(folder / "HC040A" / "subject.yaml")
    static = folder / "HC040A" / "static.trc"
    scaled = scale_subject(subject, static, folder / "scale", PipelineConfig())
    trial = folder / "HC040A" / "trials" / "HC040A14"
    return MeasuredWalk(subject, scaled.scaled_model_path, static, trial / "markers.trc", trial / "grf.mot", folder)


@dataclass(frozen=True)
class SyntheticSOWalk:
    """SO's inputs for a synthetic walk, built once: a subject-scaled gait2392 of the virtual gait lab,
    its generating coordinates, its GRFs as external loads and the pipeline's SO actuators.

    ``inputs`` are the keyword arguments every SO solver takes except ``time_range_s``, ``out_dir`` and
    ``settings``; ``times_s`` the coordinates' frame times (s). Tests write into folders of their own.
    """

    inputs: dict
    times_s: np.ndarray
    cohort: Path  # the synthetic cohort folder (one subject S01, one trial)

    def window(self, first_frame: int, n_frames: int) -> dict:
        """``inputs`` with ``time_range_s`` over ``n_frames`` frames from ``first_frame``."""
        return {**self.inputs, "time_range_s": (float(self.times_s[first_frame]),
                                                float(self.times_s[first_frame + n_frames - 1]))}


@pytest.fixture(scope="session")
def synthetic_so_walk(tmp_path_factory) -> SyntheticSOWalk:
    import dataclasses

    from gait2hip.pipeline.actuators import write_so_actuators
    from gait2hip.pipeline.ground_reactions import write_external_loads
    from gait2hip.pipeline.model_config import ModelConfig
    from gait2hip.virtual_lab.cohort import synthesize_cohort
    from gait2hip.virtual_lab.presets import CohortPreset, GroupSpec

    folder = tmp_path_factory.mktemp("so_walk")
    preset = dataclasses.replace(CohortPreset.load("demo"), groups=(GroupSpec("healthy", 1, (110.0,), 1),))
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
    return SyntheticSOWalk({"model_path": model_path, "coordinates_path": coordinates_path,
                            "external_loads_path": loads, "actuators_path": actuators, "trial_id": "S01/walk"},
                           times_s, folder / "cohort")
