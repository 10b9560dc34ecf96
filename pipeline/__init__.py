"""OpenSim ground truth for one trial and for batches: Scale → IK → ID → SO → hip labels.

Nothing here imports ``surrogate``; only this package and ``opensim_models`` import OpenSim.
Import the stage modules directly (``gait2hip.pipeline.trial``, ``gait2hip.pipeline.scale``, ...): importing
the package itself does no work.
"""
