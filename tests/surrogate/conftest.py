"""Labels the OpenSim pipeline really produced, on a tiny synthetic cohort, once per session."""

from __future__ import annotations

import dataclasses

import pytest

from pipeline.batch import BatchOptions, label_cohort
from pipeline.config import PipelineConfig
from virtual_lab.cohort import synthesize_cohort
from virtual_lab.presets import CohortPreset, GroupSpec


@pytest.fixture(scope="session")
def labelled_dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("labelled")
    preset = CohortPreset.load("demo")
    preset = dataclasses.replace(
        preset, seed=5, recording=dataclasses.replace(preset.recording, n_cycles=1.0),
        groups=(GroupSpec("healthy", 3, (110.0,), 1), GroupSpec("antalgic-hip", 1, (), 1)))
    synthesize_cohort(preset, folder / "cohort")
    report = label_cohort(folder / "cohort", folder / "labels", PipelineConfig(), BatchOptions(jobs=2, quiet=True))
    assert report.n_failed == 0
    return report.dataset_dir
