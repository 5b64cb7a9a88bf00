"""The DAgger family: per-step rules over the pure gates, and the round loop that runs them.

``loop.run_experiment`` runs one algorithm; ``config.RunConfig`` holds its settings.
"""

from dagger_ros.core.algorithms.config import ALGORITHM_NAMES, RunConfig

__all__ = ['ALGORITHM_NAMES', 'RunConfig']
