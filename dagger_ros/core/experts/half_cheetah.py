"""HalfCheetah-v5: a deterministic sampling planner (MPPI with fixed noise) over MuJoCo."""

from __future__ import annotations

import functools
import threading
from typing import NamedTuple

import mujoco
from mujoco import rollout
import numpy as np

from dagger_ros.core.errors import ConfigError
from dagger_ros.core.experts.base import make_private_env, ScriptedExpert, spec_of
from dagger_ros.core.experts.half_cheetah_gait import Gait, RUNNING_GAIT
from dagger_ros.core.spec import EnvSpec

ENV_ID = 'HalfCheetah-v5'
# Index of qpos[0] and of the pitch qpos[2] in a mjSTATE_FULLPHYSICS vector (time comes first).
_X_INDEX, _PITCH_INDEX = 1, 3


class HalfCheetahExpert(ScriptedExpert):
    """Plan a short open-loop action sequence from the observed state; return its first action.

    The observation is ``qpos[1:]`` and ``qvel``, and the reward depends on the change of
    ``qpos[0]`` only, so the planner rebuilds the full state with ``qpos[0] = 0`` on a private
    model and maximizes ``x_H / dt - ctrl_cost * sum |a|^2`` plus a bonus on the final forward
    velocity (what lies past the horizon), less a pitch penalty (a cheetah on its back is a
    trap short horizons cannot see out of).

    Labels must be learnable, so the planner is a pure function of the observation:

    1. score a fixed running gait started at ``phases`` evenly spaced phases; their soft-max
       mean (sharp: ``phase_temperature``) is the nominal sequence, chosen by the state alone;
    2. ``iterations`` times, score the nominal plus fixed noise (drawn once from ``seed``, the
       same on every call) and take the soft-max mean (soft: ``temperature``).

    Nothing is warm-started from the previous call, and soft-max means of a fixed candidate
    set vary smoothly with the state.

    Args:
        samples: noisy sequences per MPPI iteration (the nominal is added to them).
        horizon: planned env steps.
        knot_every: env steps between the knots of the piecewise-linear noise.
        iterations: MPPI refinements; each restarts around the previous mean with less noise.
        phases: phase-shifted copies of the gait scored for the nominal (0: zero nominal).
        noise: standard deviation of the first iteration's knot noise.
        noise_decay: factor on the noise at each further iteration.
        temperature: MPPI soft-max temperature, in units of the spread of sampled returns.
        phase_temperature: the same for the choice of gait phase.
        terminal_velocity: weight of the final forward velocity added to the planned return.
        upright_cost: weight of the summed squared pitch over the horizon.
        seed: seed of the fixed noise.
        gait: open-loop gait the nominal is taken from.
    """

    def __init__(self, samples: int = 96, horizon: int = 12, knot_every: int = 4,
                 iterations: int = 1, phases: int = 16, noise: float = 0.5,
                 noise_decay: float = 0.5, temperature: float = 0.8,
                 phase_temperature: float = 0.2, terminal_velocity: float = 0.3,
                 upright_cost: float = 1.0, seed: int = 0, gait: Gait = RUNNING_GAIT) -> None:
        _check_planner_options(samples=samples, horizon=horizon, knot_every=knot_every,
                               iterations=iterations, phases=phases, noise=noise,
                               temperature=temperature, phase_temperature=phase_temperature)
        task = _task()
        self.spec = task.spec
        self._model, self._dt, self._substeps = task.model, task.dt, task.frame_skip
        self._ctrl_cost = task.ctrl_cost
        self._data = mujoco.MjData(self._model)
        self._temperatures = (float(phase_temperature), float(temperature))
        self._terminal_velocity = float(terminal_velocity)
        self._upright_cost = float(upright_cost)
        self._nominals = _gait_candidates(gait, int(phases), int(horizon), self._dt)
        self._noise = _fixed_noise(int(samples), int(horizon), int(knot_every), self.spec.act_dim,
                                   [noise * noise_decay ** k for k in range(int(iterations))],
                                   seed)
        # A labeler thread and the control loop may share one expert; MjData is not reentrant.
        self._lock = threading.Lock()

    def _act(self, obs: np.ndarray) -> np.ndarray:
        with self._lock:
            state = self._initial_state(obs)
            plan = self._mix(state, self._nominals, self._temperatures[0])
            for noise in self._noise:
                candidates = np.clip(np.concatenate([plan[None], plan + noise]), -1.0, 1.0)
                plan = self._mix(state, candidates, self._temperatures[1])
            return plan[0]

    def _initial_state(self, obs: np.ndarray) -> np.ndarray:
        nq = self._model.nq
        mujoco.mj_resetData(self._model, self._data)
        self._data.qpos[1:] = obs[:nq - 1]
        self._data.qvel[:] = obs[nq - 1:]
        spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
        state = np.empty(mujoco.mj_stateSize(self._model, spec))
        mujoco.mj_getState(self._model, self._data, state, spec)
        return state

    def _mix(self, state: np.ndarray, candidates: np.ndarray, temperature: float) -> np.ndarray:
        """Return the soft-max (on planned return) weighted mean of candidate sequences."""
        returns = self._returns(state, candidates)
        spread = max(float(returns.std()), 1e-9)
        weights = np.exp((returns - returns.max()) / (temperature * spread))
        return np.tensordot(weights / weights.sum(), candidates, axes=1)

    def _returns(self, state: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """Return the planned return of each (horizon, act_dim) sequence in actions."""
        controls = np.repeat(actions, self._substeps, axis=1)
        # An explicit zero warm start: the solver must not start from a previous call's forces.
        warm = np.zeros((1, self._model.nv))
        states, _ = rollout.rollout(self._model, self._data, state[None], controls,
                                    initial_warmstart=warm)
        forward = states[:, -1, _X_INDEX] / self._dt
        velocity = states[:, -1, _X_INDEX + self._model.nq]
        pitch = states[:, self._substeps - 1::self._substeps, _PITCH_INDEX]
        return (forward + self._terminal_velocity * velocity
                - self._upright_cost * np.sum(pitch ** 2, axis=1)
                - self._ctrl_cost * np.sum(actions ** 2, axis=(1, 2)))


def _check_planner_options(**options: float) -> None:
    """Raise ConfigError naming the first option below its least allowed value."""
    least = {'samples': 1, 'horizon': 1, 'knot_every': 1, 'iterations': 0, 'phases': 0}
    for name, value in options.items():
        if name in least and not value >= least[name]:
            raise ConfigError(f'HalfCheetah planner option {name}={value!r}, expected an '
                              f'integer >= {least[name]}')
        if name not in least and not value > 0:
            raise ConfigError(f'HalfCheetah planner option {name}={value!r}, expected > 0')


class _Task(NamedTuple):
    spec: EnvSpec
    model: mujoco.MjModel
    dt: float
    frame_skip: int
    ctrl_cost: float


@functools.lru_cache(maxsize=1)
def _task() -> _Task:
    """Compile the env's model once per process; planners only read it (each has its MjData)."""
    env = make_private_env(ENV_ID)
    task = _Task(spec_of(env, ENV_ID), env.model, float(env.dt), int(env.frame_skip),
                 float(env._ctrl_cost_weight))
    env.close()
    return task


def _gait_candidates(gait: Gait, phases: int, horizon: int, dt: float) -> np.ndarray:
    """Return (phases, horizon, nu) gait sequences at evenly spaced phases (zeros if none)."""
    if phases == 0:
        return np.zeros((1, horizon, len(gait.offset)))
    return gait.actions(dt * np.arange(horizon), np.arange(phases) / phases)


def _fixed_noise(samples: int, horizon: int, knot_every: int, act_dim: int,
                 scales: list[float], seed: int) -> list[np.ndarray]:
    """Return one (samples, horizon, act_dim) piecewise-linear noise array per iteration."""
    interp = _knot_matrix(horizon, knot_every)
    rng = np.random.default_rng(seed)
    shape = (samples, interp.shape[1], act_dim)
    noise = [np.einsum('hk,nka->nha', interp, scale * rng.standard_normal(shape))
             for scale in scales]
    for arr in noise:
        arr.setflags(write=False)
    return noise


def _knot_matrix(horizon: int, knot_every: int) -> np.ndarray:
    """Return the (horizon, n_knots) matrix of linear interpolation between action knots."""
    knot_times = np.arange(0, horizon + knot_every - 1, knot_every, dtype=np.float64)
    eye = np.eye(len(knot_times))
    steps = np.arange(horizon, dtype=np.float64)
    return np.stack([np.interp(steps, knot_times, eye[k]) for k in range(len(knot_times))],
                    axis=1)
