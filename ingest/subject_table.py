"""A lab's subject list (CSV: ``id,mass_kg,height_m[,group,affected_side]``) for ``ingest corpus --subjects``.

Body mass and height normally come from each C3D's ``PROCESSING:Bodymass`` / ``Height``; a
corpus whose files lack them (or carry wrong ones) gets them from this table, which wins.
"""

from __future__ import annotations

import csv
from pathlib import Path

from gait2hip.core.errors import InputDataError
from gait2hip.pipeline.subject import SubjectInfo

_REQUIRED_COLUMNS = ("id", "mass_kg", "height_m")
_OPTIONAL_COLUMNS = ("group", "affected_side")


def read_subject_table(path: str | Path) -> dict[str, SubjectInfo]:
    """Subject id → :class:`SubjectInfo` from a CSV file with a header row.

    Empty ``group`` means ``healthy``; empty ``affected_side`` (or ``none``) means none.

    Raises
    ------
    InputDataError
        Naming the file and the row: a missing or unknown column, a repeated id, a value
        that is not a number or is outside the physical range.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as stream:
            rows = list(csv.DictReader(stream))
            columns = tuple(name.strip() for name in (rows[0].keys() if rows else ()))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise InputDataError(path, f"subject table not readable ({error})") from error
    if not rows:
        raise InputDataError(path, "subject table is empty (expected a header row id,mass_kg,height_m and one row per subject)")
    missing = [name for name in _REQUIRED_COLUMNS if name not in columns]
    unknown = [name for name in columns if name not in (*_REQUIRED_COLUMNS, *_OPTIONAL_COLUMNS)]
    if missing or unknown:
        raise InputDataError(path, f"subject table columns must be {', '.join(_REQUIRED_COLUMNS)} "
                                   f"[, {', '.join(_OPTIONAL_COLUMNS)}]; missing {missing}, unknown {unknown}")
    subjects: dict[str, SubjectInfo] = {}
    for number, raw in enumerate(rows, start=2):
        row = {key.strip(): (value or "").strip() for key, value in raw.items() if key is not None}
        subject_id = row["id"]
        if not subject_id:
            raise InputDataError(path, f"row {number}: empty id")
        if subject_id in subjects:
            raise InputDataError(path, f"row {number}: subject {subject_id!r} is listed twice")
        side = row.get("affected_side", "")
        try:
            subjects[subject_id] = SubjectInfo(subject_id, float(row["mass_kg"]), float(row["height_m"]),
                                               row.get("group") or "healthy",
                                               None if side.lower() in ("", "none", "null") else side)
        except ValueError as error:
            raise InputDataError(path, f"row {number} ({subject_id}): {error}") from error
    return subjects
