"""Scripted experts on their real gymnasium tasks: contract, errors and behaviour.

Returns are compared with thresholds far from both the expert's measured level and a random
policy's, so a broken expert fails and a working one passes on every seed used here.
"""

import sys
import types

import gymnasium as gym
import numpy as np
import pytest

from dagger_ros.core.errors import CheckpointError, ConfigError, InputError, SpecMismatchError
from dagger_ros.core.experts import (
    Expert, expert_class, KNOWN_EXPERTS, make_expert, PolicyFileExpert)
from dagger_ros.core.experts.double_pendulum import state_from_obs
from dagger_ros.core.experts.lqr import solve_dare
from dagger_ros.core.spec import EnvSpec

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope='module')
def experts():
    """One expert per task, shared: building HalfCheetah's planner is the slow part."""
    return {env_id: make_expert(env_id) for env_id in KNOWN_EXPERTS}


def visited_observations(env_id, count, seed=0):
    """Observations from one reset and a few random actions: varied but reachable states."""
    env = gym.make(env_id)
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    seen = [obs]
    while len(seen) < count:
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        seen.append(obs if not (terminated or truncated) else env.reset(seed=seed + 1)[0])
    env.close()
    return seen


def episode(env_id, expert, seed, max_steps):
    """Run one episode driven by expert; return (total reward, steps, last info)."""
    env = gym.make(env_id, max_episode_steps=max_steps)
    obs, info = env.reset(seed=seed)
    total, steps, done = 0.0, 0, False
    while not done:
        obs, reward, terminated, truncated, info = env.step(expert(obs))
        total, steps, done = total + float(reward), steps + 1, terminated or truncated
    env.close()
    return total, steps, info


# -- the contract every expert keeps ---------------------------------------------------------
@pytest.mark.parametrize('env_id', KNOWN_EXPERTS)
def test_action_has_shape_dtype_and_stays_in_bounds(experts, env_id):
    expert = experts[env_id]
    assert isinstance(expert, Expert)
    assert expert.spec.env_id == env_id
    for obs in visited_observations(env_id, 6):
        action = expert(obs)
        assert action.shape == (expert.spec.act_dim,)
        assert action.dtype == np.float64
        assert np.all(action >= expert.spec.low) and np.all(action <= expert.spec.high)


@pytest.mark.parametrize('env_id', KNOWN_EXPERTS)
def test_same_observation_gives_same_action_across_calls_and_instances(experts, env_id):
    expert, other = experts[env_id], make_expert(env_id)
    observations = visited_observations(env_id, 4, seed=3)
    first = [expert(obs) for obs in observations]
    # Interleaved calls on other states must not change a label: no hidden state between calls.
    again = [expert(obs) for obs in reversed(observations)][::-1]
    fresh = [other(obs) for obs in observations]
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first, fresh)


@pytest.mark.parametrize('env_id', KNOWN_EXPERTS)
def test_wrong_size_observation_is_an_input_error_naming_both_shapes(experts, env_id):
    expert = experts[env_id]
    dim = expert.spec.obs_dim
    with pytest.raises(InputError, match=rf'shape \({dim + 1},\), expected \({dim},\)'):
        expert(np.zeros(dim + 1))


@pytest.mark.parametrize('env_id', KNOWN_EXPERTS)
def test_non_finite_observation_is_an_input_error(experts, env_id):
    obs = np.zeros(experts[env_id].spec.obs_dim)
    obs[1] = np.nan
    with pytest.raises(InputError, match=r'non-finite entries at \[\[1\]\]'):
        experts[env_id](obs)


def test_batch_of_observations_is_refused_with_the_single_shape_expected(experts):
    with pytest.raises(InputError, match=r'shape \(2, 3\), expected \(3,\)'):
        experts['Pendulum-v1'](np.zeros((2, 3)))


def test_unknown_env_id_is_a_config_error_listing_known_ids():
    with pytest.raises(ConfigError, match="'Walker2d-v5'.*Pendulum-v1, InvertedDoublePendulum-v5"):
        make_expert('Walker2d-v5')


def test_unknown_option_is_a_config_error_listing_accepted_options():
    with pytest.raises(ConfigError, match=r"\['sample'\].*'samples', 'horizon'"):
        make_expert('HalfCheetah-v5', sample=8)


def test_options_reach_the_expert():
    expert = make_expert('Pendulum-v1', g=9.81)
    assert expert_class('Pendulum-v1') is type(expert)
    assert expert._a == pytest.approx(1.5 * 9.81)


# -- behaviour on each task ------------------------------------------------------------------
def test_pendulum_swings_up_and_balances(experts):
    # Random actions score about -1200 per episode; the expert about -145 on average.
    returns = [episode('Pendulum-v1', experts['Pendulum-v1'], seed, 200)[0] for seed in range(3)]
    assert np.mean(returns) > -300


def test_pendulum_holds_upright_against_a_small_push(experts):
    env = gym.make('Pendulum-v1', max_episode_steps=100)
    env.reset(seed=0)
    env.unwrapped.state = np.array([0.3, -1.0])
    obs = env.unwrapped._get_obs()
    for _ in range(100):
        obs, *_ = env.step(experts['Pendulum-v1'](obs))
    assert obs[0] > np.cos(0.05)


