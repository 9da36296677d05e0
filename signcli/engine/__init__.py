"""The training engine: loop, state, hooks, checkpoints, metrics log, progress.

Import submodules directly (`signcli.engine.trainer`); this package file stays empty so
that torch-free parts (`atomic`) can be used without importing torch.
"""
