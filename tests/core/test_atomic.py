"""Atomic writes: whole or nothing, the user's normal permissions, on disk before the rename."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from gait2hip.core import atomic
from gait2hip.core.atomic import make_staging_folder, write_atomically, write_json_atomically


@pytest.fixture()
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_written_file_has_the_mode_the_umask_gives(tmp_path, umask_022):
    assert _mode(write_json_atomically(tmp_path / "summary.json", {"a": 1})) == 0o644


def test_a_folder_written_as_a_whole_has_the_mode_the_umask_gives(tmp_path, umask_022):
    def write_folder(temporary: Path) -> None:
        temporary.mkdir()
        (temporary / "part.txt").write_text("x")

    folder = write_atomically(tmp_path / "dataset", write_folder)
    assert _mode(folder) == 0o755 and _mode(folder / "part.txt") == 0o644


def test_a_staging_folder_is_not_private(tmp_path, umask_022):
    assert _mode(make_staging_folder(tmp_path, prefix=".dataset.")) == 0o755  # mkdtemp alone gives 0o700


def test_the_file_is_synced_to_disk_before_it_takes_its_name(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(atomic.os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    write_json_atomically(tmp_path / "result.json", {"status": "ok"})
    assert "fsync" in events and events.index("fsync") < events.index("replace")


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = write_json_atomically(tmp_path / "result.json", {"status": "ok"})

    def fail_half_way(temporary: Path) -> None:
        temporary.write_text('{"status": "fa')
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(path, fail_half_way)
    assert path.read_text() == write_json_atomically(tmp_path / "again.json", {"status": "ok"}).read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.json", "result.json"]
