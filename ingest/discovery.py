"""Find the subjects of a corpus folder, their C3D files and each subject's static trial.

Layout: each folder directly inside the corpus folder is one subject, holding its ``.c3d``
files at any depth (``HC055A/static/HC055A01.c3d``, ``AUC/dynamic/CB_Dynamic0003.c3d``);
``.c3d`` files lying in the corpus folder itself form one more subject, named after the
corpus folder (``opensim_core/walking2.c3d``). Folders whose name starts with ``.`` or ``_``
are left out, as the cohort reader leaves them out.

The static trial of a subject is, in this order:

1. a file whose name, or the name of a folder between the subject folder and the file,
   contains ``static`` (any case): ``static/HC055A01.c3d``, ``QCMAS.static.c3d``;
2. otherwise a file in which the subject stands still: no pelvis, heel or toe marker moves
   more than :data:`STILL_RANGE_M` (the spread of its positions, 5th to 95th percentile).
   The plate load is not part of the rule: labs record static trials standing on the
   plates as often as off them.

Of several candidates the one giving the most model markers wins (the static trial scales
the model, so the one with medial knee and ankle markers is worth more); then the first
by path. Every other candidate is neither the static trial nor a walking trial.
"""

from __future__ import annotations

import fnmatch
import logging
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from gait2hip.core.errors import Gait2HipError, InputDataError
from gait2hip.ingest.c3d_reader import read_c3d
from gait2hip.ingest.config import IngestConfig
from gait2hip.ingest.protocol_detection import choose_protocol
from gait2hip.ingest.protocols import map_markers

logger = logging.getLogger(__name__)

# A static trial's markers stay within this (m, 5th-95th percentile spread); walking moves
# the pelvis and feet by metres, standing sway by a centimetre or two.
STILL_RANGE_M = 0.10
_PERCENTILES = (5.0, 95.0)


@dataclass(frozen=True)
class SubjectFiles:
    """One subject of a corpus: its folder and its C3D files (sorted by path).

    Attributes
    ----------
    subject_id
        Folder-safe id (the folder name, characters other than letters, digits, ``. _ -``
        replaced by ``_``).
    folder
        The subject's folder in the corpus (the corpus folder itself for loose files).
    files
        Its ``.c3d`` files, sorted by their path relative to ``folder``.
    """

    subject_id: str
    folder: Path
    files: tuple[Path, ...]


@dataclass(frozen=True)
class StaticCandidate:
    """A file that may be the static trial, and why.

    Attributes
    ----------
    reason
        ``"folder name"``, ``"file name"`` or ``"little motion"``.
    model_markers
        Model markers it gives with its protocol (0 when it could not be read).
    """

    path: Path
    reason: str
    model_markers: int = 0


