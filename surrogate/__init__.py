"""Sequence-model surrogates of the OpenSim labels: data, models, training, evaluation.

Nothing here imports OpenSim: a trained surrogate runs on any machine with PyTorch.
Import the modules directly (``gait2hip.surrogate.train``, ``gait2hip.surrogate.evaluate``, ...).
"""
