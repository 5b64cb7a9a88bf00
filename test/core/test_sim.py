"""The sim stepper on a real gymnasium env."""

import numpy as np
import pytest

from dagger_ros.core.errors import InputError
from dagger_ros.core.sim import SimStepper


def test_episode_bookkeeping_and_reset():
    sim = SimStepper('Pendulum-v1', seed=3, max_episode_steps=5)
    steps = [sim.step(np.zeros(1)) for _ in range(5)]
    assert [s.step for s in steps] == [1, 2, 3, 4, 5]
    assert steps[-1].truncated and steps[-1].done and not steps[0].done
    assert steps[-1].episode_return == pytest.approx(sum(s.reward for s in steps))
    sim.reset()
    assert sim.episode == 1 and sim.step_index == 0


def test_same_seed_gives_same_start_states():
    first = SimStepper('Pendulum-v1', seed=1).obs
    again = SimStepper('Pendulum-v1', seed=1).obs
    other = SimStepper('Pendulum-v1', seed=2).obs
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_bad_actions_are_refused_and_large_ones_clipped():
    sim = SimStepper('Pendulum-v1')
    with pytest.raises(InputError, match=r'shape \(2,\), expected \(1,\)'):
        sim.step(np.zeros(2))
    with pytest.raises(InputError, match='non-finite'):
        sim.step(np.array([np.nan]))
    sim.step(np.array([100.0]))  # clipped to the bound, no error
