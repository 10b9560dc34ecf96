"""Checks of command-line values shared by the sub-commands.

The ``type=`` helpers raise :class:`argparse.ArgumentTypeError`, so argparse prints the usual
one-line usage error naming the option (``argument --cadences: ...``) and exits 2. The other
helpers check what needs more than one value or the file system (an ``--out`` folder that is
a file, a trial id that would escape ``--out``) and raise the project's errors, which the CLI
prints as ``error: ...`` (exit 2).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
from pathlib import Path
from typing import TypeVar

from gait2hip.core.errors import ConfigError

T = TypeVar("T")

# gait2hip.virtual_lab.presets.CADENCE_RANGE_STEPS_PER_MIN, spelled here because importing the
# virtual lab loads OpenSim and parsing arguments must not (tests/fuzz pins the two equal).
CADENCE_RANGE_STEPS_PER_MIN = (40.0, 200.0)


def _number(text: str, kind: type) -> float | int:
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, got {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def finite_float(text: str) -> float:
    """A finite number (no NaN or infinity)."""
    return _number(text, float)


def positive_float(text: str) -> float:
    """A finite number > 0."""
    value = _number(text, float)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text!r}")
    return value


def time_limit_s(text: str) -> float:
    """A number of seconds > 0, or ``inf`` for no limit."""
    if text.strip().lower() in ("inf", "infinity"):
        return math.inf
    return positive_float(text)


def non_negative_float(text: str) -> float:
    """A finite number ≥ 0."""
    value = _number(text, float)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An integer ≥ 1 (counts: subjects, trials, repetitions, epochs)."""
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


def seed(text: str) -> int:
    """A random seed: an integer from 0 to 2**32 - 1 (what numpy's and torch's generators take)."""
    value = _number(text, int)
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"a seed is an integer from 0 to 4294967295, got {text!r}")
    return value


def jobs(text: str) -> int:
    """Parallel tasks: an integer ≥ 1, or -1 for one per core."""
    value = _number(text, int)
    if value < 1 and value != -1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (or -1: one per core), got {text!r}")
    return value


def cadences(text: str) -> tuple[float, ...]:
    """Comma-separated cadences in steps/min, each finite and within ``CADENCE_RANGE_STEPS_PER_MIN``."""
    parts = [part.strip() for part in text.split(",")]
    if not text.strip() or any(not part for part in parts):
        raise argparse.ArgumentTypeError(f"expected comma-separated cadences in steps/min (e.g. 90,110,130), "
                                         f"got {text!r}")
    low, high = CADENCE_RANGE_STEPS_PER_MIN
    values = []
    for part in parts:
        value = _number(part, float)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"cadence {part} steps/min is outside {low:g}–{high:g} steps/min")
        values.append(value)
    return tuple(values)


def plain_name(text: str) -> str:
    """A name used as one folder name: no path separators, not ``.``/``..``, not empty or absolute."""
    if (not text.strip() or text in (".", "..") or "/" in text or "\\" in text or os.sep in text
            or Path(text).is_absolute() or "\0" in text):
        raise argparse.ArgumentTypeError(f"must be a plain name (letters, digits, - _ .; no path separators, "
                                         f"not '..'), got {text!r}")
    return text


def check_output_folder(path: Path, option: str = "--out") -> Path:
    """``path`` as an output folder: refused when it is a file or cannot be created or written.

    Nothing is created here; a folder that does not exist yet must have a writable ancestor.

    Raises
    ------
    ConfigError
        Naming ``option`` and ``path``.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{option} {path}: exists and is not a folder (give a folder to write into)")
    _check_writable(path, option)
    return path


def check_output_file(path: Path, option: str = "--out") -> Path:
    """``path`` as a file to write: refused when it is a folder or its folder is not writable."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{option} {path}: is a folder (give a file name to write)")
    if path.parent.exists() and not path.parent.is_dir():
        raise ConfigError(f"{option} {path}: {path.parent} is a file, not a folder")
    _check_writable(path.parent, option, shown=path)
    return path


def _check_writable(folder: Path, option: str, shown: Path | None = None) -> None:
    shown = folder if shown is None else shown
    existing = folder.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{option} {shown}: {existing} is a file, so the folder cannot be created")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {shown}: {existing} is not writable")


def inside(folder: Path, name: str, option: str) -> Path:
    """``folder / name`` resolved, refused when it does not stay inside ``folder``."""
    base = Path(folder).resolve()
    target = (base / name).resolve()
    if target == base or base not in target.parents:
        raise ConfigError(f"{option} {name!r}: would write outside {folder}")
    return target


def replaced(instance: T, where: str, **changes) -> T:
    """``dataclasses.replace`` whose checks (``__post_init__``) become a ConfigError naming ``where``."""
    try:
        return dataclasses.replace(instance, **changes)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where}: {error}") from error


def check_input_file(path: Path, option: str, what: str = "file") -> Path:
    """``path`` as an input file: refused when missing, a folder or empty (InputDataError naming ``option``)."""
    from gait2hip.core.errors import InputDataError

    path = Path(path)
    if path.is_dir():
        raise InputDataError(path, f"{option}: is a folder, not a {what}")
    if not path.is_file():
        raise InputDataError(path, f"{option}: {what} not found")
    if path.stat().st_size == 0:
        raise InputDataError(path, f"{option}: the {what} is empty")
    return path


def check_input_folder(path: Path, option: str, what: str = "folder") -> Path:
    """``path`` as an input folder: refused when missing or a file (InputDataError naming ``option``)."""
    from gait2hip.core.errors import InputDataError

    path = Path(path)
    if not path.exists():
        raise InputDataError(path, f"{option}: {what} not found")
    if not path.is_dir():
        raise InputDataError(path, f"{option}: is a file, not a {what}")
    return path


# A scheduler that does not answer within this is reported at once instead of after Dask's own
# connect timeout (30 s); a scheduler on the same network answers in milliseconds.
SCHEDULER_CONNECT_TIMEOUT_S = 3.0


def check_scheduler_reachable(address: str, option: str = "--scheduler") -> None:
    """Refuse a Dask scheduler address that is malformed or where nothing accepts a connection."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError as error:
        raise ConfigError(f"{option} {address!r}: not a scheduler address ({error}); expected tcp://HOST:PORT") from None
    if parts.scheme not in ("tcp", "tls") or not host or port is None:
        raise ConfigError(f"{option} {address!r}: not a scheduler address; expected tcp://HOST:PORT "
                          "(e.g. tcp://192.168.1.10:8786)")
    try:
        with socket.create_connection((host, port), timeout=SCHEDULER_CONNECT_TIMEOUT_S):
            pass
    except OSError as error:
        raise ConfigError(f"{option} {address}: no Dask scheduler answers there within "
                          f"{SCHEDULER_CONNECT_TIMEOUT_S:g} s ({error.strerror or error}); start one "
                          "(`dask scheduler`) or leave --scheduler out to start a local cluster") from None
