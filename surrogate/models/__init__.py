"""Surrogate models: ``(batch, time, n_inputs)`` → ``(batch, time, n_outputs)``, one file each."""
