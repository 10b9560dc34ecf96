"""Storage files: a file that is not a .mot/.sto is refused before OpenSim reads it (it would not return)."""

from __future__ import annotations

import pytest

from gait2hip.core.errors import InputDataError
from gait2hip.core.opensim_files import read_opensim_table
from gait2hip.pipeline.config import GRFConfig
from gait2hip.pipeline.ground_reactions import read_grf


def test_file_without_endheader_is_refused_naming_the_file(tmp_path):
    broken = tmp_path / "grf.mot"
    broken.write_text("not an OpenSim file\n")
    with pytest.raises(InputDataError, match="grf.mot.*endheader"):
        read_opensim_table(broken)
    with pytest.raises(InputDataError, match="endheader"):
        read_grf(broken, GRFConfig(), (0.0, 1.0))