def test_double_pendulum_state_is_recovered_from_the_observation():
    env = gym.make('InvertedDoublePendulum-v5')
    obs, _ = env.reset(seed=0)
    obs, *_ = env.step(np.array([0.1]))
    data = env.unwrapped.data
    np.testing.assert_allclose(state_from_obs(obs), np.concatenate([data.qpos, data.qvel]),
                               atol=1e-12)


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_double_pendulum_stays_up_for_300_steps(experts, seed):
    total, steps, _ = episode('InvertedDoublePendulum-v5', experts['InvertedDoublePendulum-v5'],
                              seed, 300)
    assert steps == 300
    assert total > 9.0 * 300


def test_lunar_lander_heuristic_lands(experts):
    returns = [episode('LunarLanderContinuous-v3', experts['LunarLanderContinuous-v3'], seed,
                       1000)[0] for seed in range(2)]
    assert np.mean(returns) > 100


def test_half_cheetah_runs_forward(experts):
    # From rest the planner covers about 6.6 m (reward about 120) in 50 steps; zero actions
    # stay put.
    total, _, info = episode('HalfCheetah-v5', experts['HalfCheetah-v5'], 0, 50)
    assert info['x_position'] > 3.0
    assert total > 60.0


def test_half_cheetah_labels_barely_move_under_tiny_state_changes(experts, rng):
    """Labels a learner can fit: a 1e-6 change of the state must not flip the plan."""
    expert = experts['HalfCheetah-v5']
    observations = visited_observations('HalfCheetah-v5', 8, seed=5)
    gaps = [np.abs(expert(obs) - expert(obs + 1e-6 * rng.standard_normal(obs.shape))).mean()
            for obs in observations]
    assert np.mean(gaps) < 0.05


# -- pieces ----------------------------------------------------------------------------------
def test_riccati_solution_satisfies_the_riccati_equation(rng):
    a, b = rng.standard_normal((3, 3)), rng.standard_normal((3, 1))
    q, r = np.eye(3), np.eye(1)
    p = solve_dare(a, b, q, r)
    rhs = q + a.T @ p @ a - a.T @ p @ b @ np.linalg.solve(r + b.T @ p @ b, b.T @ p @ a)
    np.testing.assert_allclose(p, rhs, atol=1e-6 * np.abs(p).max())


class _ScaledPolicy:
    """Stands in for a loaded policy: acts with five times the first observation entry."""

    spec = EnvSpec('Pendulum-v1', 3, 1, (-2.0,), (2.0,))

    def act(self, obs):
        return np.asarray(obs)[..., :1] * 5.0


def fake_checkpoint_module(policy, meta):
    """A stand-in for dagger_ros.core.checkpoint returning a given policy and metadata."""
    module = types.ModuleType('dagger_ros.core.checkpoint')
    module.load_checkpoint = lambda path, expected_spec=None, device='cpu': (policy, meta)
    return module


def test_policy_file_expert_acts_with_the_loaded_policy_clipped(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, 'dagger_ros.core.checkpoint',
                        fake_checkpoint_module(_ScaledPolicy(), {'version': 3}))
    expert = PolicyFileExpert(tmp_path / 'policy-v000003')
    assert expert.spec == _ScaledPolicy.spec
    np.testing.assert_array_equal(expert(np.array([0.2, 0.0, 0.0])), [1.0])
    np.testing.assert_array_equal(expert(np.array([1.0, 0.0, 0.0])), [2.0])
    with pytest.raises(InputError, match=r'expected \(3,\)'):
        expert(np.zeros(4))


def test_policy_file_without_spaces_is_a_checkpoint_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, 'dagger_ros.core.checkpoint',
                        fake_checkpoint_module(object(), {}))
    with pytest.raises(CheckpointError, match='records no observation/action spaces'):
        PolicyFileExpert(tmp_path / 'policy-v000001')


def test_policy_file_expert_labels_with_a_saved_policy(tmp_path, rng):
    from dagger_ros.core.checkpoint import save_checkpoint
    from dagger_ros.core.policies.ensemble import EnsemblePolicy
    spec = make_expert('Pendulum-v1').spec
    policy = EnsemblePolicy(spec)
    path = save_checkpoint(tmp_path / 'policy-v000001', policy, {'round': 0})
    expert = PolicyFileExpert(path, expected_spec=spec)
    obs = rng.uniform(-1.0, 1.0, size=3)
    np.testing.assert_allclose(expert(obs), np.clip(policy.act(obs), -2.0, 2.0))
    assert expert.spec == spec


def test_policy_file_for_other_spaces_is_refused(tmp_path):
    from dagger_ros.core.checkpoint import save_checkpoint
    from dagger_ros.core.policies.ensemble import EnsemblePolicy
    path = save_checkpoint(tmp_path / 'policy-v000001',
                           EnsemblePolicy(make_expert('Pendulum-v1').spec))
    with pytest.raises(SpecMismatchError, match='Pendulum-v1'):
        PolicyFileExpert(path, expected_spec=make_expert('InvertedDoublePendulum-v5').spec)


@pytest.mark.parametrize('env_id, option', [
    ('HalfCheetah-v5', {'samples': 0}), ('HalfCheetah-v5', {'horizon': 0}),
    ('HalfCheetah-v5', {'temperature': 0.0}), ('HalfCheetah-v5', {'phases': -1}),
    ('Pendulum-v1', {'switch_angle': 0.0}), ('Pendulum-v1', {'energy_gain': -1.0}),
    ('InvertedDoublePendulum-v5', {'action_cost': 0.0}),
])
def test_out_of_range_option_is_a_config_error_naming_it(env_id, option):
    (name, value), = option.items()
    with pytest.raises(ConfigError, match=f'{name}={value!r}'):
        make_expert(env_id, **option)