def safe_id(name: str) -> str:
    """A folder-safe id from a file or folder name (``MH_Cal 01`` → ``MH_Cal_01``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "subject"


def find_subjects(corpus_dir: Path) -> list[SubjectFiles]:
    """The subjects of ``corpus_dir`` (see the module docstring for the layout), sorted by id.

    Raises
    ------
    InputDataError
        If ``corpus_dir`` is not a folder, holds no ``.c3d`` file, or two subject folders
        give the same id.
    """
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise InputDataError(corpus_dir, "CORPUS_DIR: no such folder")
    subjects = []
    loose = _c3d_files(corpus_dir, recursive=False)
    if loose:
        subjects.append(SubjectFiles(safe_id(corpus_dir.resolve().name), corpus_dir, tuple(loose)))
    for folder in sorted(p for p in corpus_dir.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        files = _c3d_files(folder, recursive=True)
        if files:
            subjects.append(SubjectFiles(safe_id(folder.name), folder, tuple(files)))
    if not subjects:
        raise InputDataError(corpus_dir, "holds no .c3d file (expected SUBJECT/…/*.c3d folders, or .c3d files)")
    ids = [subject.subject_id for subject in subjects]
    clashes = sorted({i for i in ids if ids.count(i) > 1})
    if clashes:
        raise InputDataError(corpus_dir, f"subject folders give the same id {', '.join(clashes)}; rename one of them")
    return sorted(subjects, key=lambda subject: subject.subject_id)


def relative_path(path: Path, folder: Path) -> str:
    """``path`` relative to ``folder`` with ``/`` separators (what ``--include`` globs match)."""
    return PurePosixPath(Path(path).relative_to(folder).as_posix()).as_posix()


def matches_any(relative: str, patterns: tuple[str, ...]) -> bool:
    """Whether ``relative`` matches one of the shell-style ``patterns`` (case-sensitive; ``*`` spans ``/``)."""
    return any(fnmatch.fnmatchcase(relative, pattern) for pattern in patterns)


def static_by_name(path: Path, subject_folder: Path) -> str | None:
    """``"folder name"`` or ``"file name"`` when that name contains "static" (any case), else None."""
    relative = Path(path).relative_to(subject_folder)
    if any("static" in part.lower() for part in relative.parent.parts):
        return "folder name"
    if "static" in relative.stem.lower():
        return "file name"
    return None


def motion_range_m(path: Path, config: IngestConfig) -> tuple[float, int]:
    """How far the subject moves in a file, and how many model markers its protocol gives.

    Returns
    -------
    range_m
        The largest 5th-95th percentile spread (m) of the pelvis markers, heels and toes.
    model_markers
        Model markers the file gives with its protocol (auto-detected or given).

    Raises
    ------
    InputDataError
        If the file cannot be read or no protocol fits it.
    """
    recording = read_c3d(path, ignore_plates=config.ignore_plates)
    choice = choose_protocol(config.protocol, recording.marker_names, recording.marker_positions_m, path,
                             extra_required=config.required_markers)
    protocol = choice.protocol
    markers = map_markers(protocol, recording.marker_names, recording.marker_positions_m, path,
                          extra_required=config.required_markers)
    spreads = []
    for name in dict.fromkeys((*protocol.pelvis_markers, *protocol.heel_markers.values(), *protocol.toe_markers.values())):
        position = markers.position(name)
        tracked = position[~np.isnan(position).any(axis=1)]
        low, high = np.percentile(tracked, _PERCENTILES, axis=0)
        spreads.append(float(np.linalg.norm(high - low)))
    return max(spreads), len(markers.names)


def static_candidates(subject: SubjectFiles, files: tuple[Path, ...], config: IngestConfig) -> list[StaticCandidate]:
    """The files of ``files`` that may be the subject's static trial, best first.

    Files named *static* are the candidates when there are any; otherwise every file in
    which the subject stands still. A file that cannot be read is never a candidate (its
    walking-trial conversion reports the problem).
    """
    named = [(path, reason) for path in files if (reason := static_by_name(path, subject.folder))]
    candidates = []
    for path, reason in named or [(path, "little motion") for path in files]:
        try:
            range_m, n_markers = motion_range_m(path, config)
        except Gait2HipError as error:
            logger.debug("%s: not a static candidate (%s)", path.name, error)
            if named:  # named static but unreadable: still the static trial; its conversion says why
                candidates.append(StaticCandidate(path, reason, 0))
            continue
        if named or range_m < STILL_RANGE_M:
            candidates.append(StaticCandidate(path, reason, n_markers))
    return sorted(candidates, key=lambda c: (-c.model_markers, relative_path(c.path, subject.folder)))


def _c3d_files(folder: Path, *, recursive: bool) -> list[Path]:
    found = folder.rglob("*") if recursive else folder.iterdir()
    files = [path for path in found if path.is_file() and path.suffix.lower() == ".c3d"
             and not any(part.startswith((".", "_")) for part in path.relative_to(folder).parts)]
    return sorted(files, key=lambda path: relative_path(path, folder))
