"""Storage files: a file that is not a .mot/.sto is refused before OpenSim reads it (it would not return)."""

from __future__ import annotations

import numpy as np
import pytest

from gait2hip.pipeline.config import GRFConfig
from gait2hip.core.errors import InputDataError
from gait2hip.pipeline.ground_reactions import read_grf
from gait2hip.pipeline.storage import read_opensim_table, write_mot


def test_file_without_endheader_is_refused_naming_the_file(tmp_path):
    broken = tmp_path / "grf.mot"
    broken.write_text("not an OpenSim file\n")
    with pytest.raises(InputDataError, match="grf.mot.*endheader"):
        read_opensim_table(broken)
    with pytest.raises(InputDataError, match="endheader"):
        read_grf(broken, GRFConfig(), (0.0, 1.0))


def test_written_mot_reads_back(tmp_path):
    times = np.arange(5) / 100.0
    path = write_mot(tmp_path / "a.mot", {"x": times * 2.0}, times, in_degrees=False)
    np.testing.assert_allclose(read_opensim_table(path)["x"].to_numpy(), times * 2.0)
