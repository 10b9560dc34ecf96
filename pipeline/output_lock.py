"""One batch at a time per labels folder: an exclusive lock on ``LABELS_DIR/.gait2hip-label.lock``.

Two ``gait2hip label`` runs writing the same folder would race on every task's files and
on the manifest. The lock is an operating-system lock (``flock``) held on an open file for
as long as the batch runs: it is released when the process ends, however it ends, so a run
that was killed leaves a lock file that the next run simply takes over. The file records
the holder's PID and host, to name them when a second run is refused.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from gait2hip.core.errors import Gait2HipError

LOCK_FILE = ".gait2hip-label.lock"


class OutputFolderLockedError(Gait2HipError):
    """Another process holds the lock of the labels folder.

    Parameters
    ----------
    lock_path
        The lock file.
    holder
        What the lock file says about its holder (``PID 1234 on host``), or ``unknown``.
    """

    def __init__(self, lock_path: Path, holder: str):
        self.lock_path = Path(lock_path)
        self.holder = holder
        super().__init__(f"{self.lock_path}: another gait2hip label run ({holder}) is writing to this folder; "
                         f"wait for it to finish, stop it, or choose another --out")


@contextlib.contextmanager
def locked_output_folder(folder: Path) -> Iterator[Path]:
    """Hold the lock of ``folder`` (created if needed) for the ``with`` block; yield the lock file.

    Raises
    ------
    OutputFolderLockedError
        If another process holds it (its PID and host are in the message).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock_path = folder / LOCK_FILE
    descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 256, 0).decode(errors="replace").strip() or "unknown"
            raise OutputFolderLockedError(lock_path, holder) from None
        # A killed run's PID may still be in the file: ours replaces it.
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"PID {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        yield lock_path
    finally:
        os.close(descriptor)  # releases the lock; the file stays, harmless, for the next run to take
