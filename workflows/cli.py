"""The ``gait2hip`` command line: discovers sub-commands in ``gait2hip.workflows.commands``.

Command modules import only the standard library at module level and their heavy
dependencies (PyTorch, pandas, OpenSim, ...) inside ``run``: building the parser stays fast,
and every ``--help`` works on a core install without OpenSim.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from gait2hip.core.errors import Gait2HipError
from gait2hip.core.optional import as_missing_dependency
from gait2hip.workflows import commands


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="gait2hip",
        description=(
            "OpenSim ground truth (hip muscle forces, hip moments) from gait trials, "
            "and sequence-model surrogates trained on it."
        ),
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
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
        logging.getLogger("gait2hip").error("error: %s", error)
        return 2
    except ModuleNotFoundError as error:
        # An optional dependency (OpenSim, ezc3d, Dask) imported deep inside a command.
        missing = as_missing_dependency(error, f"gait2hip {args.command}")
        if missing is None:
            raise
        logging.getLogger("gait2hip").error("error: %s", missing)
        return 2


if __name__ == "__main__":
    sys.exit(main())
