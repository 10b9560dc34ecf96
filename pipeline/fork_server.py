"""A process that has imported OpenSim and the pipeline once, and forks a fresh child for every task.

Starting ``python -m gait2hip.pipeline.worker`` per task costs the interpreter and its imports
(OpenSim, SciPy, pandas: 1.3–2.5 s a task on a 2-core machine, as long as a trial's IK), every
time. A fork server pays that once per batch worker: it imports, then for each request forks a
child that runs the task exactly as the worker module does. Each task still has its own process
(an OpenSim abort kills only that child, memory never carries over from one task to the next);
it just starts with the imports already done.

The server does no OpenSim work itself, so every child starts from the same state: nothing of an
earlier task is inherited. It is single-threaded when it forks (thread pools are pinned to one
thread by the environment the client gives it), which is what makes forking safe.

Protocol over the server's stdin and stdout, one line each way per step:

* server → client, once: ``ready``;
* client → server: a JSON object ``{"request": path, "batch_pid": pid or null}``;
* server → client: ``started <pid>``, then ``exited <pid> <exit code>`` (a negative code is the
  signal that ended the child, as in :mod:`subprocess`).

While a child runs, the server also watches the batch process named in its request and kills
the child when the batch ends: a stopped child cannot notice that itself.

A child's stderr goes to ``CHILD_STDERR_FILE`` in the task's folder, which the client reads (its
last lines explain a crash) and removes.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from gait2hip.pipeline.worker import (PARENT_PID_VARIABLE, SINGLE_THREADED_ENVIRONMENT, exit_with_batch,
                                      exit_with_parent, preload_task_modules, run_request_file)

# The task child's stderr while it runs, in the task's folder; read and removed by the client.
CHILD_STDERR_FILE = ".task_stderr.txt"
# How long a new server may take to import everything before it counts as broken (s).
STARTUP_LIMIT_S = 300.0
# The child's process name in ``ps``/``top`` (and ``/proc/PID/comm``, at most 15 bytes).
CHILD_PROCESS_NAME = b"gait2hip-task"
_PR_SET_NAME = 15


class ForkServerError(RuntimeError):
    """The fork server could not start, or ended while a task was in flight."""


@dataclass(frozen=True)
class ChildExit:
    """How one task's child process ended: its exit code (negative: killed by that signal) and whether it ran out of time."""

    exit_code: int
    timed_out: bool
    stderr_tail: tuple[str, ...]


