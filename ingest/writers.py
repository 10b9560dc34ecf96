"""Write a converted trial's files: ground reactions (.mot) and YAML, atomically; stage a trial folder.

TRC and ``.mot`` go through :mod:`gait2hip.core.opensim_files` (OpenSim's own adapters);
single files are written atomically (:func:`gait2hip.core.atomic.write_atomically`). A trial
folder is staged whole in a hidden sibling folder and renamed into place, so a reader sees
all of a trial's files or none of them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from gait2hip.core.atomic import make_staging_folder, write_atomically
from gait2hip.core.errors import InputDataError
from gait2hip.core.opensim_files import grf_columns, write_mot
from gait2hip.ingest.force_plates import FootLoads


def write_grf_mot(path: Path, times_s: np.ndarray, feet: dict[str, FootLoads]) -> Path:
    """Write both feet's force sets as a ``.mot`` (OpenSim's STO adapter), atomically.

    Columns (:func:`gait2hip.core.opensim_files.grf_column_names`): ``ground_force_v[xyz]``
    (N), ``ground_force_p[xyz]`` (COP, m), ``ground_torque_[xyz]`` (N·m) for the right foot;
    the same with ``1_`` for the left.
    """
    columns = grf_columns({side: loads.force_n for side, loads in feet.items()},
                          {side: loads.cop_m for side, loads in feet.items()},
                          {side: loads.torque_nm for side, loads in feet.items()})
    return write_mot(path, columns, times_s, in_degrees=False)


def write_yaml(path: Path, content: dict[str, Any]) -> Path:
    """Write ``content`` as block-style YAML (keys in the given order), atomically."""
    text = yaml.safe_dump(content, sort_keys=False, default_flow_style=None)
    return write_atomically(path, lambda temporary: temporary.write_text(text))


@contextlib.contextmanager
def staged_folder(final_dir: Path, *, overwrite: bool) -> Iterator[Path]:
    """Yield a hidden sibling folder to write into; on success it replaces ``final_dir``.

    On any exception the staged folder (and any parent folder this call created) is removed
    and ``final_dir`` is left as it was.

    Raises
    ------
    InputDataError
        If ``final_dir`` exists and ``overwrite`` is False.
    """
    final_dir = Path(final_dir)
    if final_dir.exists() and not overwrite:
        raise InputDataError(final_dir, "already exists; pass --overwrite to replace it")
    created = [folder for folder in (final_dir.parent, *final_dir.parent.parents) if not folder.exists()]
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    # The staged folder becomes the output: it gets the user's normal folder mode, not mkdtemp's 0700.
    staging = make_staging_folder(final_dir.parent, prefix=f".{final_dir.name}.", suffix=".partial")
    succeeded = False
    try:
        yield staging
        if final_dir.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{final_dir.name}.", suffix=".old", dir=final_dir.parent))
            os.replace(final_dir, retired / final_dir.name)
            os.replace(staging, final_dir)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, final_dir)
        succeeded = True
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
        if not succeeded:
            for folder in created:  # deepest first: leave no empty folders behind
                with contextlib.suppress(OSError):
                    folder.rmdir()
