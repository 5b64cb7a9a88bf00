"""An open-loop running gait for HalfCheetah-v5, and the search that found it.

The planner in :mod:`half_cheetah` scores this gait at several phases to pick the nominal it
refines, in place of a warm start carried between calls (which would make a label depend on
the previous call). The constants below were found offline by :func:`reproduce_running_gait`
(it gives them back exactly with mujoco 4.0.0; about 4 minutes on one core).
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
from mujoco import rollout
import numpy as np

from dagger_ros.core.experts.base import make_private_env

ENV_ID = 'HalfCheetah-v5'


@dataclass(frozen=True)
class Gait:
    """Actions ``clip(offset + amplitude * sin(2 pi frequency_hz t + phase), -1, 1)``, per joint.

    Attributes:
        frequency_hz: stride frequency, shared by the joints.
        amplitude: per-joint amplitude (may exceed 1: clipping then gives flat tops).
        phase: per-joint phase in radians.
        offset: per-joint mean action.
    """

    frequency_hz: float
    amplitude: tuple[float, ...]
    phase: tuple[float, ...]
    offset: tuple[float, ...]

    def to_vector(self) -> np.ndarray:
        """Return (frequency, amplitudes, phases, offsets) as one flat array."""
        return np.concatenate([[self.frequency_hz], self.amplitude, self.phase, self.offset])

    @classmethod
    def from_vector(cls, vec: np.ndarray, decimals: int | None = None) -> Gait:
        """Inverse of :meth:`to_vector`, optionally rounded."""
        vec = np.round(vec, decimals) if decimals is not None else np.asarray(vec)
        n = (len(vec) - 1) // 3
        parts = [tuple(float(v) for v in vec[1 + k * n:1 + (k + 1) * n]) for k in range(3)]
        return cls(float(vec[0]), *parts)

    def rounded(self, decimals: int = 3) -> Gait:
        """Return the gait with every parameter rounded, as the constants are written."""
        return Gait.from_vector(self.to_vector(), decimals)

    def actions(self, times_s: np.ndarray, phase_shift: np.ndarray | float = 0.0) -> np.ndarray:
        """Return actions at times_s (shape (T,)), for each phase_shift in cycles: (..., T, nu)."""
        shift = np.asarray(phase_shift, dtype=np.float64)[..., None, None]
        stride = 2 * np.pi * self.frequency_hz * np.asarray(times_s)[:, None]
        angle = stride + 2 * np.pi * shift + np.asarray(self.phase)
        return np.clip(np.asarray(self.offset) + np.asarray(self.amplitude) * np.sin(angle), -1, 1)


RUNNING_GAIT = Gait(
    frequency_hz=3.151,
    amplitude=(1.589, -0.005, 0.21, 0.743, -0.959, -0.276),
    phase=(-0.049, -1.097, -0.595, -3.752, -6.047, -5.961),
    offset=(-0.403, -0.801, -0.928, -0.548, -0.715, -0.297),
)


def reproduce_running_gait() -> Gait:
    """Rerun the two-stage search that gave :data:`RUNNING_GAIT` (minutes on one core).

    Stage one searches broadly on 300-step runs; stage two refines the rounded result on
    500-step runs, so the gait is scored at full speed rather than mostly accelerating.
    """
    coarse = search_gait(steps=300, generations=80, seed=1)
    return search_gait(steps=500, generations=60, seed=2,
                       init=Gait.from_vector(coarse.to_vector(), decimals=3)).rounded()


def search_gait(steps: int, generations: int, seed: int, init: Gait | None = None,
                population: int = 48, elite: int = 8) -> Gait:
    """Cross-entropy search of the gait with the best mean return over three reset states.

    Args:
        steps: env steps per scored run, from rest.
        generations: CEM generations.
        seed: seed of the search's sampling.
        init: mean of the first generation (a broad default search when None).
        population: gaits scored per generation.
        elite: best gaits whose mean and spread make the next generation's.
    """
    scorer = _GaitScorer(steps)
    mean, std = _initial_distribution(init)
    rng = np.random.default_rng(seed)
    for _ in range(generations):
        pop = mean + std * rng.standard_normal((population, len(mean)))
        pop[:, 0] = np.clip(pop[:, 0], 0.3, 6.0)
        best = pop[np.argsort(scorer.returns(pop))[-elite:]]
        mean, std = best.mean(0), 0.8 * std + 0.2 * best.std(0) + 1e-3
    return Gait.from_vector(mean)


def _initial_distribution(init: Gait | None) -> tuple[np.ndarray, np.ndarray]:
    joints = 6
    if init is not None:
        return init.to_vector(), np.concatenate(
            [[0.2], np.full(joints, 0.1), np.full(joints, 0.3), np.full(joints, 0.1)])
    mean = np.concatenate([[2.0], np.full(joints, 0.8), np.zeros(2 * joints)])
    std = np.concatenate([[1.0], np.full(joints, 0.4), np.full(joints, np.pi),
                          np.full(joints, 0.3)])
    return mean, std


class _GaitScorer:
    """Mean return of open-loop gaits from the env's first three reset states."""

    def __init__(self, steps: int) -> None:
        env = make_private_env(ENV_ID)
        self.model, self.dt = env.model, float(env.dt)
        self.frame_skip, self.ctrl_cost = int(env.frame_skip), float(env._ctrl_cost_weight)
        self.data = mujoco.MjData(self.model)
        self.times = np.arange(steps) * self.dt
        spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
        self.starts = []
        for reset_seed in range(3):
            env.reset(seed=reset_seed)
            state = np.empty(mujoco.mj_stateSize(self.model, spec))
            mujoco.mj_getState(self.model, env.data, state, spec)
            self.starts.append(state)
        env.close()

    def returns(self, vectors: np.ndarray) -> np.ndarray:
        actions = np.stack([Gait.from_vector(v).actions(self.times) for v in vectors])
        controls = np.repeat(actions, self.frame_skip, axis=1)
        ctrl_cost = self.ctrl_cost * np.sum(actions ** 2, axis=(1, 2))
        total = np.zeros(len(vectors))
        for start in self.starts:
            states, _ = rollout.rollout(self.model, self.data, start[None], controls,
                                        initial_warmstart=np.zeros((1, self.model.nv)))
            total += (states[:, -1, 1] - start[1]) / self.dt - ctrl_cost
        return total / len(self.starts)
