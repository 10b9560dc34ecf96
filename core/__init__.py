"""Plumbing every room of gait2hip shares: its exceptions, atomic writes, YAML into typed
dataclasses, and content hashes. Nothing here imports OpenSim or PyTorch."""
