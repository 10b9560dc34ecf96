"""Shared pytest set-up: keep OpenSim's default log file out of the working directory."""

import opensim
import pytest


@pytest.fixture(autouse=True, scope="session")
def _quiet_opensim():
    opensim.Logger.removeFileSink()
    opensim.Logger.setLevelString("warn")
    yield
