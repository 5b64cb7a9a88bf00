"""An expert read from a user's policy checkpoint (e.g. a policy trained elsewhere)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dagger_ros.core.errors import CheckpointError
from dagger_ros.core.experts.base import ScriptedExpert
from dagger_ros.core.spec import EnvSpec


class PolicyFileExpert(ScriptedExpert):
    """Label states with a saved policy's action.

    Args:
        path: checkpoint written by :func:`dagger_ros.core.checkpoint.save_checkpoint`.
        device: torch device the policy runs on.
        expected_spec: when given, the checkpoint must have been made for these spaces.

    Raises:
        CheckpointError: the file is missing, corrupt, or records no spaces.
        SpecMismatchError: the checkpoint was made for other spaces than ``expected_spec``.
    """

    def __init__(self, path: str | Path, device: str = 'cpu',
                 expected_spec: EnvSpec | None = None) -> None:
        # Imported here so the scripted experts work without the checkpoint module's deps.
        from dagger_ros.core.checkpoint import load_checkpoint
        self.path = Path(path)
        self._policy, self.meta = load_checkpoint(self.path, expected_spec=expected_spec,
                                                  device=device)
        self.spec = expected_spec or _spec_of(self._policy, self.meta, self.path)

    def _act(self, obs: np.ndarray) -> np.ndarray:
        return np.asarray(self._policy.act(obs), dtype=np.float64)

    def __repr__(self) -> str:
        return f'PolicyFileExpert({str(self.path)!r})'


def _spec_of(policy: Any, meta: Any, path: Path) -> EnvSpec:
    """Return the spaces a loaded checkpoint records, on the policy or in its metadata."""
    spec = getattr(policy, 'spec', None)
    if isinstance(spec, EnvSpec):
        return spec
    if isinstance(meta, dict) and isinstance(meta.get('spec'), dict):
        return EnvSpec.from_dict(meta['spec'])
    raise CheckpointError(
        f'checkpoint {path} records no observation/action spaces (no policy.spec and no '
        f"'spec' in its metadata); expected one written by save_checkpoint")
