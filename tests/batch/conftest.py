"""A tiny cohort, written once per session, for the batch-engine tests."""

from __future__ import annotations

import pytest

from support.synthetic_pipeline_data import write_tiny_cohort


@pytest.fixture(scope="session")
def tiny_cohort(tmp_path_factory):
    return write_tiny_cohort(tmp_path_factory.mktemp("cohort"), n_subjects=2, trials_per_subject=2)
