"""Shared pytest set-up: OpenSim logging kept out of the working directory, and real labels."""

import dataclasses

import opensim
import pytest


@pytest.fixture(autouse=True, scope="session")
def _quiet_opensim():
    opensim.Logger.removeFileSink()
    opensim.Logger.setLevelString("warn")
    yield


@pytest.fixture(scope="session")
def labelled_dataset(tmp_path_factory):
    """Labels the OpenSim pipeline really produced on a tiny synthetic cohort (3 healthy + 1 antalgic-hip)."""
    from gait2hip.pipeline.batch import BatchOptions, label_cohort
    from gait2hip.pipeline.config import PipelineConfig
    from gait2hip.virtual_lab.cohort import synthesize_cohort
    from gait2hip.virtual_lab.presets import CohortPreset, GroupSpec

    folder = tmp_path_factory.mktemp("labelled")
    preset = CohortPreset.load("demo")
    preset = dataclasses.replace(
        preset, seed=5, recording=dataclasses.replace(preset.recording, n_cycles=1.0),
        groups=(GroupSpec("healthy", 3, (110.0,), 1), GroupSpec("antalgic-hip", 1, (), 1)))
    synthesize_cohort(preset, folder / "cohort")
    report = label_cohort(folder / "cohort", folder / "labels", PipelineConfig(), BatchOptions(jobs=2, quiet=True))
    assert report.n_failed == 0
    return report.dataset_dir
