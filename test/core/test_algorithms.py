"""Each algorithm end to end on a real gymnasium task with a scripted expert.

Learning is asserted statistically: the final policy's returns on fixed evaluation starts must
beat a random policy's on the same starts with a one-sided permutation p < 0.01. With 6 paired
starts per side, the smallest attainable p is 1/924; the test fails falsely only if a policy
that truly learned falls below the random policy on most starts.
"""

import json

import numpy as np
import pytest

from dagger_ros.core import evaluation
from dagger_ros.core.algorithms.config import ALGORITHM_NAMES, RunConfig
from dagger_ros.core.algorithms.loop import Run, run_experiment
from dagger_ros.core.dataset import Dataset
from dagger_ros.core.types import Event, Source

from stats import permutation_p_value

SMALL = {'env_id': 'Pendulum-v1', 'demo_steps': 400, 'steps_per_round': 200, 'rounds': 2,
         'eval_episodes': 6, 'max_updates': 1500, 'epochs': 150, 'ensemble_size': 3,
         'query_budget': 100, 'label_delay_s': 0.0}


def small(algorithm, **changes):
    return RunConfig(**{**SMALL, 'algorithm': algorithm, **changes})


def random_returns(cfg):
    env = evaluation.make_env(cfg.env_id)
    seeds = evaluation.episode_seeds(cfg.seed, cfg.eval_episodes)
    return evaluation.evaluate(env, evaluation.random_policy(env, 123), seeds)


def final_returns(result):
    run_cfg = RunConfig.from_dict(json.loads((result.run_dir / 'config.json').read_text()))
    from dagger_ros.core.checkpoint import load_checkpoint
    policy, _ = load_checkpoint(result.run_dir / 'checkpoints' / result.metrics[-1]['checkpoint'])
    env = evaluation.make_env(run_cfg.env_id)
    return evaluation.evaluate(env, policy.act,
                               evaluation.episode_seeds(run_cfg.seed, run_cfg.eval_episodes))


def load_arrays(result):
    with Dataset.open(result.run_dir / 'dataset', writable=False) as ds:
        return ds.arrays(), ds.reason_names


@pytest.mark.timeout(300)
@pytest.mark.parametrize('algorithm', ALGORITHM_NAMES)
def test_every_algorithm_learns_on_pendulum(algorithm, tmp_path):
    cfg = small(algorithm, rounds=4, query_budget=200)
    result = run_experiment(cfg, tmp_path / algorithm)
    assert [row['round'] for row in result.metrics] == [0, 1, 2, 3, 4]
    returns = final_returns(result)
    p = permutation_p_value(returns, random_returns(cfg))
    assert p < 0.01, f'{algorithm}: returns {returns} not better than random (p={p:.3g})'
    assert (tmp_path / algorithm / 'learning_curve.png').stat().st_size > 1000


@pytest.mark.timeout(120)
def test_dagger_labels_every_visited_state_and_policy_drives_after_round_zero(tmp_path):
    result = run_experiment(small('dagger', beta_schedule='first_round_only', rounds=1),
                            tmp_path / 'run')
    data, _ = load_arrays(result)
    later = data['round'] == 1
    assert later.sum() == SMALL['steps_per_round']  # every step labeled
    assert np.all(data['actor'][later] == Source.POLICY)  # β_1 = 0: the learner drives
    assert np.all(data['labeler'] == Source.EXPERT)
    assert np.all(data['policy_version'][later] == 1)


@pytest.mark.timeout(120)
def test_hg_dagger_labels_only_takeover_segments_and_marks_them(tmp_path):
    result = run_experiment(small('hg_dagger', rounds=1, takeover_threshold=0.05),
                            tmp_path / 'run')
    data, _ = load_arrays(result)
    later = data['round'] == 1
    assert 0 < later.sum() < SMALL['steps_per_round'], 'takeovers must be partial'
    assert np.all(data['actor'][later] == Source.HUMAN)
    assert np.all(data['labeler'][later] == Source.HUMAN)
    assert np.sum(data['event'][later] == Event.INTERVENTION_START) >= 1
    assert np.isfinite(result.metrics[-1]['doubt_threshold'])


@pytest.mark.timeout(120)
def test_safe_dagger_labels_only_states_sent_to_the_expert(tmp_path):
    result = run_experiment(small('safe_dagger', rounds=1), tmp_path / 'run')
    data, names = load_arrays(result)
    later = data['round'] == 1
    assert np.all(data['actor'][later] == Source.EXPERT)
    assert {names[c] for c in data['reason'][later]} <= {'safety', 'invalid_input'}
    assert later.sum() < SMALL['steps_per_round']
    assert 'safety_tau' in result.metrics[-1]


@pytest.mark.timeout(120)
def test_dart_executes_noisy_actions_but_labels_clean_ones(tmp_path):
    result = run_experiment(small('dart', rounds=1, noise_schedule='constant', noise_level=0.2),
                            tmp_path / 'run')
    data, _ = load_arrays(result)
    later = data['round'] == 1
    assert np.mean(np.abs(data['action'][later] - data['label'][later])) > 0.05
    round0 = data['round'] == 0
    np.testing.assert_allclose(data['action'][round0], data['label'][round0])


