"""One module per ``gait2hip`` sub-command.

Each module defines ``register(subparsers)``, which adds its sub-parser and sets
``func`` (called with the parsed arguments, returning the process exit code). The CLI
discovers the modules in this package, so adding a command never edits ``cli.py``.
"""
