"""A one-subject synthetic cohort (three cadences) written once per session."""

from __future__ import annotations

import dataclasses

import pytest

from gait2hip.virtual_lab.cohort import synthesize_cohort
from gait2hip.virtual_lab.presets import CohortPreset, GroupSpec


def small_preset(seed: int = 7, n_cycles: float = 1.0) -> CohortPreset:
    preset = CohortPreset.load("demo")
    recording = dataclasses.replace(preset.recording, n_cycles=n_cycles)
    return dataclasses.replace(preset, seed=seed, recording=recording,
                               groups=(GroupSpec("healthy", 1, (90.0, 110.0, 130.0), 1),
                                       GroupSpec("antalgic-hip", 1, (), 1)))


@pytest.fixture(scope="session")
def small_cohort(tmp_path_factory):
    return synthesize_cohort(small_preset(), tmp_path_factory.mktemp("synthetic"))