@pytest.mark.timeout(120)
def test_budgeted_spends_exactly_the_budget_per_round(tmp_path):
    result = run_experiment(small('budgeted', query_budget=37), tmp_path / 'run')
    assert [row['labels_round'] for row in result.metrics[1:]] == [37, 37]


@pytest.mark.timeout(120)
def test_async_labels_arrive_from_the_persistent_queue(tmp_path):
    result = run_experiment(small('async', query_budget=50, label_delay_s=0.0), tmp_path / 'run')
    assert sum(row['labels_round'] for row in result.metrics[1:]) > 0
    assert (tmp_path / 'run' / 'label_queue').exists()


@pytest.mark.timeout(180)
def test_resume_continues_from_the_last_round(tmp_path):
    cfg = small('dagger', rounds=1)
    first = run_experiment(cfg, tmp_path / 'run')
    more = RunConfig.from_dict({**cfg.to_dict(), 'rounds': 2})
    resumed = run_experiment(more, tmp_path / 'run', resume=True)
    assert [row['round'] for row in resumed.metrics] == [0, 1, 2]
    assert resumed.metrics[-1]['labels'] == first.metrics[-1]['labels'] + SMALL['steps_per_round']
    assert resumed.metrics[-1]['policy_version'] > first.metrics[-1]['policy_version']


def test_run_directory_of_another_env_is_refused(tmp_path):
    from dagger_ros.core.errors import SpecMismatchError
    run_experiment(small('bc', rounds=1, demo_steps=50, steps_per_round=50, eval_episodes=1),
                   tmp_path / 'run')
    with pytest.raises(SpecMismatchError, match='Pendulum-v1'):
        Run(small('bc', env_id='InvertedDoublePendulum-v5'), tmp_path / 'run')


def test_no_demonstrations_is_refused_with_a_reason(tmp_path):
    from dagger_ros.core.errors import ConfigError
    with pytest.raises(ConfigError, match='demo_steps is 0 and no demos_path'):
        run_experiment(small('dagger', demo_steps=0), tmp_path / 'run')


@pytest.mark.timeout(120)
def test_a_run_is_seeded_from_recorded_demonstrations(tmp_path):
    # GIVEN 1200 recorded expert steps in an .npz, and no expert-driven steps in round 0
    from dagger_ros.core.experts import make_expert
    expert, env = make_expert('Pendulum-v1'), evaluation.make_env('Pendulum-v1')
    obs_list, actions = [], []
    for episode in range(6):
        obs, _ = env.reset(seed=50 + episode)
        for _ in range(200):
            obs_list.append(obs)
            actions.append(expert(obs))
            obs, *_ = env.step(actions[-1])
    np.savez(tmp_path / 'demos.npz', obs=np.array(obs_list), actions=np.array(actions))
    # WHEN BC runs from them alone
    cfg = small('bc', demo_steps=0, rounds=1, steps_per_round=1,
                demos_path=str(tmp_path / 'demos.npz'))
    result = run_experiment(cfg, tmp_path / 'run')
    # THEN round 0 holds exactly the demonstrations, and the policy learned from them
    data, names = load_arrays(result)
    assert np.sum(data['round'] == 0) == 1200
    assert {names[c] for c in data['reason'][data['round'] == 0]} == {'demo'}
    assert permutation_p_value(final_returns(result), random_returns(cfg)) < 0.01


@pytest.mark.timeout(120)
def test_resume_continues_from_the_exact_last_checkpoint(tmp_path):
    from dagger_ros.core.checkpoint import load_checkpoint
    cfg = small('safe_dagger', rounds=1)
    result = run_experiment(cfg, tmp_path / 'run')
    saved, _ = load_checkpoint(tmp_path / 'run' / 'checkpoints' / result.metrics[-1]['checkpoint'])
    run = Run(RunConfig.from_dict({**cfg.to_dict(), 'rounds': 2}), tmp_path / 'run')
    assert run._resume() == 2
    obs = np.random.default_rng(3).normal(size=(10, 3))
    np.testing.assert_array_equal(run.learner.policy.act(obs), saved.act(obs))
    assert run.learner.policy.version == saved.version
    assert run.learner.safety_trained
    run.close()


class _PerfectLearner:
    """A learner whose predictions equal the labels: the estimated DART noise is exactly 0."""

    def recent_predictions(self):
        labels = np.linspace(-1.0, 1.0, 20).reshape(-1, 1)
        return labels.copy(), labels


@pytest.mark.parametrize('floor, expected_std', [(0.05, 0.1), (0.0, 0.0)])
def test_estimated_dart_noise_keeps_its_floor_when_the_learner_fits_exactly(floor, expected_std):
    from dagger_ros.core.algorithms.rules import DARTRule
    from dagger_ros.core.spec import EnvSpec
    spec = EnvSpec('Pendulum-v1', 3, 1, (-2.0,), (2.0,))
    rule = DARTRule(small('dart', noise_floor=floor), spec, lambda obs: np.array([0.5]))
    rule.begin_round(1, _PerfectLearner())
    # the floor is a std as a share of the half range (2): 0.05 gives 0.1
    assert rule.metrics()['noise_trace'] == pytest.approx(expected_std ** 2)
    executed = [rule.step(np.zeros(3), None).action[0] for _ in range(400)]
    assert np.std(executed) == pytest.approx(expected_std, abs=0.02)
