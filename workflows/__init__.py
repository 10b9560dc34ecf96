"""YAML-driven end-to-end runs, the ``gait2hip`` command line, and reports."""
