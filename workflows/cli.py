"""The ``gait2hip`` command line: discovers sub-commands in ``gait2hip.workflows.commands``.

Command modules import only the standard library at module level and their heavy
dependencies (PyTorch, pandas, OpenSim, ...) inside ``run``: building the parser stays fast,
and every ``--help`` works on a core install without OpenSim.

No traceback reaches a user: the project's own errors print as one line ``error: ...`` (exit
2; a command whose trials failed returns 1 itself), anything else as one line ``internal
error: ...`` naming a log file that holds the traceback (exit 3; ``-v`` prints it too), and
Ctrl-C as one line (exit 130).
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import logging
import os
import pkgutil
import sys
import tempfile
import traceback
from pathlib import Path

from gait2hip.core.errors import Gait2HipError
from gait2hip.core.optional import as_missing_dependency
from gait2hip.workflows import commands

EXIT_USAGE = 2          # a usage, input or configuration error (argparse's own usage errors exit 2 too)
EXIT_INTERNAL = 3       # a bug: an exception gait2hip does not raise on purpose
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT
INTERNAL_LOG_NAME = "gait2hip-internal-error.log"

_log = logging.getLogger("gait2hip")


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="gait2hip",
        description=(
            "OpenSim ground truth (hip muscle forces, hip moments) from gait trials, "
            "and sequence-model surrogates trained on it."
        ),
    )
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log debug messages, and print the traceback of an internal error")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{module_info.name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``gait2hip`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except Gait2HipError as error:
        _log.error("error: %s", _one_line(str(error)))
        return EXIT_USAGE
    except KeyboardInterrupt:
        _log.error("interrupted (Ctrl-C): gait2hip %s stopped; finished outputs are kept, a re-run resumes",
                   args.command)
        return EXIT_INTERRUPTED
    except ModuleNotFoundError as error:
        # An optional dependency (OpenSim, ezc3d, Dask) imported deep inside a command.
        missing = as_missing_dependency(error, f"gait2hip {args.command}")
        if missing is None:
            return _internal_error(error, args)
        _log.error("error: %s", missing)
        return EXIT_USAGE
    except Exception as error:  # noqa: BLE001 - the one place a bug becomes a message and a log file
        return _internal_error(error, args)


def _one_line(message: str) -> str:
    """The message on one line (a YAML parser's or OpenSim's multi-line detail folded)."""
    return " ".join(line.strip() for line in message.splitlines() if line.strip())


def _internal_error(error: BaseException, args: argparse.Namespace) -> int:
    """Write the traceback to a log file, print one line naming it; ``-v`` prints the traceback too."""
    details = "".join(traceback.format_exception(error))
    log_path = _write_internal_log(details, args)
    if args.verbose:
        sys.stderr.write(details)
    where = f"details: {log_path}" if log_path is not None else "run again with -v for the traceback"
    _log.error("internal error: %s: %s (%s)", type(error).__name__, _one_line(str(error)) or "(no message)", where)
    return EXIT_INTERNAL


def _write_internal_log(details: str, args: argparse.Namespace) -> Path | None:
    """The traceback in the command's output folder when there is a writable one, else in a temp file."""
    header = (f"gait2hip {args.command} internal error, {datetime.datetime.now().isoformat(timespec='seconds')}\n"
              f"argv: {sys.argv}\n\n")
    out = getattr(args, "out", None)
    if isinstance(out, Path) and out.is_dir():
        candidate = out / INTERNAL_LOG_NAME
        try:
            candidate.write_text(header + details)
            return candidate
        except OSError:
            pass
    try:
        handle, name = tempfile.mkstemp(prefix="gait2hip-internal-error-", suffix=".log")
        with os.fdopen(handle, "w") as file:
            file.write(header + details)
        return Path(name)
    except OSError:
        return None


if __name__ == "__main__":
    sys.exit(main())
