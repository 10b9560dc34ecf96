"""The distribution is one import namespace: a wheel holds ``gait2hip`` and nothing else."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _build_wheel(out_dir: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(out_dir), str(REPO)], check=True, capture_output=True, text=True)
    (wheel,) = out_dir.glob("gait2hip-*.whl")
    return wheel


def test_wheel_holds_only_the_gait2hip_package(tmp_path):
    with zipfile.ZipFile(_build_wheel(tmp_path)) as wheel:
        names = wheel.namelist()
        entry_points = next(wheel.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"gait2hip"}
    rooms = {name.split("/")[1] for name in names if name.startswith("gait2hip/") and name.count("/") >= 2}
    assert rooms == {"core", "ingest", "opensim_models", "pipeline", "surrogate", "virtual_lab", "workflows"}
    # The data files the code opens at run time travel with it.
    for data_file in ("gait2hip/opensim_models/gait2392/gait2392.osim", "gait2hip/surrogate/configs/transformer.yaml",
                      "gait2hip/workflows/presets/demo.yaml", "gait2hip/pipeline/default_config.yaml",
                      "gait2hip/ingest/protocols/plug_in_gait.yaml", "gait2hip/virtual_lab/data/normative_gait.yaml"):
        assert data_file in names
    assert "gait2hip = gait2hip.workflows.cli:main" in entry_points
