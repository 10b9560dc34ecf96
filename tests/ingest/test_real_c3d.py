"""Ingest of measured C3D files (biomechZoo, vendored in tests/data/realdata with their licence)."""

from __future__ import annotations

import filecmp
import logging
import shutil
from pathlib import Path

import ezc3d
import numpy as np
import pytest
import yaml

from gait2hip.core.opensim_files import grf_identifiers, read_opensim_table
from gait2hip.ingest.batch import ingest_c3d
from gait2hip.workflows.cli import main

DATA = Path(__file__).resolve().parents[1] / "data" / "realdata" / "biomechzoo"
WALK = DATA / "HC055A09.c3d"  # PROCESSING: Bodymass 32 kg, Height 1440 mm
STATIC = DATA / "HC040A04.c3d"  # PROCESSING: Bodymass 25 kg, Height 1225 mm
COP_TOLERANCE_M = 0.01


def test_subject_mass_and_height_come_from_the_c3d_processing_parameters(tmp_path):
    assert main(["ingest", "c3d", str(WALK), "--out", str(tmp_path / "HC055A")]) == 0
    subject = yaml.safe_load((tmp_path / "HC055A" / "subject.yaml").read_text())
    # Height is stored in mm in these files; subject.yaml is in m.
    assert subject["id"] == "HC055A" and subject["mass_kg"] == pytest.approx(32.0)
    assert subject["height_m"] == pytest.approx(1.44)


def test_flags_override_the_c3d_mass_and_height_one_by_one(tmp_path):
    assert main(["ingest", "c3d", str(WALK), "--out", str(tmp_path / "S1"), "--mass", "33.5"]) == 0
    subject = yaml.safe_load((tmp_path / "S1" / "subject.yaml").read_text())
    assert subject["mass_kg"] == pytest.approx(33.5) and subject["height_m"] == pytest.approx(1.44)


def test_static_trial_gives_the_subject_in_mm_converted_to_m(tmp_path):
    folder = tmp_path / "session"
    folder.mkdir()
    shutil.copy(STATIC, folder / "HC040A04_static.c3d")
    report = ingest_c3d(folder, tmp_path / "HC040A")
    assert [c.kind for c in report.converted] == ["static"]
    subject = yaml.safe_load((tmp_path / "HC040A" / "subject.yaml").read_text())
    assert subject["mass_kg"] == pytest.approx(25.0) and subject["height_m"] == pytest.approx(1.225)


def test_real_plates_give_upward_ground_reactions_without_a_sign_warning(tmp_path, caplog):
    """The labs' plate channels carry the ground reaction: no "pushes downwards" flip on any plate."""
    with caplog.at_level(logging.WARNING, logger="gait2hip.ingest.force_plates"):
        report = ingest_c3d(WALK, tmp_path / "HC055A")
    assert "downwards" not in caplog.text
    conversion = report.converted[0]
    grf = read_opensim_table(conversion.paths["grf"])
    analog_times = grf["time"].to_numpy()
    platforms = ezc3d.c3d(str(WALK), extract_forceplat_data=True)["data"]["platform"]
    assert {c.side for c in conversion.contacts} == {"r", "l"}
    for contact in conversion.contacts:
        ids = grf_identifiers(contact.side)
        vertical = grf[f"{ids.force}y"].to_numpy()
        assert vertical.max() > 0.8 * 32.0 * 9.81 and vertical.min() >= 0.0
        # Mid-stance COP agrees with the one ezc3d computes from the raw channels (lab axes, mm).
        platform = platforms[contact.plate_number - 1]
        middle = int(np.argmin(np.abs(analog_times - (contact.start_s + contact.end_s) / 2)))
        theirs_m = conversion.axes.apply(platform["center_of_pressure"][:, middle] / 1000.0)
        ours_m = np.array([grf[f"{ids.point}{axis}"].to_numpy()[middle] for axis in "xyz"])
        np.testing.assert_allclose(ours_m, theirs_m, atol=COP_TOLERANCE_M)


def test_reingesting_a_real_file_writes_the_same_bytes(tmp_path):
    subject_dir = tmp_path / "HC055A"
    ingest_c3d(WALK, subject_dir)
    first = tmp_path / "first"
    shutil.copytree(subject_dir, first)
    ingest_c3d(WALK, subject_dir, overwrite=True)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(subject_dir) for p in subject_dir.rglob("*") if p.is_file())
    assert len(files) == 5
    _, mismatch, errors = filecmp.cmpfiles(first, subject_dir, [str(f) for f in files], shallow=False)
    assert mismatch == [] and errors == []
