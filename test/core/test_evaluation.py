"""Evaluation helpers on a real gymnasium env."""

import numpy as np
import pytest

from dagger_ros.core import evaluation
from dagger_ros.core.errors import ConfigError


def test_unknown_env_id_is_a_config_error_naming_it():
    with pytest.raises(ConfigError, match="unknown or unavailable gymnasium env id 'Pendulm-v1'"):
        evaluation.make_env('Pendulm-v1')


def test_evaluate_is_repeatable_on_fixed_seeds():
    env = evaluation.make_env('Pendulum-v1', max_episode_steps=50)
    seeds = evaluation.episode_seeds(0, 2)
    first = evaluation.evaluate(env, lambda obs: np.zeros(1), seeds)
    again = evaluation.evaluate(env, lambda obs: np.zeros(1), seeds)
    assert first.shape == (2,)
    np.testing.assert_array_equal(first, again)


def test_normalized_is_zero_at_random_and_one_at_expert():
    assert evaluation.normalized(-1200.0, -1200.0, -150.0) == 0.0
    assert evaluation.normalized(-150.0, -1200.0, -150.0) == 1.0
    assert np.isnan(evaluation.normalized(1.0, 2.0, 2.0))