class ForkServerClient:
    """One fork server process, driven from one thread at a time (see :class:`ForkServerPool`)."""

    def __init__(self):
        self._stderr = tempfile.TemporaryFile()
        environment = {**os.environ, **SINGLE_THREADED_ENVIRONMENT, PARENT_PID_VARIABLE: str(os.getpid())}
        self.process = subprocess.Popen([sys.executable, "-m", "gait2hip.pipeline.fork_server"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                                        env=environment, cwd=tempfile.gettempdir())
        self._buffer = b""
        try:
            line = self._read_line(STARTUP_LIMIT_S)
        except TimeoutError:
            line = f"no reply within {STARTUP_LIMIT_S:g} s"
        if line != "ready":
            self.close()
            raise ForkServerError(f"the task fork server did not start ({self._server_stderr() or line or 'no output'})")

    def alive(self) -> bool:
        return self.process.poll() is None

    def run(self, request_path: Path, out_dir: Path, timeout_s: float | None, batch_pid: int | None) -> ChildExit:
        """Run the task of ``request_path`` in a fresh child; wait for it at most ``timeout_s`` (None: no limit)."""
        message = json.dumps({"request": str(request_path), "batch_pid": batch_pid}) + "\n"
        try:
            self.process.stdin.write(message.encode())
            self.process.stdin.flush()
        except OSError as error:
            raise ForkServerError(f"the task fork server is gone ({error})") from error
        started = self._read_line(STARTUP_LIMIT_S)
        if not started.startswith("started "):
            raise ForkServerError(f"the task fork server did not start the task ({self._server_stderr() or 'no reply'})")
        child_pid = int(started.split()[1])
        timed_out = False
        try:
            exited = self._read_line(timeout_s)
        except TimeoutError:
            timed_out = True
            # The server reaps the child only after it has ended, so its PID cannot have been reused.
            try:
                os.kill(child_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            exited = self._read_line(STARTUP_LIMIT_S)
        parts = exited.split()
        if len(parts) != 3 or parts[0] != "exited" or int(parts[1]) != child_pid:
            raise ForkServerError(f"the task fork server ended while the task ran ({self._server_stderr() or exited})")
        return ChildExit(int(parts[2]), timed_out, _take_stderr_tail(out_dir / CHILD_STDERR_FILE))

    def close(self) -> None:
        """End the server (it exits when its stdin closes) and wait for it."""
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._stderr.close()

    def _read_line(self, timeout_s: float | None) -> str:
        """The server's next line ('' once it has closed its stdout); TimeoutError after ``timeout_s``."""
        stdout = self.process.stdout.fileno()
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while b"\n" not in self._buffer:
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            readable, _, _ = select.select([stdout], [], [], remaining)
            if not readable:
                raise TimeoutError
            chunk = os.read(stdout, 4096)
            if not chunk:
                line, self._buffer = self._buffer, b""
                return line.decode(errors="replace").strip()
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode(errors="replace").strip()

    def _server_stderr(self) -> str:
        self._stderr.seek(0)
        lines = self._stderr.read().decode(errors="replace").strip().splitlines()
        return " | ".join(lines[-5:])


class ForkServerPool:
    """Idle fork servers of this process, handed out one per concurrently running task.

    A batch worker (a loky process, or a Dask worker whose threads run tasks side by side) keeps
    its servers between tasks, which is the point of them. A server that died is replaced on the
    next task. Thread-safe.
    """

    def __init__(self):
        self._idle: list[ForkServerClient] = []
        self._lock = threading.Lock()

    def take(self) -> ForkServerClient:
        with self._lock:
            while self._idle:
                server = self._idle.pop()
                if server.alive():
                    return server
                server.close()
        return ForkServerClient()

    def give_back(self, server: ForkServerClient) -> None:
        with self._lock:
            self._idle.append(server)


def task_processes() -> list[tuple[int, Path]]:
    """``(pid, request.json path)`` of every task child running on this host (read from ``/proc``).

    A task child names itself ``CHILD_PROCESS_NAME`` and works in its task's folder; for tools
    that watch or signal tasks (the soak and memory benchmarks). Linux only; elsewhere empty.
    """
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if (entry / "comm").read_bytes().strip() != CHILD_PROCESS_NAME:
                continue
            found.append((int(entry.name), Path(os.readlink(entry / "cwd")) / "request.json"))
        except OSError:  # the process ended meanwhile, or is not ours to read
            continue
    return found


def _take_stderr_tail(path: Path, n_lines: int = 5) -> tuple[str, ...]:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ()
    path.unlink(missing_ok=True)
    return tuple(text.strip().splitlines()[-n_lines:])


def _run_child(message: dict) -> None:
    """In the forked child: detach from the protocol pipes, then run the task like the worker module. Never returns."""
    code = 1
    try:
        request_path = Path(message["request"])
        out_dir = request_path.parent
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)
        stderr = os.open(out_dir / CHILD_STDERR_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(stderr, 2)
        os.close(devnull)
        os.close(stderr)
        _name_this_process()
        os.chdir(out_dir)
        exit_with_parent(str(os.getppid()))
        exit_with_batch(None if message.get("batch_pid") is None else str(message["batch_pid"]))
        code = run_request_file(request_path)
    except BaseException:  # noqa: BLE001 - the child reports on stderr and exits; the server must go on
        import traceback
        traceback.print_exc()
    finally:
        sys.stderr.flush()
        os._exit(code)


def _name_this_process() -> None:
    try:
        import ctypes
        ctypes.CDLL(None).prctl(_PR_SET_NAME, CHILD_PROCESS_NAME, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the name only helps ps
        pass


def _reap(child_pid: int, batch_pid: int | None) -> int:
    """Wait for the child and return its wait status; kill it first if the batch process ``batch_pid`` ends.

    The child watches the batch itself, but a stopped child (SIGSTOP) cannot act, and its batch
    worker, blocked waiting for it, would only learn of the batch's end at the task's time limit.
    """
    watched = []
    try:
        if batch_pid is not None and hasattr(os, "pidfd_open"):
            try:
                watched.append(os.pidfd_open(child_pid))
                watched.append(os.pidfd_open(int(batch_pid)))
            except ProcessLookupError:  # the batch has already ended
                os.kill(child_pid, signal.SIGKILL)
            except OSError:  # pidfds unsupported: the child's own watch and the time limit still bound it
                pass
        if len(watched) == 2:
            readable, _, _ = select.select(watched, [], [])
            if watched[0] not in readable:
                os.kill(child_pid, signal.SIGKILL)
    finally:
        for descriptor in watched:  # a long-lived server must not leak one per task
            os.close(descriptor)
    return os.waitpid(child_pid, 0)[1]


def serve() -> int:
    """The server's loop: fork a child per request line, report its PID and exit code; end when stdin closes."""
    exit_with_parent(os.environ.get(PARENT_PID_VARIABLE))
    preload_task_modules()
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        message = json.loads(line)
        sys.stderr.flush()
        child_pid = os.fork()
        if child_pid == 0:
            _run_child(message)
        out.write(f"started {child_pid}\n")
        out.flush()
        status = _reap(child_pid, message.get("batch_pid"))
        out.write(f"exited {child_pid} {os.waitstatus_to_exitcode(status)}\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(serve())
